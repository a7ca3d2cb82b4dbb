//! Deterministic simulation of replication: three brokers' replicas of one
//! partition (real `Partition`s over real logs in a temporary directory),
//! a controller (the real election and AlterPartition rules over a
//! `MetadataImage`), and an acks=all producer, on a simulated clock and a
//! network that loses and delays messages, cuts a broker off, and crashes
//! and restarts brokers (their logs stay on disk, as after kill -9).
//! Followers fetch with the real follower code (`fetcher::apply_partition`)
//! and leaders answer with the real `read_for_replica`; leaders propose ISR
//! changes, brokers heartbeat and are fenced when silent, and metadata
//! reaches each broker late or out of step. After every step it checks
//!
//! - every acknowledged record is in the log of every live in-sync replica
//!   (as the controller has the ISR), at the offset it was acknowledged at
//!   — so whichever of them is elected has it;
//! - any two live replicas hold the same records below both their high
//!   watermarks;
//! - a leader's high watermark never moves back within its leader epoch;
//! - the high watermark a consumer is shown never moves back, across
//!   leaders either (a consumer follows the controller's leader, as clients
//!   follow metadata forward);
//!
//! and, once the faults stop, that every replica rejoins the ISR, all logs
//! end up the same, and a new write is acknowledged (progress).
//!
//! Everything random comes from the seed, so a failing seed replays
//! exactly: `WEIR_REPLICATION_SIM_SEED=<seed> cargo test --release --lib
//! replication::sim`. `WEIR_REPLICATION_SIM_SEEDS=<n>` sets how many seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use uuid::Uuid;

use super::fetcher::apply_partition;
use crate::log::{batch, LogConfig, PartitionLog, TopicPartition};
use crate::metadata::quorum::sim::Rng;
use crate::metadata::{
    check_isr_request, election, BrokerState, Command, IsrRequest, MetadataImage,
};
use crate::partition::{AppendOrigin, FetchPosition, Leadership, Partition};
use crate::protocol::error::ResponseError;

const NODES: [i32; 3] = [1, 2, 3];
/// The controller's (and the producer's) address on the simulated network.
const CONTROLLER: i32 = 0;
const TOPIC: &str = "t";
const TICK_MS: i64 = 10;
const LAG_MS: i64 = 300;
const SESSION_MS: i64 = 600;
const HEARTBEAT_MS: i64 = 100;
const ISR_CHECK_MS: i64 = 200;
const FETCH_TIMEOUT_MS: i64 = 200;
const ALTER_TIMEOUT_MS: i64 = 500;
const MIN_ISR: i64 = 2;

#[derive(Clone, Copy)]
struct Faults {
    loss: f64,
    max_delay: u64,
    crash: f64,
    restart: f64,
    cut: f64,
    heal: f64,
}

const HOSTILE: Faults = Faults {
    loss: 0.05,
    max_delay: 5,
    crash: 0.003,
    restart: 0.03,
    cut: 0.003,
    heal: 0.02,
};

const CALM: Faults = Faults {
    loss: 0.0,
    max_delay: 2,
    crash: 0.0,
    restart: 1.0,
    cut: 0.0,
    heal: 1.0,
};

enum Msg {
    Fetch(FetchPosition),
    /// The leader's answer, to a fetch made in this leader epoch.
    Fetched(i32, PartitionData),
    Alter(IsrRequest),
    /// The controller's answer: None, committed.
    Altered(Option<ResponseError>),
    Heartbeat,
    Metadata(Arc<MetadataImage>),
    Produce(Vec<u64>),
}

struct Envelope {
    at: i64,
    from: i32,
    to: i32,
    msg: Msg,
}

struct Node {
    id: i32,
    dir: PathBuf,
    partition: Option<Arc<Partition>>,
    view: Arc<MetadataImage>,
    fetch_due: i64,
    alter_due: Option<i64>,
    next_isr_check: i64,
    next_heartbeat: i64,
    /// The high watermark this node last had as leader, and in which epoch.
    led: Option<(i32, i64)>,
}

