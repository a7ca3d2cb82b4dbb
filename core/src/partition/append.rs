//! Appends as leader: a producer's batches, batches a plugin rewrote, and
//! the group coordinator's records, checked against the log's config and
//! the idempotent producers' sequences before anything is written.

use super::{AppendOrigin, Partition};
use crate::log::batch::BatchHeader;
use crate::log::{AppendError, AppendInfo, TopicPartition};
use crate::producer::BatchCheck;
use crate::protocol::error::{ApiError, ResponseError};

impl Partition {
    /// Appends batches as leader, from `origin`. `acks` is -1, 0 or 1.
    /// The answer carries the leader epoch the batches were written in:
    /// acks=all then waits (`wait_for_commit`) for the high watermark to
    /// pass them in that epoch.
    pub fn append_records(
        &self,
        records: &[u8],
        origin: AppendOrigin,
        acks: i16,
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
            .validate(records, origin == AppendOrigin::Rewritten)
            .map_err(|e| append_error(&self.tp, e))?;
        let headers: Vec<BatchHeader> = batches.iter().map(|(_, h)| *h).collect();
        if let Some(mut original) =
            producer_verdict(&self.tp, &state.producers.check_all(&headers))?
        {
            // A retry of batches already appended: answer with their
            // offsets, once they are committed.
            original.leader_epoch = epoch;
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
        self.advance_high_watermark(&mut state);
        // The log end moved: followers' fetches waiting here wake.
        self.wake_waiters();
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.counters
            .bytes_in
            .fetch_add(records.len() as u64, relaxed);
        self.counters
            .messages_in
            .fetch_add(info.records as u64, relaxed);
        Ok((info, state.log.log_start_offset()))
    }

    /// A producer's batches (`append_records` from a client).
    pub fn append_as_leader(
        &self,
        records: &[u8],
        acks: i16,
    ) -> Result<(AppendInfo, i64), ApiError> {
        self.append_records(records, AppendOrigin::Client, acks)
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
            leader_epoch: -1,
        })),
        _ => Err(ApiError::new(
            ResponseError::DuplicateSequenceNumber,
            format!("{tp}: a request mixes retried and new batches"),
        )),
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
    use crate::log::{LogConfig, PartitionLog};
    use crate::partition::Leadership;
    use kafka_protocol::records::Compression;
    use uuid::Uuid;

    fn partition(dir: &std::path::Path, log_start: i64) -> Partition {
        let config = LogConfig {
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        };
        let log = PartitionLog::open(&dir.join("t-0"), config, 0, log_start, true).unwrap();
        let leadership = Leadership {
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
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
