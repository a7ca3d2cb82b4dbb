//! What the plugin benchmarks share: the murmur2 partitioner compiled
//! natively (the same code as the standard plugin's), and a median timer.

use std::time::{Duration, Instant};

use weir::partition::partitioner::{PackedRecords, Partitioner, PluginFailure};

pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]).wrapping_mul(M);
        k ^= k >> 24;
        h = h.wrapping_mul(M) ^ k.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    for (i, b) in tail.iter().enumerate().rev() {
        h ^= (*b as u32) << (8 * i);
    }
    if !tail.is_empty() {
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// The murmur2 partitioner, natively.
pub struct NativeMurmur2;

impl Partitioner for NativeMurmur2 {
    fn name(&self) -> &str {
        "native"
    }
    fn partition(
        &self,
        _: &str,
        _: i32,
        count: u32,
        r: PackedRecords,
    ) -> Result<Vec<u32>, PluginFailure> {
        Ok(r.records
            .iter()
            .map(|x| {
                let key = &r.data[x.key_offset as usize..][..x.key_len as usize];
                (murmur2(key) & 0x7fff_ffff) % count
            })
            .collect())
    }
}

/// The median time of `f` over `rounds` runs.
pub fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}
