//! What a leader knows of its followers (Kafka's `Replica` state): each
//! follower's log end offset, as its fetches report it, and when it last
//! caught up. From these it computes the high watermark (the lowest log end
//! over the in-sync replicas) and which followers should leave the ISR
//! (behind for longer than `replica.lag.time.max.ms`) or join it (caught up
//! to the high watermark).
//!
//! While an ISR change is on its way to the controller, the high watermark
//! is computed over the larger of the two sets (Kafka's "maximal ISR"): a
//! replica being added counts at once, and one being removed still counts
//! until the removal is committed, so the high watermark never passes a
//! replica that may be elected.

use std::collections::{BTreeMap, BTreeSet};

use super::Partition;
use crate::log::{FileSlice, ReadError};
use crate::protocol::error::{ApiError, ResponseError};

/// A leader's answer to a follower's fetch.
#[derive(Debug, Clone, Default)]
pub struct ReplicaRead {
    pub records: FileSlice,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// The follower's log diverges from the leader's after this epoch's end
    /// offset: it must truncate before fetching again (no records then).
    pub diverging: Option<(i32, i64)>,
}

/// An ISR change a leader asks the controller for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<i32>,
    /// Whether replicas leave the ISR (else they join it).
    pub shrinks: bool,
}

impl Partition {
    /// Serves follower `replica`'s fetch from `fetch_offset` (Kafka's
    /// `fetchRecords` for a follower): checks its last fetched epoch
    /// against this log, records how far it has got, moves the high
    /// watermark, and reads up to the log end (not the high watermark).
    pub fn read_for_replica(
        &self,
        replica: i32,
        fetch_offset: i64,
        last_fetched_epoch: i32,
        max_bytes: usize,
        now: i64,
    ) -> Result<ReplicaRead, ApiError> {
        let mut state = self.state();
        self.check_leader(&state)?;
        let mut answer = ReplicaRead {
            high_watermark: state.high_watermark,
            log_start_offset: state.log.log_start_offset(),
            ..ReplicaRead::default()
        };
        if last_fetched_epoch >= 0 {
            let (epoch, end) = state.log.end_offset_for(last_fetched_epoch);
            if end < fetch_offset || epoch < last_fetched_epoch {
                answer.diverging = Some((epoch, end));
                return Ok(answer);
            }
        }
        let end = state.log.log_end_offset();
        if fetch_offset < answer.log_start_offset || fetch_offset > end {
            return Err(ApiError::new(
                ResponseError::OffsetOutOfRange,
                format!(
                    "{}: replica {replica} fetched offset {fetch_offset} outside [{}, {end}]",
                    self.tp, answer.log_start_offset
                ),
            ));
        }
        state.tracker.record_fetch(replica, fetch_offset, end, now);
        self.advance_high_watermark(&mut state);
        answer.high_watermark = state.high_watermark;
        answer.records = state
            .log
            .read(fetch_offset, max_bytes, end, true)
            .map_err(|e| match e {
                ReadError::OffsetOutOfRange { .. } => {
                    ApiError::new(ResponseError::OffsetOutOfRange, e.to_string())
                }
                ReadError::Io(e) => ApiError::new(ResponseError::KafkaStorageError, e.to_string()),
            })?
            .records;
        Ok(answer)
    }

    /// As leader, the in-sync followers that hold `fetch_offset` (where a
    /// consumer may be sent to read it, KIP-392).
    pub fn followers_holding(&self, fetch_offset: i64) -> Vec<i32> {
        let state = self.state();
        if state.leadership.leader != self.node_id {
            return Vec::new();
        }
        state
            .tracker
            .followers()
            .filter(|(id, f)| state.leadership.isr.contains(id) && f.log_end_offset >= fetch_offset)
            .map(|(id, _)| id)
            .collect()
    }

    /// As leader, the ISR change to ask the controller for now, if any
    /// (marked pending until the controller's decision arrives).
    pub fn propose_isr_change(&self, now: i64, lag_ms: i64) -> Option<IsrChange> {
        let mut state = self.state();
        if state.leadership.leader != self.node_id {
            return None;
        }
        if let Some(pending) = state.tracker.pending.as_mut() {
            // Sent before without an answer: the same request again.
            return std::mem::take(&mut pending.resend).then(|| pending.change.clone());
        }
        let l = &state.leadership;
        let isr =
            state
                .tracker
                .wanted_isr(&l.isr, self.node_id, state.high_watermark, now, lag_ms)?;
        let change = IsrChange {
            leader_epoch: l.leader_epoch,
            partition_epoch: l.partition_epoch,
            isr: isr.clone(),
            shrinks: isr.len() < l.isr.len(),
        };
        state.tracker.pending = Some(PendingIsr {
            change: change.clone(),
            resend: false,
        });
        self.advance_high_watermark(&mut state);
        Some(change)
    }