/// An acks=all append waiting for the high watermark.
struct Pending {
    node: i32,
    epoch: i32,
    end_offset: i64,
    records: Vec<(i64, u64)>,
}

struct Sim {
    rng: Rng,
    now: i64,
    faults: Faults,
    nodes: Vec<Node>,
    image: Arc<MetadataImage>,
    last_heard: BTreeMap<i32, i64>,
    queue: Vec<Envelope>,
    cut: Option<i32>,
    pending: Vec<Pending>,
    /// Acknowledged records: offset → value.
    acked: BTreeMap<i64, u64>,
    next_value: u64,
    /// Whether the producer is writing.
    producing: bool,
    /// The highest high watermark a consumer was shown.
    consumer_hw: i64,
    /// WEIR_REPLICATION_SIM_TRACE: print what happens (to understand a seed).
    trace: bool,
    _dir: tempfile::TempDir,
}

fn log_config() -> LogConfig {
    LogConfig {
        timestamp_after_max_ms: i64::MAX,
        timestamp_before_max_ms: i64::MAX,
        ..LogConfig::default()
    }
}

fn leadership(image: &MetadataImage) -> Leadership {
    Leadership::from(&image.topics[TOPIC].partitions[0])
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut image = MetadataImage::default();
        for id in NODES {
            image.apply(&Command::RegisterBroker {
                id,
                host: "sim".into(),
                port: id as u16,
                rack: None,
                listeners: Vec::new(),
            });
        }
        image.apply(&Command::CreateTopic {
            name: TOPIC.into(),
            topic_id: Uuid::from_u128(7),
            partitions: vec![NODES.to_vec()],
            configs: BTreeMap::new(),
        });
        let image = Arc::new(image);
        let mut sim = Sim {
            rng: Rng(seed),
            now: 1_000_000,
            faults: HOSTILE,
            nodes: Vec::new(),
            image: image.clone(),
            last_heard: NODES.iter().map(|id| (*id, 1_000_000)).collect(),
            queue: Vec::new(),
            cut: None,
            pending: Vec::new(),
            acked: BTreeMap::new(),
            next_value: 0,
            producing: true,
            consumer_hw: 0,
            trace: std::env::var("WEIR_REPLICATION_SIM_TRACE").is_ok(),
            _dir: dir,
        };
        for id in NODES {
            let dir = sim._dir.path().join(format!("node{id}"));
            sim.nodes.push(Node {
                id,
                dir,
                partition: None,
                view: image.clone(),
                fetch_due: 0,
                alter_due: None,
                next_isr_check: 0,
                next_heartbeat: 0,
                led: None,
            });
            sim.open(id);
        }
        sim
    }

    fn node(&mut self, id: i32) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    /// Opens node `id`'s replica from its directory (a start or restart),
    /// with the metadata it catches up on first.
    fn open(&mut self, id: i32) {
        let image = self.image.clone();
        let now = self.now;
        let node = self.node(id);
        let log = PartitionLog::open(&node.dir.join("t-0"), log_config(), 0, 0, false)
            .expect("open the replica's log");
        let placeholder = Leadership {
            leader: -1,
            leader_epoch: -1,
            partition_epoch: -1,
            replicas: NODES.to_vec(),
            isr: Vec::new(),
        };
        let tp = TopicPartition::new(TOPIC, 0);
        let partition = Partition::new(tp, Uuid::from_u128(7), id, log, 0, placeholder);
        partition.update_at(leadership(&image), log_config(), MIN_ISR, now);
        node.partition = Some(Arc::new(partition));
        node.view = image;
        node.fetch_due = now;
        node.alter_due = None;
        node.led = None;
    }

    fn send(&mut self, from: i32, to: i32, msg: Msg) {
        let blocked = |n: i32| self.cut == Some(n);
        if blocked(from) || blocked(to) || self.rng.chance(self.faults.loss) {
            return;
        }
        let at = self.now + TICK_MS * (1 + self.rng.below(self.faults.max_delay) as i64);
        self.queue.push(Envelope { at, from, to, msg });
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("{:>7} {}", self.now - 1_000_000, what());
        }
    }

    /// The controller commits `commands` and tells every broker.
    fn commit(&mut self, commands: Vec<Command>) {
        let mut image = (*self.image).clone();
        commands.iter().for_each(|c| image.apply(c));
        let p = &image.topics[TOPIC].partitions[0];
        self.log(|| {
            format!(
                "controller: leader {} epoch {} isr {:?} brokers {:?}",
                p.leader,
                p.leader_epoch,
                p.isr,
                image
                    .brokers
                    .values()
                    .map(|b| (b.id, b.state))
                    .collect::<Vec<_>>()
            )
        });
        self.image = Arc::new(image);
        self.broadcast();
    }

    fn broadcast(&mut self) {
        for id in NODES {
            self.send(CONTROLLER, id, Msg::Metadata(self.image.clone()));
        }
    }

    fn step(&mut self) {
        self.now += TICK_MS;
        self.faults_step();
        let (due, later): (Vec<Envelope>, Vec<Envelope>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|e| e.at <= self.now);
        self.queue = later;
        for envelope in due {
            if self.cut == Some(envelope.to) || self.cut == Some(envelope.from) {
                continue;
            }
            self.deliver(envelope);
        }
        self.controller_step();
        for id in NODES {
            self.broker_step(id);
        }
        if self.producing && self.rng.chance(0.3) {
            self.produce();
        }
        self.settle_acks();
        self.consume();
    }

    /// A consumer fetches from the leader the controller names, once that
    /// broker knows it leads (before, it answers with an epoch error), and
    /// checks the high watermark it is shown against the highest it saw.
    fn consume(&mut self) {
        let lead = leadership(&self.image);
        if lead.leader < 0 || self.cut == Some(lead.leader) {
            return;
        }
        let Some(p) = self.node(lead.leader).partition.clone() else {
            return;
        };
        if p.leader_epoch() != lead.leader_epoch {
            return;
        }
        let Ok(read) = p.read(0, 1, false) else {
            return;
        };
        if read.unsettled {
            return; // the Fetch handler holds the answer (fetch.rs)
        }
        assert!(
            read.high_watermark >= self.consumer_hw,
            "a consumer was shown high watermark {} after {} (leader {} epoch {})",
            read.high_watermark,
            self.consumer_hw,
            lead.leader,
            lead.leader_epoch
        );
        self.log(|| format!("consumer sees hw {}", read.high_watermark));
        self.consumer_hw = read.high_watermark;
    }

    fn faults_step(&mut self) {
        let f = self.faults;
        for id in NODES {
            let up = self.node(id).partition.is_some();
            if up && self.rng.chance(f.crash) {
                self.log(|| format!("node {id} crashes"));
                let node = self.node(id);
                node.partition = None;
                self.queue.retain(|e| e.to != id && e.from != id);
                self.pending.retain(|p| p.node != id);
            } else if !up && self.rng.chance(f.restart) {
                self.log(|| format!("node {id} restarts"));
                self.open(id);
            }
        }
        match self.cut {
            None if self.rng.chance(f.cut) => {
                self.cut = Some(NODES[self.rng.below(3) as usize]);
                self.log(|| format!("node {:?} cut off", self.cut));
            }
            Some(_) if self.rng.chance(f.heal) => {
                self.log(|| "network healed".into());
                self.cut = None
            }
            _ => {}
        }
    }

    fn deliver(&mut self, e: Envelope) {
        if e.to == CONTROLLER {
            return self.controller_receive(e.from, e.msg);
        }
        let now = self.now;
        let Some(partition) = self.node(e.to).partition.clone() else {
            return;
        };
        match e.msg {
            Msg::Metadata(image) => {
                let node = self.node(e.to);
                if image.applied > node.view.applied {
                    partition.update_at(leadership(&image), log_config(), MIN_ISR, now);
                    node.view = image;
                }
            }
            Msg::Fetch(position) => {
                let data = serve_fetch(&partition, e.from, &position, now);
                self.send(
                    e.to,
                    e.from,
                    Msg::Fetched(position.current_leader_epoch, data),
                );
            }
            Msg::Fetched(epoch, data) => {
                let before = partition.log_end_offset();
                let outcome = apply_partition(&partition, epoch, &data);
                let after = partition.log_end_offset();
                if after < before || data.diverging_epoch.epoch >= 0 || data.error_code != 0 {
                    self.log(|| format!("node {} truncated {before} -> {after} (diverging {:?}, hw {}, error {})", e.to,
                        (data.diverging_epoch.epoch, data.diverging_epoch.end_offset), partition.high_watermark(), data.error_code));
                }
                if let Some(Err(err)) = outcome {
                    assert_eq!(err.error, ResponseError::FencedLeaderEpoch, "{err}");
                }
                self.node(e.to).fetch_due = now;
            }
            Msg::Altered(refused) => {
                if let Some(error) = refused {
                    partition.isr_change_refused(error);
                }
                self.node(e.to).alter_due = None;
            }
            Msg::Produce(values) => self.append(e.to, &partition, values),
            Msg::Heartbeat | Msg::Alter(_) => unreachable!("sent to the controller only"),
        }
    }

    fn append(&mut self, id: i32, partition: &Arc<Partition>, values: Vec<u64>) {
        let records = values
            .iter()
            .map(|v| (None, Some(Bytes::copy_from_slice(&v.to_be_bytes()))));
        let bytes = batch::encode(records, 0, Compression::None);
        if let Ok((info, _)) = partition.append_records(&bytes, AppendOrigin::Client, -1) {
            let records = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (info.base_offset + i as i64, v))
                .collect();
            self.pending.push(Pending {
                node: id,
                epoch: info.leader_epoch,
                end_offset: info.last_offset + 1,
                records,
            });
        }
    }

    fn controller_receive(&mut self, from: i32, msg: Msg) {
        match msg {
            Msg::Heartbeat => {
                self.last_heard.insert(from, self.now);
                let fenced = self.image.brokers.get(&from).is_some_and(|b| !b.is_live());
                if fenced {
                    let commands = election::set_broker_state(
                        &self.image,
                        from,
                        BrokerState::Running,
                        &|_| false,
                    );
                    self.commit(commands);
                }
            }
            Msg::Alter(request) => {
                let checked = check_isr_request(&self.image, from, &request);
                let refused = checked.as_ref().err().copied();
                if let Ok(command) = checked {
                    self.commit(vec![command]);
                }
                self.send(CONTROLLER, from, Msg::Altered(refused));
            }
            _ => unreachable!("brokers send the controller heartbeats and ISR changes"),
        }
    }

    fn controller_step(&mut self) {
        let silent: Vec<i32> = NODES
            .iter()
            .copied()
            .filter(|id| self.image.brokers[id].is_live())
            .filter(|id| self.now - self.last_heard[id] > SESSION_MS)
            .collect();
        for id in silent {
            let commands =
                election::set_broker_state(&self.image, id, BrokerState::Fenced, &|_| false);
            self.commit(commands);
        }
        if self.now % 500 == 0 {
            self.broadcast();
        }
    }

    fn broker_step(&mut self, id: i32) {
        let now = self.now;
        let Some(partition) = self.node(id).partition.clone() else {
            return;
        };
        let node = self.node(id);
        if node.next_heartbeat <= now {
            node.next_heartbeat = now + HEARTBEAT_MS;
            self.send(id, CONTROLLER, Msg::Heartbeat);
        }
        let node = self.node(id);
        if let Some(position) = partition.fetch_position() {
            if node.fetch_due <= now {
                node.fetch_due = now + FETCH_TIMEOUT_MS;
                self.send(id, position.leader, Msg::Fetch(position));
            }
        }
        let node = self.node(id);
        if node.alter_due.is_some_and(|due| due <= now) {
            partition.isr_change_unanswered();
            node.alter_due = None;
        }
        if node.next_isr_check <= now && node.alter_due.is_none() {
            node.next_isr_check = now + ISR_CHECK_MS;
            if let Some(change) = partition.propose_isr_change(now, LAG_MS) {
                node.alter_due = Some(now + ALTER_TIMEOUT_MS);
                self.log(|| {
                    format!(
                        "node {id} proposes isr {:?} (hw {}, leo {})",
                        change.isr,
                        partition.high_watermark(),
                        partition.log_end_offset()
                    )
                });
                let request = IsrRequest {
                    topic_id: partition.topic_id,
                    partition: 0,
                    leader_epoch: change.leader_epoch,
                    partition_epoch: change.partition_epoch,
                    isr: change.isr,
                };
                self.send(id, CONTROLLER, Msg::Alter(request));
            }
        }
        if self.trace && now % 1000 == 0 && partition.is_leader() {
            let view = partition.with_state(|s| {
                let followers: Vec<_> = s
                    .tracker
                    .followers()
                    .map(|(id, f)| (id, f.log_end_offset, f.last_caught_up_ms - 1_000_000))
                    .collect();
                format!(
                    "hw {} leo {} isr {:?} pending {:?} followers {:?}",
                    s.high_watermark,
                    s.log.log_end_offset(),
                    s.leadership.isr,
                    s.tracker.pending_isr(),
                    followers
                )
            });
            self.log(|| format!("node {id} leads: {view}"));
        }
        // A leader's high watermark never moves back within its epoch.
        let node = self.node(id);
        if partition.is_leader() {
            let (epoch, hw) = (partition.leader_epoch(), partition.high_watermark());
            if let Some((led_epoch, led_hw)) = node.led {
                assert!(
                    led_epoch != epoch || hw >= led_hw,
                    "node {id}: high watermark went from {led_hw} back to {hw} in epoch {epoch}"
                );
            }
            node.led = Some((epoch, hw));
        }
    }

    /// The producer sends a batch to the leader the controller names.
    fn produce(&mut self) {
        let leader = self.image.topics[TOPIC].partitions[0].leader;
        if leader < 0 {
            return;
        }
        let count = 1 + self.rng.below(5);
        let values = (0..count).map(|i| self.next_value + i).collect();
        self.next_value += count;
        self.send(CONTROLLER, leader, Msg::Produce(values));
    }

    /// acks=all: an append is acknowledged once the leader's high
    /// watermark passes it in the epoch it was written in, with the ISR at
    /// min.insync.replicas (what `wait_for_commit` answers).
    fn settle_acks(&mut self) {
        let mut still = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            let Some(partition) = self.nodes[(p.node - 1) as usize].partition.clone() else {
                continue;
            };
            if !partition.is_leader() || partition.leader_epoch() != p.epoch {
                continue; // NOT_LEADER_OR_FOLLOWER: the producer would retry.
            }
            if !partition.committed(p.end_offset) {
                still.push(p);
                continue;
            }
            if (partition.leadership().isr.len() as i64) < MIN_ISR {
                continue; // NOT_ENOUGH_REPLICAS_AFTER_APPEND
            }
            self.log(|| {
                format!(
                    "node {} acks up to {} (epoch {})",
                    p.node, p.end_offset, p.epoch
                )
            });
            for (offset, value) in p.records {
                let before = self.acked.insert(offset, value);
                assert!(
                    before.is_none_or(|v| v == value),
                    "offset {offset} acknowledged twice, for {before:?} and {value}"
                );
            }
        }
        self.pending = still;
    }

    fn check(&self) {
        let isr: BTreeSet<i32> = self.image.topics[TOPIC].partitions[0]
            .isr
            .iter()
            .copied()
            .collect();
        let logs: BTreeMap<i32, (BTreeMap<i64, u64>, i64)> = self
            .nodes
            .iter()
            .filter_map(|n| Some((n.id, n.partition.as_ref()?)))
            .map(|(id, p)| (id, (records(p), p.high_watermark())))
            .collect();
        for (id, (log, _)) in logs.iter().filter(|(id, _)| isr.contains(id)) {
            for (offset, value) in &self.acked {
                assert_eq!(
                    log.get(offset),
                    Some(value),
                    "node {id} (in the ISR {isr:?}) lacks acknowledged offset {offset}"
                );
            }
        }
        for (a, (log_a, hw_a)) in &logs {
            for (b, (log_b, hw_b)) in logs.range(a + 1..) {
                let below = (*hw_a).min(*hw_b);
                assert_eq!(
                    log_a.range(..below).collect::<Vec<_>>(),
                    log_b.range(..below).collect::<Vec<_>>(),
                    "nodes {a} and {b} differ below their high watermarks ({below})"
                );
            }
        }
    }
}

