//! `murmur2`: places each keyed record where Apache Kafka's Java client
//! would (`Utils.toPositive(Utils.murmur2(key)) % partitions`), so producers
//! in every language agree with Java ones. A record without a key stays in
//! the partition its producer chose (the Java client spreads those itself).

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

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}
