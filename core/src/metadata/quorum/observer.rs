//! Brokers that are not voters follow the quorum as observers (KRaft's
//! name): they ask a voter's controller listener for what was committed
//! after the last index they applied, and apply it in order to the same
//! state machine the voters run. A voter answers from its own log, only
//! up to what it has applied (so only committed entries), with its
//! snapshot first when the observer is behind the log's start. A request
//! waits up to `LONG_POLL` for something new, so an observer learns of a
//! commit within a round trip. Each answer also names the leader and its
//! address, which is where the broker sends what only the active
//! controller does, and every voter's address, so an observer that knew
//! only one bootstrap server (`controller.quorum.bootstrap.servers`) finds
//! the others when that one dies.
//!
//! An observer keeps nothing on disk: at start it catches up from a voter
//! (a snapshot and the tail) before the broker opens its partitions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::{GetEntriesContext, Storage};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{RaftLog, StateMachine, Status};
use crate::cluster::transport::{self, Hello, Purpose};

/// How long a voter holds a catch-up request with nothing new.
const LONG_POLL: Duration = Duration::from_millis(500);
/// At most this many bytes of entries per answer.
const MAX_ANSWER_BYTES: u64 = 4 << 20;
/// The largest answer an observer reads (a snapshot can be large).
const MAX_FRAME: usize = 512 << 20;

/// What was committed after an observer's index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catchup {
    /// The leader the voter knows (0: none) and its controller address.
    pub leader: u64,
    pub leader_address: String,
    /// Every voter's controller listener.
    pub voters: Vec<String>,
    pub term: u64,
    /// The last index the voter has applied.
    pub applied: u64,
    /// The voter's snapshot (index, term, data), when the observer is
    /// behind the start of its log.
    pub snapshot: Option<(u64, u64, Vec<u8>)>,
    /// Committed entries (index, term, data), in order.
    pub entries: Vec<(u64, u64, Vec<u8>)>,
}

impl Catchup {
    /// `leader · term · applied · address · voters · [snapshot] · entries`,
    /// numbers as u64 BE, counts as u32 BE, byte strings length-prefixed
    /// (u32 BE).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for n in [self.leader, self.term, self.applied] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        put_bytes(&mut out, self.leader_address.as_bytes());
        out.extend_from_slice(&(self.voters.len() as u32).to_be_bytes());
        for voter in &self.voters {
            put_bytes(&mut out, voter.as_bytes());
        }
        match &self.snapshot {
            Some((index, term, data)) => {
                out.push(1);
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&term.to_be_bytes());
                put_bytes(&mut out, data);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for (index, term, data) in &self.entries {
            out.extend_from_slice(&index.to_be_bytes());
            out.extend_from_slice(&term.to_be_bytes());
            put_bytes(&mut out, data);
        }
        out
    }

