//! Deterministic simulation of the controller quorum: members run
//! in-process on a simulated clock (one tick a step) and network that
//! loses, delays, reorders and duplicates messages, partitions members and
//! crashes and restarts them (from what their log synced). After every
//! step it checks that
//!
//! - no two members ever commit different entries at one index, and a
//!   member that restarts commits the same entries again, in order, from
//!   its snapshot (committed metadata never diverges nor goes back);
//! - members take snapshots and compact their logs now and then, so
//!   lagging or restarted members are sent snapshots; every image at an
//!   index someone snapshotted — built from entries, restored from a
//!   snapshot, or received from the leader — is the same;
//! - no term has two leaders;
//! - the entries are metadata commands, and every member that has applied
//!   the same entries holds the same metadata image;
//!
//! and once the faults stop and the network heals, that a proposal
//! commits on every member within a bound (the quorum makes progress).
//!
//! Everything random comes from the seed, and raft-rs's own election
//! randomness is pinned per member, so a failing seed replays exactly:
//! `WEIR_SIM_SEED=<seed> cargo test --release --lib quorum::sim`.
//! `WEIR_SIM_SEEDS=<n>` sets how many seeds a run tries.

use std::collections::{BTreeMap, BTreeSet};

use raft::prelude::Message;
use uuid::Uuid;

use super::{Disk, QuorumNode, RaftLog, Timing};
use crate::metadata::{Command, ConfigScope, MetadataImage};

/// SplitMix64: small, fast, and the same everywhere (also the replication
/// simulation's).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How hostile the network and the machines are.
#[derive(Clone, Copy)]
struct Faults {
    loss: f64,
    duplicate: f64,
    max_delay: u64,
    crash: f64,
    restart: f64,
    partition: f64,
    heal: f64,
}

const HOSTILE: Faults = Faults {
    loss: 0.05,
    duplicate: 0.02,
    max_delay: 4,
    crash: 0.002,
    restart: 0.02,
    partition: 0.004,
    heal: 0.01,
};

const CALM: Faults = Faults {
    loss: 0.0,
    duplicate: 0.0,
    max_delay: 0,
    crash: 0.0,
    restart: 1.0,
    partition: 0.0,
    heal: 1.0,
};

struct Sim {
    seed: u64,
    rng: Rng,
    nodes: Vec<Option<QuorumNode>>,
    disks: Vec<Disk>,
    timings: Vec<Timing>,
    /// (deliver at tick, message), in the order sent.
    in_flight: Vec<(u64, Message)>,
    now: u64,
    /// Directed links that drop everything.
    cut: BTreeSet<(u64, u64)>,
    /// Per member: the last index it applied since it (re)started, and the
    /// metadata image those entries built.
    applied: Vec<u64>,
    images: Vec<MetadataImage>,
    /// Every entry any member committed: index → (term, data).
    committed: BTreeMap<u64, (u64, Vec<u8>)>,
    /// The image (as JSON) at each index some member snapshotted.
    snapshotted: BTreeMap<u64, String>,
    /// Snapshots members received from a leader.
    installs: u64,
    leaders: BTreeMap<u64, u64>,
    proposals: u64,
    /// A digest of everything that happened, to check replays match.
    trace: u64,
}

