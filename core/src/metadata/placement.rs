//! Where a new partition's replicas go (Kafka's replica assignment).
//! Partition i's first replica (its preferred leader) is broker
//! (start + i) mod n of a ring, so leaders spread evenly from a random start;
//! its other replicas follow round the ring. When brokers have racks the ring
//! alternates racks (Kafka's rack-aware order), and a replica skips brokers
//! whose rack already holds one of the partition's replicas until every rack
//! holds one, so losing a rack loses as few replicas as possible.

use std::collections::{BTreeMap, BTreeSet};

/// A broker as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i32,
    pub rack: Option<String>,
}

/// Replica lists for `count` partitions of `rf` replicas each, numbered
/// from `first_partition` (CreatePartitions continues a topic), starting
/// from ring position `start`. `rf` must not exceed the broker count.
pub fn place(
    brokers: &[Candidate],
    count: usize,
    rf: usize,
    start: usize,
    first_partition: usize,
) -> Vec<Vec<i32>> {
    let ring = ring(brokers);
    let n = ring.len();
    let racks: BTreeSet<&str> = ring.iter().filter_map(|b| b.rack.as_deref()).collect();
    (first_partition..first_partition + count)
        .map(|p| {
            let first = (start + p) % n;
            let mut chosen: Vec<usize> = vec![first];
            let mut offset = 1;
            while chosen.len() < rf && offset < n * 2 {
                let next = (first + offset) % n;
                offset += 1;
                if chosen.contains(&next) {
                    continue;
                }
                let used: BTreeSet<&str> = chosen
                    .iter()
                    .filter_map(|i| ring[*i].rack.as_deref())
                    .collect();
                let rack_taken = ring[next].rack.as_deref().is_some_and(|r| used.contains(r));
                // A second replica in a rack only once every rack has one
                // (or on the second pass round the ring).
                if rack_taken && used.len() < racks.len() && offset <= n {
                    continue;
                }
                chosen.push(next);
            }
            chosen.into_iter().map(|i| ring[i].id).collect()
        })
        .collect()
}

/// The brokers in ring order: by id, or alternating racks (each rack's
/// brokers by id) when any broker has a rack.
fn ring(brokers: &[Candidate]) -> Vec<Candidate> {
    let mut sorted = brokers.to_vec();
    sorted.sort_by_key(|b| b.id);
    if sorted.iter().all(|b| b.rack.is_none()) {
        return sorted;
    }
    let mut by_rack: BTreeMap<Option<String>, Vec<Candidate>> = BTreeMap::new();
    for b in sorted {
        by_rack.entry(b.rack.clone()).or_default().push(b);
    }
    let mut ring = Vec::new();
    let deepest = by_rack.values().map(Vec::len).max().unwrap_or(0);
    for depth in 0..deepest {
        for rack in by_rack.values() {
            if let Some(b) = rack.get(depth) {
                ring.push(b.clone());
            }
        }
    }
    ring
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brokers(racks: &[Option<&str>]) -> Vec<Candidate> {
        racks
            .iter()
            .enumerate()
            .map(|(i, r)| Candidate {
                id: i as i32 + 1,
                rack: r.map(str::to_string),
            })
            .collect()
    }

    #[test]
    fn leaders_walk_the_ring_from_the_start() {
        let b = brokers(&[None, None, None]);
        assert_eq!(
            place(&b, 4, 2, 1, 0),
            vec![vec![2, 3], vec![3, 1], vec![1, 2], vec![2, 3]]
        );
    }

    #[test]
    fn replicas_spread_over_racks() {
        // Racks a, a, b, b: every partition gets one replica in each rack.
        let b = brokers(&[Some("a"), Some("a"), Some("b"), Some("b")]);
        for replicas in place(&b, 8, 2, 0, 0) {
            let racks: BTreeSet<_> = replicas
                .iter()
                .map(|id| b[*id as usize - 1].rack.clone())
                .collect();
            assert_eq!(racks.len(), 2, "{replicas:?}");
        }
    }

    proptest! {
        #[test]
        fn placements_are_valid_and_balanced(
            racks in proptest::collection::vec(proptest::option::of(0u8..3), 1..7),
            rf_pick in 0usize..7,
            start in 0usize..10,
            rounds in 1usize..4,
        ) {
            let names: Vec<Option<String>> = racks.iter().map(|r| r.map(|r| format!("r{r}"))).collect();
            let b: Vec<Candidate> = names.iter().enumerate()
                .map(|(i, r)| Candidate { id: i as i32 + 1, rack: r.clone() }).collect();
            let n = b.len();
            let rf = rf_pick % n + 1;
            let placed = place(&b, n * rounds, rf, start, 0);
            let mut leaders = BTreeMap::new();
            for replicas in &placed {
                prop_assert_eq!(replicas.len(), rf);
                let distinct: BTreeSet<_> = replicas.iter().collect();
                prop_assert_eq!(distinct.len(), rf);
                *leaders.entry(replicas[0]).or_insert(0) += 1;
                let all_racks: BTreeSet<_> = names.iter().flatten().collect();
                if names.iter().all(|r| r.is_some()) {
                    let covered: BTreeSet<_> = replicas.iter()
                        .filter_map(|id| names[*id as usize - 1].as_ref()).collect();
                    prop_assert_eq!(covered.len(), rf.min(all_racks.len()));
                }
            }
            // Every broker leads the same number of partitions.
            prop_assert!(leaders.values().all(|c| *c == rounds), "{:?}", leaders);
        }
    }
}
