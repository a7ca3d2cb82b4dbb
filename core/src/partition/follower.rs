//! A partition as follower: where its fetcher asks the leader from, the
//! leader's batches appended with their offsets kept, the high watermark
//! and log start taken from the leader, and truncation to where its log and
//! the leader's diverge (KIP-101/279: by leader epoch).

use super::{Partition, PartitionState};
use crate::log::{truncation_offset, AppendInfo};
use crate::producer::snapshot;
use crate::protocol::error::{ApiError, ResponseError};

/// What a follower's next fetch from its leader asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPosition {
    pub leader: i32,
    /// The leader epoch this follower knows (the leader refuses other ones).
    pub current_leader_epoch: i32,
    pub fetch_offset: i64,
    /// The epoch of the last batch this follower holds (-1: none): the
    /// leader checks it against its own log to detect divergence.
    pub last_fetched_epoch: i32,
    pub log_start_offset: i64,
}

impl Partition {
    /// Where to fetch from, or None when this broker leads the partition or
    /// it has no leader.
    pub fn fetch_position(&self) -> Option<FetchPosition> {
        let state = self.state();
        let leader = state.leadership.leader;
        if leader == self.node_id || leader < 0 {
            return None;
        }
        Some(FetchPosition {
            leader,
            current_leader_epoch: state.leadership.leader_epoch,
            fetch_offset: state.log.log_end_offset(),
            last_fetched_epoch: state.log.latest_epoch().map_or(-1, |(e, _)| e),
            log_start_offset: state.log.log_start_offset(),
        })
    }

    /// Appends batches fetched from the leader in `epoch`, then takes the
    /// leader's high watermark (as far as this log reaches) and log start.
    /// Refused when leadership moved since the fetch was sent.
    pub fn append_as_follower(
        &self,
        records: &[u8],
        epoch: i32,
        leader_high_watermark: i64,
        leader_log_start: i64,
    ) -> Result<AppendInfo, ApiError> {
        let mut guard = self.state();
        let state = &mut *guard;
        self.check_follower(state, epoch)?;
        let producers = &mut state.producers;
        let info = state
            .log
            .append_as_follower(records, |header| producers.record(header))
            .map_err(|e| ApiError::new(ResponseError::KafkaStorageError, e.to_string()))?;
        if leader_log_start > state.log.log_start_offset() {
            state
                .log
                .delete_records_before(leader_log_start)
                .map_err(|e| ApiError::new(ResponseError::KafkaStorageError, e.to_string()))?;
        }
        let end = state.log.log_end_offset();
        state.high_watermark = leader_high_watermark.min(end);
        self.counters.follower_lag.store(
            (leader_high_watermark - end).max(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.publish(state);
        Ok(info)
    }

    /// The leader answered that this log diverges from its own after
    /// `diverging` (epoch, end offset): cuts the log back to where they
    /// agree. Returns the new log end.
    pub fn truncate_to_divergence(
        &self,
        epoch: i32,
        diverging: (i32, i64),
    ) -> Result<i64, ApiError> {
        let mut state = self.state();
        self.check_follower(&state, epoch)?;
        let end = state.log.log_end_offset();
        let offset = truncation_offset(state.log.epochs(), end, state.high_watermark, diverging);
        self.truncate(&mut state, offset)?;
        Ok(state.log.log_end_offset())
    }

    /// The leader no longer has what this follower would fetch next: start
    /// again empty at the leader's log start, or, when this log is ahead of
    /// the leader's, cut it back to the high watermark.
    pub fn reset_after_out_of_range(
        &self,
        epoch: i32,
        leader_log_start: i64,
    ) -> Result<(), ApiError> {
        let mut state = self.state();
        self.check_follower(&state, epoch)?;
        let storage =
            |e: std::io::Error| ApiError::new(ResponseError::KafkaStorageError, e.to_string());
        if state.log.log_end_offset() < leader_log_start {
            tracing::info!(partition = %self.tp, leader_log_start,
                "behind the leader's log start: starting the replica again from there");
            state
                .log
                .truncate_fully_and_start_at(leader_log_start)
                .map_err(storage)?;
            snapshot::remove_after(state.log.dir(), -1).map_err(storage)?;
            state.producers = Default::default();
            state.last_snapshot = leader_log_start;
            state.high_watermark = leader_log_start;
            self.publish(&state);
            Ok(())
        } else {
            let hw = state.high_watermark;
            self.truncate(&mut state, hw)
        }
    }

    fn check_follower(&self, state: &PartitionState, epoch: i32) -> Result<(), ApiError> {
        let l = &state.leadership;
        if l.leader == self.node_id || l.leader_epoch != epoch {
            return Err(ApiError::new(
                ResponseError::FencedLeaderEpoch,
                format!("{}: leadership moved since the fetch was sent", self.tp),
            ));
        }
        Ok(())
    }

    /// Cuts the log at `offset` and rebuilds what described the cut part:
    /// producer state (from a snapshot below it and the batches after) and
    /// the high watermark.
    fn truncate(&self, state: &mut PartitionState, offset: i64) -> Result<(), ApiError> {
        let storage =
            |e: std::io::Error| ApiError::new(ResponseError::KafkaStorageError, e.to_string());
        if offset >= state.log.log_end_offset() {
            return state.log.truncate_to(offset).map_err(storage);
        }
        tracing::info!(partition = %self.tp, from = state.log.log_end_offset(), to = offset,
            "truncating the replica to where it agrees with the leader");
        state.log.truncate_to(offset).map_err(storage)?;
        let end = state.log.log_end_offset();
        snapshot::remove_after(state.log.dir(), end).map_err(storage)?;
        let (from, mut producers) = snapshot::load(state.log.dir(), end).unwrap_or_default();
        state
            .log
            .for_each_batch(from, |h| producers.record(h))
            .map_err(storage)?;
        state.producers = producers;
        state.last_snapshot = from;
        state.high_watermark = state.high_watermark.min(end);
        self.publish(state);
        Ok(())
    }
}