impl Sim {
    fn new(seed: u64, members: usize) -> Sim {
        let mut rng = Rng(seed);
        let voters: Vec<u64> = (1..=members as u64).collect();
        // Distinct, fixed election timeouts per member (raft-rs draws from
        // [min, max), so a range of one keeps runs replayable).
        let mut offsets: Vec<usize> = (0..10).collect();
        for i in (1..offsets.len()).rev() {
            offsets.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let timings: Vec<Timing> = (0..members)
            .map(|i| Timing {
                election_ticks: 10 + offsets[i],
                election_ticks_max: 11 + offsets[i],
                heartbeat_ticks: 2,
            })
            .collect();
        let disks: Vec<Disk> = (0..members).map(|_| Disk::memory()).collect();
        let nodes = (0..members)
            .map(|i| Some(start(i as u64 + 1, &disks[i], &voters, timings[i])))
            .collect();
        Sim {
            seed,
            rng,
            nodes,
            disks,
            timings,
            in_flight: Vec::new(),
            now: 0,
            cut: BTreeSet::new(),
            applied: vec![0; members],
            images: vec![MetadataImage::default(); members],
            committed: BTreeMap::new(),
            snapshotted: BTreeMap::new(),
            installs: 0,
            leaders: BTreeMap::new(),
            proposals: 0,
            trace: seed,
        }
    }

    fn voters(&self) -> Vec<u64> {
        (1..=self.nodes.len() as u64).collect()
    }

    fn fail(&self, why: String) -> String {
        format!(
            "seed {} ({} members), tick {}: {why}; replay with WEIR_SIM_SEED={}",
            self.seed,
            self.nodes.len(),
            self.now,
            self.seed
        )
    }

    fn record(&mut self, event: u64) {
        self.trace = (self.trace ^ event).wrapping_mul(0x0100_0000_01B3);
    }

    /// Crashes, restarts, partitions and heals, as `faults` says.
    fn disturb(&mut self, faults: Faults) {
        let voters = self.voters();
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_some() && self.rng.chance(faults.crash) {
                self.nodes[i] = None;
                self.record(0xC0 + i as u64);
                // Its connections close: the others hear it is gone
                // (unless a partition already cut them off).
                for j in 0..self.nodes.len() {
                    if !self.cut.contains(&(i as u64 + 1, j as u64 + 1)) {
                        if let Some(other) = self.nodes[j].as_mut() {
                            other.peer_gone(i as u64 + 1);
                        }
                    }
                }
            } else if self.nodes[i].is_none() && self.rng.chance(faults.restart) {
                self.nodes[i] = Some(start(
                    i as u64 + 1,
                    &self.disks[i],
                    &voters,
                    self.timings[i],
                ));
                // It starts from its snapshot (if it took one), then
                // commits everything after it again.
                let snapshot = self.nodes[i].as_ref().expect("just started").snapshot();
                self.applied[i] = snapshot.get_metadata().index;
                self.images[i] = image_of(snapshot.get_data());
                self.record(0xE0 + i as u64);
            }
        }
        if !self.cut.is_empty() && self.rng.chance(faults.heal) {
            self.cut.clear();
        } else if self.cut.is_empty() && self.rng.chance(faults.partition) {
            // Split the members in two at random; both directions cut.
            let side: Vec<bool> = voters.iter().map(|_| self.rng.chance(0.5)).collect();
            for a in &voters {
                for b in &voters {
                    if side[*a as usize - 1] != side[*b as usize - 1] {
                        self.cut.insert((*a, *b));
                    }
                }
            }
            self.record(0xAA);
        }
    }

    fn step(&mut self, faults: Faults) -> Result<(), String> {
        self.now += 1;
        self.disturb(faults);
        for node in self.nodes.iter_mut().flatten() {
            node.tick();
        }
        // Deliver what is due, in the order sent.
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.in_flight = later;
        for (_, message) in due {
            if self.cut.contains(&(message.from, message.to)) {
                continue;
            }
            if let Some(Some(node)) = self.nodes.get_mut(message.to as usize - 1) {
                self.trace = (self.trace ^ message.msg_type as u64).wrapping_mul(31);
                node.step(message);
            }
        }
        // Now and then, whoever leads is asked to commit something.
        if self.rng.chance(0.3) {
            let i = self.rng.below(self.nodes.len() as u64) as usize;
            let command = self.random_command();
            if let Some(node) = &mut self.nodes[i] {
                let value = serde_json::to_vec(&command).expect("a command serializes");
                if node.propose(value).is_ok() {
                    self.proposals += 1;
                }
            }
        }
        for i in 0..self.nodes.len() {
            let Some(node) = &mut self.nodes[i] else {
                continue;
            };
            let output = node
                .advance()
                .map_err(|e| format!("member {}: {e}", i + 1))?;
            for message in output.messages {
                self.send(message, faults);
            }
            if let Some(snapshot) = output.snapshot {
                let index = snapshot.get_metadata().index;
                if index <= self.applied[i] {
                    return Err(self.fail(format!(
                        "member {} was sent a snapshot at {index}, not past its applied {}",
                        i + 1,
                        self.applied[i]
                    )));
                }
                self.images[i] = image_of(snapshot.get_data());
                self.applied[i] = index;
                self.installs += 1;
                self.record(0x5A ^ index);
                self.check_snapshot_image(i)?;
            }
            for entry in output.committed {
                self.check_commit(i, entry.index, entry.term, entry.data.to_vec())?;
                self.check_snapshot_image(i)?;
            }
            self.maybe_compact(i)?;
        }
        self.check_leaders()
    }

    /// Now and then a member with enough applied since its last snapshot
    /// takes one and compacts its log.
    fn maybe_compact(&mut self, i: usize) -> Result<(), String> {
        let Some(node) = &self.nodes[i] else {
            return Ok(());
        };
        if self.applied[i] < node.snapshot_index() + 15 || !self.rng.chance(0.2) {
            return Ok(());
        }
        let data = image_bytes(&self.images[i]);
        let index = self.applied[i];
        self.nodes[i]
            .as_mut()
            .expect("checked")
            .compact(index, data)
            .map_err(|e| format!("member {}: {e}", i + 1))?;
        self.record(0x5C ^ index);
        self.check_snapshot_image(i)
    }

