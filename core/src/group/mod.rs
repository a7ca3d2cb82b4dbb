//! The group coordinator: consumer groups' membership (the classic
//! JoinGroup/SyncGroup protocol) and their committed offsets, kept in
//! memory and written to `__consumer_offsets` so they survive restarts.
//!
//! Each group has its own lock; a request locks one group, runs the state
//! machine, writes what must be durable, and only then sends the answers the
//! state machine queued (so a member never hears of an assignment that a
//! crash could lose).

mod admin;
pub mod assignor;
pub mod classic;
pub mod consumer;
mod consumer_protocol;
pub mod member;
mod migration;
mod offsets;
mod ownership;
pub mod records;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::BrokerConfig;
use crate::partition::ReplicaManager;
use crate::protocol::error::ApiError;
use crate::protocol::error::ResponseError;
use classic::{ClassicGroup, ClassicLimits, GroupState, JoinOutcome, Outgoing, SyncOutcome};
use consumer::{ConsumerGroup, ConsumerLimits, Heartbeat, HeartbeatAnswer, TopicLookup};
pub use member::{JoinRequest, JoinResult, SyncResult};
pub use migration::MigrationPolicy;
use records::{OffsetValue, RecordKey};
pub use store::{partition_for, OFFSETS_TOPIC};

/// The outcome for one partition or member of a request.
pub type ItemResult = Result<(), ResponseError>;

/// Committed offsets by topic: (partition, offset if one was committed).
pub type CommittedOffsets = Vec<(String, Vec<(i32, Option<OffsetValue>)>)>;

/// One group: its membership and its committed offsets. A group is either
/// classic or, once a KIP-848 member joins it, a consumer group
/// (`consumer` is set), which may still hold classic members; it goes back
/// to classic when it empties or only classic members remain (see
/// `migration`).
pub struct Group {
    pub id: String,
    pub classic: ClassicGroup,
    pub consumer: Option<ConsumerGroup>,
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
    /// Set by an upgrade: the classic group's record must be deleted.
    delete_classic_record: bool,
}

impl Group {
    /// When the group's timers next have something to do.
    fn next_deadline(&self) -> Option<Instant> {
        match &self.consumer {
            Some(c) => c.next_deadline(),
            None => self.classic.next_deadline(),
        }
    }

    fn new(id: &str) -> Group {
        Group {
            id: id.to_string(),
            classic: ClassicGroup::new(),
            consumer: None,
            offsets: BTreeMap::new(),
            delete_classic_record: false,
        }
    }

    /// The state ListGroups shows and its group type.
    fn summary(&self) -> Option<GroupSummary> {
        let (state, group_type, protocol_type) = match &self.consumer {
            Some(c) => (c.state(), "consumer", "consumer".to_string()),
            None if self.classic.is(GroupState::Dead) => return None,
            None => (
                self.classic.state.name(),
                "classic",
                self.classic.protocol_type.clone().unwrap_or_default(),
            ),
        };
        Some(GroupSummary {
            group_id: self.id.clone(),
            protocol_type,
            state,
            group_type,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.consumer {
            Some(c) => c.members.is_empty(),
            None => self.classic.is(GroupState::Empty),
        }
    }
}

/// ConsumerGroupDescribe's view of a KIP-848 group.
#[derive(Debug, Clone)]
pub struct ConsumerGroupDescription {
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<ConsumerMemberDescription>,
}

#[derive(Debug, Clone)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topics: Vec<String>,
    pub assignment: Vec<assignor::TopicIdPartition>,
    pub target_assignment: Vec<assignor::TopicIdPartition>,
    /// Whether it speaks the classic protocol (an upgraded group's member).
    pub classic: bool,
}

/// A group as ListGroups and DescribeGroups show it.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub group_id: String,
    pub protocol_type: String,
    pub state: &'static str,
    /// KIP-848's group type: "classic" or "consumer".
    pub group_type: &'static str,
}

