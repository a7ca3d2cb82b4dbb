//! The compaction decision: for each record of a batch being rewritten, keep
//! or drop. Natively Kafka's — the latest record of each key stays, and a
//! tombstone (null value) goes once its batch's delete horizon has passed
//! (KIP-534: the first clean that keeps a tombstone stamps its batch with
//! now + `delete.retention.ms`, so every tombstone survives at least one
//! clean and `delete.retention.ms` after it, whatever its timestamp); or a
//! plugin bound with `weir.compaction.policy`, which sees each record with
//! the latest record of its key.

use crate::log::records::PackedRecords;

/// One record of the batch, with what the cleaner knows about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub offset: i64,
    /// The offset and timestamp of the latest record with this key (its
    /// own when it is the latest; -1 for a record without a key).
    pub latest_offset: i64,
    pub latest_timestamp: i64,
    /// How many records with this key come after it in the cleaned range.
    pub newer: u32,
}

/// What a compaction decision is made from.
pub struct CompactionInput<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub now_ms: i64,
    /// `delete.retention.ms`
    pub delete_retention_ms: i64,
    /// The batch's delete horizon; none when no clean has kept its
    /// tombstones yet.
    pub delete_horizon: Option<i64>,
    pub records: &'a PackedRecords,
    pub candidates: &'a [Candidate],
}

/// Decides which records a compacted partition keeps.
pub trait CompactionPolicy: Send + Sync {
    fn name(&self) -> &str;
    /// Keep (true) or drop each record of `input.records`, in order; an
    /// error makes the cleaner decide this batch with Kafka's rule.
    fn keep(&self, input: &CompactionInput) -> Result<Vec<bool>, String>;
}

/// Kafka's rule.
pub struct KafkaCompaction;

impl CompactionPolicy for KafkaCompaction {
    fn name(&self) -> &str {
        "native"
    }

    fn keep(&self, input: &CompactionInput) -> Result<Vec<bool>, String> {
        let tombstones_expired = input.delete_horizon.is_some_and(|h| input.now_ms >= h);
        Ok(input
            .candidates
            .iter()
            .zip(&input.records.records)
            .map(|(c, r)| {
                if c.latest_offset < 0 {
                    return true; // no key: nothing supersedes it
                }
                let tombstone = r.value_len < 0;
                c.offset >= c.latest_offset && !(tombstone && tombstones_expired)
            })
            .collect())
    }
}
