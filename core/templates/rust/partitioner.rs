//! {{name}}: a partitioner. Keyed records go where the Java client would
//! put them (murmur2 of the key); records without a key stay in the
//! partition the producer chose. Change `partition` to your own rule.

use weir_plugin::hash::murmur2;
use weir_plugin::host;
use weir_plugin::partitioner::{Batch, Partitioner};

struct Plugin;

impl Partitioner for Plugin {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let count = batch.partition_count();
        if count == 0 {
            return Err("the topic has no partitions".into());
        }
        host::log(host::Level::Debug, &format!("placing {} records", batch.len()));
        Ok(batch
            .records()
            .map(|record| match record.key() {
                Some(key) => (murmur2(key) & 0x7fff_ffff) % count,
                None => batch.partition().max(0) as u32 % count,
            })
            .collect())
    }
}

weir_plugin::export_partitioner!(Plugin);