/// DescribeGroups' view of a group.
#[derive(Debug, Clone, Default)]
pub struct GroupDescription {
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// An offset to commit for one partition.
#[derive(Debug, Clone)]
pub struct OffsetCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// Which member a request speaks for.
#[derive(Debug, Clone, Default)]
pub struct MemberRef {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation: i32,
}

/// A group's own consumer limits (its group configs).
#[derive(Debug, Clone, Copy, Default)]
struct ConsumerOverrides {
    session_timeout: Option<Duration>,
    heartbeat_interval: Option<Duration>,
}

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
    store: store::Store,
    limits: ClassicLimits,
    consumer_limits: ConsumerLimits,
    migration: MigrationPolicy,
    /// Groups whose configs override the consumer limits (the group config
    /// resource), as the metadata image has them.
    consumer_overrides: std::sync::RwLock<HashMap<String, ConsumerOverrides>>,
    partitions: i32,
    retention: Duration,
    metadata_max_bytes: usize,
    /// `offsets.commit.timeout.ms`: how long a group's write may wait for
    /// its in-sync replicas.
    commit_timeout: Duration,
    /// The `__consumer_offsets` partitions led here, loading or loaded.
    owned: Mutex<HashMap<i32, ownership::Ownership>>,
    /// Set once leadership was first followed: until then every group is
    /// still loading.
    started: AtomicBool,
    /// When the timer task wakes next (ns since `epoch`), and how to wake
    /// it sooner.
    next_wake: std::sync::atomic::AtomicU64,
    wake: tokio::sync::Notify,
    epoch: Instant,
}

