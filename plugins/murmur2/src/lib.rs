//! `murmur2`: places each keyed record where Apache Kafka's Java client
//! would (`Utils.toPositive(Utils.murmur2(key)) % partitions`), so producers
//! in every language agree with Java ones. A record without a key stays in
//! the partition its producer chose (the Java client spreads those itself).

use weir_plugin::hash::murmur2;
use weir_plugin::partitioner::{Batch, Partitioner};

struct Murmur2;

impl Partitioner for Murmur2 {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let count = batch.partition_count();
        let addressed = batch.partition().max(0) as u32;
        Ok(batch
            .records()
            .map(|r| match r.key() {
                Some(key) => (murmur2(key) & 0x7fff_ffff) % count,
                None => addressed,
            })
            .collect())
    }
}

weir_plugin::export_partitioner!(Murmur2);
