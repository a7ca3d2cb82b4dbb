//! `keep-last-n`: keeps the newest `n` records of each key (config;
//! default 3) instead of only the latest — a short history per key. A
//! tombstone goes once its batch's delete horizon has passed, as in Kafka;
//! records without a key stay.

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
        Ok(batch
            .records()
            .map(|(record, c)| {
                if c.latest_offset < 0 {
                    return true;
                }
                let expired_tombstone = record.value().is_none() && batch.tombstones_expired();
                c.newer < n && !expired_tombstone
            })
            .collect())
    }
}

weir_plugin::export_compaction_policy!(KeepLastN);
