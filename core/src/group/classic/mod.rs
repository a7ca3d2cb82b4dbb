//! The classic group protocol's state machine (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup), as Kafka's coordinator runs it:
//!
//! `Empty` → `PreparingRebalance` (members join; the join phase ends when
//! every known member has rejoined or the rebalance timeout passes) →
//! `CompletingRebalance` (a new generation; the leader got every member's
//! metadata and sends the assignment in its SyncGroup) → `Stable`. A join,
//! a leave or an expired session sends a stable group back to
//! `PreparingRebalance`.
//!
//! Nothing here does I/O or waits: answers go to an outbox the coordinator
//! sends after it has written the group to `__consumer_offsets`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::sync::oneshot;

mod join;

use super::member::{leaving_member, JoinResult, Member, SyncResult};
use super::records::GroupValue;
use crate::log::now_ms;
use crate::protocol::error::ResponseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka's ListGroups and DescribeGroups use.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// An answer to send once the group's record is written.
pub enum Outgoing {
    Join(oneshot::Sender<JoinResult>, JoinResult),
    Sync(oneshot::Sender<SyncResult>, SyncResult),
}

/// What a JoinGroup gets: an answer now, or one when the join phase ends.
pub enum JoinOutcome {
    Now(JoinResult),
    Later(oneshot::Receiver<JoinResult>),
}

/// What a SyncGroup gets.
pub enum SyncOutcome {
    Now(SyncResult),
    Later(oneshot::Receiver<SyncResult>),
}

/// The broker settings that bound a classic group.
#[derive(Debug, Clone)]
pub struct ClassicLimits {
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    pub initial_rebalance_delay: Duration,
    pub max_size: usize,
}

pub struct ClassicGroup {
    pub state: GroupState,
    /// Milliseconds since the epoch of the last state change.
    pub state_timestamp: i64,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// In join order: the first member to join leads.
    pub members: IndexMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, until they join.
    pending: HashMap<String, Instant>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// The join phase ends by then even if members have not rejoined.
    rebalance_deadline: Instant,
    /// A new group's join phase waits at least until then (group.initial.rebalance.delay.ms).
    initial_delay_until: Option<Instant>,
    /// The sync phase ends by then; members that have not synced are removed.
    sync_deadline: Instant,
    /// Set when the group's record must be written before the outbox is sent.
    pub dirty: bool,
    pub outbox: Vec<Outgoing>,
}

impl Default for ClassicGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl ClassicGroup {
    pub fn new() -> ClassicGroup {
        let now = Instant::now();
        ClassicGroup {
            state: GroupState::Empty,
            state_timestamp: now_ms(),
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: IndexMap::new(),
            pending: HashMap::new(),
            static_members: HashMap::new(),
            rebalance_deadline: now,
            initial_delay_until: None,
            sync_deadline: now,
            dirty: false,
            outbox: Vec::new(),
        }
    }

    /// A group as last written to `__consumer_offsets`. Members restored
    /// with it must heartbeat within their session timeouts to stay.
    pub fn restore(value: &GroupValue, now: Instant) -> ClassicGroup {
        let mut group = ClassicGroup::new();
        group.generation = value.generation;
        group.protocol_type = Some(value.protocol_type.clone()).filter(|t| !t.is_empty());
        group.protocol = value.protocol.clone();
        group.leader = value.leader.clone();
        group.state_timestamp = value.current_state_timestamp;
        for m in &value.members {
            let member =
                Member::from_value(m, &value.protocol_type, value.protocol.as_deref(), now);
            if let Some(instance) = &m.group_instance_id {
                group
                    .static_members
                    .insert(instance.clone(), m.member_id.clone());
            }
            group.members.insert(m.member_id.clone(), member);
        }
        group.state = if group.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        group
    }

