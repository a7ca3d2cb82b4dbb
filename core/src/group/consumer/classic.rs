//! Classic members of a consumer group: consumers still speaking JoinGroup,
//! SyncGroup and Heartbeat in a group that moved to KIP-848 (Kafka's online
//! migration). Such a member is a member like any other: the server-side
//! assignor gives it partitions and it moves to them one epoch at a time.
//! It hears of a change as REBALANCE_IN_PROGRESS on its heartbeat, rejoins
//! (its JoinGroup is answered at once, and its generation is its member
//! epoch), and collects its partitions with SyncGroup.
//!
//! Also here: turning a classic group's members into consumer group
//! members and back, for the upgrade and the downgrade.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;

use super::{ConsumerGroup, ConsumerLimits, ConsumerMember, Heartbeat, TopicLookup};
use crate::group::assignor::TopicIdPartition;
use crate::group::classic::ClassicGroup;
use crate::group::consumer_protocol::{self as protocol, Malformed};
use crate::group::member::{leaving_member, JoinRequest, JoinResult, Member, SyncResult};
use crate::group::MemberRef;
use crate::protocol::error::ResponseError;

/// The classic protocol's view of a consumer group member that uses it.
#[derive(Debug, Clone)]
pub struct ClassicMeta {
    pub session_timeout: Duration,
    /// The protocols of its last JoinGroup, in its order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// Told to rejoin: it is fenced unless it does by then.
    join_deadline: Option<Instant>,
    /// Joined: it is fenced unless it syncs by then.
    sync_deadline: Option<Instant>,
}

impl ClassicMeta {
    fn protocol_name(&self) -> &str {
        self.protocols.first().map_or("", |(name, _)| name)
    }

    /// The version its assignments are written in: its subscription's.
    fn version(&self) -> i16 {
        self.protocols
            .first()
            .map_or(0, |(_, metadata)| protocol::version(metadata))
    }

    pub fn deadlines(&self) -> impl Iterator<Item = Instant> {
        self.join_deadline.into_iter().chain(self.sync_deadline)
    }
}

const CONSUMER: &str = "consumer";

