//! {{name}}: a compaction policy. It keeps the newest `n` records of each
//! key (the config value `n`, default 2) instead of only the latest; a
//! tombstone goes once its batch's delete horizon has passed, as in Kafka; records
//! without a key stay. Change `keep` to your own rule.

use weir_plugin::host;
use weir_plugin::policy::{CompactionBatch, CompactionPolicy};

struct Plugin;

impl CompactionPolicy for Plugin {
    fn keep(batch: &CompactionBatch) -> Result<Vec<bool>, String> {
        let n: u32 = match host::config("n") {
            Some(text) => text.trim().parse().map_err(|_| format!("n {text:?} is not a count"))?,
            None => 2,
        };
        Ok(batch
            .records()
            .map(|(record, c)| {
                let expired_tombstone = record.value().is_none() && batch.tombstones_expired();
                c.latest_offset < 0 || (c.newer < n && !expired_tombstone)
            })
            .collect())
    }
}

weir_plugin::export_compaction_policy!(Plugin);