    /// The controller refused the pending ISR change. Only when that says
    /// it was not (and will not be) committed is it forgotten; a stale
    /// epoch may mean an earlier copy of it was committed, so the partition
    /// waits for the metadata, counting both ISRs meanwhile (Kafka's
    /// `handleAlterPartitionError`).
    pub fn isr_change_refused(&self, error: ResponseError) {
        let not_committed = matches!(
            error,
            ResponseError::IneligibleReplica
                | ResponseError::OperationNotAttempted
                | ResponseError::UnknownTopicOrPartition
                | ResponseError::UnknownTopicId
        );
        if not_committed {
            let mut state = self.state();
            state.tracker.pending = None;
            self.advance_high_watermark(&mut state);
        }
    }

    /// The pending ISR change got no answer (it may or may not have been
    /// committed): it is sent again at the next check.
    pub fn isr_change_unanswered(&self) {
        if let Some(pending) = self.state().tracker.pending.as_mut() {
            pending.resend = true;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's log end offset; -1 until it first fetches from
    /// this leader.
    pub log_end_offset: i64,
    /// When the follower last fetched up to the leader's log end (or up to
    /// the log end the leader had at its previous fetch).
    pub last_caught_up_ms: i64,
    last_fetch_ms: i64,
    last_fetch_leader_log_end: i64,
}

#[derive(Debug, Clone)]
struct PendingIsr {
    change: IsrChange,
    /// No answer came: send it again.
    resend: bool,
}

/// The leader-side replica bookkeeping of one partition.
#[derive(Debug, Clone, Default)]
pub struct ReplicaTracker {
    followers: BTreeMap<i32, FollowerState>,
    /// An ISR change sent to the controller whose outcome is not known
    /// yet: until the metadata (a new partition epoch) or a refusal says,
    /// the high watermark counts both ISRs.
    pending: Option<PendingIsr>,
    /// The log end when this replica started leading (in this epoch, or
    /// since it restarted): a follower joins the ISR only once it has
    /// everything up to here. A new leader's high watermark may lag what
    /// was acknowledged (a restarted leader's starts from its checkpoint),
    /// so the high watermark alone would let in a follower that lacks
    /// acknowledged records (Kafka's leader epoch start offset rule).
    start_offset: i64,
}

impl ReplicaTracker {
    /// A leader's fresh view at `now` (it just became leader): followers'
    /// log ends are unknown, and those in the ISR count as caught up now,
    /// so they have `replica.lag.time.max.ms` to show up.
    pub fn new_leader(replicas: &[i32], leader: i32, now: i64, log_end: i64) -> ReplicaTracker {
        let followers = replicas
            .iter()
            .filter(|id| **id != leader)
            .map(|id| {
                let state = FollowerState {
                    log_end_offset: -1,
                    last_caught_up_ms: now,
                    last_fetch_ms: now,
                    last_fetch_leader_log_end: -1,
                };
                (*id, state)
            })
            .collect();
        ReplicaTracker {
            followers,
            pending: None,
            start_offset: log_end,
        }
    }

    /// The log end this leadership started from.
    pub fn start_offset(&self) -> i64 {
        self.start_offset
    }

    /// Replicas added by a reassignment get a state; removed ones lose it.
    pub fn set_replicas(&mut self, replicas: &[i32], leader: i32) {
        self.followers
            .retain(|id, _| replicas.contains(id) && *id != leader);
        for id in replicas.iter().filter(|id| **id != leader) {
            self.followers.entry(*id).or_insert(FollowerState {
                log_end_offset: -1,
                last_caught_up_ms: 0,
                last_fetch_ms: 0,
                last_fetch_leader_log_end: -1,
            });
        }
    }

    pub fn follower(&self, id: i32) -> Option<&FollowerState> {
        self.followers.get(&id)
    }

    pub fn followers(&self) -> impl Iterator<Item = (i32, &FollowerState)> {
        self.followers.iter().map(|(id, s)| (*id, s))
    }

    /// Records a follower's fetch from `fetch_offset`, made at `now` when
    /// the leader's log ended at `leader_log_end` (Kafka's
    /// `updateFollowerFetchState`). Unknown replicas are ignored.
    pub fn record_fetch(&mut self, id: i32, fetch_offset: i64, leader_log_end: i64, now: i64) {
        let Some(state) = self.followers.get_mut(&id) else {
            return;
        };
        if fetch_offset >= leader_log_end {
            state.last_caught_up_ms = state.last_caught_up_ms.max(now);
        } else if fetch_offset >= state.last_fetch_leader_log_end {
            state.last_caught_up_ms = state.last_caught_up_ms.max(state.last_fetch_ms);
        }
        state.log_end_offset = fetch_offset;
        state.last_fetch_leader_log_end = leader_log_end;
        state.last_fetch_ms = now;
    }

    pub fn pending_isr(&self) -> Option<&[i32]> {
        self.pending.as_ref().map(|p| p.change.isr.as_slice())
    }

    /// The controller decided (a new partition epoch arrived).
    pub fn clear_pending_isr(&mut self) {
        self.pending = None;
    }

    /// The replicas the high watermark waits for: the committed ISR, and
    /// while a change is pending, the pending one too.
    pub fn maximal_isr(&self, isr: &[i32]) -> BTreeSet<i32> {
        let mut all: BTreeSet<i32> = isr.iter().copied().collect();
        all.extend(self.pending_isr().into_iter().flatten());
        all
    }

    /// The high watermark the ISR allows: the lowest log end over the
    /// maximal ISR (the leader's own is `leader_log_end`).
    pub fn high_watermark(&self, isr: &[i32], leader: i32, leader_log_end: i64) -> i64 {
        self.maximal_isr(isr)
            .into_iter()
            .map(|id| match id {
                id if id == leader => leader_log_end,
                id => self.followers.get(&id).map_or(-1, |f| f.log_end_offset),
            })
            .min()
            .unwrap_or(leader_log_end)
    }

    /// The ISR the leader should ask for now, if it differs from `isr`:
    /// followers that have not caught up for `lag_ms` leave; followers not
    /// in it whose log end reached `high_watermark` (and at least the start
    /// of this leadership, `start_offset`) join. None while a change is
    /// pending.
    pub fn wanted_isr(
        &self,
        isr: &[i32],
        leader: i32,
        high_watermark: i64,
        now: i64,
        lag_ms: i64,
    ) -> Option<Vec<i32>> {
        let epoch_start = self.start_offset;
        if self.pending.is_some() {
            return None;
        }
        let mut wanted: Vec<i32> = isr
            .iter()
            .copied()
            .filter(|id| {
                *id == leader
                    || self
                        .followers
                        .get(id)
                        .is_some_and(|f| now - f.last_caught_up_ms <= lag_ms)
            })
            .collect();
        for (id, f) in &self.followers {
            let caught_up = f.log_end_offset >= high_watermark.max(epoch_start);
            if !wanted.contains(id) && !isr.contains(id) && caught_up {
                wanted.push(*id);
            }
        }
        if !wanted.contains(&leader) {
            wanted.insert(0, leader);
        }
        let mut sorted_wanted = wanted.clone();
        let mut sorted_isr = isr.to_vec();
        sorted_wanted.sort_unstable();
        sorted_isr.sort_unstable();
        (sorted_wanted != sorted_isr).then_some(wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pend(t: &mut ReplicaTracker, isr: Vec<i32>) {
        t.pending = Some(PendingIsr {
            change: IsrChange {
                leader_epoch: 0,
                partition_epoch: 0,
                isr,
                shrinks: false,
            },
            resend: false,
        });
    }

    #[test]
    fn the_high_watermark_waits_for_the_slowest_in_sync_replica() {
        let mut t = ReplicaTracker::new_leader(&[1, 2, 3], 1, 0, 0);
        assert_eq!(t.high_watermark(&[1, 2, 3], 1, 10), -1, "followers unknown");
        t.record_fetch(2, 10, 10, 5);
        t.record_fetch(3, 7, 10, 5);
        assert_eq!(t.high_watermark(&[1, 2, 3], 1, 10), 7);
        assert_eq!(t.high_watermark(&[1, 2], 1, 10), 10);
        // A pending shrink still counts the leaving replica.
        pend(&mut t, vec![1, 2]);
        assert_eq!(t.high_watermark(&[1, 2, 3], 1, 10), 7);
        // A pending expansion counts the joining one at once.
        pend(&mut t, vec![1, 2, 3]);
        assert_eq!(t.high_watermark(&[1, 2], 1, 10), 7);
    }

    #[test]
    fn laggards_leave_and_caught_up_followers_join() {
        let mut t = ReplicaTracker::new_leader(&[1, 2, 3], 1, 0, 0);
        t.record_fetch(2, 10, 10, 100);
        // 3 never fetched: at 30_001 it has been behind for the lag time.
        assert_eq!(t.wanted_isr(&[1, 2, 3], 1, 10, 30_000, 30_000), None);
        assert_eq!(
            t.wanted_isr(&[1, 2, 3], 1, 10, 30_001, 30_000),
            Some(vec![1, 2])
        );
        // Fetching, but behind the leader's log end each time: still lagging.
        t.record_fetch(3, 5, 12, 30_002);
        assert_eq!(
            t.wanted_isr(&[1, 2], 1, 10, 30_003, 30_000),
            None,
            "below the high watermark: not back yet"
        );
        t.record_fetch(3, 10, 12, 30_004);
        assert_eq!(
            t.wanted_isr(&[1, 2], 1, 10, 30_005, 30_000),
            Some(vec![1, 2, 3])
        );
        let mut late = t.clone();
        late.start_offset = 11;
        assert_eq!(
            late.wanted_isr(&[1, 2], 1, 10, 30_005, 30_000),
            None,
            "not yet at the log end this leadership started from"
        );
        pend(&mut t, vec![1, 2, 3]);
        assert_eq!(t.wanted_isr(&[1, 2], 1, 10, 30_005, 30_000), None);
    }

    #[test]
    fn a_follower_that_keeps_up_with_earlier_log_ends_stays_caught_up() {
        let mut t = ReplicaTracker::new_leader(&[1, 2], 1, 0, 0);
        t.record_fetch(2, 0, 10, 1_000);
        // It fetched past what the leader had at its last fetch: caught up
        // as of that last fetch, though the leader moved on since.
        t.record_fetch(2, 10, 20, 2_000);
        assert_eq!(t.follower(2).unwrap().last_caught_up_ms, 1_000);
        t.record_fetch(2, 20, 20, 3_000);
        assert_eq!(t.follower(2).unwrap().last_caught_up_ms, 3_000);
    }

    /// A new leader whose log runs ahead of its high watermark (its
    /// predecessor may have shown consumers up to its log end) does not
    /// show consumers the lower one until a follower's fetch brings it up.
    #[test]
    fn a_new_leader_is_unsettled_until_its_high_watermark_reaches_its_log_end() {
        use crate::log::{batch, LogConfig, PartitionLog, TopicPartition};
        use crate::partition::{AppendOrigin, Leadership, OffsetSpec, Partition};
        use crate::protocol::error::ResponseError;

        let dir = tempfile::tempdir().unwrap();
        let log =
            PartitionLog::open(&dir.path().join("t-0"), LogConfig::default(), 0, 0, true).unwrap();
        let leader = |epoch| Leadership {
            leader: 1,
            leader_epoch: epoch,
            partition_epoch: epoch,
            replicas: vec![1, 2],
            isr: vec![1, 2],
        };
        let p = Partition::new(
            TopicPartition::new("t", 0),
            Default::default(),
            1,
            log,
            0,
            leader(0),
        );
        let bytes = batch::encode(
            (0..10).map(|i| (None, Some(bytes::Bytes::from(vec![i as u8])))),
            0,
            kafka_protocol::records::Compression::None,
        );
        // Ten records the follower never fetched: the high watermark stays 0.
        p.append_records(&bytes, AppendOrigin::Client, -1).unwrap();
        assert!(!p.read(0, 1 << 20, true).unwrap().unsettled);
        // Elected again, in a new epoch, with ten records past it.
        p.update_at(leader(1), LogConfig::default(), 1, 1_000);
        let read = p.read(0, 1 << 20, true).unwrap();
        assert!(read.unsettled && read.high_watermark == 0);
        let err = p.list_offset(OffsetSpec::Latest).unwrap_err();
        assert_eq!(err.error, ResponseError::OffsetNotAvailable);
        assert_eq!(p.list_offset(OffsetSpec::Earliest).unwrap(), Some((0, -1)));
        // The follower fetches from 10: it has all ten.
        p.read_for_replica(2, 10, 1, 1 << 20, 1_001).unwrap();
        let read = p.read(0, 1 << 20, true).unwrap();
        assert!(!read.unsettled && read.high_watermark == 10);
        assert_eq!(p.list_offset(OffsetSpec::Latest).unwrap(), Some((10, -1)));
    }
}