/// The leader's answer to a follower's fetch, as the Fetch handler builds it.
fn serve_fetch(
    partition: &Partition,
    from: i32,
    position: &FetchPosition,
    now: i64,
) -> PartitionData {
    let mut data = PartitionData::default();
    let checked = crate::server::apis::fetch::check_epoch(
        position.current_leader_epoch,
        partition.leader_epoch(),
    )
    .and_then(|()| {
        partition.read_for_replica(
            from,
            position.fetch_offset,
            position.last_fetched_epoch,
            64 << 10,
            now,
        )
    });
    match checked {
        Ok(read) => {
            data.high_watermark = read.high_watermark;
            data.log_start_offset = read.log_start_offset;
            if let Some((epoch, end)) = read.diverging {
                data.diverging_epoch.epoch = epoch;
                data.diverging_epoch.end_offset = end;
            }
            data.records = Some(read.records.read().expect("read the leader's log"));
        }
        Err(e) => {
            data.error_code = e.code();
            data.log_start_offset = partition.log_start_offset();
        }
    }
    data
}

/// Every record of a replica's log: offset → value.
fn records(partition: &Partition) -> BTreeMap<i64, u64> {
    let bytes = partition.with_state(|s| {
        let end = s.log.log_end_offset();
        s.log
            .read(0, usize::MAX >> 1, end, true)
            .map(|r| r.records.read().expect("read the log"))
            .unwrap_or_default()
    });
    let mut out = BTreeMap::new();
    let mut buf = bytes;
    while !buf.is_empty() {
        let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
            break;
        };
        for r in set.records {
            let value = r.value.expect("a value");
            out.insert(
                r.offset,
                u64::from_be_bytes(value[..8].try_into().expect("8 bytes")),
            );
        }
    }
    out
}

