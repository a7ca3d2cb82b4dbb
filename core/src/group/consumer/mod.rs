//! KIP-848 consumer groups (`group.protocol=consumer`): members send
//! ConsumerGroupHeartbeat; the coordinator computes the target assignment
//! with a server-side assignor and moves each member to it incrementally.
//!
//! The group epoch goes up whenever membership, subscriptions or the
//! subscribed topics' partition counts change; the target assignment is
//! recomputed for it. A member whose assignment must shrink is first told
//! to give partitions up (its epoch stays); once its heartbeat no longer
//! lists them, it moves to the new epoch and receives the partitions that
//! no other member still holds. So no partition is ever owned twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::assignor::{self, Assignment, AssignmentSpec, TopicIdPartition};
use crate::protocol::error::{ApiError, ResponseError};

mod classic;
#[cfg(test)]
mod mixed_tests;
pub use classic::ClassicMeta;

/// The broker settings of consumer groups.
#[derive(Debug, Clone)]
pub struct ConsumerLimits {
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub assignors: Vec<String>,
    /// `group.consumer.max.size`.
    pub max_size: usize,
}

/// One ConsumerGroupHeartbeat, with "unchanged" fields as None.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topics: Option<Vec<String>>,
    pub server_assignor: Option<String>,
    pub owned: Option<BTreeSet<TopicIdPartition>>,
    pub client_id: String,
    pub client_host: String,
    /// v0 lets the coordinator choose the member id; v1 has the client do it.
    pub version: i16,
}

#[derive(Debug, Clone)]
pub struct HeartbeatAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent only when it changed since the member last heard it.
    pub assignment: Option<BTreeSet<TopicIdPartition>>,
}

pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub epoch: i32,
    previous_epoch: i32,
    pub subscribed: BTreeSet<String>,
    server_assignor: Option<String>,
    rebalance_timeout: Duration,
    /// What the member may use now.
    pub assigned: BTreeSet<TopicIdPartition>,
    /// What it was told to give up and has not yet confirmed.
    revoking: BTreeSet<TopicIdPartition>,
    revoking_since: Instant,
    /// What the member said it owns in its last heartbeat that said so.
    owned: BTreeSet<TopicIdPartition>,
    last_sent: Option<BTreeSet<TopicIdPartition>>,
    deadline: Instant,
    /// Set while the member speaks the classic protocol (online migration).
    pub classic: Option<ClassicMeta>,
}

pub struct ConsumerGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub target: Assignment,
    pub members: BTreeMap<String, ConsumerMember>,
    static_members: HashMap<String, String>,
    /// The subscribed topics' (id, partitions) when the target was computed.
    topics: BTreeMap<String, (Uuid, i32)>,
    pub assignor: String,
}

/// Looks a topic up by name: (id, partition count).
pub type TopicLookup<'a> = &'a dyn Fn(&str) -> Option<(Uuid, i32)>;

impl ConsumerGroup {
    pub fn new(assignor: &str) -> ConsumerGroup {
        ConsumerGroup {
            group_epoch: 0,
            assignment_epoch: 0,
            target: Assignment::new(),
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            topics: BTreeMap::new(),
            assignor: assignor.to_string(),
        }
    }

