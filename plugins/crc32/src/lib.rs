//! `crc32`: librdkafka's `consistent` partitioner — a record goes to
//! `crc32(key) % partitions` (a null key hashes as empty: partition 0), so
//! records agree with producers configured `partitioner=consistent`.

use weir_plugin::hash::crc32;
use weir_plugin::partitioner::{Batch, Partitioner};

struct Crc32;

impl Partitioner for Crc32 {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let count = batch.partition_count();
        Ok(batch
            .records()
            .map(|r| crc32(r.key().unwrap_or_default()) % count)
            .collect())
    }
}

weir_plugin::export_partitioner!(Crc32);
