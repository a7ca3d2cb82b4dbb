//! Server-side assignors for KIP-848 consumer groups, named as Kafka names
//! them: `uniform` (balanced and sticky: members keep what they own up to
//! their fair share) and `range` (each topic's partitions in contiguous
//! ranges over its subscribers, sorted by member id).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// A partition, by topic id as KIP-848 names them.
pub type TopicIdPartition = (Uuid, i32);
pub type Assignment = BTreeMap<String, BTreeSet<TopicIdPartition>>;

pub const ASSIGNORS: &[&str] = &["uniform", "range"];

/// What an assignor sees.
pub struct AssignmentSpec<'a> {
    /// Member id → subscribed topic names.
    pub members: &'a BTreeMap<String, BTreeSet<String>>,
    /// Topic name → (id, partition count), for every subscribed topic that exists.
    pub topics: &'a BTreeMap<String, (Uuid, i32)>,
    /// The previous target assignment, for stickiness.
    pub current: &'a Assignment,
}

pub fn assign(name: &str, spec: &AssignmentSpec) -> Option<Assignment> {
    match name {
        "uniform" => Some(uniform(spec)),
        "range" => Some(range(spec)),
        _ => None,
    }
}

fn subscribers<'a>(spec: &'a AssignmentSpec, topic: &str) -> Vec<&'a String> {
    spec.members
        .iter()
        .filter(|(_, topics)| topics.contains(topic))
        .map(|(id, _)| id)
        .collect()
}

fn empty_assignment(spec: &AssignmentSpec) -> Assignment {
    spec.members
        .keys()
        .map(|id| (id.clone(), BTreeSet::new()))
        .collect()
}

/// Balanced and sticky: first every member keeps the partitions it had, up
/// to its fair share; then each remaining partition goes to the eligible
/// member with the fewest (its previous owner on a tie).
fn uniform(spec: &AssignmentSpec) -> Assignment {
    let mut out = empty_assignment(spec);
    let partitions: Vec<(String, TopicIdPartition)> = spec
        .topics
        .iter()
        .flat_map(|(name, (id, count))| (0..*count).map(move |p| (name.clone(), (*id, p))))
        .collect();
    let eligible: BTreeMap<&String, Vec<&String>> = spec
        .topics
        .keys()
        .map(|t| (t, subscribers(spec, t)))
        .collect();
    let members = spec.members.len().max(1);
    let floor = partitions.len() / members;
    let previous_owner: BTreeMap<TopicIdPartition, &String> = spec
        .current
        .iter()
        .flat_map(|(m, tps)| tps.iter().map(move |tp| (*tp, m)))
        .collect();
    let mut unassigned = Vec::new();
    for (topic, tp) in &partitions {
        match previous_owner.get(tp) {
            Some(owner)
                if eligible[topic].contains(owner)
                    && out.get(*owner).is_some_and(|a| a.len() < floor) =>
            {
                out.get_mut(*owner).expect("a member").insert(*tp);
            }
            _ => unassigned.push((topic, *tp)),
        }
    }
    for (topic, tp) in unassigned {
        let owner = previous_owner.get(&tp).copied();
        let best = eligible[topic]
            .iter()
            .min_by_key(|m| (out[m.as_str()].len(), Some(**m) != owner, (**m).clone()));
        if let Some(best) = best {
            out.get_mut(best.as_str()).expect("a member").insert(tp);
        }
    }
    out
}

/// Per topic, contiguous ranges over the subscribers sorted by member id;
/// the first `count % subscribers` members get one more.
fn range(spec: &AssignmentSpec) -> Assignment {
    let mut out = empty_assignment(spec);
    for (name, (id, count)) in spec.topics {
        let subs = subscribers(spec, name);
        if subs.is_empty() {
            continue;
        }
        let (each, extra) = (*count as usize / subs.len(), *count as usize % subs.len());
        let mut next = 0i32;
        for (i, member) in subs.iter().enumerate() {
            let take = each + usize::from(i < extra);
            let set = out.get_mut(member.as_str()).expect("a member");
            for p in next..next + take as i32 {
                set.insert((*id, p));
            }
            next += take as i32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_members(n: usize, topics: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
        (0..n)
            .map(|i| {
                (
                    format!("m{i}"),
                    topics.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    fn counts(a: &Assignment) -> Vec<usize> {
        a.values().map(BTreeSet::len).collect()
    }

    #[test]
    fn uniform_is_balanced_and_sticky() {
        let id = Uuid::new_v4();
        let topics = BTreeMap::from([("t".to_string(), (id, 6))]);
        let members = spec_members(2, &["t"]);
        let empty = Assignment::new();
        let first = uniform(&AssignmentSpec {
            members: &members,
            topics: &topics,
            current: &empty,
        });
        assert_eq!(counts(&first), vec![3, 3]);
        let members = spec_members(3, &["t"]);
        let second = uniform(&AssignmentSpec {
            members: &members,
            topics: &topics,
            current: &first,
        });
        assert_eq!(counts(&second), vec![2, 2, 2]);
        // The old members kept two of their own partitions each.
        for m in ["m0", "m1"] {
            assert!(
                second[m].is_subset(&first[m]),
                "{m} lost partitions it could keep"
            );
        }
        let all: BTreeSet<_> = second.values().flatten().collect();
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn range_gives_contiguous_ranges_per_topic() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let topics = BTreeMap::from([("a".to_string(), (a, 5)), ("b".to_string(), (b, 2))]);
        let members = spec_members(2, &["a", "b"]);
        let out = range(&AssignmentSpec {
            members: &members,
            topics: &topics,
            current: &Assignment::new(),
        });
        assert_eq!(out["m0"], BTreeSet::from([(a, 0), (a, 1), (a, 2), (b, 0)]));
        assert_eq!(out["m1"], BTreeSet::from([(a, 3), (a, 4), (b, 1)]));
    }

    #[test]
    fn members_get_only_topics_they_subscribe_to() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let topics = BTreeMap::from([("a".to_string(), (a, 2)), ("b".to_string(), (b, 2))]);
        let mut members = spec_members(1, &["a"]);
        members.insert("m9".into(), BTreeSet::from(["b".to_string()]));
        for name in ASSIGNORS {
            let out = assign(
                name,
                &AssignmentSpec {
                    members: &members,
                    topics: &topics,
                    current: &Assignment::new(),
                },
            )
            .unwrap();
            assert!(out["m0"].iter().all(|(t, _)| *t == a), "{name}");
            assert!(out["m9"].iter().all(|(t, _)| *t == b), "{name}");
        }
    }
}