    /// A member's image at an index someone snapshotted is the image
    /// recorded there (the first to reach it records it).
    fn check_snapshot_image(&mut self, i: usize) -> Result<(), String> {
        let index = self.applied[i];
        let snapshotted_here = self.nodes[i]
            .as_ref()
            .is_some_and(|n| n.snapshot_index() == index);
        if !snapshotted_here && !self.snapshotted.contains_key(&index) {
            return Ok(()); // nothing to compare with (and JSON is not free)
        }
        let here = serde_json::to_string(&self.images[i]).expect("an image serializes");
        match self.snapshotted.get(&index) {
            Some(there) if *there != here => Err(self.fail(format!(
                "member {} holds a different image at snapshotted index {index}",
                i + 1
            ))),
            Some(_) => Ok(()),
            None => {
                self.snapshotted.insert(index, here);
                Ok(())
            }
        }
    }

    fn send(&mut self, message: Message, faults: Faults) {
        if self.rng.chance(faults.loss) {
            return;
        }
        let copies = if self.rng.chance(faults.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = 1 + self.rng.below(faults.max_delay + 1);
            self.in_flight.push((self.now + delay, message.clone()));
        }
    }

    fn check_commit(
        &mut self,
        i: usize,
        index: u64,
        term: u64,
        data: Vec<u8>,
    ) -> Result<(), String> {
        if index != self.applied[i] + 1 {
            return Err(self.fail(format!(
                "member {} committed index {index} after {}",
                i + 1,
                self.applied[i]
            )));
        }
        self.applied[i] = index;
        self.record(index ^ (term << 32));
        // A new leader's first entry is empty; every other is a command.
        if !data.is_empty() {
            let command: Command = serde_json::from_slice(&data)
                .map_err(|e| self.fail(format!("entry {index} is not a command: {e}")))?;
            self.images[i].apply(&command);
        }
        match self.committed.get(&index) {
            Some((t, d)) if (*t, d) != (term, &data) => Err(self.fail(format!(
                "member {} committed {:?} (term {term}) at index {index}, where another committed {:?} (term {t})",
                i + 1,
                String::from_utf8_lossy(&data),
                String::from_utf8_lossy(d)
            ))),
            Some(_) => Ok(()),
            None => {
                self.committed.insert(index, (term, data));
                Ok(())
            }
        }
    }

