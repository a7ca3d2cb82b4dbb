//! The controller quorum's Raft log: raft-rs's `Storage` over entries and
//! the hard state (term, vote, commit), kept in memory and persisted as
//! frames appended to one file, each synced before Raft may act on it.
//!
//! A frame is `length (u32 LE) · crc32c (u32 LE) · kind (u8) · payload`,
//! the CRC covering kind and payload; the payload is the protobuf of an
//! `Entry`, a `HardState` or a `Snapshot`. Replay applies frames in order:
//! an entry whose index is not past the last one replaces it and everything
//! after (Raft overwrote a conflicting tail), a snapshot replaces every entry
//! it covers, and a torn or corrupt tail — a crash in the middle of a write —
//! is cut off. The same bytes can live in memory instead of a file, which is
//! how the simulation restarts nodes.
//!
//! Compaction: once the owner has a snapshot of its state at an applied
//! index, `compact` rewrites the log as that snapshot, the hard state and
//! the entries after it (a new file, synced, renamed over the old), so the
//! log stays as long as what was written since the last snapshot. A member
//! too far behind for the entries the leader still holds receives the
//! snapshot instead (`install`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

const ENTRY: u8 = 1;
const HARD_STATE: u8 = 2;
const SNAPSHOT: u8 = 3;

/// Where the frames go.
#[derive(Clone)]
pub enum Disk {
    File(Arc<Mutex<(PathBuf, File)>>),
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
                let mut guard = file.lock().expect("log file lock");
                let file = &mut guard.1;
                io::Seek::rewind(file)?;
                io::Read::read_to_end(file, &mut bytes)?;
                Ok(bytes)
            }
            Disk::Memory(bytes) => Ok(bytes.lock().expect("memory disk lock").clone()),
        }
    }

    fn truncate(&self, len: usize) -> io::Result<()> {
        match self {
            Disk::File(file) => {
                let guard = file.lock().expect("log file lock");
                guard.1.set_len(len as u64)?;
                guard.1.sync_all()
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
                let mut guard = file.lock().expect("log file lock");
                let file = &mut guard.1;
                io::Seek::seek(file, io::SeekFrom::End(0))?;
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

    /// Replaces everything with `frames`: a new file, synced, renamed over
    /// the old, so a crash leaves one whole log or the other.
    fn replace(&self, frames: &[u8]) -> io::Result<()> {
        match self {
            Disk::File(file) => {
                let mut guard = file.lock().expect("log file lock");
                let path = guard.0.clone();
                let temporary = path.with_extension("compacting");
                let mut new = File::create(&temporary)?;
                new.write_all(frames)?;
                new.sync_all()?;
                std::fs::rename(&temporary, &path)?;
                if let Some(dir) = path.parent() {
                    File::open(dir)?.sync_all()?;
                }
                guard.1 = OpenOptions::new().read(true).write(true).open(&path)?;
                Ok(())
            }
            Disk::Memory(bytes) => {
                *bytes.lock().expect("memory disk lock") = frames.to_vec();
                Ok(())
            }
        }
    }
}

struct Inner {
    hard_state: HardState,
    conf_state: ConfState,
    /// The state up to `snapshot.metadata.index` (empty: none yet).
    snapshot: Snapshot,
    /// Contiguous, from the snapshot's index + 1.
    entries: Vec<Entry>,
    disk: Disk,
}

impl Inner {
    fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    fn last_index(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot_index(), |e| e.index)
    }

    /// The position of `index` in `entries`, if it is there.
    fn position(&self, index: u64) -> Option<usize> {
        let first = self.snapshot_index() + 1;
        (index >= first && index <= self.last_index()).then(|| (index - first) as usize)
    }
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
        let disk = Disk::File(Arc::new(Mutex::new((dir.join("raft.log"), file))));
        RaftLog::load(disk, voters)
    }

    /// Replays what `disk` holds, cutting a torn tail.
    pub fn load(disk: Disk, voters: &[u64]) -> io::Result<RaftLog> {
        let bytes = disk.read()?;
        let (hard_state, snapshot, entries, good) = replay(&bytes);
        if good < bytes.len() {
            tracing::warn!(cut = bytes.len() - good, "truncating a torn Raft log tail");
            disk.truncate(good)?;
        }
        let conf_state = ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        };
        let mut inner = Inner {
            hard_state,
            conf_state,
            snapshot,
            entries,
            disk,
        };
        let last = inner.last_index();
        if inner.hard_state.commit > last {
            inner.hard_state.commit = last;
        }
        Ok(RaftLog {
            inner: Arc::new(RwLock::new(inner)),
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
        let first = inner.snapshot_index() + 1;
        inner.entries.retain(|e| e.index >= first);
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
        self.inner.read().expect("raft log lock").last_index()
    }

    /// The index the log's snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.inner.read().expect("raft log lock").snapshot_index()
    }

    /// The log's snapshot (empty: none).
    pub fn snapshot(&self) -> Snapshot {
        self.inner.read().expect("raft log lock").snapshot.clone()
    }

    /// Drops every entry up to `index` (which the owner has applied and
    /// whose state `data` holds) and keeps `data` as the snapshot in their
    /// place, rewriting the log durably.
    pub fn compact(&self, index: u64, data: Vec<u8>) -> io::Result<()> {
        let mut inner = self.inner.write().expect("raft log lock");
        let Some(at) = inner.position(index) else {
            return Ok(()); // already compacted past it, or not yet written
        };
        let mut snapshot = Snapshot::default();
        snapshot.set_data(data.into());
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = inner.entries[at].term;
        meta.set_conf_state(inner.conf_state.clone());
        let kept: Vec<Entry> = inner.entries[at + 1..].to_vec();
        let frames = log_from(&snapshot, &inner.hard_state, &kept)?;
        inner.disk.replace(&frames)?;
        inner.snapshot = snapshot;
        inner.entries = kept;
        Ok(())
    }

    /// Takes a snapshot the leader sent: it replaces the whole log (Raft
    /// only sends one that covers more than this member holds committed).
    pub fn install(&self, snapshot: &Snapshot) -> io::Result<()> {
        let mut inner = self.inner.write().expect("raft log lock");
        let meta = snapshot.get_metadata();
        let mut hard_state = inner.hard_state.clone();
        hard_state.commit = hard_state.commit.max(meta.index);
        hard_state.term = hard_state.term.max(meta.term);
        inner.disk.replace(&log_from(snapshot, &hard_state, &[])?)?;
        inner.snapshot = snapshot.clone();
        inner.entries.clear();
        inner.hard_state = hard_state;
        if !meta.get_conf_state().voters.is_empty() {
            inner.conf_state = meta.get_conf_state().clone();
        }
        Ok(())
    }

    pub fn hard_state(&self) -> HardState {
        self.inner.read().expect("raft log lock").hard_state.clone()
    }
}

