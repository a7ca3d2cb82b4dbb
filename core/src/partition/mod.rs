//! A replica of one partition: its log, leader epoch, high watermark and ISR.
//! The high watermark is kept apart from the log end offset: consumers read up
//! to it, and `acks=all` completes when it passes the batch. On one node the
//! ISR is this broker alone, so the high watermark follows each append; with
//! follower replication it will follow the slowest in-sync follower.

pub mod cleaner;
pub mod dead_letter;
pub mod interceptor;
pub mod manager;
pub mod partitioner;
mod retention;

use std::sync::Mutex;

use uuid::Uuid;

use crate::log::batch::BatchHeader;
use crate::log::{AppendError, AppendInfo, LogConfig, PartitionLog, ReadError, TopicPartition};
use crate::producer::{snapshot, BatchCheck, ProducerStateManager};
use crate::protocol::error::{ApiError, ResponseError};

pub use manager::ReplicaManager;

/// The replica set and leadership of a partition, from the metadata image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

pub struct PartitionState {
    pub log: PartitionLog,
    pub high_watermark: i64,
    pub leadership: Leadership,
    pub min_insync_replicas: i64,
    /// Idempotent producers' sequences, rebuilt at start-up from the newest
    /// snapshot and the batches after it.
    pub producers: ProducerStateManager,
    /// The log end offset of the last snapshot written.
    pub last_snapshot: i64,
}

/// One partition hosted by this broker.
pub struct Partition {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    node_id: i32,
    state: Mutex<PartitionState>,
}

/// What a fetch of one partition returns.
#[derive(Debug, Clone, Default)]
pub struct FetchedData {
    pub records: crate::log::FileSlice,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// Which offset ListOffsets asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    MaxTimestamp,
    /// KIP-1005: the local log start (same as earliest without tiered storage).
    EarliestLocal,
    Timestamp(i64),
}

impl OffsetSpec {
    pub fn from_timestamp(ts: i64) -> OffsetSpec {
        match ts {
            -2 => OffsetSpec::Earliest,
            -1 => OffsetSpec::Latest,
            -3 => OffsetSpec::MaxTimestamp,
            -4 => OffsetSpec::EarliestLocal,
            -5 => OffsetSpec::Latest, // latest tiered: no tiered storage, same as latest
            ts => OffsetSpec::Timestamp(ts),
        }
    }
}

impl Partition {
    pub fn new(
        tp: TopicPartition,
        topic_id: Uuid,
        node_id: i32,
        log: PartitionLog,
        high_watermark: i64,
        leadership: Leadership,
    ) -> Partition {
        let high_watermark = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        let (from, mut producers) =
            snapshot::load(log.dir(), log.log_end_offset()).unwrap_or_default();
        if let Err(e) = log.for_each_batch(from, |h| producers.record(h)) {
            tracing::warn!(partition = %tp, error = %e, "could not rebuild producer state from the log");
        }
        let mut state = PartitionState {
            log,
            high_watermark,
            leadership,
            min_insync_replicas: 1,
            last_snapshot: from,
            producers,
        };
        maybe_advance_high_watermark(&mut state, node_id);
        Partition {
            tp,
            topic_id,
            node_id,
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PartitionState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the partition state locked (for the replica manager).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut PartitionState) -> T) -> T {
        f(&mut self.state())
    }

    pub fn update(&self, leadership: Leadership, config: LogConfig, min_insync_replicas: i64) {
        let mut state = self.state();
        state.leadership = leadership;
        state.min_insync_replicas = min_insync_replicas;
        if state.log.config() != &config {
            state.log.set_config(config);
        }
        maybe_advance_high_watermark(&mut state, self.node_id);
    }

