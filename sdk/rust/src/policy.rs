//! The `retention-policy` and `compaction-policy` worlds: implement
//! `RetentionPolicy` or `CompactionPolicy`, then
//! `weir_plugin::export_retention_policy!(YourType);` or
//! `weir_plugin::export_compaction_policy!(YourType);`.

#[doc(hidden)]
pub mod retention_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "retention-policy",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_retention_policy_bindings",
        default_bindings_module: "weir_plugin::policy::retention_bindings",
    });
}

#[doc(hidden)]
pub mod compaction_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "compaction-policy",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_compaction_policy_bindings",
        default_bindings_module: "weir_plugin::policy::compaction_bindings",
    });
}

use crate::batch::{Batch, Record};
use crate::partitioner::bindings::weir::plugin::types::{self, RecordBatch};
pub use types::{PartitionStats, SegmentInfo};

/// Decides how many of a partition's oldest closed segments may be deleted.
pub trait RetentionPolicy {
    /// `segments`: the closed segments below the high watermark, oldest
    /// first. An error makes the broker apply retention.ms/retention.bytes.
    fn deletable(stats: &PartitionStats, segments: &[SegmentInfo]) -> Result<u32, String>;
}

/// What the cleaner knows of one record's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub offset: i64,
    /// The latest record with this key (-1 when the record has no key).
    pub latest_offset: i64,
    pub latest_timestamp: i64,
    /// Records with this key after this one.
    pub newer: u32,
}

/// A batch the log cleaner is compacting.
pub struct CompactionBatch {
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    /// When this batch's tombstones may go (Kafka's delete horizon, set by
    /// the first clean that kept them); none before that clean.
    pub delete_horizon: Option<i64>,
    batch: Batch,
    candidates: types::Candidates,
}

impl CompactionBatch {
    pub fn topic(&self) -> &str {
        self.batch.topic()
    }

    pub fn partition(&self) -> i32 {
        self.batch.partition()
    }

    pub fn len(&self) -> usize {
        self.batch.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Each record with what the cleaner knows of its key.
    pub fn records(&self) -> impl Iterator<Item = (Record<'_>, Candidate)> {
        let c = &self.candidates;
        self.batch.records().enumerate().map(move |(i, r)| {
            let candidate = Candidate {
                offset: c.offsets[i],
                latest_offset: c.latest_offsets[i],
                latest_timestamp: c.latest_timestamps[i],
                newer: c.newer[i],
            };
            (r, candidate)
        })
    }

    /// Whether this batch's tombstones may go: its delete horizon has
    /// passed (a clean kept them `delete.retention.ms` ago or more).
    pub fn tombstones_expired(&self) -> bool {
        self.delete_horizon.is_some_and(|h| self.now_ms >= h)
    }

    /// Kafka's rule for one record: a keyed record stays when it is its
    /// key's latest, unless it is a tombstone past the batch's delete
    /// horizon; a record without a key stays.
    pub fn kafka_keeps(&self, record: &Record, candidate: &Candidate) -> bool {
        if candidate.latest_offset < 0 {
            return true;
        }
        let expired_tombstone = record.value().is_none() && self.tombstones_expired();
        candidate.offset >= candidate.latest_offset && !expired_tombstone
    }
}

/// Decides which records of a compacted partition the cleaner keeps.
pub trait CompactionPolicy {
    /// Keep (true) or drop each record, in order. An error makes the
    /// cleaner decide this batch with Kafka's rule.
    fn keep(batch: &CompactionBatch) -> Result<Vec<bool>, String>;
}

#[doc(hidden)]
pub struct RetentionAdapter<T>(core::marker::PhantomData<T>);

impl<T: RetentionPolicy> retention_bindings::Guest for RetentionAdapter<T> {
    fn deletable(stats: PartitionStats, segments: Vec<SegmentInfo>) -> Result<u32, String> {
        T::deletable(&stats, &segments)
    }
}

#[doc(hidden)]
pub struct CompactionAdapter<T>(core::marker::PhantomData<T>);

impl<T: CompactionPolicy> compaction_bindings::Guest for CompactionAdapter<T> {
    fn keep(batch: types::CompactionBatch) -> Result<Vec<bool>, String> {
        let batch = CompactionBatch {
            now_ms: batch.now_ms,
            delete_retention_ms: batch.delete_retention_ms,
            delete_horizon: batch.delete_horizon,
            batch: Batch::new(RecordBatch {
                topic: batch.topic,
                partition: batch.partition,
                partition_count: 0,
                records: batch.records,
            }),
            candidates: batch.candidates,
        };
        T::keep(&batch)
    }
}

/// Exports `$t` (a `RetentionPolicy`) as the component's world.
#[macro_export]
macro_rules! export_retention_policy {
    ($t:ty) => {
        type __WeirRetentionExport = $crate::policy::RetentionAdapter<$t>;
        $crate::policy::retention_bindings::export_retention_policy_bindings!(
            __WeirRetentionExport
        );
    };
}

/// Exports `$t` (a `CompactionPolicy`) as the component's world.
#[macro_export]
macro_rules! export_compaction_policy {
    ($t:ty) => {
        type __WeirCompactionExport = $crate::policy::CompactionAdapter<$t>;
        $crate::policy::compaction_bindings::export_compaction_policy_bindings!(
            __WeirCompactionExport
        );
    };
}
