//! Retention and compaction policy plugins: components exporting the
//! `retention-policy` or `compaction-policy` world, called through the
//! log's `RetentionPolicy` and `CompactionPolicy` traits. A failure is an
//! error the caller answers by applying Kafka's rule (and it is counted,
//! like any plugin's).

use super::bindings::compaction_policy::{CompactionPolicy, CompactionPolicyPre};
use super::bindings::retention_policy::{RetentionPolicy, RetentionPolicyPre};
use super::bindings::{to_wit, types};
use super::sandbox::{Instances, Loaded, Sandbox};
use super::HostState;
use crate::log::cleaner::policy::{self as compaction, CompactionInput};
use crate::log::retention::{self, RetentionInput};

pub struct WasmRetentionPolicy {
    pub sandbox: Sandbox,
    pre: RetentionPolicyPre<HostState>,
    instances: Instances<RetentionPolicy>,
}

impl WasmRetentionPolicy {
    pub fn new(loaded: Loaded) -> anyhow::Result<WasmRetentionPolicy> {
        let (sandbox, pre, instances) =
            loaded.warm(RetentionPolicyPre::new, |pre, store| pre.instantiate(store))?;
        Ok(WasmRetentionPolicy {
            sandbox,
            pre,
            instances,
        })
    }
}

impl retention::RetentionPolicy for WasmRetentionPolicy {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn deletable(&self, input: &RetentionInput) -> Result<usize, String> {
        let stats = types::PartitionStats {
            topic: input.topic.to_string(),
            partition: input.partition,
            log_start_offset: input.log_start_offset,
            log_end_offset: input.log_end_offset,
            high_watermark: input.high_watermark,
            size: input.size,
            committed: input.committed,
            retention_ms: input.retention_ms,
            retention_bytes: input.retention_bytes,
            now_ms: input.now_ms,
        };
        let segments: Vec<types::SegmentInfo> = input
            .segments
            .iter()
            .map(|s| types::SegmentInfo {
                base_offset: s.base_offset,
                last_offset: s.last_offset,
                size: s.size,
                max_timestamp: s.max_timestamp,
            })
            .collect();
        let count = self
            .sandbox
            .run(
                &self.instances,
                segments.len(),
                |store| self.pre.instantiate(store),
                |instance, store| instance.call_deletable(store, &stats, &segments),
            )
            .map_err(|e| e.to_string())? as usize;
        if count > segments.len() {
            // The mechanism caps it; the plugin still answered nonsense.
            self.sandbox
                .answered_badly(&format!("{count} segments deletable of {}", segments.len()));
        }
        Ok(count.min(segments.len()))
    }
}

pub struct WasmCompactionPolicy {
    pub sandbox: Sandbox,
    pre: CompactionPolicyPre<HostState>,
    instances: Instances<CompactionPolicy>,
}

impl WasmCompactionPolicy {
    pub fn new(loaded: Loaded) -> anyhow::Result<WasmCompactionPolicy> {
        let (sandbox, pre, instances) = loaded.warm(CompactionPolicyPre::new, |pre, store| {
            pre.instantiate(store)
        })?;
        Ok(WasmCompactionPolicy {
            sandbox,
            pre,
            instances,
        })
    }
}

impl compaction::CompactionPolicy for WasmCompactionPolicy {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn keep(&self, input: &CompactionInput) -> Result<Vec<bool>, String> {
        let c = input.candidates;
        let batch = types::CompactionBatch {
            topic: input.topic.to_string(),
            partition: input.partition,
            now_ms: input.now_ms,
            delete_retention_ms: input.delete_retention_ms,
            delete_horizon: input.delete_horizon,
            records: to_wit(input.records.clone()),
            candidates: types::Candidates {
                offsets: c.iter().map(|c| c.offset).collect(),
                latest_offsets: c.iter().map(|c| c.latest_offset).collect(),
                latest_timestamps: c.iter().map(|c| c.latest_timestamp).collect(),
                newer: c.iter().map(|c| c.newer).collect(),
            },
        };
        let keep = self
            .sandbox
            .run(
                &self.instances,
                c.len(),
                |store| self.pre.instantiate(store),
                |instance, store| instance.call_keep(store, &batch),
            )
            .map_err(|e| e.to_string())?;
        if keep.len() != c.len() {
            let why = format!("{} answers for {} records", keep.len(), c.len());
            self.sandbox.answered_badly(&why);
            return Err(why);
        }
        Ok(keep)
    }
}
