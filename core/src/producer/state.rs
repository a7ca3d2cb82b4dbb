//! Per-partition producer state: for each producer id, its epoch and the
//! sequence and offset ranges of its last five batches (Kafka keeps five, the
//! most a producer has in flight with `max.in.flight.requests.per.connection`
//! = 5). A retried batch is recognised and answered with its original
//! offsets; a gap or an old epoch is refused with Kafka's error.

use std::collections::{HashMap, VecDeque};

use crate::log::batch::BatchHeader;

/// Batches remembered per producer.
pub const BATCHES_KEPT: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    /// The largest batch timestamp seen: the entry expires
    /// `producer.id.expiration.ms` after it.
    last_timestamp: i64,
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchCheck {
    /// Not idempotent, or the next batch in sequence: append it.
    Append,
    /// A retry of a batch already in the log, at these offsets.
    Duplicate(BatchMetadata),
    /// The producer's epoch is older than one already seen.
    FencedEpoch { current: i16 },
    /// The sequence is not the one expected.
    OutOfOrder { expected: i32, got: i32 },
    /// No state for this producer (it expired, or its batches were
    /// deleted) and the batch does not start a sequence.
    UnknownProducer,
}

#[derive(Debug, Default)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

/// `sequence + delta`, wrapping from i32::MAX to 0 as Kafka's sequences do.
fn increment(sequence: i32, delta: i32) -> i32 {
    if sequence > i32::MAX - delta {
        delta - (i32::MAX - sequence) - 1
    } else {
        sequence + delta
    }
}

fn last_sequence(header: &BatchHeader) -> i32 {
    increment(header.base_sequence, header.last_offset_delta)
}

fn next_sequence(sequence: i32) -> i32 {
    increment(sequence, 1)
}

