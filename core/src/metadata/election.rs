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
                commands.push(Command::ChangePartition {
                    topic: topic.name.clone(),
                    partition: index as i32,
                    leader: Some(leader),
                    isr: Some(isr),
                    replicas: None,
                });
            }
        }
    }
    commands
}

/// Every leaderless partition that a live replica can now lead (after an
/// unclean election was allowed, say).
pub fn elect_leaderless(
    image: &MetadataImage,
    unclean: &dyn Fn(&TopicImage) -> bool,
) -> Vec<Command> {
    let live = |b: i32| image.brokers.get(&b).is_some_and(|b| b.is_live());
    let mut commands = Vec::new();
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            if let Some((leader, isr)) = elect_if_leaderless(p, &live, unclean(topic)) {
                commands.push(Command::ChangePartition {
                    topic: topic.name.clone(),
                    partition: index as i32,
                    leader: Some(leader),
                    isr: Some(isr),
                    replicas: None,
                });
            }
        }
    }
    commands
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
    fn unclean_election_takes_any_live_replica() {
        let mut img = image(&[1, 2], vec![vec![1, 2]]);
        shrink_isr(&mut img, vec![1]);
        let commands = set_broker_state(&img, 1, BrokerState::Fenced, &|_| true);
        apply(&mut img, &commands);
        let p = &img.topics["t"].partitions[0];
        assert_eq!((p.leader, &p.isr), (2, &vec![2]));
    }
}
