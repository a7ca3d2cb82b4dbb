//! `keep-last-n`: keeps the newest `n` records of each key (config;
//! default 3) instead of only the latest — a short history per key. A
//! tombstone older than `delete.retention.ms` goes, as in Kafka; records
//! without a key stay.

use weir_plugin::host::config;
use weir_plugin::policy::{CompactionBatch, CompactionPolicy};

struct KeepLastN;

impl CompactionPolicy for KeepLastN {
    fn keep(batch: &CompactionBatch) -> Result<Vec<bool>, String> {
        let n: u32 = match config("n") {
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("n {text:?} is not a count"))?,
            None => 3,
        };
        let horizon = batch.now_ms.saturating_sub(batch.delete_retention_ms);
        Ok(batch
            .records()
            .map(|(record, c)| {
                if c.latest_offset < 0 {
                    return true;
                }
                let expired_tombstone = record.value().is_none() && record.timestamp() < horizon;
                c.newer < n && !expired_tombstone
            })
            .collect())
    }
}

weir_plugin::export_compaction_policy!(KeepLastN);