    pub fn decode(mut bytes: &[u8]) -> Option<Catchup> {
        let b = &mut bytes;
        let (leader, term, applied) = (u64_of(b)?, u64_of(b)?, u64_of(b)?);
        let leader_address = String::from_utf8(bytes_of(b)?).ok()?;
        let count = u32::from_be_bytes(take(b, 4)?.try_into().ok()?);
        let mut voters = Vec::new();
        for _ in 0..count {
            voters.push(String::from_utf8(bytes_of(b)?).ok()?);
        }
        let snapshot = match take(b, 1)?[0] {
            0 => None,
            1 => Some((u64_of(b)?, u64_of(b)?, bytes_of(b)?)),
            _ => return None,
        };
        let count = u32::from_be_bytes(take(b, 4)?.try_into().ok()?);
        let mut entries = Vec::new();
        for _ in 0..count {
            entries.push((u64_of(b)?, u64_of(b)?, bytes_of(b)?));
        }
        b.is_empty().then_some(Catchup {
            leader,
            leader_address,
            voters,
            term,
            applied,
            snapshot,
            entries,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (head, tail) = b.split_at(n);
    *b = tail;
    Some(head)
}

fn u64_of(b: &mut &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(take(b, 8)?.try_into().ok()?))
}

fn bytes_of(b: &mut &[u8]) -> Option<Vec<u8>> {
    let len = u32::from_be_bytes(take(b, 4)?.try_into().ok()?) as usize;
    take(b, len).map(<[u8]>::to_vec)
}

/// On a voter: what was committed after `after`, once there is something
/// (or after `LONG_POLL`). Only applied entries are read: they are
/// committed, and the snapshot holds the state they lead to.
pub async fn answer(
    log: &RaftLog,
    status: &watch::Receiver<Status>,
    voters: &HashMap<u64, SocketAddr>,
    after: u64,
) -> Catchup {
    let mut status = status.clone();
    let _ = tokio::time::timeout(LONG_POLL, status.wait_for(|s| s.applied > after)).await;
    let now = status.borrow().clone();
    let mut catchup = Catchup {
        leader: now.leader.unwrap_or(0),
        leader_address: now
            .leader
            .and_then(|id| voters.get(&id))
            .map(|a| a.to_string())
            .unwrap_or_default(),
        voters: voters.values().map(|a| a.to_string()).collect(),
        term: now.term,
        applied: now.applied,
        ..Default::default()
    };
    let mut from = after + 1;
    if after < log.snapshot_index() {
        let snapshot = log.snapshot();
        let meta = snapshot.get_metadata();
        catchup.snapshot = Some((meta.index, meta.term, snapshot.get_data().to_vec()));
        from = meta.index + 1;
    }
    if from <= now.applied {
        let context = GetEntriesContext::empty(false);
        match log.entries(from, now.applied + 1, MAX_ANSWER_BYTES, context) {
            Ok(entries) => {
                catchup.entries = entries
                    .into_iter()
                    .map(|e| (e.index, e.term, e.data.to_vec()))
                    .collect()
            }
            // Compacted meanwhile: the observer asks again and gets the
            // new snapshot.
            Err(_) => catchup.snapshot = None,
        }
    }
    catchup
}

/// Where the active controller is, as an observer last heard.
#[derive(Clone, Default)]
pub struct LeaderAddress(Arc<Mutex<Option<(u64, SocketAddr)>>>);

impl LeaderAddress {
    pub fn get(&self) -> Option<(u64, SocketAddr)> {
        *self.0.lock().expect("leader address lock")
    }

    fn set(&self, leader: Option<(u64, SocketAddr)>) {
        *self.0.lock().expect("leader address lock") = leader;
    }
}

/// A running observer: its status (never active) and where the leader is.
pub struct ObserverHandle {
    pub status: watch::Receiver<Status>,
    pub leader: LeaderAddress,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ObserverHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ObserverHandle {
    /// Waits until the observer has applied everything a voter had applied
    /// when it answered (caught up once).
    pub async fn caught_up(&self) -> Status {
        let mut status = self.status.clone();
        status
            .wait_for(|s| s.commit > 0 && s.applied >= s.commit)
            .await
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

/// Starts following the quorum through `bootstrap` (voters' controller
/// listeners), applying to `machine`.
pub fn start(
    node_id: u64,
    cluster_id: String,
    bootstrap: Vec<SocketAddr>,
    machine: impl StateMachine,
) -> ObserverHandle {
    let (status_tx, status) = watch::channel(Status {
        node_id,
        ..Default::default()
    });
    let leader = LeaderAddress::default();
    let hello = Hello {
        cluster_id,
        node_id,
        purpose: Purpose::Catchup,
    }
    .encode();
    let follower = Follower {
        hello,
        bootstrap,
        machine: Box::new(machine),
        applied: 0,
        status: status_tx,
        leader: leader.clone(),
    };
    let task = tokio::spawn(follower.run());
    ObserverHandle {
        status,
        leader,
        task,
    }
}

struct Follower {
    hello: Vec<u8>,
    bootstrap: Vec<SocketAddr>,
    machine: Box<dyn StateMachine>,
    applied: u64,
    status: watch::Sender<Status>,
    leader: LeaderAddress,
}

impl Follower {
    /// Follows one voter until its connection fails, then the next (the
    /// leader first, when known), backing off while none answers. The
    /// voters are the bootstrap servers and every voter an answer named.
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(50);
        let mut next = 0;
        loop {
            let address = match self.leader.get() {
                Some((_, address)) => address,
                None => {
                    next = (next + 1) % self.bootstrap.len().max(1);
                    match self.bootstrap.get(next) {
                        Some(a) => *a,
                        None => return,
                    }
                }
            };
            match self.follow(address).await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => {
                    tracing::debug!(%address, error = %e, "metadata catch-up connection lost");
                    // Try another voter next time.
                    self.leader.set(None);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Asks `address` for what was committed after what is applied, and
    /// applies it, until the connection fails or the voter names another
    /// leader (`Ok`: reconnect there).
    async fn follow(&mut self, address: SocketAddr) -> std::io::Result<()> {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address))
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))??;
        stream.set_nodelay(true)?;
        let mut stream = BufReader::new(stream);
        transport::write_frame(stream.get_mut(), &self.hello).await?;
        loop {
            transport::write_frame(stream.get_mut(), &self.applied.to_be_bytes()).await?;
            stream.get_mut().flush().await?;
            let frame = tokio::time::timeout(
                LONG_POLL * 10,
                transport::read_frame(&mut stream, MAX_FRAME),
            )
            .await
            .map_err(|_| std::io::Error::other("the voter did not answer in time"))??;
            let catchup = Catchup::decode(&frame)
                .ok_or_else(|| std::io::Error::other("an unreadable catch-up answer"))?;
            for voter in &catchup.voters {
                match voter.parse::<SocketAddr>() {
                    Ok(a) if !self.bootstrap.contains(&a) => self.bootstrap.push(a),
                    _ => {}
                }
            }
            let leader = catchup
                .leader_address
                .parse::<SocketAddr>()
                .ok()
                .map(|a| (catchup.leader, a));
            let moved = leader.is_some_and(|(_, a)| a != address);
            // The leader first: whoever sees the new status finds it.
            self.leader.set(leader);
            self.apply(&catchup);
            if moved {
                return Ok(());
            }
        }
    }

    fn apply(&mut self, catchup: &Catchup) {
        if let Some((index, _, data)) = &catchup.snapshot {
            if *index > self.applied {
                tracing::info!(index, "installing a controller's metadata snapshot");
                self.machine.restore(*index, data);
                self.applied = *index;
            }
        }
        for (index, _, data) in &catchup.entries {
            if *index != self.applied + 1 {
                // Not the next entry: ask again from what is applied.
                break;
            }
            if !data.is_empty() {
                self.machine.apply(*index, data);
            }
            self.applied = *index;
        }
        let status = Status {
            node_id: self.status.borrow().node_id,
            leader: Some(catchup.leader).filter(|l| *l != 0),
            term: catchup.term,
            commit: catchup.applied,
            applied: self.applied,
            last_index: self.applied,
            active: false,
            voters: Vec::new(),
        };
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catchups_round_trip() {
        let full = Catchup {
            leader: 2,
            leader_address: "127.0.0.1:29093".into(),
            voters: vec!["127.0.0.1:19093".into(), "127.0.0.1:29093".into()],
            term: 5,
            applied: 12,
            snapshot: Some((9, 4, b"image".to_vec())),
            entries: vec![
                (10, 4, b"a".to_vec()),
                (11, 5, vec![]),
                (12, 5, b"c".to_vec()),
            ],
        };
        for catchup in [full, Catchup::default()] {
            let bytes = catchup.encode();
            assert_eq!(Catchup::decode(&bytes), Some(catchup));
            assert_eq!(Catchup::decode(&bytes[..bytes.len() - 1]), None);
        }
    }
}
