//! `consumed-by-all`: a segment may be deleted only once every consumer
//! group reading the topic has committed past its last offset — nothing is
//! deleted while no group reads it. `max-bytes` (config; default: none) is
//! the safety valve: past it the oldest segments go anyway, read or not.

use weir_plugin::host::config;
use weir_plugin::policy::{PartitionStats, RetentionPolicy, SegmentInfo};

struct ConsumedByAll;

impl RetentionPolicy for ConsumedByAll {
    fn deletable(stats: &PartitionStats, segments: &[SegmentInfo]) -> Result<u32, String> {
        let consumed = match stats.committed {
            Some(committed) => segments
                .iter()
                .take_while(|s| s.last_offset < committed)
                .count(),
            None => 0,
        };
        let over_cap = match config("max-bytes") {
            Some(text) => {
                let cap: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("max-bytes {text:?} is not a number of bytes"))?;
                let mut size = stats.size;
                segments
                    .iter()
                    .take_while(|s| {
                        let over = size > cap;
                        size = size.saturating_sub(s.size);
                        over
                    })
                    .count()
            }
            None => 0,
        };
        Ok(consumed.max(over_cap) as u32)
    }
}

weir_plugin::export_retention_policy!(ConsumedByAll);
