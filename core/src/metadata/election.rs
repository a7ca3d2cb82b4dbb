//! Leader election and ISR changes the active controller decides (Kafka's
//! `PartitionChangeBuilder`). A broker that stops being live (fenced, or
//! shutting down) leaves every ISR it is in, unless it is the last member
//! (then the partition keeps it and waits for it, having no leader), and
//! each partition it led gets the first live in-sync replica, in replica
//! order, as leader. A broker that becomes live again leads the leaderless
//! partitions whose ISR it is in. A leader from outside the ISR is chosen
//! only where `unclean.leader.election.enable` is set for the topic.

use std::sync::atomic::AtomicU64;

use super::command::{BrokerState, Command};
use crate::protocol::error::ResponseError;

/// Leaders elected by this node as active controller, and how many of
/// them from outside the ISR (`/metrics`).
pub static LEADER_ELECTIONS: AtomicU64 = AtomicU64::new(0);
pub static UNCLEAN_ELECTIONS: AtomicU64 = AtomicU64::new(0);
use super::image::{MetadataImage, PartitionImage, TopicImage};

/// The commands that set broker `id`'s state and move the leaderships and
/// ISRs that state change calls for. `unclean` says whether a topic allows
/// unclean leader election.
pub fn set_broker_state(
    image: &MetadataImage,
    id: i32,
    state: BrokerState,
    unclean: &dyn Fn(&TopicImage) -> bool,
) -> Vec<Command> {
    let live = |b: i32| {
        if b == id {
            state == BrokerState::Running
        } else {
            image.brokers.get(&b).is_some_and(|b| b.is_live())
        }
    };
    let mut commands = vec![Command::SetBrokerState { id, state }];
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            let change = if state == BrokerState::Running {
                elect_if_leaderless(p, &live, unclean(topic))
            } else {
                remove_replica(p, id, &live, unclean(topic))
            };
            if let Some((leader, isr)) = change {
                commands.push(new_leader(&topic.name, index as i32, leader, isr));
            }
        }
    }
    commands
}

/// ElectLeaders' kinds (Kafka's `ElectionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// Back to the first replica, when it is live and in sync.
    Preferred,
    /// A leader for a partition that has none, from outside the ISR if need be.
    Unclean,
}

/// ElectLeaders for one partition: the change to commit, or Kafka's error.
pub fn elect(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    kind: ElectionType,
) -> Result<Command, ResponseError> {
    let p = image
        .topics
        .get(topic)
        .and_then(|t| t.partitions.get(usize::try_from(partition).ok()?))
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let live = |b: i32| image.brokers.get(&b).is_some_and(|b| b.is_live());
    let (leader, isr) = match kind {
        ElectionType::Preferred => {
            let preferred = *p
                .replicas
                .first()
                .ok_or(ResponseError::PreferredLeaderNotAvailable)?;
            if p.leader == preferred {
                return Err(ResponseError::ElectionNotNeeded);
            }
            if !live(preferred) || !p.isr.contains(&preferred) {
                return Err(ResponseError::PreferredLeaderNotAvailable);
            }
            (preferred, p.isr.clone())
        }
        ElectionType::Unclean => {
            if p.leader >= 0 && live(p.leader) {
                return Err(ResponseError::ElectionNotNeeded);
            }
            match choose_leader(p, &p.isr, &live) {
                Some(leader) => (leader, p.isr.clone()),
                None => {
                    unclean_choice(p, &live).ok_or(ResponseError::EligibleLeadersNotAvailable)?
                }
            }
        }
    };
    Ok(new_leader(topic, partition, leader, isr))
}

/// The change that gives a partition `leader` and `isr`.
fn new_leader(topic: &str, partition: i32, leader: i32, isr: Vec<i32>) -> Command {
    Command::ChangePartition {
        topic: topic.to_string(),
        partition,
        leader: Some(leader),
        isr: Some(isr),
        replicas: None,
    }
}

