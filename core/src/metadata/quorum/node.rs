//! One member of the controller quorum: raft-rs's `RawNode` over the
//! `RaftLog`, driven by whoever owns it (a task in the broker, the
//! simulation in tests). It does no I/O beyond the log: it takes ticks and
//! messages in, and gives back the messages to send and the entries that
//! are committed, in order. Nothing is handed back before the log holds
//! what Raft requires to be durable first.

use std::io;

use raft::prelude::{Entry, Message, MessageType, Snapshot};
use raft::{Config, RawNode, SnapshotStatus, StateRole};

use super::log::RaftLog;

/// The quorum's timing, in ticks.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Ticks without a leader before a follower stands for election: a
    /// random number in `election_ticks..election_ticks_max`, drawn anew
    /// each term (one value when the range holds one, as in simulation).
    pub election_ticks: usize,
    pub election_ticks_max: usize,
    pub heartbeat_ticks: usize,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            election_ticks: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
        }
    }
}

/// What one round of work produced.
#[derive(Debug, Default)]
pub struct Output {
    /// To send to other members.
    pub messages: Vec<Message>,
    /// A snapshot from the leader that replaces the owner's state (the
    /// member was too far behind for entries): restore it before applying
    /// `committed`, which continue from its index.
    pub snapshot: Option<Snapshot>,
    /// Newly committed entries, in index order (a new leader's empty entry
    /// included), to apply.
    pub committed: Vec<Entry>,
}

pub struct QuorumNode {
    raw: RawNode<RaftLog>,
    log: RaftLog,
    election_ticks: usize,
}

/// Why a proposal was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    #[error("this node is not the leader (the leader is {leader:?})")]
    NotLeader { leader: Option<u64> },
    #[error("the proposal was dropped: {0}")]
    Dropped(raft::Error),
}

impl QuorumNode {
    /// A member with id `id` over `log`. On a restart the log replays and
    /// every committed entry after the log's snapshot is handed out again,
    /// so the owner rebuilds its state from that snapshot (`log.snapshot()`).
    pub fn new(id: u64, log: RaftLog, timing: Timing) -> raft::Result<QuorumNode> {
        let config = Config {
            id,
            election_tick: timing.election_ticks,
            min_election_tick: timing.election_ticks,
            max_election_tick: timing.election_ticks_max,
            heartbeat_tick: timing.heartbeat_ticks,
            // A leader that cannot reach a majority steps down, and a node
            // cut off does not disrupt the others when it comes back.
            check_quorum: true,
            pre_vote: true,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            applied: log.snapshot_index(),
            ..Default::default()
        };
        config.validate()?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, log.clone(), &logger)?;
        Ok(QuorumNode {
            raw,
            log,
            election_ticks: timing.election_ticks,
        })
    }

    pub fn id(&self) -> u64 {
        self.raw.raft.id
    }

    /// The leader this node knows of.
    pub fn leader(&self) -> Option<u64> {
        Some(self.raw.raft.leader_id).filter(|id| *id != 0)
    }

    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    /// The last index in this node's log.
    pub fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    /// On the leader: each voter's highest index known to match its own
    /// (the leader's is its last index). Empty elsewhere.
    pub fn progress(&self) -> Vec<(u64, u64)> {
        if !self.is_leader() {
            return Vec::new();
        }
        let mut voters: Vec<(u64, u64)> = self
            .raw
            .raft
            .prs()
            .iter()
            .map(|(id, p)| {
                let matched = if *id == self.id() {
                    self.last_index()
                } else {
                    p.matched
                };
                (*id, matched)
            })
            .collect();
        voters.sort_unstable();
        voters
    }

    /// The index the log's snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.log.snapshot_index()
    }

    /// The log's snapshot (empty: none), what a restarted owner starts from.
    pub fn snapshot(&self) -> Snapshot {
        self.log.snapshot()
    }

    /// Compacts the log up to `index`, which the owner has applied, keeping
    /// `data` (its state at that index) as the snapshot.
    pub fn compact(&mut self, index: u64, data: Vec<u8>) -> io::Result<()> {
        self.log.compact(index, data)
    }

    /// Entries the log holds after its snapshot.
    pub fn entries_since_snapshot(&self) -> u64 {
        self.last_index() - self.log.snapshot_index()
    }

    pub fn tick(&mut self) {
        self.raw.tick();
    }

    /// Member `peer`'s connection to this one closed: its process is gone
    /// (the kernel closes a dead process's connections at once), or the
    /// network dropped it. If it leads, this member stops counting on its
    /// lease and stands for election after only the random part of its
    /// timeout, so a crashed controller is replaced a timeout sooner. A
    /// leader that is alive resets that with its next heartbeat.
    pub fn peer_gone(&mut self, peer: u64) {
        if self.leader() == Some(peer) && !self.is_leader() {
            for _ in 0..self.election_ticks {
                self.raw.tick();
            }
        }
    }

    /// Takes a message from another member. Messages for another node or
    /// from an unknown one are ignored, as a stale network may deliver them.
    pub fn step(&mut self, message: Message) {
        if message.to != self.id() {
            return;
        }
        if let Err(e) = self.raw.step(message) {
            tracing::debug!(error = %e, "a quorum message was not taken");
        }
    }

    /// Appends `data` to the log if this node leads, returning its index
    /// and term; it is committed (and comes back from `advance`) once a
    /// majority holds it. If another leader's entry is committed at that
    /// index instead, the proposal was lost.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(u64, u64), ProposeError> {
        if !self.is_leader() {
            return Err(ProposeError::NotLeader {
                leader: self.leader(),
            });
        }
        self.raw
            .propose(Vec::new(), data)
            .map_err(ProposeError::Dropped)?;
        Ok((self.raw.raft.raft_log.last_index(), self.term()))
    }

    /// Does the work raft-rs has ready: persists entries and the hard state
    /// (synced), and returns the messages to send and the committed entries.
    pub fn advance(&mut self) -> io::Result<Output> {
        let mut out = Output::default();
        if !self.raw.has_ready() {
            return Ok(out);
        }
        let mut ready = self.raw.ready();
        // A leader's messages may leave before its own append is durable.
        out.messages.extend(ready.take_messages());
        if !ready.snapshot().is_empty() {
            self.log.install(ready.snapshot())?;
            out.snapshot = Some(ready.snapshot().clone());
        }
        out.committed.extend(ready.take_committed_entries());
        self.log.persist(ready.entries(), ready.hs())?;
        // Votes and appends acknowledged only once durable.
        out.messages.extend(ready.take_persisted_messages());
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.log.set_commit(commit)?;
        }
        out.messages.extend(light.take_messages());
        out.committed.extend(light.take_committed_entries());
        self.raw.advance_apply();
        // A snapshot is sent like any message, with no word of whether it
        // arrived: count it sent, so the leader probes the member again and
        // sends another snapshot if this one was lost.
        for message in &out.messages {
            if message.get_msg_type() == MessageType::MsgSnapshot {
                self.raw.report_snapshot(message.to, SnapshotStatus::Finish);
            }
        }
        Ok(out)
    }
}
