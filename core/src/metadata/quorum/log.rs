//! The controller quorum's Raft log: raft-rs's `Storage` over entries and
//! the hard state (term, vote, commit), kept in memory and persisted as
//! frames appended to one file, each synced before Raft may act on it.
//!
//! A frame is `length (u32 LE) · crc32c (u32 LE) · kind (u8) · payload`,
//! the CRC covering kind and payload; the payload is the protobuf of an
//! `Entry` or a `HardState`. Replay applies frames in order: an entry whose
//! index is not past the last one replaces it and everything after (Raft
//! overwrote a conflicting tail), and a torn or corrupt tail — a crash in
//! the middle of a write — is cut off. The same bytes can live in memory
//! instead of a file, which is how the simulation restarts nodes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

const ENTRY: u8 = 1;
const HARD_STATE: u8 = 2;

/// Where the frames go.
#[derive(Clone)]
pub enum Disk {
    File(Arc<Mutex<File>>),
    /// Bytes that outlive the node holding them (simulated restarts).
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl Disk {
    pub fn memory() -> Disk {
        Disk::Memory(Arc::default())
    }

    fn read(&self) -> io::Result<Vec<u8>> {
        match self {
            Disk::File(file) => {
                let mut bytes = Vec::new();
                let mut file = file.lock().expect("log file lock");
                io::Seek::rewind(&mut *file)?;
                io::Read::read_to_end(&mut *file, &mut bytes)?;
                Ok(bytes)
            }
            Disk::Memory(bytes) => Ok(bytes.lock().expect("memory disk lock").clone()),
        }
    }

    fn truncate(&self, len: usize) -> io::Result<()> {
        match self {
            Disk::File(file) => {
                let file = file.lock().expect("log file lock");
                file.set_len(len as u64)?;
                file.sync_all()
            }
            Disk::Memory(bytes) => {
                bytes.lock().expect("memory disk lock").truncate(len);
                Ok(())
            }
        }
    }

    /// Appends and syncs: once this returns, the frames survive a crash.
    fn append(&self, frames: &[u8]) -> io::Result<()> {
        match self {
            Disk::File(file) => {
                let mut file = file.lock().expect("log file lock");
                io::Seek::seek(&mut *file, io::SeekFrom::End(0))?;
                file.write_all(frames)?;
                file.sync_data()
            }
            Disk::Memory(bytes) => {
                bytes
                    .lock()
                    .expect("memory disk lock")
                    .extend_from_slice(frames);
                Ok(())
            }
        }
    }
}

struct Inner {
    hard_state: HardState,
    conf_state: ConfState,
    /// Contiguous, from index 1 (no snapshots yet).
    entries: Vec<Entry>,
    disk: Disk,
}

/// A handle on the log: raft-rs reads it through `Storage`, the driver
/// writes it after each `Ready`.
#[derive(Clone)]
pub struct RaftLog {
    inner: Arc<RwLock<Inner>>,
}

impl RaftLog {
    /// Opens (or creates) the log file in `dir`.
    pub fn open(dir: &Path, voters: &[u64]) -> io::Result<RaftLog> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .read(true)
            .append(false)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("raft.log"))?;
        RaftLog::load(Disk::File(Arc::new(Mutex::new(file))), voters)
    }

    /// Replays what `disk` holds, cutting a torn tail.
    pub fn load(disk: Disk, voters: &[u64]) -> io::Result<RaftLog> {
        let bytes = disk.read()?;
        let (hard_state, entries, good) = replay(&bytes);
        if good < bytes.len() {
            tracing::warn!(cut = bytes.len() - good, "truncating a torn Raft log tail");
            disk.truncate(good)?;
        }
        let mut hard_state = hard_state;
        let last = entries.last().map_or(0, |e| e.index);
        if hard_state.commit > last {
            hard_state.commit = last;
        }
        let conf_state = ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        };
        Ok(RaftLog {
            inner: Arc::new(RwLock::new(Inner {
                hard_state,
                conf_state,
                entries,
                disk,
            })),
        })
    }

    /// Persists new entries (replacing any from the first one's index on)
    /// and, when it changed, the hard state, with one write and one sync.
    pub fn persist(&self, entries: &[Entry], hard_state: Option<&HardState>) -> io::Result<()> {
        let mut frames = Vec::new();
        for entry in entries {
            frame(
                &mut frames,
                ENTRY,
                &entry.write_to_bytes().map_err(io::Error::other)?,
            );
        }
        if let Some(hs) = hard_state {
            frame(
                &mut frames,
                HARD_STATE,
                &hs.write_to_bytes().map_err(io::Error::other)?,
            );
        }
        if frames.is_empty() {
            return Ok(());
        }
        let mut inner = self.inner.write().expect("raft log lock");
        inner.disk.append(&frames)?;
        for entry in entries {
            push(&mut inner.entries, entry.clone());
        }
        if let Some(hs) = hard_state {
            inner.hard_state = hs.clone();
        }
        Ok(())
    }

    /// Records a new commit index (Raft's LightReady).
    pub fn set_commit(&self, commit: u64) -> io::Result<()> {
        let mut hs = self.inner.read().expect("raft log lock").hard_state.clone();
        hs.commit = commit;
        self.persist(&[], Some(&hs))
    }

    pub fn last_index(&self) -> u64 {
        let inner = self.inner.read().expect("raft log lock");
        inner.entries.last().map_or(0, |e| e.index)
    }

    pub fn hard_state(&self) -> HardState {
        self.inner.read().expect("raft log lock").hard_state.clone()
    }
}

fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let mut body = Vec::with_capacity(payload.len() + 1);
    body.push(kind);
    body.extend_from_slice(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

/// Appends `entry`, first dropping any entries from its index on.
fn push(entries: &mut Vec<Entry>, entry: Entry) {
    let keep = entries
        .iter()
        .position(|e| e.index >= entry.index)
        .unwrap_or(entries.len());
    entries.truncate(keep);
    entries.push(entry);
}

/// The hard state and entries of every intact frame, and the bytes they span.
fn replay(bytes: &[u8]) -> (HardState, Vec<Entry>, usize) {
    let mut hard_state = HardState::default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= 9 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let Some(body) = bytes.get(at + 8..at + 9 + len) else {
            break;
        };
        if crc32c::crc32c(body) != crc {
            break;
        }
        let payload = &body[1..];
        match body[0] {
            ENTRY => match Entry::parse_from_bytes(payload) {
                // Indexes only ever continue or rewind (a replaced tail).
                Ok(e) if e.index >= 1 && e.index <= entries.last().map_or(0, |l| l.index) + 1 => {
                    push(&mut entries, e)
                }
                _ => break,
            },
            HARD_STATE => match HardState::parse_from_bytes(payload) {
                Ok(hs) => hard_state = hs,
                Err(_) => break,
            },
            _ => break,
        }
        at += 9 + len;
    }
    (hard_state, entries, at)
}

impl raft::Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let inner = self.inner.read().expect("raft log lock");
        Ok(RaftState {
            hard_state: inner.hard_state.clone(),
            conf_state: inner.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let inner = self.inner.read().expect("raft log lock");
        if low < 1 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        let last = inner.entries.last().map_or(0, |e| e.index);
        assert!(
            high <= last + 1,
            "entries up to {high} asked of a log ending at {last}"
        );
        let mut out: Vec<Entry> = inner.entries[(low - 1) as usize..(high - 1) as usize].to_vec();
        if let Some(max) = max_size.into() {
            // At least one entry, then as many as fit.
            let mut size = 0u64;
            let keep = out
                .iter()
                .position(|e| {
                    size += u64::from(e.compute_size());
                    size > max
                })
                .unwrap_or(out.len())
                .max(1);
            out.truncate(keep);
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == 0 {
            return Ok(0);
        }
        let inner = self.inner.read().expect("raft log lock");
        match inner.entries.get((idx - 1) as usize) {
            Some(e) => Ok(e.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(RaftLog::last_index(self))
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        // The log is never truncated yet, so no follower needs one.
        Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry {
            index,
            term,
            data: data.to_vec().into(),
            ..Default::default()
        }
    }

    #[test]
    fn entries_and_hard_state_survive_a_reload_and_a_torn_tail_is_cut() {
        let disk = Disk::memory();
        let log = RaftLog::load(disk.clone(), &[1, 2, 3]).unwrap();
        let hs = HardState {
            term: 2,
            vote: 1,
            commit: 2,
            ..Default::default()
        };
        log.persist(
            &[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")],
            Some(&hs),
        )
        .unwrap();
        // A new leader overwrote index 3 onward.
        log.persist(&[entry(3, 2, b"C"), entry(4, 2, b"d")], None)
            .unwrap();
        let Disk::Memory(bytes) = &disk else {
            unreachable!()
        };
        let good = bytes.lock().unwrap().len();
        bytes.lock().unwrap().extend_from_slice(&[7, 0, 0, 0, 1, 2]);

        let reloaded = RaftLog::load(disk.clone(), &[1, 2, 3]).unwrap();
        assert_eq!(bytes.lock().unwrap().len(), good, "the torn tail is cut");
        let state = reloaded.initial_state().unwrap();
        assert_eq!(state.hard_state, hs);
        assert_eq!(state.conf_state.voters, vec![1, 2, 3]);
        let got = reloaded
            .entries(1, 5, None, GetEntriesContext::empty(false))
            .unwrap();
        let got: Vec<(u64, u64, Vec<u8>)> = got
            .iter()
            .map(|e| (e.index, e.term, e.data.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1, b"a".to_vec()),
                (2, 1, b"b".to_vec()),
                (3, 2, b"C".to_vec()),
                (4, 2, b"d".to_vec()),
            ]
        );
        assert_eq!(reloaded.term(3).unwrap(), 2);
        assert!(reloaded.term(5).is_err());
    }

    #[test]
    fn a_file_log_reopens_with_what_was_synced() {
        let dir = tempfile::tempdir().unwrap();
        let log = RaftLog::open(dir.path(), &[1]).unwrap();
        log.persist(&[entry(1, 1, b"x")], None).unwrap();
        log.set_commit(1).unwrap();
        drop(log);
        let log = RaftLog::open(dir.path(), &[1]).unwrap();
        assert_eq!(log.last_index(), 1);
        assert_eq!(log.hard_state().commit, 1);
    }
}