/// The frames of a whole log that starts at `snapshot`.
fn log_from(snapshot: &Snapshot, hard_state: &HardState, entries: &[Entry]) -> io::Result<Vec<u8>> {
    let bytes = |m: &dyn protobuf::Message| m.write_to_bytes().map_err(io::Error::other);
    let mut frames = Vec::new();
    frame(&mut frames, SNAPSHOT, &bytes(snapshot)?);
    frame(&mut frames, HARD_STATE, &bytes(hard_state)?);
    for entry in entries {
        frame(&mut frames, ENTRY, &bytes(entry)?);
    }
    Ok(frames)
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

/// The hard state, snapshot and entries of every intact frame, and the
/// bytes they span.
fn replay(bytes: &[u8]) -> (HardState, Snapshot, Vec<Entry>, usize) {
    let mut hard_state = HardState::default();
    let mut snapshot = Snapshot::default();
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
                Ok(e)
                    if e.index > snapshot.get_metadata().index
                        && e.index
                            <= entries
                                .last()
                                .map_or(snapshot.get_metadata().index, |l| l.index)
                                + 1 =>
                {
                    push(&mut entries, e)
                }
                _ => break,
            },
            HARD_STATE => match HardState::parse_from_bytes(payload) {
                Ok(hs) => hard_state = hs,
                Err(_) => break,
            },
            SNAPSHOT => match Snapshot::parse_from_bytes(payload) {
                Ok(snap) => {
                    let index = snap.get_metadata().index;
                    entries.retain(|e| e.index > index);
                    if entries.first().is_some_and(|e| e.index != index + 1) {
                        entries.clear();
                    }
                    snapshot = snap;
                }
                Err(_) => break,
            },
            _ => break,
        }
        at += 9 + len;
    }
    (hard_state, snapshot, entries, at)
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
        if low <= inner.snapshot_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        let last = inner.last_index();
        assert!(
            high <= last + 1,
            "entries up to {high} asked of a log ending at {last}"
        );
        let first = inner.snapshot_index() + 1;
        let mut out: Vec<Entry> =
            inner.entries[(low - first) as usize..(high - first) as usize].to_vec();
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
        let snapshot = inner.snapshot.get_metadata();
        if idx == snapshot.index {
            return Ok(snapshot.term);
        }
        if idx < snapshot.index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match inner.position(idx) {
            Some(at) => Ok(inner.entries[at].term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.snapshot_index() + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(RaftLog::last_index(self))
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let inner = self.inner.read().expect("raft log lock");
        if inner.snapshot.is_empty() || inner.snapshot_index() < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(inner.snapshot.clone())
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

    #[test]
    fn a_compacted_log_keeps_the_snapshot_and_the_entries_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
        let entries: Vec<Entry> = (1..=6).map(|i| entry(i, 1 + i / 4, b"e")).collect();
        let hs = HardState {
            term: 2,
            commit: 5,
            ..Default::default()
        };
        log.persist(&entries, Some(&hs)).unwrap();
        log.compact(4, b"state at 4".to_vec()).unwrap();
        let check = |log: &RaftLog| {
            assert_eq!(log.first_index().unwrap(), 5);
            assert_eq!(log.last_index(), 6);
            assert_eq!(log.term(4).unwrap(), 2);
            assert!(log.term(3).is_err());
            assert!(log
                .entries(3, 6, None, GetEntriesContext::empty(false))
                .is_err());
            let kept = log
                .entries(5, 7, None, GetEntriesContext::empty(false))
                .unwrap();
            assert_eq!(kept.iter().map(|e| e.index).collect::<Vec<_>>(), vec![5, 6]);
            assert_eq!(log.snapshot().get_data(), b"state at 4");
            assert_eq!(log.hard_state().commit, 5);
        };
        check(&log);
        drop(log);
        // Reopened from the rewritten file, and appended to as before.
        let log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
        check(&log);
        log.persist(&[entry(7, 2, b"after")], None).unwrap();
        drop(log);
        let log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
        assert_eq!(log.last_index(), 7);

        // A snapshot from the leader replaces everything.
        let mut from_leader = Snapshot::default();
        from_leader.set_data(b"leader's state at 20".to_vec().into());
        from_leader.mut_metadata().index = 20;
        from_leader.mut_metadata().term = 3;
        log.install(&from_leader).unwrap();
        drop(log);
        let log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
        assert_eq!(log.first_index().unwrap(), 21);
        assert_eq!(log.last_index(), 20);
        assert_eq!(log.term(20).unwrap(), 3);
        assert_eq!(log.hard_state().commit, 20);
    }
}