impl GroupCoordinator {
    pub fn new(config: &BrokerConfig, replicas: Arc<ReplicaManager>) -> GroupCoordinator {
        let ms = |name: &str| Duration::from_millis(config.number(name).max(0) as u64);
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            store: store::Store::new(replicas),
            limits: ClassicLimits {
                min_session_timeout: ms("group.min.session.timeout.ms"),
                max_session_timeout: ms("group.max.session.timeout.ms"),
                initial_rebalance_delay: ms("group.initial.rebalance.delay.ms"),
                max_size: config.number("group.max.size").max(1) as usize,
            },
            consumer_limits: ConsumerLimits {
                session_timeout: ms("group.consumer.session.timeout.ms"),
                heartbeat_interval: ms("group.consumer.heartbeat.interval.ms"),
                assignors: config
                    .get("group.consumer.assignors")
                    .unwrap_or_default()
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect(),
                max_size: config.number("group.consumer.max.size").max(1) as usize,
            },
            migration: MigrationPolicy::parse(
                &config
                    .get("group.consumer.migration.policy")
                    .unwrap_or_default(),
            ),
            consumer_overrides: Default::default(),
            partitions: config.number("offsets.topic.num.partitions").max(1) as i32,
            retention: Duration::from_secs(
                config.number("offsets.retention.minutes").max(1) as u64 * 60,
            ),
            metadata_max_bytes: config.number("offset.metadata.max.bytes").max(0) as usize,
            commit_timeout: ms("offsets.commit.timeout.ms"),
            owned: Mutex::new(HashMap::new()),
            started: AtomicBool::new(false),
            next_wake: std::sync::atomic::AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            epoch: Instant::now(),
        }
    }

    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    pub fn partition_of(&self, group: &str) -> i32 {
        partition_for(group, self.partitions)
    }

    /// Every group in memory, or None until leadership was first followed.
    fn loaded_groups(&self) -> Option<Vec<Arc<Mutex<Group>>>> {
        if !self.started.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.groups
                .lock()
                .expect("groups lock")
                .values()
                .cloned()
                .collect(),
        )
    }

    fn get(&self, id: &str) -> Option<Arc<Mutex<Group>>> {
        self.groups.lock().expect("groups lock").get(id).cloned()
    }

    fn get_or_create(&self, id: &str) -> Arc<Mutex<Group>> {
        self.groups
            .lock()
            .expect("groups lock")
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Group::new(id))))
            .clone()
    }

    /// Writes the group's record if the state machine changed it, then sends
    /// the answers it queued: SyncGroup's once that record is in every
    /// in-sync replica, as Kafka's coordinator answers it (a new coordinator
    /// then knows the generation its members were given).
    fn settle(&self, group: &mut Group) {
        let mut records = Vec::new();
        let key = || RecordKey::Group(group.id.clone()).encode();
        if std::mem::take(&mut group.delete_classic_record) {
            records.push((key(), None));
        }
        if std::mem::take(&mut group.classic.dirty) {
            records.push((key(), Some(group.classic.to_value().encode())));
        }
        let pending = match self.store.append(self.partition_of(&group.id), records) {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(group = %group.id, error = %e, "could not write the group");
                None
            }
        };
        let mut syncs = Vec::new();
        for out in group.classic.outbox.drain(..) {
            // A receiver that went away (closed connection) is ignored.
            match out {
                Outgoing::Join(tx, result) => drop(tx.send(result)),
                Outgoing::Sync(tx, result) => syncs.push((tx, result)),
            }
        }
        let runtime = tokio::runtime::Handle::try_current();
        match (pending, runtime) {
            (Some(pending), Ok(runtime)) if !syncs.is_empty() => {
                let timeout = self.commit_timeout;
                runtime.spawn(async move {
                    let failed = pending.wait(timeout).await.err();
                    for (tx, result) in syncs {
                        let result = match &failed {
                            Some(e) => SyncResult::error(store_error(e.error)),
                            None => result,
                        };
                        drop(tx.send(result));
                    }
                });
            }
            _ => syncs
                .into_iter()
                .for_each(|(tx, result)| drop(tx.send(result))),
        }
    }

    /// Runs `f` on the group as of now: deadlines that have passed fire
    /// first (a session that ended 1 ms ago is gone for this request, as
    /// Kafka's timers would have removed it), then `f`, then `settle`.
    fn with_group<T>(&self, group: &Arc<Mutex<Group>>, f: impl FnOnce(&mut Group) -> T) -> T {
        let mut group = group.lock().expect("group lock");
        self.run_timers(&mut group, Instant::now());
        let result = f(&mut group);
        migration::maybe_downgrade(&mut group, self.migration, &self.limits, Instant::now());
        self.settle(&mut group);
        // A deadline earlier than the timer task's next wake-up: wake it.
        if let Some(next) = group.next_deadline() {
            if self.to_nanos(next) < self.next_wake.load(Ordering::Acquire) {
                self.next_wake.store(self.to_nanos(next), Ordering::Release);
                self.wake.notify_one();
            }
        }
        result
    }

    // ---- Membership ----

    /// JoinGroup. The lookup is used before the returned future first
    /// waits, so the future does not hold it.
    pub fn join(
        &self,
        group_id: &str,
        request: JoinRequest,
        topics: TopicLookup<'_>,
    ) -> impl std::future::Future<Output = JoinResult> + Send + 'static {
        let member_id = request.member_id.clone();
        let outcome = self.start_join(group_id, request, topics);
        async move {
            match outcome {
                JoinOutcome::Now(result) => result,
                JoinOutcome::Later(rx) => rx.await.unwrap_or_else(|_| {
                    JoinResult::error(ResponseError::RebalanceInProgress, &member_id)
                }),
            }
        }
    }

    fn start_join(
        &self,
        group_id: &str,
        request: JoinRequest,
        topics: TopicLookup<'_>,
    ) -> JoinOutcome {
        let member_id = request.member_id.clone();
        let now = |result| JoinOutcome::Now(result);
        if group_id.is_empty() {
            return now(JoinResult::error(ResponseError::InvalidGroupId, &member_id));
        }
        if let Err(e) = self.check_available(group_id) {
            return now(JoinResult::error(e, &member_id));
        }
        let group = if member_id.is_empty() {
            self.get_or_create(group_id)
        } else {
            match self.get(group_id) {
                Some(group) => group,
                None => {
                    return now(JoinResult::error(
                        ResponseError::UnknownMemberId,
                        &member_id,
                    ))
                }
            }
        };
        self.with_group(&group, |g| {
            match &mut g.consumer {
                Some(c) if !c.members.is_empty() => {
                    let limits = self.consumer_limits_of(group_id);
                    let now = Instant::now();
                    return JoinOutcome::Now(c.classic_join(&request, topics, &limits, now));
                }
                // An empty consumer group becomes classic again.
                Some(_) => g.consumer = None,
                None => {}
            }
            g.classic.join(request, &self.limits, Instant::now())
        })
    }

    pub async fn sync(
        &self,
        group_id: &str,
        member: MemberRef,
        protocol: (Option<String>, Option<String>),
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if let Err(e) = self.check_available(group_id) {
            return SyncResult::error(e);
        }
        let Some(group) = self.get(group_id) else {
            return SyncResult::error(ResponseError::UnknownMemberId);
        };
        let outcome = self.with_group(&group, |g| {
            if let Some(c) = &mut g.consumer {
                return SyncOutcome::Now(c.classic_sync(
                    &member,
                    protocol.0.as_deref(),
                    protocol.1.as_deref(),
                    Instant::now(),
                ));
            }
            g.classic.sync(
                &member.member_id,
                member.group_instance_id.as_deref(),
                member.generation,
                protocol.0.as_deref(),
                protocol.1.as_deref(),
                assignments,
                Instant::now(),
            )
        });
        match outcome {
            SyncOutcome::Now(result) => result,
            SyncOutcome::Later(rx) => rx
                .await
                .unwrap_or_else(|_| SyncResult::error(ResponseError::RebalanceInProgress)),
        }
    }

    pub fn heartbeat(&self, group_id: &str, member: &MemberRef) -> Result<(), ResponseError> {
        self.check_available(group_id)?;
        let group = self.get(group_id).ok_or(ResponseError::UnknownMemberId)?;
        self.with_group(&group, |g| {
            if let Some(c) = &mut g.consumer {
                return c.classic_heartbeat(member, Instant::now());
            }
            g.classic.heartbeat(
                &member.member_id,
                member.group_instance_id.as_deref(),
                member.generation,
                Instant::now(),
            )
        })
    }

    /// LeaveGroup: the outcome for each member, in order.
    pub fn leave(
        &self,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Vec<ItemResult>, ResponseError> {
        self.check_available(group_id)?;
        let Some(group) = self.get(group_id) else {
            return Ok(vec![Err(ResponseError::UnknownMemberId); members.len()]);
        };
        Ok(self.with_group(&group, |g| {
            members
                .iter()
                .map(|m| {
                    if let Some(c) = &mut g.consumer {
                        return c.classic_leave(&m.member_id, m.group_instance_id.as_deref());
                    }
                    g.classic.leave(
                        &m.member_id,
                        m.group_instance_id.as_deref(),
                        &self.limits,
                        Instant::now(),
                    )
                })
                .collect()
        }))
    }

    // ---- KIP-848 consumer groups ----

    /// ConsumerGroupHeartbeat: joins, heartbeats, leaves; answers with the
    /// member's epoch and, when it changed, its assignment.
    pub fn consumer_heartbeat(
        &self,
        group_id: &str,
        heartbeat: Heartbeat,
        topics: TopicLookup,
    ) -> Result<HeartbeatAnswer, ApiError> {
        if group_id.is_empty() {
            return Err(ApiError::new(
                ResponseError::InvalidGroupId,
                "GroupId can't be empty.",
            ));
        }
        self.check_available(group_id)
            .map_err(|e| ApiError::new(e, "The coordinator is not ready"))?;
        let group = self.get_or_create(group_id);
        let limits = self.consumer_limits_of(group_id);
        self.with_group(&group, |g| {
            let now = Instant::now();
            let default = limits.assignors.first().map_or("", String::as_str);
            migration::make_consumer_group(
                g,
                self.migration,
                default,
                limits.max_size,
                topics,
                now,
            )?;
            let consumer = g.consumer.as_mut().expect("a consumer group");
            consumer.heartbeat(heartbeat, topics, &limits, now)
        })
    }

    /// The consumer limits of a group: the broker's, with its group
    /// configs' overrides.
    fn consumer_limits_of(&self, group_id: &str) -> std::borrow::Cow<'_, ConsumerLimits> {
        let overrides = self.consumer_overrides.read().expect("overrides lock");
        let Some(o) = overrides.get(group_id) else {
            return std::borrow::Cow::Borrowed(&self.consumer_limits);
        };
        let mut limits = self.consumer_limits.clone();
        limits.session_timeout = o.session_timeout.unwrap_or(limits.session_timeout);
        limits.heartbeat_interval = o.heartbeat_interval.unwrap_or(limits.heartbeat_interval);
        std::borrow::Cow::Owned(limits)
    }

    /// Takes the group configs of the metadata image: a group's
    /// `consumer.session.timeout.ms` and `consumer.heartbeat.interval.ms`
    /// apply from its members' next heartbeats.
    pub fn set_group_configs(
        &self,
        configs: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    ) {
        let ms = |c: &std::collections::BTreeMap<String, String>, key: &str| {
            c.get(key)
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        let overrides = configs
            .iter()
            .map(|(group, c)| {
                let o = ConsumerOverrides {
                    session_timeout: ms(c, "consumer.session.timeout.ms"),
                    heartbeat_interval: ms(c, "consumer.heartbeat.interval.ms"),
                };
                (group.clone(), o)
            })
            .filter(|(_, o)| o.session_timeout.is_some() || o.heartbeat_interval.is_some())
            .collect();
        *self.consumer_overrides.write().expect("overrides lock") = overrides;
    }

    /// ConsumerGroupDescribe for one group.
    pub fn consumer_describe(&self, group_id: &str) -> Result<ConsumerGroupDescription, ApiError> {
        self.check_available(group_id)
            .map_err(|e| ApiError::new(e, "The coordinator is not ready"))?;
        let not_found = || {
            ApiError::new(
                ResponseError::GroupIdNotFound,
                format!("Group {group_id} not found."),
            )
        };
        let group = self.get(group_id).ok_or_else(not_found)?;
        let g = group.lock().expect("group lock");
        let Some(c) = &g.consumer else {
            return Err(ApiError::new(
                ResponseError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            ));
        };
        Ok(ConsumerGroupDescription {
            state: c.state(),
            group_epoch: c.group_epoch,
            assignment_epoch: c.assignment_epoch,
            assignor: c.assignor.clone(),
            members: c
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topics: m.subscribed.iter().cloned().collect(),
                    assignment: m.assigned.iter().copied().collect(),
                    target_assignment: c
                        .target
                        .get(&m.id)
                        .map(|t| t.iter().copied().collect())
                        .unwrap_or_default(),
                    classic: m.classic.is_some(),
                })
                .collect(),
        })
    }

    // ---- Timers ----

    /// Expires sessions and ends rebalance phases whose time is up.
    /// Returns when it next has something to do (None: nothing scheduled).
    pub fn tick(&self) -> Option<Instant> {
        // Until the pass is over, any request's deadline wakes the task again.
        self.next_wake.store(u64::MAX, Ordering::Release);
        let groups = self.loaded_groups()?;
        groups
            .iter()
            .filter_map(|group| {
                let mut group = group.lock().expect("group lock");
                self.run_timers(&mut group, Instant::now());
                self.settle(&mut group);
                group.next_deadline()
            })
            .min()
    }

    /// Waits until `deadline`, or sooner when a request set an earlier one
    /// (`with_group` says so): the timer task then runs `tick` again. So
    /// deadlines fire at their time, as Kafka's timers do, without a
    /// periodic scan.
    pub async fn sleep_until(&self, deadline: Instant) {
        self.next_wake
            .store(self.to_nanos(deadline), Ordering::Release);
        let _ = tokio::time::timeout_at(deadline.into(), self.wake.notified()).await;
    }

    fn to_nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Fires the group's deadlines that have passed by `now`.
    fn run_timers(&self, group: &mut Group, now: Instant) {
        match &mut group.consumer {
            Some(c) => {
                c.tick(now);
                migration::maybe_downgrade(group, self.migration, &self.limits, now);
            }
            None => group.classic.tick(&self.limits, now),
        }
    }
}

/// How Kafka's coordinator answers SyncGroup when the group's record could
/// not be written to its in-sync replicas: look for the coordinator again,
/// or retry.
fn store_error(error: ResponseError) -> ResponseError {
    match error {
        ResponseError::NotLeaderOrFollower | ResponseError::KafkaStorageError => {
            ResponseError::NotCoordinator
        }
        ResponseError::NotEnoughReplicas
        | ResponseError::NotEnoughReplicasAfterAppend
        | ResponseError::UnknownTopicOrPartition => ResponseError::CoordinatorNotAvailable,
        // The members join again (Kafka's `storeGroup`).
        ResponseError::RequestTimedOut => ResponseError::RebalanceInProgress,
        _ => ResponseError::UnknownServerError,
    }
}