    /// Kafka's names: Empty, Assigning, Reconciling, Stable.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self.members.values().any(|m| {
            m.epoch != self.assignment_epoch
                || !m.revoking.is_empty()
                || Some(&m.assigned) != self.target.get(&m.id)
        }) {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    pub fn heartbeat(
        &mut self,
        hb: Heartbeat,
        topics: TopicLookup,
        limits: &ConsumerLimits,
        now: Instant,
    ) -> Result<HeartbeatAnswer, ApiError> {
        if let Some(name) = &hb.server_assignor {
            if !limits.assignors.iter().any(|a| a == name) {
                return Err(ApiError::new(
                    ResponseError::UnsupportedAssignor,
                    format!(
                        "Assignor {name} is not supported; supported assignors: {}",
                        limits.assignors.join(", ")
                    ),
                ));
            }
        }
        let id = match hb.member_epoch {
            -1 | -2 => return Ok(self.leave(&hb, limits)),
            0 => self.join(&hb, limits, now)?,
            epoch => {
                let member = self.members.get(&hb.member_id).ok_or_else(|| {
                    ApiError::new(
                        ResponseError::UnknownMemberId,
                        format!("Member {} is not a member of the group.", hb.member_id),
                    )
                })?;
                if member.classic.is_some() {
                    return Err(ApiError::new(
                        ResponseError::UnknownMemberId,
                        format!("Member {} uses the classic protocol.", hb.member_id),
                    ));
                }
                if epoch != member.epoch && epoch != member.previous_epoch {
                    return Err(ApiError::new(
                        ResponseError::FencedMemberEpoch,
                        format!(
                            "The member epoch {epoch} does not match the expected epoch {}.",
                            member.epoch
                        ),
                    ));
                }
                hb.member_id.clone()
            }
        };
        self.update_member(&id, &hb, limits, now);
        self.refresh_topics(topics);
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }
        self.reconcile(&id, now);
        let member = self.members.get_mut(&id).expect("a member");
        let changed = member.last_sent.as_ref() != Some(&member.assigned)
            || hb.owned.as_ref().is_some_and(|o| *o != member.assigned);
        let assignment = changed.then(|| member.assigned.clone());
        if changed {
            member.last_sent = Some(member.assigned.clone());
        }
        Ok(HeartbeatAnswer {
            member_id: id,
            member_epoch: member.epoch,
            heartbeat_interval_ms: limits.heartbeat_interval.as_millis() as i32,
            assignment,
        })
    }

    /// Epoch 0: a new member, a static member coming back, or a member
    /// that was fenced and starts over.
    fn join(
        &mut self,
        hb: &Heartbeat,
        limits: &ConsumerLimits,
        now: Instant,
    ) -> Result<String, ApiError> {
        let Some(subscribed) = &hb.subscribed_topics else {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "SubscribedTopicNames must be set in the first request.",
            ));
        };
        let id = if hb.member_id.is_empty() {
            if hb.version >= 1 {
                return Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    "MemberId can't be empty.",
                ));
            }
            Uuid::new_v4().to_string()
        } else {
            hb.member_id.clone()
        };
        let mut inherited = None;
        if let Some(instance) = &hb.instance_id {
            if let Some(old) = self.static_members.get(instance).cloned() {
                // A static member back under a new id keeps its partitions.
                if let Some(member) = self.members.remove(&old) {
                    if let Some(target) = self.target.remove(&old) {
                        self.target.insert(id.clone(), target);
                    }
                    inherited = Some(member);
                }
            }
            self.static_members.insert(instance.clone(), id.clone());
        }
        let member = match inherited {
            Some(mut m) => {
                m.id = id.clone();
                m.last_sent = None;
                m
            }
            None => {
                if !self.members.contains_key(&id) && self.members.len() >= limits.max_size {
                    return Err(ApiError::new(
                        ResponseError::GroupMaxSizeReached,
                        format!(
                            "The consumer group has reached its maximum capacity of {} members.",
                            limits.max_size
                        ),
                    ));
                }
                self.members.remove(&id);
                self.group_epoch += 1;
                ConsumerMember {
                    id: id.clone(),
                    instance_id: hb.instance_id.clone(),
                    rack_id: None,
                    client_id: String::new(),
                    client_host: String::new(),
                    epoch: 0,
                    previous_epoch: -1,
                    subscribed: subscribed.iter().cloned().collect(),
                    server_assignor: None,
                    rebalance_timeout: Duration::from_secs(300),
                    assigned: BTreeSet::new(),
                    revoking: BTreeSet::new(),
                    revoking_since: now,
                    owned: BTreeSet::new(),
                    last_sent: None,
                    deadline: now,
                    classic: None,
                }
            }
        };
        self.members.insert(id.clone(), member);
        Ok(id)
    }

    fn leave(&mut self, hb: &Heartbeat, limits: &ConsumerLimits) -> HeartbeatAnswer {
        // -2: a static member that will be back keeps its place until its
        // session expires; -1: gone now.
        if hb.member_epoch == -1 && self.remove(&hb.member_id) {
            self.group_epoch += 1;
        }
        HeartbeatAnswer {
            member_id: hb.member_id.clone(),
            member_epoch: hb.member_epoch,
            heartbeat_interval_ms: limits.heartbeat_interval.as_millis() as i32,
            assignment: None,
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        let Some(member) = self.members.remove(id) else {
            return false;
        };
        self.target.remove(id);
        if let Some(instance) = member.instance_id {
            if self.static_members.get(&instance).map(String::as_str) == Some(id) {
                self.static_members.remove(&instance);
            }
        }
        true
    }

    fn update_member(&mut self, id: &str, hb: &Heartbeat, limits: &ConsumerLimits, now: Instant) {
        let member = self.members.get_mut(id).expect("a member");
        member.deadline = now + limits.session_timeout;
        member.client_id = hb.client_id.clone();
        member.client_host = hb.client_host.clone();
        if hb.rack_id.is_some() {
            member.rack_id = hb.rack_id.clone();
        }
        if hb.rebalance_timeout_ms >= 0 {
            member.rebalance_timeout = Duration::from_millis(hb.rebalance_timeout_ms as u64);
        }
        if let Some(owned) = &hb.owned {
            member.owned = owned.clone();
        }
        let mut bump = false;
        if let Some(topics) = &hb.subscribed_topics {
            let topics: BTreeSet<String> = topics.iter().cloned().collect();
            bump |= topics != member.subscribed;
            member.subscribed = topics;
        }
        if hb.server_assignor.is_some() && hb.server_assignor != member.server_assignor {
            member.server_assignor = hb.server_assignor.clone();
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }
    }

    /// A subscribed topic created, deleted or grown changes the target.
    fn refresh_topics(&mut self, lookup: TopicLookup) {
        let names: BTreeSet<&String> = self.members.values().flat_map(|m| &m.subscribed).collect();
        let now: BTreeMap<String, (Uuid, i32)> = names
            .into_iter()
            .filter_map(|n| lookup(n).map(|t| (n.clone(), t)))
            .collect();
        if now != self.topics {
            self.topics = now;
            self.group_epoch += 1;
        }
    }

    /// The assignor most members asked for (ties: the first in the broker's list).
    fn choose_assignor(&self) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max().unwrap_or(0);
        votes
            .into_iter()
            .find(|(_, n)| *n == best && best > 0)
            .map(|(a, _)| a.to_string())
            .unwrap_or_else(|| self.assignor.clone())
    }

    fn compute_target(&mut self) {
        let members: BTreeMap<String, BTreeSet<String>> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.subscribed.clone()))
            .collect();
        let name = self.choose_assignor();
        let spec = AssignmentSpec {
            members: &members,
            topics: &self.topics,
            current: &self.target,
        };
        if let Some(target) = assignor::assign(&name, &spec) {
            self.target = target;
            self.assignor = name;
        }
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves one member a step toward its target (see the module doc).
    fn reconcile(&mut self, id: &str, now: Instant) {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let held_by_others: BTreeSet<TopicIdPartition> = self
            .members
            .values()
            .filter(|m| m.id != id)
            .flat_map(|m| m.assigned.iter().chain(m.revoking.iter()).copied())
            .collect();
        let epoch = self.assignment_epoch;
        let member = self.members.get_mut(id).expect("a member");
        if member.epoch != epoch {
            if !member.revoking.is_empty() {
                if member.owned.is_disjoint(&member.revoking) {
                    member.revoking.clear();
                } else {
                    return;
                }
            }
            let revoke: BTreeSet<_> = member.assigned.difference(&target).copied().collect();
            if !revoke.is_empty() {
                member.assigned.retain(|tp| !revoke.contains(tp));
                member.revoking = revoke;
                member.revoking_since = now;
                return;
            }
            member.previous_epoch = member.epoch;
            member.epoch = epoch;
        }
        for tp in target {
            if !held_by_others.contains(&tp) {
                member.assigned.insert(tp);
            }
        }
    }

    /// Expires sessions and fences members that do not give partitions up
    /// within their rebalance timeout.
    /// The earliest time `tick` has something to do: a member's session
    /// end, or the end of its time to give partitions up.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| {
                let revoke =
                    (!m.revoking.is_empty()).then(|| m.revoking_since + m.rebalance_timeout);
                let classic = m.classic.iter().flat_map(ClassicMeta::deadlines);
                std::iter::once(m.deadline).chain(revoke).chain(classic)
            })
            .min()
    }

    pub fn tick(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now >= m.deadline
                    || (!m.revoking.is_empty() && now >= m.revoking_since + m.rebalance_timeout)
                    || m.classic
                        .iter()
                        .flat_map(ClassicMeta::deadlines)
                        .any(|d| now >= d)
            })
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(member = %id, "consumer group member expired");
            if self.remove(&id) {
                self.group_epoch += 1;
            }
        }
    }

    /// OffsetCommit v9+ from a member of this group.
    pub fn validate_offset_commit(&self, member_id: &str, epoch: i32) -> Result<(), ResponseError> {
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let member = self
            .members
            .get(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        if epoch != member.epoch {
            // A classic member's generation is its epoch.
            return Err(match member.classic {
                Some(_) => ResponseError::IllegalGeneration,
                None => ResponseError::StaleMemberEpoch,
            });
        }
        Ok(())
    }

    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn limits() -> ConsumerLimits {
        ConsumerLimits {
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(5),
            assignors: vec!["uniform".into(), "range".into()],
            max_size: 100,
        }
    }

    fn join(id: &str) -> Heartbeat {
        Heartbeat {
            member_id: id.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 30000,
            subscribed_topics: Some(vec!["t".into()]),
            version: 1,
            ..Default::default()
        }
    }

    fn beat(id: &str, epoch: i32, owned: &BTreeSet<TopicIdPartition>) -> Heartbeat {
        Heartbeat {
            member_id: id.into(),
            member_epoch: epoch,
            rebalance_timeout_ms: -1,
            owned: Some(owned.clone()),
            version: 1,
            ..Default::default()
        }
    }

    #[test]
    fn partitions_move_only_after_they_are_given_up() {
        let topic = Uuid::new_v4();
        let lookup = move |name: &str| (name == "t").then_some((topic, 4));
        let now = Instant::now();
        let mut g = ConsumerGroup::new("uniform");
        let a = g.heartbeat(join("a"), &lookup, &limits(), now).unwrap();
        let a_owned = a.assignment.clone().unwrap();
        assert_eq!(a_owned.len(), 4);
        // b joins: a must give up two before b gets them.
        let b = g.heartbeat(join("b"), &lookup, &limits(), now).unwrap();
        assert_eq!(b.assignment.as_ref().map(BTreeSet::len), Some(0));
        let a2 = g
            .heartbeat(beat("a", a.member_epoch, &a_owned), &lookup, &limits(), now)
            .unwrap();
        let a_kept = a2.assignment.clone().unwrap();
        assert_eq!(a_kept.len(), 2);
        assert_eq!(
            a2.member_epoch, a.member_epoch,
            "epoch waits for the revocation"
        );
        assert_eq!(g.state(), "Reconciling");
        // Until a confirms, b gets nothing.
        let b2 = g
            .heartbeat(
                beat("b", b.member_epoch, &BTreeSet::new()),
                &lookup,
                &limits(),
                now,
            )
            .unwrap();
        assert!(b2.assignment.is_none_or(|s| s.is_empty()));
        let a3 = g
            .heartbeat(beat("a", a2.member_epoch, &a_kept), &lookup, &limits(), now)
            .unwrap();
        assert!(a3.member_epoch > a.member_epoch);
        let b3 = g
            .heartbeat(
                beat("b", b2.member_epoch, &BTreeSet::new()),
                &lookup,
                &limits(),
                now,
            )
            .unwrap();
        let b_owned = b3.assignment.unwrap();
        assert_eq!(b_owned.len(), 2);
        assert!(b_owned.is_disjoint(&a_kept));
        assert_eq!(g.state(), "Stable");
    }

    #[test]
    fn stale_epochs_and_unknown_members_are_fenced() {
        let lookup = |_: &str| None;
        let now = Instant::now();
        let mut g = ConsumerGroup::new("uniform");
        let a = g.heartbeat(join("a"), &lookup, &limits(), now).unwrap();
        let err = g
            .heartbeat(
                beat("a", a.member_epoch + 5, &BTreeSet::new()),
                &lookup,
                &limits(),
                now,
            )
            .unwrap_err();
        assert_eq!(err.error, ResponseError::FencedMemberEpoch);
        let err = g
            .heartbeat(beat("zz", 1, &BTreeSet::new()), &lookup, &limits(), now)
            .unwrap_err();
        assert_eq!(err.error, ResponseError::UnknownMemberId);
        let mut bad = join("b");
        bad.server_assignor = Some("sticky".into());
        let err = g.heartbeat(bad, &lookup, &limits(), now).unwrap_err();
        assert_eq!(err.error, ResponseError::UnsupportedAssignor);
    }

    #[test]
    fn expired_members_release_their_partitions() {
        let topic = Uuid::new_v4();
        let lookup = move |_: &str| Some((topic, 2));
        let now = Instant::now();
        let mut g = ConsumerGroup::new("range");
        g.heartbeat(join("a"), &lookup, &limits(), now).unwrap();
        let b = g.heartbeat(join("b"), &lookup, &limits(), now).unwrap();
        g.tick(now + Duration::from_secs(46));
        assert!(g.members.is_empty());
        assert_eq!(g.state(), "Empty");
        let err = g
            .heartbeat(
                beat("b", b.member_epoch, &BTreeSet::new()),
                &lookup,
                &limits(),
                now,
            )
            .unwrap_err();
        assert_eq!(err.error, ResponseError::UnknownMemberId);
    }
}
