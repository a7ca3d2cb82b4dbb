//! The join phase of a classic group: JoinGroup for new, known and static
//! members, the start of a rebalance, and the end of the join phase that
//! begins a new generation.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{ClassicGroup, ClassicLimits, GroupState, JoinOutcome, Outgoing};
use crate::group::member::{JoinRequest, JoinResult, JoinedMember, Member, SyncResult};
use crate::protocol::error::ResponseError;

impl ClassicGroup {
    pub fn join(
        &mut self,
        request: JoinRequest,
        limits: &ClassicLimits,
        now: Instant,
    ) -> JoinOutcome {
        let member_id = request.member_id.clone();
        if self.is(GroupState::Dead) {
            return JoinOutcome::Now(JoinResult::error(
                ResponseError::CoordinatorNotAvailable,
                &member_id,
            ));
        }
        if request.session_timeout < limits.min_session_timeout
            || request.session_timeout > limits.max_session_timeout
        {
            return JoinOutcome::Now(JoinResult::error(
                ResponseError::InvalidSessionTimeout,
                &member_id,
            ));
        }
        if !self.supports(&request.protocol_type, &request.protocols) {
            return JoinOutcome::Now(JoinResult::error(
                ResponseError::InconsistentGroupProtocol,
                &member_id,
            ));
        }
        if member_id.is_empty() {
            self.join_new_member(request, limits, now)
        } else {
            self.join_known_member(request, limits, now)
        }
    }

    fn is_full(&self, limits: &ClassicLimits) -> bool {
        self.members.len() + self.pending.len() >= limits.max_size
    }

    fn join_new_member(
        &mut self,
        request: JoinRequest,
        limits: &ClassicLimits,
        now: Instant,
    ) -> JoinOutcome {
        if let Some(instance) = request.group_instance_id.clone() {
            let new_id = format!("{instance}-{}", Uuid::new_v4());
            if let Some(old_id) = self.static_members.get(&instance).cloned() {
                return self.replace_static_member(&old_id, new_id, request, limits, now);
            }
            if self.is_full(limits) {
                return JoinOutcome::Now(JoinResult::error(ResponseError::GroupMaxSizeReached, ""));
            }
            self.static_members.insert(instance, new_id.clone());
            return self.add_member_and_rebalance(new_id, request, limits, now);
        }
        let new_id = format!("{}-{}", request.client_id, Uuid::new_v4());
        if self.is_full(limits) {
            return JoinOutcome::Now(JoinResult::error(ResponseError::GroupMaxSizeReached, ""));
        }
        if request.require_known_member_id {
            // KIP-394: hand out the id; the member joins again with it.
            self.pending
                .insert(new_id.clone(), now + request.session_timeout);
            return JoinOutcome::Now(JoinResult::error(ResponseError::MemberIdRequired, &new_id));
        }
        self.add_member_and_rebalance(new_id, request, limits, now)
    }

    fn join_known_member(
        &mut self,
        request: JoinRequest,
        limits: &ClassicLimits,
        now: Instant,
    ) -> JoinOutcome {
        let member_id = request.member_id.clone();
        if let Some(instance) = &request.group_instance_id {
            if let Some(current) = self.static_members.get(instance) {
                if *current != member_id {
                    return JoinOutcome::Now(JoinResult::error(
                        ResponseError::FencedInstanceId,
                        &member_id,
                    ));
                }
            }
        }
        if self.pending.remove(&member_id).is_some() {
            return self.add_member_and_rebalance(member_id, request, limits, now);
        }
        let Some(member) = self.members.get(&member_id) else {
            return JoinOutcome::Now(JoinResult::error(
                ResponseError::UnknownMemberId,
                &member_id,
            ));
        };
        let unchanged = member.same_protocols(&request.protocols);
        let is_leader = self.leader.as_deref() == Some(member_id.as_str());
        match self.state {
            GroupState::PreparingRebalance => self.await_join(member_id, request, now),
            GroupState::CompletingRebalance if unchanged => {
                // The member lost our answer: give it the same one again.
                JoinOutcome::Now(self.join_result_for(&member_id, false))
            }
            GroupState::Stable if unchanged && !is_leader => {
                let member = self.members.get_mut(&member_id).expect("checked");
                member.heard_from(now);
                JoinOutcome::Now(self.join_result_for(&member_id, false))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                tracing::info!(
                    member = %member_id,
                    is_leader,
                    unchanged,
                    state = self.state.name(),
                    "a known member rejoined"
                );
                let outcome = self.await_join(member_id, request, now);
                self.prepare_rebalance(
                    now,
                    limits,
                    "a member rejoined with new metadata or as leader",
                );
                outcome
            }
            GroupState::Empty | GroupState::Dead => JoinOutcome::Now(JoinResult::error(
                ResponseError::UnknownMemberId,
                &member_id,
            )),
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        request: JoinRequest,
        limits: &ClassicLimits,
        now: Instant,
    ) -> JoinOutcome {
        if self.members.is_empty() {
            self.protocol_type = Some(request.protocol_type.clone());
        }
        let member = Member::new(member_id.clone(), &request, now);
        self.members.insert(member_id.clone(), member);
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        let outcome = self.await_join(member_id, request, now);
        match self.state {
            GroupState::PreparingRebalance => self.extend_initial_delay(now, limits),
            _ => self.prepare_rebalance(now, limits, "a new member joined"),
        }
        outcome
    }

    /// Records the member's join and parks its answer until the phase ends.
    fn await_join(&mut self, member_id: String, request: JoinRequest, now: Instant) -> JoinOutcome {
        let (tx, rx) = oneshot::channel();
        let member = self.members.get_mut(&member_id).expect("a member");
        member.update(&request);
        member.heard_from(now);
        if let Some(old) = member.awaiting_join.replace(tx) {
            let error = JoinResult::error(ResponseError::RebalanceInProgress, &member_id);
            self.outbox.push(Outgoing::Join(old, error));
        }
        self.maybe_complete_join(now);
        JoinOutcome::Later(rx)
    }

    /// A restarted static member (KIP-345) takes over its old identity. In a
    /// stable group with unchanged protocols there is no rebalance: it gets
    /// its old assignment under a new member id, and the old id is fenced.
    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: String,
        request: JoinRequest,
        limits: &ClassicLimits,
        now: Instant,
    ) -> JoinOutcome {
        let Some(mut member) = self.members.shift_remove(old_id) else {
            return JoinOutcome::Now(JoinResult::error(ResponseError::UnknownMemberId, ""));
        };
        if let Some(old) = member.awaiting_join.take() {
            let error = JoinResult::error(ResponseError::FencedInstanceId, old_id);
            self.outbox.push(Outgoing::Join(old, error));
        }
        if let Some(old) = member.awaiting_sync.take() {
            self.outbox.push(Outgoing::Sync(
                old,
                SyncResult::error(ResponseError::FencedInstanceId),
            ));
        }
        let unchanged = member.same_protocols(&request.protocols);
        member.id = new_id.clone();
        let instance = request.group_instance_id.clone().expect("a static member");
        self.static_members.insert(instance, new_id.clone());
        self.members.insert(new_id.clone(), member);
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        match self.state {
            GroupState::Stable if unchanged => {
                let member = self.members.get_mut(&new_id).expect("just inserted");
                member.update(&request);
                member.heard_from(now);
                self.dirty = true;
                let is_leader = self.leader.as_deref() == Some(new_id.as_str());
                // A restarted leader that speaks v9 keeps leading and is told
                // to skip the assignment (KIP-814). An older client would
                // take the member list (or its absence) as a reason to
                // reassign and rejoin, so leadership passes quietly to the
                // next member, which only acts as leader at the next
                // rebalance; the restarted member answers as a follower.
                let skip = is_leader && request.supports_skip_assignment;
                if is_leader && !skip {
                    if let Some(next) = self.members.keys().find(|id| **id != new_id) {
                        self.leader = Some(next.clone());
                    }
                }
                JoinOutcome::Now(self.join_result_for(&new_id, skip))
            }
            GroupState::PreparingRebalance => self.await_join(new_id, request, now),
            _ => {
                let outcome = self.await_join(new_id, request, now);
                self.prepare_rebalance(now, limits, "a static member rejoined with new metadata");
                outcome
            }
        }
    }

