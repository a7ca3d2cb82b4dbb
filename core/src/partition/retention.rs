//! The retention pass over one partition: roll an idle active segment,
//! ask the topic's retention policy how many of the oldest closed segments
//! may go (outside the partition lock: a plugin may take its time), then
//! delete them if they are still the oldest. A policy that fails is logged
//! and Kafka's rules decide instead. Only a leader decides: followers take
//! the leader's log start offset from its fetch answers.

use tracing::{info, warn};

use super::Partition;
use crate::log::retention::{KafkaRetention, RetentionInput, RetentionPolicy};

impl Partition {
    /// Applies retention once; returns how many segments were deleted.
    /// `committed`: the lowest offset the groups reading the topic committed
    /// for this partition.
    pub fn enforce_retention(
        &self,
        policy: &dyn RetentionPolicy,
        committed: Option<i64>,
        now: i64,
    ) -> std::io::Result<usize> {
        let (segments, config, start, end, hw, size, leads) = self.with_state(|s| {
            if let Err(e) = s.log.roll_if_idle(now) {
                warn!(partition = %self.tp, error = %e, "could not roll an idle segment");
            }
            (
                s.log.closed_segments(s.high_watermark),
                s.log.config().clone(),
                s.log.log_start_offset(),
                s.log.log_end_offset(),
                s.high_watermark,
                s.log.size(),
                s.leadership.leader == self.node_id,
            )
        });
        if !config.delete || segments.is_empty() || !leads {
            return Ok(0);
        }
        let input = RetentionInput {
            topic: &self.tp.topic,
            partition: self.tp.partition,
            log_start_offset: start,
            log_end_offset: end,
            high_watermark: hw,
            size,
            segments: &segments,
            committed,
            now_ms: now,
            retention_ms: config.retention_ms,
            retention_bytes: config.retention_bytes,
        };
        let count = policy.deletable(&input).unwrap_or_else(|e| {
            warn!(partition = %self.tp, policy = policy.name(), error = %e,
                "retention policy failed; Kafka's retention rules decide instead");
            KafkaRetention.deletable(&input).unwrap_or(0)
        });
        let bases: Vec<i64> = segments.iter().take(count).map(|s| s.base_offset).collect();
        if bases.is_empty() {
            return Ok(0);
        }
        let new_start = self.with_state(|s| s.log.delete_oldest_segments(&bases))?;
        if new_start > start {
            info!(partition = %self.tp, segments = bases.len(), log_start_offset = new_start,
                policy = policy.name(), "retention deleted segments");
            Ok(bases.len())
        } else {
            Ok(0)
        }
    }
}
