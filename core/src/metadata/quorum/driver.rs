//! The task that runs one quorum member in a process: it ticks the member
//! on a timer, feeds it the messages the transport receives, takes
//! proposals, sends what the member gives back, and applies committed
//! entries in order. A proposal's answer comes once its entry is committed
//! and applied, never before. When enough has been applied since the last
//! snapshot, it asks the state machine for its state and compacts the log
//! behind it; a snapshot the leader sends replaces the state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::{observer, ProposeError, QuorumNode, RaftLog, Timing};
use crate::cluster::transport::{self, Inbound, Outbox};

/// What a member needs to run.
pub struct QuorumConfig {
    pub node_id: u64,
    pub cluster_id: String,
    /// Every voter (this one included) and its quorum address.
    pub voters: HashMap<u64, SocketAddr>,
    /// Where this member's quorum address is bound.
    pub listener: TcpListener,
    /// Holds `raft.log`.
    pub dir: PathBuf,
    pub tick: Duration,
    pub timing: Timing,
    /// Snapshot and compact once this many bytes of entries were applied
    /// since the last snapshot...
    pub snapshot_bytes: u64,
    /// ...or once this long has passed with at least one entry applied.
    pub snapshot_interval: Duration,
    /// Where Kafka requests arriving on the quorum listener go (requests
    /// from other brokers to the active controller).
    pub kafka: Option<mpsc::Sender<tokio::net::TcpStream>>,
}

/// What the member's owner keeps: the state committed entries build.
pub trait StateMachine: Send + 'static {
    /// Applies a committed entry (its index and bytes), in index order.
    fn apply(&mut self, index: u64, data: &[u8]);
    /// Replaces the state with a snapshot's (taken at `index`).
    fn restore(&mut self, index: u64, data: &[u8]);
    /// The state now — every entry applied, up to `index` of `term` — as
    /// snapshot bytes.
    fn snapshot(&mut self, index: u64, term: u64) -> Vec<u8>;
}

/// What a member knows of the quorum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub node_id: u64,
    pub leader: Option<u64>,
    pub term: u64,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    /// This member leads and has applied an entry of its own term, so its
    /// state holds everything committed before it: it may validate and
    /// propose changes (the active controller).
    pub active: bool,
    /// On the leader: each voter's id and the last index it is known to
    /// hold. Empty on other members.
    pub voters: Vec<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("{0}")]
    Propose(#[from] ProposeError),
    #[error("another leader's entry was committed in its place")]
    Superseded,
    #[error("the quorum member has stopped")]
    Stopped,
}

struct Proposal {
    data: Vec<u8>,
    reply: oneshot::Sender<Result<u64, QuorumError>>,
}

/// Talks to a running member.
#[derive(Clone)]
pub struct QuorumHandle {
    proposals: mpsc::Sender<Proposal>,
    status: watch::Receiver<Status>,
    /// The commit index the log held when the member started: everything
    /// up to it is replayed locally before the member's state is current.
    recovered: u64,
}

impl QuorumHandle {
    /// Appends `data` through this member (which must lead) and waits until
    /// it is committed and applied; returns its index.
    pub async fn propose(&self, data: Vec<u8>) -> Result<u64, QuorumError> {
        let (reply, answer) = oneshot::channel();
        self.proposals
            .send(Proposal { data, reply })
            .await
            .map_err(|_| QuorumError::Stopped)?;
        answer.await.map_err(|_| QuorumError::Stopped)?
    }