    pub fn to_value(&self) -> GroupValue {
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_timestamp,
            members: self
                .members
                .values()
                .map(|m| m.to_value(self.protocol.as_deref()))
                .collect(),
        }
    }

    fn transition(&mut self, state: GroupState) {
        self.state = state;
        self.state_timestamp = now_ms();
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    /// Protocols every member supports, in the order of the first member's preference.
    fn candidate_protocols(&self) -> Vec<String> {
        let Some(first) = self.members.values().next() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
            .collect()
    }

    /// Whether a member with these protocols can join (Kafka's supportsProtocols).
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        let candidates = self.candidate_protocols();
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| candidates.contains(name))
    }

    /// Each member votes for its preferred candidate; most votes wins (ties
    /// go to the leader's preference order).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for member in self.members.values() {
            if let Some(vote) = member.vote(&candidates) {
                if let Some(entry) = votes.iter_mut().find(|(name, _)| name == vote) {
                    entry.1 += 1;
                }
            }
        }
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == best)
            .map(|(name, _)| name)
    }

    // ---- SyncGroup ----

    /// Checks a request's member id, instance id and generation (Kafka's order).
    pub fn validate_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        if let Some(instance) = group_instance_id {
            match self.static_members.get(instance) {
                Some(current) if current != member_id => {
                    return Err(ResponseError::FencedInstanceId)
                }
                None => return Err(ResponseError::UnknownMemberId),
                _ => {}
            }
        }
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> SyncOutcome {
        if self.is(GroupState::Dead) {
            return SyncOutcome::Now(SyncResult::error(ResponseError::CoordinatorNotAvailable));
        }
        if let Err(e) = self.validate_member(member_id, group_instance_id, generation) {
            return SyncOutcome::Now(SyncResult::error(e));
        }
        let type_mismatch = protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref());
        let name_mismatch = protocol_name.is_some_and(|n| Some(n) != self.protocol.as_deref());
        if type_mismatch || name_mismatch {
            return SyncOutcome::Now(SyncResult::error(ResponseError::InconsistentGroupProtocol));
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                SyncOutcome::Now(SyncResult::error(ResponseError::UnknownMemberId))
            }
            GroupState::PreparingRebalance => {
                SyncOutcome::Now(SyncResult::error(ResponseError::RebalanceInProgress))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                let member = self.members.get_mut(member_id).expect("validated");
                member.heard_from(now);
                member.synced = true;
                member.awaiting_sync = Some(tx);
                if self.leader.as_deref() == Some(member_id) {
                    self.complete_sync(assignments);
                }
                SyncOutcome::Later(rx)
            }
            GroupState::Stable => {
                let member = self.members.get_mut(member_id).expect("validated");
                member.heard_from(now);
                SyncOutcome::Now(SyncResult {
                    error: None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    assignment: member.assignment.clone(),
                })
            }
        }
    }

    /// The leader's assignment arrived: store it, answer every waiting member.
    fn complete_sync(&mut self, assignments: Vec<(String, Bytes)>) {
        let mut assignments: HashMap<String, Bytes> = assignments.into_iter().collect();
        for member in self.members.values_mut() {
            member.assignment = assignments.remove(&member.id).unwrap_or_default();
        }
        self.transition(GroupState::Stable);
        self.dirty = true;
        for member in self.members.values_mut() {
            if let Some(tx) = member.awaiting_sync.take() {
                self.outbox.push(Outgoing::Sync(
                    tx,
                    SyncResult {
                        error: None,
                        protocol_type: self.protocol_type.clone(),
                        protocol_name: self.protocol.clone(),
                        assignment: member.assignment.clone(),
                    },
                ));
            }
        }
    }

    // ---- Heartbeat ----

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        match self.state {
            GroupState::Dead => return Err(ResponseError::CoordinatorNotAvailable),
            GroupState::Empty => return Err(ResponseError::UnknownMemberId),
            _ => {}
        }
        self.validate_member(member_id, group_instance_id, generation)?;
        self.members
            .get_mut(member_id)
            .expect("validated")
            .heard_from(now);
        if self.is(GroupState::PreparingRebalance) {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// A committing member counts as alive, as in Kafka.
    pub fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.heard_from(now);
        }
    }

    // ---- LeaveGroup ----

    /// One member leaves, named by member id, group.instance.id, or both.
    pub fn leave(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        limits: &ClassicLimits,
        now: Instant,
    ) -> Result<(), ResponseError> {
        if self.is(GroupState::Dead) {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        let id = leaving_member(&self.static_members, member_id, group_instance_id)?;
        if self.pending.remove(&id).is_some() {
            self.maybe_complete_join(now);
            return Ok(());
        }
        if !self.members.contains_key(&id) {
            return Err(ResponseError::UnknownMemberId);
        }
        self.member_gone(&id, limits, now);
        Ok(())
    }

    fn remove_member(&mut self, id: &str) {
        if let Some(mut member) = self.members.shift_remove(id) {
            if let Some(tx) = member.awaiting_join.take() {
                self.outbox.push(Outgoing::Join(
                    tx,
                    JoinResult::error(ResponseError::UnknownMemberId, id),
                ));
            }
            if let Some(tx) = member.awaiting_sync.take() {
                self.outbox.push(Outgoing::Sync(
                    tx,
                    SyncResult::error(ResponseError::UnknownMemberId),
                ));
            }
            if let Some(instance) = member.group_instance_id {
                if self.static_members.get(&instance).map(String::as_str) == Some(id) {
                    self.static_members.remove(&instance);
                }
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = self.members.keys().next().cloned();
        }
    }

    /// A member left or expired: the others must rebalance without it.
    fn member_gone(&mut self, id: &str, limits: &ClassicLimits, now: Instant) {
        self.remove_member(id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, limits, "a member left or its session expired")
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ---- Timers ----

    /// Expires sessions and ends phases whose time is up.
    /// The earliest time `tick` has something to do: a session end, a
    /// handed-out member id expiring, or the end of a join or sync phase.
    pub fn next_deadline(&self) -> Option<Instant> {
        let sessions = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.awaiting_sync.is_none())
            .map(|m| m.deadline);
        let phase = match self.state {
            GroupState::PreparingRebalance => Some(
                self.initial_delay_until
                    .map_or(self.rebalance_deadline, |d| d.min(self.rebalance_deadline)),
            ),
            GroupState::CompletingRebalance => Some(self.sync_deadline),
            _ => None,
        };
        sessions
            .chain(self.pending.values().copied())
            .chain(phase)
            .min()
    }

    pub fn tick(&mut self, limits: &ClassicLimits, now: Instant) {
        self.pending.retain(|_, deadline| now < *deadline);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.is_expired(now))
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(member = %id, "session timed out; removing the member");
            self.member_gone(&id, limits, now);
        }
        if self.is(GroupState::CompletingRebalance) && now >= self.sync_deadline {
            let unsynced: Vec<String> = self
                .members
                .values()
                .filter(|m| !m.synced)
                .map(|m| m.id.clone())
                .collect();
            for id in &unsynced {
                self.remove_member(id);
            }
            if !unsynced.is_empty() {
                self.prepare_rebalance(now, limits, "members did not sync in time");
            }
        }
        self.maybe_complete_join(now);
    }

    /// Kafka's checks before an OffsetCommit: a commit without a generation
    /// is only for an empty group (admin tools, manual assignment); group
    /// members must name their current generation.
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        if self.is(GroupState::Dead) {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if generation < 0 && self.is(GroupState::Empty) {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
            self.validate_member(member_id, group_instance_id, generation)?;
        } else if !self.is(GroupState::Empty) {
            return Err(ResponseError::UnknownMemberId);
        }
        if self.is(GroupState::CompletingRebalance) {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// The topics the members subscribe to, read from the consumer
    /// protocol's subscription (None when the group is not a consumer group
    /// or a subscription cannot be read).
    pub fn subscribed_topics(&self) -> Option<std::collections::HashSet<String>> {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::Decodable;
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = std::collections::HashSet::new();
        for member in self.members.values() {
            let mut metadata = member.metadata(protocol);
            if metadata.len() < 2 {
                return None;
            }
            let _version = bytes::Buf::get_i16(&mut metadata);
            // Version 0 is a prefix of every later version.
            let subscription = ConsumerProtocolSubscription::decode(&mut metadata, 0).ok()?;
            topics.extend(subscription.topics.iter().map(|t| t.to_string()));
        }
        Some(topics)
    }

    /// The classic group that a consumer group of classic members becomes
    /// (the downgrade): a stable group at generation `generation`, each
    /// member holding its target assignment, which then rebalances at once
    /// so that a leader computes the assignment again (Kafka's
    /// ClassicGroup.fromConsumerGroup, then prepareRebalance).
    pub fn downgraded(
        generation: i32,
        members: Vec<(Member, std::collections::BTreeSet<(String, i32)>)>,
        limits: &ClassicLimits,
        now: Instant,
    ) -> ClassicGroup {
        let mut group = ClassicGroup::new();
        group.generation = generation;
        group.protocol_type = Some("consumer".into());
        group.state = GroupState::Stable;
        let mut targets = HashMap::new();
        for (member, target) in members {
            if let Some(instance) = &member.group_instance_id {
                group
                    .static_members
                    .insert(instance.clone(), member.id.clone());
            }
            targets.insert(member.id.clone(), target);
            group.members.insert(member.id.clone(), member);
        }
        group.leader = group.members.keys().next().cloned();
        group.protocol = group.select_protocol();
        let protocol = group.protocol.clone().unwrap_or_default();
        for member in group.members.values_mut() {
            let version = super::consumer_protocol::version(&member.metadata(&protocol));
            let target = targets.remove(&member.id).unwrap_or_default();
            member.assignment = super::consumer_protocol::encode_assignment(&target, version);
        }
        group.dirty = true;
        group.prepare_rebalance(now, limits, "the group went back to the classic protocol");
        group
    }

    /// Answers every member waiting for a JoinGroup or SyncGroup with
    /// `error` (the group is about to change protocol).
    pub fn answer_waiting(&mut self, error: ResponseError) {
        for member in self.members.values_mut() {
            if let Some(tx) = member.awaiting_join.take() {
                let result = JoinResult::error(error, &member.id);
                self.outbox.push(Outgoing::Join(tx, result));
            }
            if let Some(tx) = member.awaiting_sync.take() {
                self.outbox
                    .push(Outgoing::Sync(tx, SyncResult::error(error)));
            }
        }
    }

    /// Marks the group deleted (DeleteGroups).
    pub fn make_dead(&mut self) {
        self.transition(GroupState::Dead);
    }

    pub fn has_members(&self) -> bool {
        !self.members.is_empty()
    }
}
