//! {{name}}: a retention policy. A segment may go once every consumer group
//! reading the topic has committed past it, or once its newest record is
//! older than the config value `max-age-ms` (default 7 days), whichever
//! comes first. Change `deletable` to your own rule.

use weir_plugin::host;
use weir_plugin::policy::{PartitionStats, RetentionPolicy, SegmentInfo};

struct Plugin;

impl RetentionPolicy for Plugin {
    fn deletable(stats: &PartitionStats, segments: &[SegmentInfo]) -> Result<u32, String> {
        let max_age: i64 = match host::config("max-age-ms") {
            Some(text) => text.trim().parse().map_err(|_| format!("max-age-ms {text:?} is not a number"))?,
            None => 7 * 24 * 3_600_000,
        };
        let gone = segments
            .iter()
            .take_while(|s| {
                let read = stats.committed.is_some_and(|c| s.last_offset < c);
                let old = s.max_timestamp < stats.now_ms - max_age;
                read || old
            })
            .count();
        Ok(gone as u32)
    }
}

weir_plugin::export_retention_policy!(Plugin);