impl ProducerStateManager {
    /// Checks one batch against the producer's state (nothing changes).
    pub fn check(&self, header: &BatchHeader) -> BatchCheck {
        if header.producer_id < 0 || header.is_control() {
            return BatchCheck::Append;
        }
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return match header.base_sequence {
                0 => BatchCheck::Append,
                _ => BatchCheck::UnknownProducer,
            };
        };
        if header.producer_epoch < entry.epoch {
            return BatchCheck::FencedEpoch {
                current: entry.epoch,
            };
        }
        if header.producer_epoch > entry.epoch {
            // A new epoch starts its sequences again.
            return match header.base_sequence {
                0 => BatchCheck::Append,
                got => BatchCheck::OutOfOrder { expected: 0, got },
            };
        }
        let last = last_sequence(header);
        if let Some(seen) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == header.base_sequence && b.last_sequence == last)
        {
            return BatchCheck::Duplicate(*seen);
        }
        let expected = entry
            .batches
            .back()
            .map_or(0, |b| next_sequence(b.last_sequence));
        if header.base_sequence == expected {
            BatchCheck::Append
        } else {
            BatchCheck::OutOfOrder {
                expected,
                got: header.base_sequence,
            }
        }
    }

    /// Checks every batch of one produce request for a partition, each against
    /// the state as it will be after the batches before it.
    pub fn check_all(&self, headers: &[BatchHeader]) -> Vec<BatchCheck> {
        if headers.len() == 1 {
            return vec![self.check(&headers[0])];
        }
        let mut scratch = ProducerStateManager::default();
        for h in headers {
            if let Some(entry) = self.producers.get(&h.producer_id) {
                scratch
                    .producers
                    .entry(h.producer_id)
                    .or_insert_with(|| entry.clone());
            }
        }
        headers
            .iter()
            .map(|h| {
                let check = scratch.check(h);
                if check == BatchCheck::Append {
                    scratch.record(h);
                }
                check
            })
            .collect()
    }

    /// Records a batch that was appended (or found in the log at start-up).
    pub fn record(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 || header.is_control() {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch > entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        entry.last_timestamp = entry.last_timestamp.max(header.max_timestamp);
        if entry.batches.len() == BATCHES_KEPT {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: header.base_sequence,
            last_sequence: last_sequence(header),
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
        });
    }

    /// (producer id, epoch, last timestamp, batches) of every producer, for snapshots.
    pub fn entries(&self) -> impl Iterator<Item = (i64, i16, i64, &VecDeque<BatchMetadata>)> {
        self.producers
            .iter()
            .map(|(id, e)| (*id, e.epoch, e.last_timestamp, &e.batches))
    }

    /// Puts back a producer read from a snapshot.
    pub fn restore(
        &mut self,
        producer_id: i64,
        epoch: i16,
        last_timestamp: i64,
        batches: Vec<BatchMetadata>,
    ) {
        let batches = batches.into_iter().rev().take(BATCHES_KEPT).rev().collect();
        self.producers.insert(
            producer_id,
            ProducerEntry {
                epoch,
                batches,
                last_timestamp,
            },
        );
    }

    /// Forgets producers whose last batch is `expiration_ms` older than
    /// `now_ms` (Kafka's producer.id.expiration.ms); returns how many.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp) < expiration_ms);
        before - self.producers.len()
    }

    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The header of an idempotent batch, for tests.
    pub(crate) fn header(pid: i64, epoch: i16, seq: i32, records: i32, offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset: offset,
            size: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: records,
        }
    }

    #[test]
    fn in_order_batches_append_and_retries_are_recognised() {
        let mut state = ProducerStateManager::default();
        assert_eq!(state.check(&header(7, 0, 0, 5, 0)), BatchCheck::Append);
        state.record(&header(7, 0, 0, 5, 0));
        assert_eq!(state.check(&header(7, 0, 5, 5, 0)), BatchCheck::Append);
        state.record(&header(7, 0, 5, 5, 5));
        match state.check(&header(7, 0, 0, 5, 0)) {
            BatchCheck::Duplicate(b) => assert_eq!((b.first_offset, b.last_offset), (0, 4)),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            state.check(&header(7, 0, 12, 1, 0)),
            BatchCheck::OutOfOrder {
                expected: 10,
                got: 12
            }
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut state = ProducerStateManager::default();
        for n in 0..7 {
            state.record(&header(1, 0, n, 1, n as i64));
        }
        assert!(matches!(
            state.check(&header(1, 0, 2, 1, 0)),
            BatchCheck::Duplicate(_)
        ));
        assert!(matches!(
            state.check(&header(1, 0, 1, 1, 0)),
            BatchCheck::OutOfOrder { .. }
        ));
    }

    #[test]
    fn epochs_fence_old_producers_and_restart_sequences() {
        let mut state = ProducerStateManager::default();
        state.record(&header(3, 2, 0, 1, 0));
        assert_eq!(
            state.check(&header(3, 1, 1, 1, 0)),
            BatchCheck::FencedEpoch { current: 2 }
        );
        assert_eq!(
            state.check(&header(3, 3, 4, 1, 0)),
            BatchCheck::OutOfOrder {
                expected: 0,
                got: 4
            }
        );
        assert_eq!(state.check(&header(3, 3, 0, 1, 0)), BatchCheck::Append);
        // A producer never seen, not starting at 0: Kafka's UNKNOWN_PRODUCER_ID.
        assert_eq!(
            state.check(&header(9, 0, 3, 1, 0)),
            BatchCheck::UnknownProducer
        );
        assert_eq!(state.check(&header(-1, -1, -1, 1, 0)), BatchCheck::Append);
    }

    #[test]
    fn expired_producers_are_unknown() {
        let mut state = ProducerStateManager::default();
        let mut first = header(7, 0, 0, 2, 0);
        first.max_timestamp = 1_000;
        state.record(&first);
        assert_eq!(state.expire(1_500, 1_000), 0);
        assert_eq!(state.check(&header(7, 0, 2, 1, 0)), BatchCheck::Append);
        assert_eq!(state.expire(2_000, 1_000), 1);
        assert_eq!(
            state.check(&header(7, 0, 2, 1, 0)),
            BatchCheck::UnknownProducer
        );
        // A producer starting over at sequence 0 is welcome.
        assert_eq!(state.check(&header(7, 0, 0, 1, 0)), BatchCheck::Append);
    }

    #[test]
    fn sequences_wrap() {
        let mut state = ProducerStateManager::default();
        state.record(&header(5, 0, i32::MAX - 1, 2, 0));
        assert_eq!(state.check(&header(5, 0, 0, 1, 0)), BatchCheck::Append);
        let mut state = ProducerStateManager::default();
        state.record(&header(6, 0, i32::MAX, 3, 0)); // MAX, 0, 1
        assert_eq!(state.check(&header(6, 0, 2, 1, 0)), BatchCheck::Append);
    }
}
