//! Sparse, memory-mapped indexes of a segment: the offset index (`.index`,
//! relative offset → file position) and the time index (`.timeindex`,
//! max timestamp so far → relative offset).
//!
//! Both are arrays of fixed-size big-endian entries in a file preallocated to
//! `segment.index.bytes` while the segment is active and trimmed to its entries
//! when the segment rolls or the broker shuts down, as Kafka does. Lookups are a
//! binary search for the last entry at or below the target; the caller then
//! scans the log forward from there (a bounded scan: one entry per
//! `index.interval.bytes`).
//!
//! The preallocated file is sparse; the pages entries are about to land in
//! are allocated first (`reserve`), so a full disk fails the append that needs
//! them with ENOSPC instead of raising SIGBUS when the map is written.

use std::fs::{File, OpenOptions};
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// A file of fixed-size entries, mmapped.
struct IndexFile {
    path: PathBuf,
    /// None once an idle closed segment let it go (the map stays valid).
    file: Option<File>,
    mmap: MmapMut,
    entries: usize,
    entry_size: usize,
    /// Bytes from the start known to have disk blocks behind them.
    allocated: usize,
}

/// Allocation granularity for `reserve`: one page.
const PAGE: usize = 4096;

impl IndexFile {
    /// Opens (or creates) an index. An existing file's length gives its entries;
    /// the file is then grown to `max_bytes` so appends need no remap.
    fn open(path: &Path, max_bytes: usize, entry_size: usize) -> io::Result<IndexFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len() as usize;
        let entries = len / entry_size;
        let capacity = (max_bytes / entry_size).max(entries).max(1) * entry_size;
        file.set_len(capacity as u64)?;
        // SAFETY: the file is owned by this broker process and only changed through this map.
        let mmap = unsafe { MmapMut::map_mut(&file)? };
        Ok(IndexFile {
            path: path.to_path_buf(),
            file: Some(file),
            mmap,
            entries,
            entry_size,
            allocated: entries * entry_size,
        })
    }

    /// Makes sure the next `more` entries have disk blocks behind them,
    /// allocating a page at a time. Fails (with nothing written) when the
    /// disk is full.
    fn reserve(&mut self, more: usize) -> io::Result<()> {
        let need = ((self.entries + more) * self.entry_size).min(self.mmap.len());
        if need <= self.allocated {
            return Ok(());
        }
        let end = need
            .div_ceil(PAGE)
            .saturating_mul(PAGE)
            .min(self.mmap.len());
        let allocated = self.allocated;
        allocate(self.handle()?, allocated, end - allocated)?;
        self.allocated = end;
        Ok(())
    }

    /// The open file, opened again after `release`.
    fn handle(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().read(true).write(true).open(&self.path)?);
        }
        Ok(self.file.as_ref().expect("just opened"))
    }

    /// Closes the file descriptor; the map (and so lookups) stays.
    fn release(&mut self) {
        self.file = None;
    }

    fn is_full(&self) -> bool {
        (self.entries + 1) * self.entry_size > self.mmap.len()
    }

    fn entry(&self, n: usize) -> &[u8] {
        &self.mmap[n * self.entry_size..(n + 1) * self.entry_size]
    }

    /// Adds an entry; a full index takes no more (the index is sparse anyway,
    /// and the segment rolls before its next append).
    fn push(&mut self, bytes: &[u8]) {
        if self.is_full() {
            return;
        }
        let at = self.entries * self.entry_size;
        self.mmap[at..at + self.entry_size].copy_from_slice(bytes);
        self.entries += 1;
    }

    /// Index of the last entry whose key is <= `target`, if any.
    fn floor(&self, target: i64, key: impl Fn(&[u8]) -> i64) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key(self.entry(mid)) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }

    fn truncate_entries(&mut self, entries: usize) {
        self.entries = self.entries.min(entries);
    }

    fn flush(&self) -> io::Result<()> {
        self.mmap.flush()
    }

    /// Shrinks the file to its entries (on roll and on close).
    fn trim(&mut self) -> io::Result<()> {
        self.mmap.flush()?;
        let len = (self.entries * self.entry_size) as u64;
        // Remap first: a map may not outlive the bytes it covers.
        self.mmap = MmapMut::map_anon(self.entry_size)?;
        self.handle()?.set_len(len)?;
        self.allocated = self.allocated.min(len as usize);
        if len > 0 {
            // SAFETY: as in `open`.
            self.mmap = unsafe { MmapMut::map_mut(self.handle()?)? };
        }
        Ok(())
    }

    fn delete(self) -> io::Result<()> {
        let path = self.path.clone();
        drop(self);
        std::fs::remove_file(path)
    }
}