    fn check_leaders(&mut self) -> Result<(), String> {
        for node in self.nodes.iter().flatten() {
            if node.is_leader() {
                let (term, id) = (node.term(), node.id());
                match self.leaders.insert(term, id) {
                    Some(other) if other != id => {
                        return Err(
                            self.fail(format!("members {other} and {id} both lead term {term}"))
                        )
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// A command of the kinds the controller writes.
    fn random_command(&mut self) -> Command {
        let n = self.rng.below(20);
        let name = format!("topic-{n}");
        match self.rng.below(4) {
            0 | 1 => Command::CreateTopic {
                name,
                topic_id: Uuid::from_u64_pair(self.rng.next(), self.rng.next()),
                partitions: vec![vec![1, 2, 3]; 1 + self.rng.below(4) as usize],
                configs: Default::default(),
            },
            2 => Command::SetConfig {
                scope: ConfigScope::Topic(name),
                key: "retention.ms".into(),
                value: Some(self.rng.below(1_000_000).to_string()),
            },
            _ => Command::CreatePartitions {
                name,
                partitions: vec![vec![2, 3, 1]],
            },
        }
    }

    /// Runs calm steps until every member has applied the same entries,
    /// then checks their images are equal.
    fn check_images(&mut self, bound: u64) -> Result<(), String> {
        for _ in 0..bound {
            let last = self.applied.iter().copied().max().unwrap_or(0);
            if self.applied.iter().all(|a| *a == last) {
                let first = &self.images[0];
                if let Some(i) = self.images.iter().position(|img| img != first) {
                    return Err(self.fail(format!(
                        "members 1 and {} applied the same {last} entries but hold different images",
                        i + 1
                    )));
                }
                if first.applied == 0 && self.proposals > 0 && last > 1 {
                    return Err(self.fail("the commands were never applied".into()));
                }
                return Ok(());
            }
            self.step(CALM)?;
        }
        Err(self.fail(format!(
            "members did not converge: applied {:?}",
            self.applied
        )))
    }

    /// With faults over and every member up: a new command commits
    /// everywhere within `bound` ticks.
    fn check_progress(&mut self, bound: u64) -> Result<(), String> {
        let marker = serde_json::to_vec(&Command::InitCluster {
            cluster_id: format!("after the storm {}", self.seed),
        })
        .expect("a command serializes");
        let deadline = self.now + bound;
        let mut proposed_at = None;
        while self.now < deadline {
            self.step(CALM)?;
            let everywhere = (0..self.nodes.len()).all(|i| {
                self.committed
                    .iter()
                    .any(|(index, (_, d))| *d == marker && *index <= self.applied[i])
            });
            if everywhere {
                return Ok(());
            }
            // Propose (again, if leadership moved) until it commits.
            if proposed_at.is_none_or(|at| self.now - at > 40) {
                for node in self.nodes.iter_mut().flatten() {
                    if node.propose(marker.clone()).is_ok() {
                        proposed_at = Some(self.now);
                        break;
                    }
                }
            }
        }
        let state: Vec<String> = self
            .nodes
            .iter()
            .flatten()
            .map(|n| {
                format!(
                    "{}: term {} leader {:?} commit {} last {}",
                    n.id(),
                    n.term(),
                    n.leader(),
                    n.commit_index(),
                    n.last_index()
                )
            })
            .collect();
        Err(self.fail(format!(
            "no progress within {bound} ticks of healing ({})",
            state.join("; ")
        )))
    }
}

/// A member's image in a snapshot's data (none: the empty image).
fn image_of(data: &[u8]) -> MetadataImage {
    if data.is_empty() {
        return MetadataImage::default();
    }
    crate::metadata::snapshot::Snapshot::decode(data)
        .expect("a snapshot the simulation wrote")
        .image
}

fn image_bytes(image: &MetadataImage) -> Vec<u8> {
    crate::metadata::snapshot::Snapshot {
        index: 0,
        term: 0,
        image: image.clone(),
    }
    .encode()
}

fn start(id: u64, disk: &Disk, voters: &[u64], timing: Timing) -> QuorumNode {
    let log = RaftLog::load(disk.clone(), voters).expect("a memory log loads");
    QuorumNode::new(id, log, timing).expect("a valid member")
}

/// One seed: a storm of faults, then calm; returns the run's trace.
fn run(seed: u64, members: usize, storm: u64) -> Result<u64, String> {
    let mut sim = Sim::new(seed, members);
    for _ in 0..storm {
        sim.step(HOSTILE)?;
    }
    sim.check_progress(400)?;
    sim.check_images(200)?;
    Ok(sim.trace)
}

fn seeds(default: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("WEIR_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let count = std::env::var("WEIR_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (1..=count).collect()
}

#[test]
fn three_members_never_diverge_and_recover() {
    for seed in seeds(2000) {
        if let Err(e) = run(seed, 3, 1500) {
            panic!("{e}");
        }
    }
}

#[test]
fn five_members_never_diverge_and_recover() {
    for seed in seeds(600) {
        if let Err(e) = run(seed * 7919, 5, 1500) {
            panic!("{e}");
        }
    }
}

#[test]
fn lagging_members_are_sent_snapshots() {
    // Not vacuous: over some seeds, snapshots travel to members that fell
    // behind the leader's compacted log.
    let installs: u64 = (1..=40)
        .map(|seed| {
            let mut sim = Sim::new(seed, 3);
            for _ in 0..1500 {
                sim.step(HOSTILE).unwrap();
            }
            sim.installs
        })
        .sum();
    assert!(installs > 0, "no snapshot was ever sent");
}

#[test]
fn a_seed_replays_exactly() {
    let first = run(42, 3, 800).unwrap();
    let again = run(42, 3, 800).unwrap();
    assert_eq!(first, again, "the same seed took a different course");
    assert_ne!(first, run(43, 3, 800).unwrap());
}

#[test]
fn the_simulation_commits_under_faults() {
    // Not vacuous: through the storm itself, commands commit.
    let mut sim = Sim::new(7, 3);
    for _ in 0..1500 {
        sim.step(HOSTILE).unwrap();
    }
    assert!(
        sim.committed.len() > 50,
        "only {} entries committed",
        sim.committed.len()
    );
    assert!(sim.leaders.len() > 1, "leadership never moved");
    assert!(!sim.snapshotted.is_empty(), "no member took a snapshot");
    assert!(
        sim.images.iter().any(|img| img.topics.len() > 5),
        "commands built no topics"
    );
}