impl ConsumerGroup {
    /// JoinGroup from a classic consumer: it joins or rejoins, is moved
    /// toward its target, and hears its member epoch as its generation.
    pub fn classic_join(
        &mut self,
        request: &JoinRequest,
        topics: TopicLookup,
        limits: &ConsumerLimits,
        now: Instant,
    ) -> JoinResult {
        let fail = |e| JoinResult::error(e, &request.member_id);
        if request.protocol_type != CONSUMER || request.protocols.is_empty() {
            return fail(ResponseError::InconsistentGroupProtocol);
        }
        let Ok(subscription) = protocol::decode_subscription(&request.protocols[0].1) else {
            return fail(ResponseError::InconsistentGroupProtocol);
        };
        let known = !request.member_id.is_empty();
        let id = if known {
            request.member_id.clone()
        } else {
            Uuid::new_v4().to_string()
        };
        let replaces = match &request.group_instance_id {
            Some(instance) => match self.static_members.get(instance) {
                Some(current) if *current != id && known => {
                    return fail(ResponseError::FencedInstanceId)
                }
                Some(_) => true,
                None => false,
            },
            None => {
                if !known && request.require_known_member_id {
                    // KIP-394: hand out the id; the member joins again with it.
                    return JoinResult::error(ResponseError::MemberIdRequired, &id);
                }
                false
            }
        };
        let is_new = !replaces && !self.members.contains_key(&id);
        if is_new && self.members.len() >= limits.max_size {
            return fail(ResponseError::GroupMaxSizeReached);
        }
        let owned = subscription
            .owned
            .iter()
            .filter_map(|(topic, p)| topics(topic).map(|(topic_id, _)| (topic_id, *p)))
            .collect();
        let heartbeat = Heartbeat {
            member_id: id.clone(),
            member_epoch: 0,
            instance_id: request.group_instance_id.clone(),
            rack_id: subscription.rack_id,
            rebalance_timeout_ms: request.rebalance_timeout.as_millis() as i32,
            subscribed_topics: Some(subscription.topics),
            server_assignor: None,
            owned: Some(owned),
            client_id: request.client_id.clone(),
            client_host: request.client_host.clone(),
            version: 1,
        };
        if !self.members.contains_key(&id) {
            if let Err(e) = self.join(&heartbeat, limits, now) {
                return fail(e.error);
            }
        }
        self.update_member(&id, &heartbeat, limits, now);
        let member = self.members.get_mut(&id).expect("joined");
        member.deadline = now + request.session_timeout;
        member.classic = Some(ClassicMeta {
            session_timeout: request.session_timeout,
            protocols: request.protocols.clone(),
            join_deadline: None,
            sync_deadline: Some(now + request.rebalance_timeout),
        });
        self.refresh_topics(topics);
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }
        self.reconcile(&id, now);
        // A member that gave its partitions up before rejoining (the eager
        // protocol) has nothing left to revoke: it moves on at once.
        self.reconcile(&id, now);
        let member = &self.members[&id];
        JoinResult {
            error: None,
            generation: member.epoch,
            protocol_type: Some(CONSUMER.into()),
            protocol_name: Some(request.protocols[0].0.clone()),
            // No member leads: the coordinator assigns.
            leader: String::new(),
            member_id: id,
            members: Vec::new(),
            skip_assignment: false,
        }
    }

    /// SyncGroup from a classic member: its current partitions.
    pub fn classic_sync(
        &mut self,
        who: &MemberRef,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        now: Instant,
    ) -> SyncResult {
        let id = match self.classic_member_id(who) {
            Ok(id) => id,
            Err(e) => return SyncResult::error(e),
        };
        let names = self.topic_names();
        let group_epoch = self.group_epoch;
        let member = self.members.get_mut(&id).expect("a member");
        if who.generation != member.epoch {
            return SyncResult::error(ResponseError::IllegalGeneration);
        }
        let rebalance_timeout = member.rebalance_timeout;
        let revoking = !member.revoking.is_empty();
        let meta = member.classic.as_mut().expect("a classic member");
        let name = meta.protocol_name().to_string();
        if protocol_type.is_some_and(|t| t != CONSUMER) || protocol_name.is_some_and(|n| n != name)
        {
            return SyncResult::error(ResponseError::InconsistentGroupProtocol);
        }
        if group_epoch > member.epoch && !revoking {
            meta.join_deadline.get_or_insert(now + rebalance_timeout);
            return SyncResult::error(ResponseError::RebalanceInProgress);
        }
        meta.sync_deadline = None;
        member.deadline = now + meta.session_timeout;
        let partitions = by_name(&member.assigned, &names);
        SyncResult {
            error: None,
            protocol_type: Some(CONSUMER.into()),
            protocol_name: Some(name),
            assignment: protocol::encode_assignment(&partitions, meta.version()),
        }
    }

    /// Heartbeat from a classic member: REBALANCE_IN_PROGRESS when it has
    /// something to give up or to take, so it rejoins.
    pub fn classic_heartbeat(
        &mut self,
        who: &MemberRef,
        now: Instant,
    ) -> Result<(), ResponseError> {
        let id = self.classic_member_id(who)?;
        let takeable = self.has_free_target_partitions(&id);
        let group_epoch = self.group_epoch;
        let member = self.members.get_mut(&id).expect("a member");
        if who.generation != member.epoch {
            return Err(ResponseError::IllegalGeneration);
        }
        let meta = member.classic.as_mut().expect("a classic member");
        member.deadline = now + meta.session_timeout;
        if member.epoch < group_epoch || !member.revoking.is_empty() || takeable {
            meta.join_deadline
                .get_or_insert(now + member.rebalance_timeout);
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// LeaveGroup for a classic member, named by member id, instance id or both.
    pub fn classic_leave(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), ResponseError> {
        let id = leaving_member(&self.static_members, member_id, instance)?;
        if self.members.get(&id).is_none_or(|m| m.classic.is_none()) {
            return Err(ResponseError::UnknownMemberId);
        }
        tracing::info!(member = %id, "classic member left the consumer group");
        self.remove(&id);
        self.group_epoch += 1;
        Ok(())
    }

    /// The member a classic request speaks for (Kafka's
    /// validateConsumerGroupMember, and it must use the classic protocol).
    fn classic_member_id(&self, who: &MemberRef) -> Result<String, ResponseError> {
        let id = match &who.group_instance_id {
            Some(instance) => {
                let current = self
                    .static_members
                    .get(instance)
                    .ok_or(ResponseError::UnknownMemberId)?;
                if *current != who.member_id {
                    return Err(ResponseError::FencedInstanceId);
                }
                current.clone()
            }
            None => who.member_id.clone(),
        };
        match self.members.get(&id) {
            Some(m) if m.classic.is_some() => Ok(id),
            _ => Err(ResponseError::UnknownMemberId),
        }
    }

    /// Whether some partition of the member's target that it does not have
    /// yet is free now (its previous owner gave it up).
    fn has_free_target_partitions(&self, id: &str) -> bool {
        let Some(member) = self.members.get(id) else {
            return false;
        };
        let Some(target) = self.target.get(id) else {
            return false;
        };
        target
            .iter()
            .filter(|tp| !member.assigned.contains(tp))
            .any(|tp| {
                !self
                    .members
                    .values()
                    .any(|m| m.id != id && (m.assigned.contains(tp) || m.revoking.contains(tp)))
            })
    }

    /// Topic id → name, for the subscribed topics.
    fn topic_names(&self) -> BTreeMap<Uuid, String> {
        self.topics
            .iter()
            .map(|(name, (id, _))| (*id, name.clone()))
            .collect()
    }

    // ---- Migration ----

    /// A consumer group made of a classic group's members (the upgrade):
    /// each keeps its last assignment, as its target, at an epoch equal to
    /// the classic generation. Members that were joining or syncing must
    /// rejoin (the caller tells them so).
    pub fn from_classic(
        classic: &ClassicGroup,
        assignor: &str,
        topics: TopicLookup,
        now: Instant,
    ) -> Result<ConsumerGroup, Malformed> {
        let mut group = ConsumerGroup::new(assignor);
        group.group_epoch = classic.generation;
        group.assignment_epoch = classic.generation;
        for m in classic.members.values() {
            let protocol = classic
                .protocol
                .clone()
                .or_else(|| m.protocols.first().map(|(name, _)| name.clone()))
                .unwrap_or_default();
            let subscription = protocol::decode_subscription(&m.metadata(&protocol))?;
            let assigned: BTreeSet<TopicIdPartition> = protocol::decode_assignment(&m.assignment)?
                .into_iter()
                .filter_map(|(topic, p)| topics(&topic).map(|(id, _)| (id, p)))
                .collect();
            if let Some(instance) = &m.group_instance_id {
                group.static_members.insert(instance.clone(), m.id.clone());
            }
            group.target.insert(m.id.clone(), assigned.clone());
            let member = ConsumerMember {
                id: m.id.clone(),
                instance_id: m.group_instance_id.clone(),
                rack_id: subscription.rack_id,
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                epoch: classic.generation,
                previous_epoch: classic.generation,
                subscribed: subscription.topics.into_iter().collect(),
                server_assignor: None,
                rebalance_timeout: m.rebalance_timeout,
                owned: assigned.clone(),
                assigned,
                revoking: BTreeSet::new(),
                revoking_since: now,
                last_sent: None,
                deadline: now + m.session_timeout,
                classic: Some(ClassicMeta {
                    session_timeout: m.session_timeout,
                    protocols: m.protocols.clone(),
                    join_deadline: None,
                    sync_deadline: None,
                }),
            };
            group.members.insert(m.id.clone(), member);
        }
        // The topics as they are now, so that the upgrade itself does not
        // count as a change of the subscribed topics.
        group.refresh_topics(topics);
        group.group_epoch = classic.generation;
        Ok(group)
    }

    /// Whether every member speaks the classic protocol (and there is one).
    pub fn only_classic_members(&self) -> bool {
        !self.members.is_empty() && self.members.values().all(|m| m.classic.is_some())
    }

    /// The members as classic members (the downgrade), each with its target
    /// assignment by topic name, for the classic group to write in the
    /// version its subscription uses.
    pub fn to_classic_members(&self, now: Instant) -> Vec<(Member, BTreeSet<(String, i32)>)> {
        let names = self.topic_names();
        self.members
            .values()
            .filter_map(|m| {
                let meta = m.classic.as_ref()?;
                let target = self.target.get(&m.id).cloned().unwrap_or_default();
                let member = Member {
                    id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout: meta.session_timeout,
                    rebalance_timeout: m.rebalance_timeout,
                    protocol_type: CONSUMER.into(),
                    protocols: meta.protocols.clone(),
                    assignment: Bytes::new(),
                    deadline: now + meta.session_timeout,
                    awaiting_join: None,
                    awaiting_sync: None,
                    synced: true,
                };
                Some((member, by_name(&target, &names)))
            })
            .collect()
    }
}

fn by_name(
    partitions: &BTreeSet<TopicIdPartition>,
    names: &BTreeMap<Uuid, String>,
) -> BTreeSet<(String, i32)> {
    partitions
        .iter()
        .filter_map(|(id, p)| names.get(id).map(|name| (name.clone(), *p)))
        .collect()
}
