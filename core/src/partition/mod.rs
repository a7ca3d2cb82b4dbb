//! A replica of one partition: its log, leader epoch, high watermark and ISR.
//! The high watermark is kept apart from the log end offset: consumers read up
//! to it, and `acks=all` completes when it passes the batch. As leader, the
//! high watermark follows the slowest in-sync replica (`replicas`); as
//! follower, the leader's (`follower`). Changes of the high watermark and of
//! leadership are published on a watch channel, which acks=all produce
//! requests wait on outside the partition's lock.

mod append;
pub mod cleaner;
pub mod dead_letter;
mod follower;
pub mod interceptor;
pub mod manager;
pub mod partitioner;
mod replicas;
mod retention;
pub mod typed;
pub mod validation;

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use crate::log::{AppendInfo, FileSlice, LogConfig, PartitionLog, ReadError, TopicPartition};
use crate::producer::{snapshot, ProducerStateManager};
use crate::protocol::error::{ApiError, ResponseError};

pub use follower::FetchPosition;
pub use manager::ReplicaManager;
pub use replicas::{FollowerState, IsrChange, ReplicaRead, ReplicaTracker};

/// The replica set and leadership of a partition, from the metadata image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

impl From<&crate::metadata::PartitionImage> for Leadership {
    fn from(p: &crate::metadata::PartitionImage) -> Leadership {
        Leadership {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
        }
    }
}

/// Where a leader's append comes from (Kafka's `AppendOrigin`). Followers
/// append the leader's batches through `append_as_follower` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's batches, as sent.
    Client,
    /// Batches the broker rewrote from a producer's (records routed
    /// elsewhere or dropped by a plugin): they may hold fewer records than
    /// offsets.
    Rewritten,
    /// Records the broker wrote itself (the group coordinator's).
    Coordinator,
}

/// An append that acks=all (and the group coordinator) must see committed
/// before answering.
pub struct PendingCommit {
    pub partition: std::sync::Arc<Partition>,
    pub end_offset: i64,
    pub leader_epoch: i32,
}

impl PendingCommit {
    /// What to wait for after `info` was appended to `partition`: None when
    /// it is committed already (always so on a single node).
    pub fn of(partition: &std::sync::Arc<Partition>, info: &AppendInfo) -> Option<PendingCommit> {
        let end_offset = info.last_offset + 1;
        (info.last_offset >= 0 && !partition.committed(end_offset)).then(|| PendingCommit {
            partition: partition.clone(),
            end_offset,
            leader_epoch: info.leader_epoch,
        })
    }

    pub async fn wait(&self, timeout: Duration) -> Result<(), ApiError> {
        self.partition
            .wait_for_commit(self.end_offset, self.leader_epoch, timeout)
            .await
    }
}

/// What `acks=all` waits on: the high watermark and the leader epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub high_watermark: i64,
    pub leader_epoch: i32,
    pub is_leader: bool,
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
    /// As leader: what the followers have fetched, and ISR changes on
    /// their way to the controller.
    pub tracker: ReplicaTracker,
}

/// One partition hosted by this broker.
pub struct Partition {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    node_id: i32,
    state: Mutex<PartitionState>,
    progress: watch::Sender<Progress>,
    /// Bytes and records producers appended here, bytes consumers fetched,
    /// and as follower how far behind the leader's high watermark the log
    /// end was at the last fetch (`/metrics`).
    pub counters: Counters,
    /// Fetches waiting for this partition's log end or high watermark to
    /// move (`fetch.min.bytes`): woken per partition, not all at once.
    waiters: Mutex<Vec<std::sync::Weak<tokio::sync::Notify>>>,
}

/// A partition's counters for `/metrics` (Kafka's BrokerTopicMetrics and
/// the fetcher lag), summed per topic when scraped.
#[derive(Debug, Default)]
pub struct Counters {
    pub bytes_in: std::sync::atomic::AtomicU64,
    pub messages_in: std::sync::atomic::AtomicU64,
    pub bytes_out: std::sync::atomic::AtomicU64,
    pub follower_lag: std::sync::atomic::AtomicI64,
}

