//! Online migration between the classic and the KIP-848 consumer protocols
//! (`group.consumer.migration.policy`, as in Kafka 4):
//!
//! - **Upgrade.** A ConsumerGroupHeartbeat that joins a classic consumer
//!   group with members turns it into a consumer group. Its classic members
//!   stay, keep their partitions and generation (as their epoch), and go on
//!   with JoinGroup, SyncGroup and Heartbeat (see `consumer::classic`).
//! - **Downgrade.** When the last member on the new protocol leaves, the
//!   group turns back into a classic group and rebalances.
//!
//! The group's classic record in `__consumer_offsets` is deleted by the
//! upgrade and written again by the downgrade, so that a restart never
//! brings back a classic group that no longer exists.

use std::time::Instant;

use super::classic::{ClassicGroup, ClassicLimits, GroupState};
use super::consumer::{ConsumerGroup, TopicLookup};
use super::Group;
use crate::protocol::error::{ApiError, ResponseError};

/// Which way groups may move between the protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationPolicy {
    Bidirectional,
    Upgrade,
    Downgrade,
    Disabled,
}

impl MigrationPolicy {
    /// Kafka's values, any case; anything else disables migration, as in Kafka.
    pub fn parse(value: &str) -> MigrationPolicy {
        match value.trim().to_ascii_lowercase().as_str() {
            "bidirectional" => MigrationPolicy::Bidirectional,
            "upgrade" => MigrationPolicy::Upgrade,
            "downgrade" => MigrationPolicy::Downgrade,
            _ => MigrationPolicy::Disabled,
        }
    }

    fn upgrades(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Bidirectional | MigrationPolicy::Upgrade
        )
    }

    fn downgrades(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Bidirectional | MigrationPolicy::Downgrade
        )
    }
}

/// Makes `group` a consumer group for a joining KIP-848 member. An empty
/// classic group simply becomes one; a classic group with members is
/// upgraded when the policy allows and it is a consumer group (protocol
/// type "consumer"); otherwise the member gets GROUP_ID_NOT_FOUND.
pub fn make_consumer_group(
    group: &mut Group,
    policy: MigrationPolicy,
    assignor: &str,
    max_size: usize,
    topics: TopicLookup,
    now: Instant,
) -> Result<(), ApiError> {
    if group.consumer.is_some() {
        return Ok(());
    }
    let classic = &mut group.classic;
    if classic.is(GroupState::Empty) || classic.is(GroupState::Dead) {
        group.consumer = Some(ConsumerGroup::new(assignor));
        return Ok(());
    }
    let refuse = |why: &str| {
        tracing::info!(group = %group.id, "not upgrading the classic group: {why}");
        Err(ApiError::new(
            ResponseError::GroupIdNotFound,
            format!("Group {} is not a consumer group: {why}.", group.id),
        ))
    };
    if !policy.upgrades() {
        return refuse("group.consumer.migration.policy does not allow upgrades");
    }
    if classic.protocol_type.as_deref() != Some("consumer") {
        return refuse("its members do not use the consumer protocol");
    }
    if classic.members.len() >= max_size {
        return refuse("it has group.consumer.max.size members");
    }
    let consumer = match ConsumerGroup::from_classic(classic, assignor, topics, now) {
        Ok(c) => c,
        Err(e) => return refuse(&e.to_string()),
    };
    tracing::info!(
        group = %group.id,
        generation = classic.generation,
        members = classic.members.len(),
        "upgrading the classic group to a consumer group"
    );
    // Members between JoinGroup and SyncGroup must rejoin, now into the
    // consumer group; their answers still go out from the classic outbox.
    classic.answer_waiting(ResponseError::RebalanceInProgress);
    let outbox = std::mem::take(&mut classic.outbox);
    group.classic = ClassicGroup::new();
    group.classic.outbox = outbox;
    group.consumer = Some(consumer);
    group.delete_classic_record = true;
    Ok(())
}

/// Turns a consumer group whose remaining members all use the classic
/// protocol back into a classic group, when the policy allows.
pub fn maybe_downgrade(
    group: &mut Group,
    policy: MigrationPolicy,
    limits: &ClassicLimits,
    now: Instant,
) {
    let Some(consumer) = &group.consumer else {
        return;
    };
    if !policy.downgrades()
        || !consumer.only_classic_members()
        || consumer.members.len() > limits.max_size
    {
        return;
    }
    tracing::info!(
        group = %group.id,
        epoch = consumer.group_epoch,
        members = consumer.members.len(),
        "the last member on the consumer protocol left; downgrading to a classic group"
    );
    // The generation the members know (their epoch), so that their
    // heartbeats hear REBALANCE_IN_PROGRESS and the offsets they commit
    // before rejoining are accepted, as Kafka's downgrade allows.
    let generation = consumer.members.values().map(|m| m.epoch).max();
    let members = consumer.to_classic_members(now);
    let outbox = std::mem::take(&mut group.classic.outbox);
    let generation = generation.unwrap_or(consumer.group_epoch);
    group.classic = ClassicGroup::downgraded(generation, members, limits, now);
    group.classic.outbox.splice(0..0, outbox);
    group.consumer = None;
    group.delete_classic_record = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_kafka_parses_them() {
        assert_eq!(
            MigrationPolicy::parse("BIDIRECTIONAL"),
            MigrationPolicy::Bidirectional
        );
        assert_eq!(MigrationPolicy::parse("upgrade"), MigrationPolicy::Upgrade);
        assert_eq!(
            MigrationPolicy::parse("Downgrade"),
            MigrationPolicy::Downgrade
        );
        assert_eq!(MigrationPolicy::parse("bogus"), MigrationPolicy::Disabled);
        assert!(MigrationPolicy::Upgrade.upgrades() && !MigrationPolicy::Upgrade.downgrades());
        assert!(!MigrationPolicy::Disabled.upgrades());
    }
}