    /// Waits until the entries committed before a restart are applied again.
    pub async fn replayed(&self) -> Status {
        let recovered = self.recovered;
        self.wait_for(|s| s.applied >= recovered).await
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Waits until `ready` holds for the member's status.
    pub async fn wait_for(&self, ready: impl Fn(&Status) -> bool) -> Status {
        let mut status = self.status.clone();
        status
            .wait_for(|s| ready(s))
            .await
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

/// A running member's tasks; dropping it stops them (and frees its port).
pub struct Member {
    driver: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.driver.abort();
        self.server.abort();
    }
}

/// Opens the member's log and starts its transport and driver task. The
/// state machine is restored from the log's snapshot, if it has one; then
/// every committed entry after it is applied, in order, even after a
/// restart.
pub fn start(
    config: QuorumConfig,
    mut machine: impl StateMachine,
) -> std::io::Result<(QuorumHandle, Member)> {
    let voters: Vec<u64> = {
        let mut ids: Vec<u64> = config.voters.keys().copied().collect();
        ids.sort();
        ids
    };
    let log = RaftLog::open(&config.dir, &voters)?;
    let recovered = log.hard_state().commit;
    let snapshot = log.snapshot();
    let restored = snapshot.get_metadata().index;
    if !snapshot.is_empty() {
        machine.restore(restored, snapshot.get_data());
    }
    let node = QuorumNode::new(config.node_id, log.clone(), config.timing)
        .map_err(std::io::Error::other)?;
    let (inbox_tx, inbox) = mpsc::channel(4096);
    let (proposals_tx, proposals) = mpsc::channel(1024);
    let (status_tx, status) = watch::channel(Status {
        node_id: config.node_id,
        ..Default::default()
    });
    let catchup: transport::Catchup = {
        let (log, status, voters) = (log.clone(), status.clone(), Arc::new(config.voters.clone()));
        Arc::new(move |after| {
            let (log, status, voters) = (log.clone(), status.clone(), voters.clone());
            Box::pin(async move {
                observer::answer(&log, &status, &voters, after)
                    .await
                    .encode()
            })
        })
    };
    let services = transport::Services {
        raft: inbox_tx,
        catchup,
        kafka: config.kafka,
    };
    let server = tokio::spawn(transport::serve(
        config.listener,
        config.cluster_id.clone(),
        services,
    ));
    let outbox = Outbox::start(&config.cluster_id, config.node_id, &config.voters);
    let driver = Driver {
        node,
        outbox,
        machine: Box::new(machine),
        pending: HashMap::new(),
        applied: restored,
        applied_term: snapshot.get_metadata().term,
        status: status_tx,
        since_snapshot: 0,
        last_snapshot: tokio::time::Instant::now(),
        snapshot_bytes: config.snapshot_bytes.max(1),
        snapshot_interval: config.snapshot_interval,
    };
    let driver = tokio::spawn(driver.run(config.tick, inbox, proposals));
    let handle = QuorumHandle {
        proposals: proposals_tx,
        status,
        recovered,
    };
    Ok((handle, Member { driver, server }))
}

struct Driver {
    node: QuorumNode,
    outbox: Outbox,
    machine: Box<dyn StateMachine>,
    /// Proposals waiting for their index to commit: index → (term, reply).
    pending: HashMap<u64, (u64, oneshot::Sender<Result<u64, QuorumError>>)>,
    applied: u64,
    applied_term: u64,
    status: watch::Sender<Status>,
    /// Bytes of entries applied since the last snapshot.
    since_snapshot: u64,
    last_snapshot: tokio::time::Instant,
    snapshot_bytes: u64,
    snapshot_interval: Duration,
}

impl Driver {
    async fn run(
        mut self,
        tick: Duration,
        mut inbox: mpsc::Receiver<Inbound>,
        mut proposals: mpsc::Receiver<Proposal>,
    ) {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.node.tick(),
                Some(inbound) = inbox.recv() => {
                    self.take(inbound);
                    while let Ok(inbound) = inbox.try_recv() {
                        self.take(inbound);
                    }
                }
                proposal = proposals.recv() => match proposal {
                    Some(p) => self.propose(p),
                    None => return,
                },
            }
            if let Err(e) = self.advance() {
                tracing::error!(error = %e, "the quorum member cannot write its log; stopping it");
                return;
            }
        }
    }

    fn take(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Message(message) => self.node.step(message),
            Inbound::Gone(peer) => self.node.peer_gone(peer),
        }
    }

    fn propose(&mut self, proposal: Proposal) {
        match self.node.propose(proposal.data) {
            Ok((index, term)) => {
                self.pending.insert(index, (term, proposal.reply));
            }
            Err(e) => drop(proposal.reply.send(Err(e.into()))),
        }
    }

    fn advance(&mut self) -> std::io::Result<()> {
        let output = self.node.advance()?;
        for message in output.messages {
            self.outbox.send(message);
        }
        if let Some(snapshot) = output.snapshot {
            let meta = snapshot.get_metadata();
            tracing::info!(
                index = meta.index,
                "installing the leader's metadata snapshot (this member was behind its log)"
            );
            self.machine.restore(meta.index, snapshot.get_data());
            self.applied = meta.index;
            self.applied_term = meta.term;
            self.since_snapshot = 0;
            // Proposals the snapshot covers were decided elsewhere: their
            // entries may or may not be this member's.
            let covered: Vec<u64> = self
                .pending
                .keys()
                .copied()
                .filter(|i| *i <= meta.index)
                .collect();
            for index in covered {
                if let Some((_, reply)) = self.pending.remove(&index) {
                    let _ = reply.send(Err(QuorumError::Superseded));
                }
            }
        }
        for entry in output.committed {
            if !entry.data.is_empty() {
                self.machine.apply(entry.index, &entry.data);
                self.since_snapshot += entry.data.len() as u64;
            }
            self.applied = entry.index;
            self.applied_term = entry.term;
            if let Some((term, reply)) = self.pending.remove(&entry.index) {
                let answer = if term == entry.term {
                    Ok(entry.index)
                } else {
                    Err(QuorumError::Superseded)
                };
                let _ = reply.send(answer);
            }
        }
        self.maybe_snapshot()?;
        let status = Status {
            node_id: self.node.id(),
            leader: self.node.leader(),
            term: self.node.term(),
            commit: self.node.commit_index(),
            applied: self.applied,
            last_index: self.node.last_index(),
            active: self.node.is_leader() && self.applied_term == self.node.term(),
            voters: self.node.progress(),
        };
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
        Ok(())
    }

    /// Snapshots the state and compacts the log behind it, when enough
    /// was applied since the last snapshot (or long enough ago).
    fn maybe_snapshot(&mut self) -> std::io::Result<()> {
        let due = self.since_snapshot >= self.snapshot_bytes
            || (self.since_snapshot > 0 && self.last_snapshot.elapsed() >= self.snapshot_interval);
        if !due || self.applied <= self.node.snapshot_index() {
            return Ok(());
        }
        let data = self.machine.snapshot(self.applied, self.applied_term);
        self.node.compact(self.applied, data)?;
        self.since_snapshot = 0;
        self.last_snapshot = tokio::time::Instant::now();
        tracing::info!(
            index = self.applied,
            "metadata snapshot taken; the log behind it is compacted"
        );
        Ok(())
    }
}