/// fallocate(2) over `[offset, offset + len)` without changing the file size.
/// A filesystem without fallocate gets nothing reserved (and the old risk).
fn allocate(file: &File, offset: usize, len: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a file descriptor this index owns.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_KEEP_SIZE,
            offset as libc::off_t,
            len as libc::off_t,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Ok(()),
        _ => Err(error),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// What an index's entries hold, and so their size.
pub trait EntryKind {
    const ENTRY_SIZE: usize;
}

/// (offset - base offset: u32, position: u32), 8 bytes an entry.
pub struct Positions;
/// (timestamp: i64, offset - base offset: u32), 12 bytes an entry.
/// Timestamps are the segment's max timestamp so far, so they never decrease.
pub struct Timestamps;

impl EntryKind for Positions {
    const ENTRY_SIZE: usize = 8;
}
impl EntryKind for Timestamps {
    const ENTRY_SIZE: usize = 12;
}

/// A segment's index of one kind of entry.
pub struct Index<K> {
    base_offset: i64,
    file: IndexFile,
    kind: PhantomData<K>,
}

/// The offset index (`.index`).
pub type OffsetIndex = Index<Positions>;
/// The time index (`.timeindex`).
pub type TimeIndex = Index<Timestamps>;

impl<K: EntryKind> Index<K> {
    pub fn open(path: &Path, base_offset: i64, max_bytes: usize) -> io::Result<Index<K>> {
        let file = IndexFile::open(path, max_bytes, K::ENTRY_SIZE)?;
        Ok(Index {
            base_offset,
            file,
            kind: PhantomData,
        })
    }

    pub fn entries(&self) -> usize {
        self.file.entries
    }
    pub fn is_full(&self) -> bool {
        self.file.is_full()
    }
    pub fn reset(&mut self) {
        self.file.truncate_entries(0);
    }
    /// Allocates disk blocks for the next `more` entries (see `IndexFile::reserve`).
    pub fn reserve(&mut self, more: usize) -> io::Result<()> {
        self.file.reserve(more)
    }
    pub fn flush(&self) -> io::Result<()> {
        self.file.flush()
    }
    /// Shrinks the file to its entries (on roll and on close).
    pub fn trim(&mut self) -> io::Result<()> {
        self.file.trim()
    }
    pub fn delete(self) -> io::Result<()> {
        self.file.delete()
    }
    /// Closes the index file's descriptor; lookups go on through the map.
    pub fn release_file(&mut self) {
        self.file.release()
    }
}

impl OffsetIndex {
    /// The entry at `n`: (absolute offset, position).
    pub fn get(&self, n: usize) -> (i64, u32) {
        let e = self.file.entry(n);
        (self.base_offset + u32_at(e, 0) as i64, u32_at(e, 4))
    }

    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries().checked_sub(1).map(|n| self.get(n))
    }

    pub fn append(&mut self, offset: i64, position: u32) {
        let mut entry = [0u8; 8];
        entry[..4].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.file.push(&entry);
    }

    /// The last entry with offset <= `offset`, or (base offset, 0).
    pub fn lookup(&self, offset: i64) -> (i64, u32) {
        let rel = offset - self.base_offset;
        match self.file.floor(rel, |e| u32_at(e, 0) as i64) {
            Some(n) => self.get(n),
            None => (self.base_offset, 0),
        }
    }

    /// Drops entries pointing at or past `position` (log truncation).
    pub fn truncate_to_position(&mut self, position: u32) {
        let keep = (0..self.entries())
            .take_while(|&n| self.get(n).1 < position)
            .count();
        self.file.truncate_entries(keep);
    }

    /// Entries are increasing in offset and position and lie inside the log.
    pub fn is_sane(&self, log_size: u32) -> bool {
        (1..self.entries()).all(|n| {
            let (a, b) = (self.get(n - 1), self.get(n));
            a.0 < b.0 && a.1 < b.1
        }) && self.last().is_none_or(|(_, p)| p < log_size.max(1))
    }
}