/// What a fetch of one partition returns.
#[derive(Debug, Clone, Default)]
pub struct FetchedData {
    pub records: crate::log::FileSlice,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// A new leader whose high watermark may still be below the one its
    /// predecessor showed (`Partition::unsettled`).
    pub unsettled: bool,
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
        mut log: PartitionLog,
        high_watermark: i64,
        leadership: Leadership,
    ) -> Partition {
        let high_watermark = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        let (from, mut producers) =
            snapshot::load(log.dir(), log.log_end_offset()).unwrap_or_default();
        if let Err(e) = log.for_each_batch(from, |h| producers.record(h)) {
            tracing::warn!(partition = %tp, error = %e, "could not rebuild producer state from the log");
        }
        let tracker = ReplicaTracker::new_leader(
            &leadership.replicas,
            node_id,
            now_ms(),
            log.log_end_offset(),
        );
        if leadership.leader == node_id {
            log.assign_epoch(leadership.leader_epoch, log.log_end_offset());
        }
        let progress = watch::Sender::new(Progress {
            high_watermark,
            leader_epoch: leadership.leader_epoch,
            is_leader: leadership.leader == node_id,
        });
        let partition = Partition {
            tp,
            topic_id,
            node_id,
            state: Mutex::new(PartitionState {
                log,
                high_watermark,
                leadership,
                min_insync_replicas: 1,
                last_snapshot: from,
                producers,
                tracker,
            }),
            progress,
            counters: Counters::default(),
            waiters: Mutex::new(Vec::new()),
        };
        partition.advance_high_watermark(&mut partition.state());
        partition
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

    /// Takes the partition's leadership, replicas, ISR and configs from
    /// the metadata. A new leader epoch led here starts a fresh view of
    /// the followers; a new partition epoch ends a pending ISR change (the
    /// controller decided it, one way or the other).
    pub fn update(&self, leadership: Leadership, config: LogConfig, min_insync_replicas: i64) {
        self.update_at(leadership, config, min_insync_replicas, now_ms())
    }

    /// `update` as of `now` (the replication simulation's clock).
    pub fn update_at(
        &self,
        leadership: Leadership,
        config: LogConfig,
        min_insync_replicas: i64,
        now: i64,
    ) {
        let mut state = self.state();
        let was = &state.leadership;
        let leads = leadership.leader == self.node_id;
        if leads && (was.leader != self.node_id || was.leader_epoch != leadership.leader_epoch) {
            let end = state.log.log_end_offset();
            state.tracker =
                ReplicaTracker::new_leader(&leadership.replicas, self.node_id, now, end);
            state.log.assign_epoch(leadership.leader_epoch, end);
        } else if leads {
            if was.partition_epoch != leadership.partition_epoch {
                state.tracker.clear_pending_isr();
            }
            state
                .tracker
                .set_replicas(&leadership.replicas, self.node_id);
        }
        state.leadership = leadership;
        state.min_insync_replicas = min_insync_replicas;
        if state.log.config() != &config {
            state.log.set_config(config);
        }
        self.advance_high_watermark(&mut state);
    }

    /// As leader, moves the high watermark up to what every replica of the
    /// (maximal) ISR holds; then publishes it and the leadership to waiters.
    fn advance_high_watermark(&self, state: &mut PartitionState) {
        if state.leadership.leader == self.node_id {
            let end = state.log.log_end_offset();
            let hw = state
                .tracker
                .high_watermark(&state.leadership.isr, self.node_id, end)
                .min(end);
            if hw > state.high_watermark {
                state.high_watermark = hw;
            }
        }
        self.publish(state);
    }

    /// Wakes `waiter` at the next change of this partition's log end or
    /// high watermark (once; register again to hear of the next).
    pub fn wake_on_change(&self, waiter: &std::sync::Arc<tokio::sync::Notify>) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        waiters.retain(|w| w.strong_count() > 0);
        waiters.push(std::sync::Arc::downgrade(waiter));
    }

    /// Wakes the fetches waiting on this partition.
    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        for waiter in waiters.iter().filter_map(|w| w.upgrade()) {
            waiter.notify_one();
        }
    }

    fn publish(&self, state: &PartitionState) {
        let now = Progress {
            high_watermark: state.high_watermark,
            leader_epoch: state.leadership.leader_epoch,
            is_leader: state.leadership.leader == self.node_id,
        };
        let moved = self.progress.send_if_modified(|p| {
            let changed = *p != now;
            *p = now;
            changed
        });
        if moved {
            self.wake_waiters();
        }
    }

    /// Whether everything below `end_offset` is committed now (so an
    /// acks=all answer need not wait).
    pub fn committed(&self, end_offset: i64) -> bool {
        self.progress.borrow().high_watermark >= end_offset
    }

    /// acks=all: waits, without holding the partition, until the high
    /// watermark reaches `end_offset` in leader epoch `epoch` (Kafka's
    /// delayed produce). Leadership lost meanwhile answers
    /// NOT_LEADER_OR_FOLLOWER; `timeout` passing, REQUEST_TIMED_OUT; an ISR
    /// that shrank below `min.insync.replicas` by then,
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    pub async fn wait_for_commit(
        &self,
        end_offset: i64,
        epoch: i32,
        timeout: Duration,
    ) -> Result<(), ApiError> {
        let mut progress = self.progress.subscribe();
        let reached = progress.wait_for(|p| {
            !p.is_leader || p.leader_epoch != epoch || p.high_watermark >= end_offset
        });
        let seen = match tokio::time::timeout(timeout, reached).await {
            Err(_) => {
                return Err(ApiError::new(
                    ResponseError::RequestTimedOut,
                    format!(
                        "{}: the in-sync replicas did not reach offset {end_offset} within the request timeout",
                        self.tp
                    ),
                ))
            }
            Ok(Err(_)) => None,
            Ok(Ok(p)) => Some(*p),
        };
        match seen {
            Some(p) if p.is_leader && p.leader_epoch == epoch => {
                let state = self.state();
                if (state.leadership.isr.len() as i64) < state.min_insync_replicas {
                    return Err(ApiError::new(
                        ResponseError::NotEnoughReplicasAfterAppend,
                        format!(
                            "{}: written, but the ISR {:?} shrank below min.insync.replicas {}",
                            self.tp, state.leadership.isr, state.min_insync_replicas
                        ),
                    ));
                }
                Ok(())
            }
            _ => Err(ApiError::new(
                ResponseError::NotLeaderOrFollower,
                format!(
                    "{}: leadership moved before the write was committed",
                    self.tp
                ),
            )),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.state().leadership.leader == self.node_id
    }
    pub fn leadership(&self) -> Leadership {
        self.state().leadership.clone()
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

    /// Leading, with a high watermark still below the log end this
    /// leadership started from: the predecessor may have shown consumers
    /// one up to there, so until this leader's reaches it consumers are not
    /// answered with a lower one — Fetch holds its answer and ListOffsets
    /// says OFFSET_NOT_AVAILABLE (KIP-207).
    fn unsettled(&self, state: &PartitionState) -> bool {
        state.leadership.leader == self.node_id
            && state.high_watermark < state.tracker.start_offset()
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

    /// Reads from `offset` for a consumer (up to the high watermark), as
    /// leader.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
    ) -> Result<FetchedData, ApiError> {
        self.read_as(offset, max_bytes, min_one, false)
    }

    /// `read`, also as a follower when `follower_ok` (KIP-392: a consumer
    /// sent here by the leader's replica selector reads up to this
    /// replica's high watermark).
    pub fn read_as(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        follower_ok: bool,
    ) -> Result<FetchedData, ApiError> {
        let state = self.state();
        if !(follower_ok && state.leadership.replicas.contains(&self.node_id)) {
            self.check_leader(&state)?;
        }
        let result = state
            .log
            .read(offset, max_bytes, state.high_watermark, min_one)
            .map_err(|e| match e {
                ReadError::OffsetOutOfRange { .. } => {
                    ApiError::new(ResponseError::OffsetOutOfRange, e.to_string())
                }
                ReadError::Io(e) => ApiError::new(ResponseError::KafkaStorageError, e.to_string()),
            })?;
        self.counters.bytes_out.fetch_add(
            result.records.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(FetchedData {
            records: result.records,
            high_watermark: state.high_watermark,
            log_start_offset: state.log.log_start_offset(),
            unsettled: self.unsettled(&state),
        })
    }

    /// OffsetForLeaderEpoch, as leader: the largest epoch at or below
    /// `epoch` and the offset where the next began (-1, -1: unknown).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Result<(i32, i64), ApiError> {
        let state = self.state();
        self.check_leader(&state)?;
        Ok(state.log.end_offset_for(epoch))
    }

    /// Reads from `offset` up to the log end, as leader (the group
    /// coordinator loading its partition).
    pub fn read_to_log_end(&self, offset: i64, max_bytes: usize) -> Result<FileSlice, ApiError> {
        let state = self.state();
        self.check_leader(&state)?;
        let end = state.log.log_end_offset();
        state
            .log
            .read(offset, max_bytes, end, true)
            .map(|r| r.records)
            .map_err(|e| ApiError::new(ResponseError::KafkaStorageError, e.to_string()))
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
            OffsetSpec::Latest if self.unsettled(&state) => {
                return Err(ApiError::new(
                    ResponseError::OffsetNotAvailable,
                    format!(
                        "{}: the new leader's high watermark {} has not yet reached {}",
                        self.tp,
                        state.high_watermark,
                        state.tracker.start_offset()
                    ),
                ))
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

fn now_ms() -> i64 {
    crate::log::now_ms()
}