    /// Forgets idempotent producers idle for `expiration_ms`.
    pub fn expire_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        self.state().producers.expire(now_ms, expiration_ms)
    }

    /// Writes a producer state snapshot at the log end if the log moved since
    /// the last one and producers wrote here — or, with `even_empty` (clean
    /// shutdown), whether or not they did, so the next start reads no headers.
    pub fn write_producer_snapshot(&self, even_empty: bool) -> std::io::Result<()> {
        let mut state = self.state();
        let end = state.log.log_end_offset();
        let nothing_to_keep = state.producers.producer_count() == 0 && !even_empty;
        if nothing_to_keep || state.last_snapshot == end {
            return Ok(());
        }
        snapshot::write(state.log.dir(), end, &state.producers)?;
        state.last_snapshot = end;
        Ok(())
    }

    pub fn leader_epoch(&self) -> i32 {
        self.state().leadership.leader_epoch
    }
    pub fn high_watermark(&self) -> i64 {
        self.state().high_watermark
    }
    pub fn log_start_offset(&self) -> i64 {
        self.state().log.log_start_offset()
    }
    pub fn log_end_offset(&self) -> i64 {
        self.state().log.log_end_offset()
    }

    fn check_leader(&self, state: &PartitionState) -> Result<(), ApiError> {
        if state.leadership.leader != self.node_id {
            return Err(ApiError::new(
                ResponseError::NotLeaderOrFollower,
                format!("This broker is not the leader of {}", self.tp),
            ));
        }
        Ok(())
    }

    /// Appends a producer's batches as leader. `acks` is -1, 0 or 1.
    pub fn append_as_leader(
        &self,
        records: &[u8],
        acks: i16,
    ) -> Result<(AppendInfo, i64), ApiError> {
        self.append(records, acks, false)
    }

    /// Appends batches the broker rewrote from a producer's (records routed
    /// elsewhere or dropped): they may hold fewer records than offsets.
    pub fn append_rewritten(
        &self,
        records: &[u8],
        acks: i16,
    ) -> Result<(AppendInfo, i64), ApiError> {
        self.append(records, acks, true)
    }

    fn append(
        &self,
        records: &[u8],
        acks: i16,
        rewritten: bool,
    ) -> Result<(AppendInfo, i64), ApiError> {
        let mut state = self.state();
        self.check_leader(&state)?;
        if acks == -1 && (state.leadership.isr.len() as i64) < state.min_insync_replicas {
            return Err(ApiError::new(
                ResponseError::NotEnoughReplicas,
                format!(
                    "The size of the current ISR {:?} is insufficient to satisfy the min.isr requirement of {} for partition {}",
                    state.leadership.isr, state.min_insync_replicas, self.tp
                ),
            ));
        }
        let epoch = state.leadership.leader_epoch;
        let batches = state
            .log
            .validate(records, rewritten)
            .map_err(|e| append_error(&self.tp, e))?;
        let headers: Vec<BatchHeader> = batches.iter().map(|(_, h)| *h).collect();
        if let Some(original) = producer_verdict(&self.tp, &state.producers.check_all(&headers))? {
            // A retry of batches already appended: answer with their offsets.
            return Ok((original, state.log.log_start_offset()));
        }
        let info = state
            .log
            .append_validated(records, batches, epoch)
            .map_err(|e| append_error(&self.tp, e))?;
        let mut next = info.base_offset;
        for mut header in headers {
            header.base_offset = next;
            next = header.next_offset();
            state.producers.record(&header);
        }
        maybe_advance_high_watermark(&mut state, self.node_id);
        Ok((info, state.log.log_start_offset()))
    }

    /// Reads from `offset` for a consumer (up to the high watermark).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
    ) -> Result<FetchedData, ApiError> {
        let state = self.state();
        self.check_leader(&state)?;
        let result = state
            .log
            .read(offset, max_bytes, state.high_watermark, min_one)
            .map_err(|e| match e {
                ReadError::OffsetOutOfRange { .. } => {
                    ApiError::new(ResponseError::OffsetOutOfRange, e.to_string())
                }
                ReadError::Io(e) => ApiError::new(ResponseError::KafkaStorageError, e.to_string()),
            })?;
        Ok(FetchedData {
            records: result.records,
            high_watermark: state.high_watermark,
            log_start_offset: state.log.log_start_offset(),
        })
    }

    /// ListOffsets: (offset, timestamp, leader epoch), or None when no record matches.
    pub fn list_offset(&self, spec: OffsetSpec) -> Result<Option<(i64, i64)>, ApiError> {
        let state = self.state();
        self.check_leader(&state)?;
        let storage =
            |e: std::io::Error| ApiError::new(ResponseError::KafkaStorageError, e.to_string());
        Ok(match spec {
            OffsetSpec::Earliest | OffsetSpec::EarliestLocal => {
                Some((state.log.log_start_offset(), -1))
            }
            OffsetSpec::Latest => Some((state.high_watermark, -1)),
            OffsetSpec::MaxTimestamp => state.log.max_timestamp().map_err(storage)?,
            OffsetSpec::Timestamp(ts) => state
                .log
                .offset_for_timestamp(ts)
                .map_err(storage)?
                .filter(|(offset, _)| *offset < state.high_watermark),
        })
    }

    /// DeleteRecords: moves the log start offset to `offset` (-1: the high
    /// watermark). Returns the new low watermark.
    pub fn delete_records(&self, offset: i64) -> Result<i64, ApiError> {
        let mut state = self.state();
        self.check_leader(&state)?;
        let target = if offset == -1 {
            state.high_watermark
        } else {
            offset
        };
        if target < 0 || target > state.high_watermark {
            return Err(ApiError::new(
                ResponseError::OffsetOutOfRange,
                format!(
                    "Cannot delete records of {} up to {offset}: the high watermark is {}",
                    self.tp, state.high_watermark
                ),
            ));
        }
        state
            .log
            .delete_records_before(target)
            .map_err(|e| ApiError::new(ResponseError::KafkaStorageError, e.to_string()))
    }
}