impl TimeIndex {
    /// The entry at `n`: (timestamp, absolute offset).
    pub fn get(&self, n: usize) -> (i64, i64) {
        let e = self.file.entry(n);
        let ts = i64::from_be_bytes(e[..8].try_into().expect("8 bytes"));
        (ts, self.base_offset + u32_at(e, 8) as i64)
    }

    pub fn last(&self) -> Option<(i64, i64)> {
        self.entries().checked_sub(1).map(|n| self.get(n))
    }

    /// Appends when `timestamp` is above the last entry's (Kafka's maybeAppend).
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) {
        if self.last().is_some_and(|(ts, _)| timestamp <= ts) {
            return;
        }
        let mut entry = [0u8; 12];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        self.file.push(&entry);
    }

    /// The offset to start scanning from for the first record with a timestamp
    /// >= `timestamp`: the offset of the last entry whose timestamp is below it.
    pub fn lookup(&self, timestamp: i64) -> i64 {
        match self.file.floor(timestamp - 1, |e| {
            i64::from_be_bytes(e[..8].try_into().expect("8 bytes"))
        }) {
            Some(n) => self.get(n).1,
            None => self.base_offset,
        }
    }

    /// Drops entries whose offset is at or past `offset` (log truncation).
    pub fn truncate_to_offset(&mut self, offset: i64) {
        let keep = (0..self.entries())
            .take_while(|&n| self.get(n).1 < offset)
            .count();
        self.file.truncate_entries(keep);
    }

    pub fn is_sane(&self) -> bool {
        (1..self.entries()).all(|n| {
            let (a, b) = (self.get(n - 1), self.get(n));
            a.0 < b.0 && a.1 <= b.1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_lookup_finds_floor_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = OffsetIndex::open(&dir.path().join("a.index"), 100, 1024).unwrap();
        assert_eq!(index.lookup(150), (100, 0));
        for (i, off) in [100, 110, 120, 130].iter().enumerate() {
            index.append(*off, (i * 4096) as u32);
        }
        assert_eq!(index.lookup(99), (100, 0));
        assert_eq!(index.lookup(115), (110, 4096));
        assert_eq!(index.lookup(130), (130, 12288));
        assert_eq!(index.lookup(10_000), (130, 12288));
        assert!(index.is_sane(20_000));
    }

    #[test]
    fn offset_index_survives_trim_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.index");
        let mut index = OffsetIndex::open(&path, 0, 1024).unwrap();
        index.append(5, 10);
        index.append(9, 20);
        index.trim().unwrap();
        drop(index);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        let index = OffsetIndex::open(&path, 0, 1024).unwrap();
        assert_eq!(index.entries(), 2);
        assert_eq!(index.lookup(9), (9, 20));
    }

    #[test]
    fn offset_index_fills_up_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = OffsetIndex::open(&dir.path().join("c.index"), 0, 32).unwrap();
        for n in 0..4 {
            assert!(!index.is_full());
            index.append(n * 10, n as u32 * 100);
        }
        assert!(index.is_full());
        index.append(50, 500); // ignored, not a panic
        assert_eq!(index.entries(), 4);
        index.truncate_to_position(200);
        assert_eq!(index.entries(), 2);
    }

    #[test]
    fn time_index_lookup_and_monotonic_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = TimeIndex::open(&dir.path().join("a.timeindex"), 0, 1200).unwrap();
        index.maybe_append(1_000, 0);
        index.maybe_append(900, 5); // not above the last entry: ignored
        index.maybe_append(2_000, 10);
        index.maybe_append(3_000, 20);
        assert_eq!(index.entries(), 3);
        assert_eq!(index.lookup(500), 0);
        assert_eq!(index.lookup(1_000), 0);
        assert_eq!(index.lookup(2_500), 10);
        assert_eq!(index.lookup(3_000), 10);
        assert_eq!(index.lookup(9_000), 20);
        index.truncate_to_offset(20);
        assert_eq!(index.entries(), 2);
        assert!(index.is_sane());
    }
}
