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

    /// As leader, the ISR change to ask the controller for now, if any
    /// (marked pending until the controller's decision arrives).
    pub fn propose_isr_change(&self, now: i64, lag_ms: i64) -> Option<IsrChange> {
        let mut state = self.state();
        let l = &state.leadership;
        if l.leader != self.node_id {
            return None;
        }
        let epoch_start = state
            .log
            .latest_epoch()
            .filter(|(e, _)| *e == l.leader_epoch)
            .map_or(state.log.log_end_offset(), |(_, start)| start);
        let isr = state.tracker.wanted_isr(
            &l.isr,
            self.node_id,
            state.high_watermark,
            epoch_start,
            now,
            lag_ms,
        )?;
        let change = IsrChange {
            leader_epoch: l.leader_epoch,
            partition_epoch: l.partition_epoch,
            isr: isr.clone(),
            shrinks: isr.len() < l.isr.len(),
        };
        state.tracker.set_pending_isr(Some(isr));
        self.advance_high_watermark(&mut state);
        Some(change)
    }

    /// The controller refused or did not answer an ISR change: forget it,
    /// so the next check proposes again from the committed ISR.
    pub fn abandon_isr_change(&self) {
        let mut state = self.state();
        state.tracker.set_pending_isr(None);
        self.advance_high_watermark(&mut state);
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

/// The leader-side replica bookkeeping of one partition.
#[derive(Debug, Clone, Default)]
pub struct ReplicaTracker {
    followers: BTreeMap<i32, FollowerState>,
    /// An ISR sent to the controller and not yet committed.
    pending_isr: Option<Vec<i32>>,
}

impl ReplicaTracker {
    /// A leader's fresh view at `now` (it just became leader): followers'
    /// log ends are unknown, and those in the ISR count as caught up now,
    /// so they have `replica.lag.time.max.ms` to show up.
    pub fn new_leader(replicas: &[i32], leader: i32, now: i64) -> ReplicaTracker {
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
            pending_isr: None,
        }
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
        self.pending_isr.as_deref()
    }

    pub fn set_pending_isr(&mut self, isr: Option<Vec<i32>>) {
        self.pending_isr = isr;
    }

    /// The replicas the high watermark waits for: the committed ISR, and
    /// while a change is pending, the pending one too.
    pub fn maximal_isr(&self, isr: &[i32]) -> BTreeSet<i32> {
        let mut all: BTreeSet<i32> = isr.iter().copied().collect();
        all.extend(self.pending_isr.iter().flatten());
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
    /// of the leader's epoch) join. None while a change is pending.
    pub fn wanted_isr(
        &self,
        isr: &[i32],
        leader: i32,
        high_watermark: i64,
        epoch_start: i64,
        now: i64,
        lag_ms: i64,
    ) -> Option<Vec<i32>> {
        if self.pending_isr.is_some() {
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

    #[test]
    fn the_high_watermark_waits_for_the_slowest_in_sync_replica() {
        let mut t = ReplicaTracker::new_leader(&[1, 2, 3], 1, 0);
        assert_eq!(t.high_watermark(&[1, 2, 3], 1, 10), -1, "followers unknown");
        t.record_fetch(2, 10, 10, 5);
        t.record_fetch(3, 7, 10, 5);
        assert_eq!(t.high_watermark(&[1, 2, 3], 1, 10), 7);
        assert_eq!(t.high_watermark(&[1, 2], 1, 10), 10);
        // A pending shrink still counts the leaving replica.
        t.set_pending_isr(Some(vec![1, 2]));
        assert_eq!(t.high_watermark(&[1, 2, 3], 1, 10), 7);
        // A pending expansion counts the joining one at once.
        t.set_pending_isr(Some(vec![1, 2, 3]));
        assert_eq!(t.high_watermark(&[1, 2], 1, 10), 7);
    }

    #[test]
    fn laggards_leave_and_caught_up_followers_join() {
        let mut t = ReplicaTracker::new_leader(&[1, 2, 3], 1, 0);
        t.record_fetch(2, 10, 10, 100);
        // 3 never fetched: at 30_001 it has been behind for the lag time.
        assert_eq!(t.wanted_isr(&[1, 2, 3], 1, 10, 0, 30_000, 30_000), None);
        assert_eq!(
            t.wanted_isr(&[1, 2, 3], 1, 10, 0, 30_001, 30_000),
            Some(vec![1, 2])
        );
        // Fetching, but behind the leader's log end each time: still lagging.
        t.record_fetch(3, 5, 12, 30_002);
        assert_eq!(
            t.wanted_isr(&[1, 2], 1, 10, 0, 30_003, 30_000),
            None,
            "below the high watermark: not back yet"
        );
        t.record_fetch(3, 10, 12, 30_004);
        assert_eq!(
            t.wanted_isr(&[1, 2], 1, 10, 0, 30_005, 30_000),
            Some(vec![1, 2, 3])
        );
        assert_eq!(
            t.wanted_isr(&[1, 2], 1, 10, 11, 30_005, 30_000),
            None,
            "not yet past the start of the leader's epoch"
        );
        t.set_pending_isr(Some(vec![1, 2, 3]));
        assert_eq!(t.wanted_isr(&[1, 2], 1, 10, 0, 30_005, 30_000), None);
    }

    #[test]
    fn a_follower_that_keeps_up_with_earlier_log_ends_stays_caught_up() {
        let mut t = ReplicaTracker::new_leader(&[1, 2], 1, 0);
        t.record_fetch(2, 0, 10, 1_000);
        // It fetched past what the leader had at its last fetch: caught up
        // as of that last fetch, though the leader moved on since.
        t.record_fetch(2, 10, 20, 2_000);
        assert_eq!(t.follower(2).unwrap().last_caught_up_ms, 1_000);
        t.record_fetch(2, 20, 20, 3_000);
        assert_eq!(t.follower(2).unwrap().last_caught_up_ms, 3_000);
    }
}
