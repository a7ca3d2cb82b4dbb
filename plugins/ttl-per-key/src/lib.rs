//! `ttl-per-key`: compacts as Kafka does, and also drops every record of a
//! key whose latest record is older than `ttl-ms` (config; default one
//! day) — keys that stopped being updated expire. Records without a key
//! stay.

use weir_plugin::host::config;
use weir_plugin::policy::{CompactionBatch, CompactionPolicy};

struct TtlPerKey;

impl CompactionPolicy for TtlPerKey {
    fn keep(batch: &CompactionBatch) -> Result<Vec<bool>, String> {
        let ttl: i64 = match config("ttl-ms") {
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("ttl-ms {text:?} is not a number of milliseconds"))?,
            None => 86_400_000,
        };
        let horizon = batch.now_ms.saturating_sub(ttl);
        Ok(batch
            .records()
            .map(|(record, c)| {
                let expired = c.latest_offset >= 0 && c.latest_timestamp < horizon;
                !expired && batch.kafka_keeps(&record, &c)
            })
            .collect())
    }
}

weir_plugin::export_compaction_policy!(TtlPerKey);