/// `auto.leader.rebalance.enable`: for each broker whose share of
/// partitions led by another broker, among those it is the preferred
/// (first) replica of, is above `imbalance_percent`, the preferred
/// elections that are possible now.
pub fn rebalance(image: &MetadataImage, imbalance_percent: i64) -> Vec<Command> {
    let mut preferred_of: std::collections::BTreeMap<i32, Vec<(&str, i32)>> = Default::default();
    let mut not_leading: std::collections::BTreeMap<i32, usize> = Default::default();
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            let Some(preferred) = p.replicas.first().copied() else {
                continue;
            };
            preferred_of
                .entry(preferred)
                .or_default()
                .push((&topic.name, index as i32));
            if p.leader != preferred {
                *not_leading.entry(preferred).or_default() += 1;
            }
        }
    }
    let mut commands = Vec::new();
    for (broker, partitions) in preferred_of {
        let behind = not_leading.get(&broker).copied().unwrap_or(0);
        if behind == 0 || (behind * 100) as i64 <= imbalance_percent * partitions.len() as i64 {
            continue;
        }
        commands.extend(
            partitions
                .into_iter()
                .filter_map(|(topic, p)| elect(image, topic, p, ElectionType::Preferred).ok()),
        );
    }
    commands
}

/// Reassignments (KIP-455) whose added replicas are all in the ISR: the
/// change that completes each — the target replicas, the ISR within them,
/// and a leader from them when the old one is leaving.
pub fn complete_reassignments(image: &MetadataImage) -> Vec<Command> {
    let live = |b: i32| image.brokers.get(&b).is_some_and(|b| b.is_live());
    let mut commands = Vec::new();
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            if p.adding_replicas.is_empty() && p.removing_replicas.is_empty() {
                continue;
            }
            if !p.adding_replicas.iter().all(|r| p.isr.contains(r)) {
                continue;
            }
            let target = p.target_replicas();
            let isr: Vec<i32> = p
                .isr
                .iter()
                .copied()
                .filter(|r| target.contains(r))
                .collect();
            let leader = if target.contains(&p.leader) {
                None
            } else {
                match target.iter().copied().find(|r| isr.contains(r) && live(*r)) {
                    Some(leader) => Some(leader),
                    None => continue, // wait for a target replica in sync
                }
            };
            commands.push(Command::ChangePartition {
                topic: topic.name.clone(),
                partition: index as i32,
                leader,
                isr: Some(isr),
                replicas: Some(target),
            });
        }
    }
    commands
}