/// Turns the producer checks of a request into: append (None), answer with
/// the original offsets of a retried request (Some), or Kafka's error.
fn producer_verdict(
    tp: &TopicPartition,
    checks: &[BatchCheck],
) -> Result<Option<AppendInfo>, ApiError> {
    let mut duplicates = Vec::new();
    for check in checks {
        match *check {
            BatchCheck::Append => {}
            BatchCheck::Duplicate(original) => duplicates.push(original),
            BatchCheck::FencedEpoch { current } => {
                return Err(ApiError::new(
                    ResponseError::InvalidProducerEpoch,
                    format!("{tp}: producer epoch is older than the current epoch {current}"),
                ))
            }
            BatchCheck::UnknownProducer => {
                return Err(ApiError::new(
                    ResponseError::UnknownProducerId,
                    format!(
                        "{tp}: found no record of this producer id; its state may have expired (producer.id.expiration.ms)"
                    ),
                ))
            }
            BatchCheck::OutOfOrder { expected, got } => {
                return Err(ApiError::new(
                    ResponseError::OutOfOrderSequenceNumber,
                    format!("{tp}: out of order sequence number: expected {expected}, got {got}"),
                ))
            }
        }
    }
    match (duplicates.first(), duplicates.last()) {
        (None, _) => Ok(None),
        (Some(first), Some(last)) if duplicates.len() == checks.len() => Ok(Some(AppendInfo {
            base_offset: first.first_offset,
            last_offset: last.last_offset,
            log_append_time: -1,
            records: 0,
            duplicate: true,
        })),
        _ => Err(ApiError::new(
            ResponseError::DuplicateSequenceNumber,
            format!("{tp}: a request mixes retried and new batches"),
        )),
    }
}

/// With this broker the only in-sync replica, everything appended is committed.
fn maybe_advance_high_watermark(state: &mut PartitionState, node_id: i32) {
    if state.leadership.leader == node_id && state.leadership.isr == [node_id] {
        state.high_watermark = state.log.log_end_offset();
    }
}

fn append_error(tp: &TopicPartition, e: AppendError) -> ApiError {
    let error = match &e {
        AppendError::Corrupt(crate::log::batch::BatchError::UnsupportedMagic(_)) => {
            ResponseError::UnsupportedForMessageFormat
        }
        AppendError::Corrupt(_) => ResponseError::CorruptMessage,
        AppendError::TooLarge { .. } => ResponseError::MessageTooLarge,
        AppendError::InvalidRecord(_) => ResponseError::InvalidRecord,
        AppendError::InvalidRecords { .. } => ResponseError::InvalidRecord,
        AppendError::InvalidTimestamp { .. } => ResponseError::InvalidTimestamp,
        AppendError::Io(_) => ResponseError::KafkaStorageError,
    };
    let mut api = ApiError::new(error, format!("{tp}: {e}"));
    if let AppendError::InvalidRecords { records, .. } = e {
        api.record_errors = records
            .into_iter()
            .map(|(i, reason)| (i, format!("{reason} in topic partition {tp}.")))
            .collect();
    }
    api
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::encode_idempotent;
    use kafka_protocol::records::Compression;

    fn partition(dir: &std::path::Path, log_start: i64) -> Partition {
        let config = LogConfig {
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        };
        let log = PartitionLog::open(&dir.join("t-0"), config, 0, log_start, true).unwrap();
        let leadership = Leadership {
            leader: 1,
            leader_epoch: 0,
            replicas: vec![1],
            isr: vec![1],
        };
        Partition::new(
            TopicPartition::new("t", 0),
            Uuid::nil(),
            1,
            log,
            0,
            leadership,
        )
    }

    fn batch(sequence: i32) -> Vec<u8> {
        let records = (0..3).map(|i| (None, Some(format!("{i}").into())));
        encode_idempotent(records, 1_000, Compression::None, (42, 0, sequence))
    }

    #[test]
    fn producer_state_comes_back_from_the_snapshot_and_the_batches_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path(), 0);
        assert_eq!(p.append_as_leader(&batch(0), -1).unwrap().0.base_offset, 0);
        assert_eq!(p.append_as_leader(&batch(3), -1).unwrap().0.base_offset, 3);
        p.write_producer_snapshot(false).unwrap();
        assert!(dir
            .path()
            .join("t-0")
            .join("00000000000000000006.snapshot")
            .exists());
        assert_eq!(p.append_as_leader(&batch(6), -1).unwrap().0.base_offset, 6);
        drop(p);

        // Reopened with the log start past the first batch: only the snapshot
        // still knows it, and only the log knows the batch after the snapshot.
        let p = partition(dir.path(), 3);
        assert_eq!(p.log_start_offset(), 3);
        assert_eq!(
            p.append_as_leader(&batch(0), -1).unwrap().0.base_offset,
            0,
            "retry from the snapshot"
        );
        assert_eq!(
            p.append_as_leader(&batch(6), -1).unwrap().0.base_offset,
            6,
            "retry from the log"
        );
        assert_eq!(
            p.append_as_leader(&batch(9), -1).unwrap().0.base_offset,
            9,
            "the sequence continues"
        );
        let gap = p.append_as_leader(&batch(20), -1).unwrap_err();
        assert_eq!(gap.error, ResponseError::OutOfOrderSequenceNumber);
    }
}
