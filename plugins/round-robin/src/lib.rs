//! `round-robin`: spreads the records of each batch over every partition in
//! turn, starting at the partition the producer addressed (each call is a
//! fresh instance, so the turn starts from what the batch says, not from a
//! counter kept between calls).

use weir_plugin::partitioner::{Batch, Partitioner};

struct RoundRobin;

impl Partitioner for RoundRobin {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let count = batch.partition_count();
        let start = batch.partition().max(0) as u32;
        Ok((0..batch.len() as u32)
            .map(|i| (start + i) % count)
            .collect())
    }
}

weir_plugin::export_partitioner!(RoundRobin);