/// Checks a reassignment's target replicas (KIP-455): registered brokers,
/// none twice, at least one.
pub fn check_reassignment(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> Result<(), (ResponseError, String)> {
    let p = image
        .topics
        .get(topic)
        .and_then(|t| t.partitions.get(usize::try_from(partition).ok()?))
        .ok_or((
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {topic} partition {partition} does not exist."),
        ))?;
    let Some(target) = target else {
        if p.adding_replicas.is_empty() && p.removing_replicas.is_empty() {
            return Err((
                ResponseError::NoReassignmentInProgress,
                format!("No ongoing reassignment for {topic}-{partition}."),
            ));
        }
        return Ok(());
    };
    let invalid = |why: String| Err((ResponseError::InvalidReplicaAssignment, why));
    if target.is_empty() {
        return invalid("The replica list is empty.".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in target {
        if !seen.insert(*r) {
            return invalid(format!("Broker {r} appears twice in the replica list."));
        }
        if !image.brokers.contains_key(r) {
            return invalid(format!("Broker {r} is not registered."));
        }
    }
    Ok(())
}

/// The new (leader, ISR) once broker `gone` is no longer live, if either
/// changes.
fn remove_replica(
    p: &PartitionImage,
    gone: i32,
    live: &dyn Fn(i32) -> bool,
    unclean: bool,
) -> Option<(i32, Vec<i32>)> {
    if !p.isr.contains(&gone) && p.leader != gone {
        return None;
    }
    let mut isr: Vec<i32> = p.isr.iter().copied().filter(|r| *r != gone).collect();
    if isr.is_empty() {
        // The last in-sync replica: it keeps the data no other has.
        isr = vec![gone];
    }
    let leader = if p.leader == gone {
        match choose_leader(p, &isr, live) {
            Some(leader) => leader,
            None if unclean => return unclean_choice(p, live).or(Some((-1, isr))),
            None => -1,
        }
    } else {
        p.leader
    };
    Some((leader, isr))
}

fn elect_if_leaderless(
    p: &PartitionImage,
    live: &dyn Fn(i32) -> bool,
    unclean: bool,
) -> Option<(i32, Vec<i32>)> {
    if p.leader >= 0 {
        return None;
    }
    match choose_leader(p, &p.isr, live) {
        Some(leader) => Some((leader, p.isr.clone())),
        None if unclean => unclean_choice(p, live),
        None => None,
    }
}

/// The first replica, in replica order, that is live and in `isr`.
fn choose_leader(p: &PartitionImage, isr: &[i32], live: &dyn Fn(i32) -> bool) -> Option<i32> {
    p.replicas
        .iter()
        .copied()
        .find(|r| isr.contains(r) && live(*r))
}

/// Unclean: the first live replica, alone in the ISR (what it lacks is lost).
fn unclean_choice(p: &PartitionImage, live: &dyn Fn(i32) -> bool) -> Option<(i32, Vec<i32>)> {
    let leader = p.replicas.iter().copied().find(|r| live(*r))?;
    tracing::warn!(
        leader,
        "unclean leader election: records only the old ISR held are lost"
    );
    Some((leader, vec![leader]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::command::Command;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn image(brokers: &[i32], partitions: Vec<Vec<i32>>) -> MetadataImage {
        let mut image = MetadataImage::default();
        for id in brokers {
            image.apply(&Command::RegisterBroker {
                id: *id,
                host: "h".into(),
                port: 9000 + *id as u16,
                rack: None,
                listeners: Vec::new(),
            });
        }
        image.apply(&Command::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(1),
            partitions,
            configs: BTreeMap::new(),
        });
        image
    }

    fn apply(image: &mut MetadataImage, commands: &[Command]) {
        commands.iter().for_each(|c| image.apply(c));
    }

    fn shrink_isr(image: &mut MetadataImage, isr: Vec<i32>) {
        image.apply(&Command::ChangePartition {
            topic: "t".into(),
            partition: 0,
            leader: None,
            isr: Some(isr),
            replicas: None,
        });
    }

    #[test]
    fn a_fenced_leader_hands_over_to_the_next_in_sync_replica() {
        let mut img = image(&[1, 2, 3], vec![vec![1, 2, 3], vec![2, 3, 1]]);
        let commands = set_broker_state(&img, 1, BrokerState::Fenced, &|_| false);
        apply(&mut img, &commands);
        let p = &img.topics["t"].partitions;
        assert_eq!(
            (p[0].leader, p[0].leader_epoch, &p[0].isr),
            (2, 1, &vec![2, 3])
        );
        assert_eq!(
            (p[1].leader, p[1].leader_epoch, &p[1].isr),
            (2, 0, &vec![2, 3])
        );
        assert_eq!(p[1].partition_epoch, 1);
    }

    #[test]
    fn the_last_in_sync_replica_keeps_the_partition_until_it_returns() {
        let mut img = image(&[1, 2], vec![vec![1, 2]]);
        shrink_isr(&mut img, vec![1]);
        let commands = set_broker_state(&img, 1, BrokerState::Fenced, &|_| false);
        apply(&mut img, &commands);
        let p = &img.topics["t"].partitions[0];
        assert_eq!(
            (p.leader, &p.isr),
            (-1, &vec![1]),
            "2 is not in sync: no leader"
        );
        // Broker 2 coming back changes nothing; broker 1 does.
        assert_eq!(
            set_broker_state(&img, 2, BrokerState::Running, &|_| false).len(),
            1
        );
        let commands = set_broker_state(&img, 1, BrokerState::Running, &|_| false);
        apply(&mut img, &commands);
        let p = &img.topics["t"].partitions[0];
        assert_eq!((p.leader, p.leader_epoch), (1, 2));
    }

    #[test]
    fn preferred_leaders_come_back_when_in_sync() {
        let mut img = image(&[1, 2, 3], vec![vec![1, 2, 3], vec![2, 3, 1]]);
        let commands = set_broker_state(&img, 1, BrokerState::Fenced, &|_| false);
        apply(&mut img, &commands);
        assert_eq!(
            elect(&img, "t", 1, ElectionType::Preferred),
            Err(ResponseError::ElectionNotNeeded)
        );
        assert_eq!(
            elect(&img, "t", 0, ElectionType::Preferred),
            Err(ResponseError::PreferredLeaderNotAvailable),
            "1 is fenced"
        );
        let commands = set_broker_state(&img, 1, BrokerState::Running, &|_| false);
        apply(&mut img, &commands);
        assert_eq!(
            img.topics["t"].partitions[0].leader, 2,
            "a broker coming back leads nothing yet"
        );
        assert!(rebalance(&img, 10).is_empty(), "1 is not back in the ISR");
        shrink_isr(&mut img, vec![2, 3, 1]);
        let commands = rebalance(&img, 10);
        assert_eq!(commands.len(), 1);
        apply(&mut img, &commands);
        assert_eq!(img.topics["t"].partitions[0].leader, 1);
        assert_eq!(
            elect(&img, "t", 0, ElectionType::Unclean),
            Err(ResponseError::ElectionNotNeeded)
        );
    }

    #[test]
    fn a_reassignment_completes_once_the_new_replicas_are_in_sync() {
        let mut img = image(&[1, 2, 3, 4], vec![vec![1, 2, 3]]);
        assert!(check_reassignment(&img, "t", 0, Some(&[4, 4])).is_err());
        assert!(check_reassignment(&img, "t", 0, Some(&[9])).is_err());
        assert!(
            check_reassignment(&img, "t", 0, None).is_err(),
            "nothing to cancel"
        );
        img.apply(&Command::Reassign {
            topic: "t".into(),
            partition: 0,
            target: Some(vec![4, 2, 3]),
        });
        let p = &img.topics["t"].partitions[0];
        assert_eq!(
            (&p.replicas, &p.adding_replicas, &p.removing_replicas),
            (&vec![4, 2, 3, 1], &vec![4], &vec![1])
        );
        assert!(
            complete_reassignments(&img).is_empty(),
            "4 is not in sync yet"
        );
        shrink_isr(&mut img, vec![1, 2, 3, 4]);
        let commands = complete_reassignments(&img);
        apply(&mut img, &commands);
        let p = &img.topics["t"].partitions[0];
        assert_eq!(
            (&p.replicas, &p.isr, p.leader),
            (&vec![4, 2, 3], &vec![2, 3, 4], 4)
        );
        assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
        // Cancelled: back to the replicas before it.
        img.apply(&Command::Reassign {
            topic: "t".into(),
            partition: 0,
            target: Some(vec![1, 2, 3]),
        });
        img.apply(&Command::Reassign {
            topic: "t".into(),
            partition: 0,
            target: None,
        });
        // (as Kafka reverts it: the union less the added, in its order)
        assert_eq!(img.topics["t"].partitions[0].replicas, vec![2, 3, 4]);
    }

    #[test]
    fn unclean_election_takes_any_live_replica() {
        let mut img = image(&[1, 2], vec![vec![1, 2]]);
        shrink_isr(&mut img, vec![1]);
        let commands = set_broker_state(&img, 1, BrokerState::Fenced, &|_| true);
        apply(&mut img, &commands);
        let p = &img.topics["t"].partitions[0];
        assert_eq!((p.leader, &p.isr), (2, &vec![2]));
    }
}