    /// The answer for `member_id` in the current generation. The leader
    /// gets every member's metadata (also when `skip_assignment`).
    fn join_result_for(&self, member_id: &str, skip_assignment: bool) -> JoinResult {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
            skip_assignment,
        }
    }

    pub(super) fn prepare_rebalance(&mut self, now: Instant, limits: &ClassicLimits, reason: &str) {
        tracing::info!(
            generation = self.generation,
            reason,
            "preparing to rebalance"
        );
        if self.is(GroupState::CompletingRebalance) {
            // The assignment being made is void: members must rejoin.
            for member in self.members.values_mut() {
                if let Some(tx) = member.awaiting_sync.take() {
                    self.outbox.push(Outgoing::Sync(
                        tx,
                        SyncResult::error(ResponseError::RebalanceInProgress),
                    ));
                }
            }
        }
        let was_empty = self.is(GroupState::Empty);
        self.transition(GroupState::PreparingRebalance);
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = now + timeout;
        self.initial_delay_until = None;
        if was_empty && !limits.initial_rebalance_delay.is_zero() {
            self.initial_delay_until = Some(now + limits.initial_rebalance_delay);
        }
        self.maybe_complete_join(now);
    }

    /// Another member joined a new group during its initial delay: wait a
    /// little longer for more, up to the rebalance timeout.
    fn extend_initial_delay(&mut self, now: Instant, limits: &ClassicLimits) {
        if self.initial_delay_until.is_some() {
            let until = (now + limits.initial_rebalance_delay).min(self.rebalance_deadline);
            self.initial_delay_until = Some(until);
        }
    }

    fn all_joined(&self) -> bool {
        // Static members that have not rejoined keep their place (KIP-345),
        // but the phase still waits for them until the deadline.
        self.members.values().all(|m| m.awaiting_join.is_some()) && self.pending.is_empty()
    }

    pub(super) fn maybe_complete_join(&mut self, now: Instant) {
        if !self.is(GroupState::PreparingRebalance) {
            return;
        }
        let delayed = self.initial_delay_until.is_some_and(|until| now < until);
        if (self.all_joined() && !delayed) || now >= self.rebalance_deadline {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: members that did not rejoin leave (static ones
    /// stay), a new generation starts, and every joiner gets its answer.
    fn complete_join(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.pending.clear();
        self.generation += 1;
        self.initial_delay_until = None;
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.transition(GroupState::Empty);
            self.dirty = true;
            return;
        }
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.protocol = self.select_protocol();
        self.transition(GroupState::CompletingRebalance);
        tracing::info!(
            generation = self.generation,
            members = self.members.len(),
            "join phase complete"
        );
        self.sync_deadline = now
            + self
                .members
                .values()
                .map(|m| m.rebalance_timeout)
                .max()
                .unwrap_or_default();
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result_for(&id, false);
            let member = self.members.get_mut(&id).expect("listed");
            member.heard_from(now);
            member.synced = false;
            member.assignment = Bytes::new();
            if let Some(tx) = member.awaiting_join.take() {
                self.outbox.push(Outgoing::Join(tx, result));
            }
        }
    }
}