fn run(seed: u64, steps: usize) {
    let mut sim = Sim::new(seed);
    for step in 0..steps {
        sim.step();
        if step % 20 == 0 {
            sim.check();
        }
    }
    sim.check();
    // Calm: everything comes back, catches up and makes progress.
    sim.faults = CALM;
    sim.cut = None;
    let acked_before = sim.acked.len();
    for _ in 0..600 {
        sim.step();
    }
    sim.producing = false;
    for _ in 0..100 {
        sim.step();
    }
    sim.check();
    let isr = &sim.image.topics[TOPIC].partitions[0].isr;
    assert_eq!(
        isr.len(),
        3,
        "seed {seed}: not every replica rejoined the ISR: {isr:?}"
    );
    assert!(
        sim.acked.len() > acked_before,
        "seed {seed}: no progress once calm"
    );
    let logs: Vec<BTreeMap<i64, u64>> = sim
        .nodes
        .iter()
        .map(|n| records(n.partition.as_ref().expect("up")))
        .collect();
    assert!(
        logs.iter().all(|l| l == &logs[0]),
        "seed {seed}: logs differ once calm"
    );
}

#[test]
fn replication_keeps_every_acknowledged_record_under_faults() {
    let seeds: Vec<u64> = match std::env::var("WEIR_REPLICATION_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("a number")],
        Err(_) => {
            let n = std::env::var("WEIR_REPLICATION_SIM_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(200);
            (1..=n).collect()
        }
    };
    for seed in seeds {
        let outcome = std::panic::catch_unwind(|| run(seed, 1500));
        if outcome.is_err() {
            panic!("replication simulation failed; replay with WEIR_REPLICATION_SIM_SEED={seed}");
        }
    }
}
