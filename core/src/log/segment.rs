//! One log segment: a `.log` file of record batches starting at `base_offset`,
//! with its offset index and time index beside it, all named by the base offset
//! in 20 digits as Kafka names them.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::batch::{BatchHeader, HEADER_SIZE};
use super::file_slice::FileSlice;
use super::index::{OffsetIndex, TimeIndex};
use super::verify;
use std::sync::atomic::Ordering;

/// Writes every slice, in chunks the kernel accepts (IOV_MAX), resuming after
/// partial writes.
fn write_all_vectored(mut file: &File, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
    const IOV_MAX: usize = 1024;
    while !parts.is_empty() {
        let chunk = parts.len().min(IOV_MAX);
        match file.write_vectored(&parts[..chunk]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "segment write returned 0",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The sizes a segment needs to know, taken from the topic config.
#[derive(Debug, Clone, Copy)]
pub struct SegmentSizes {
    pub index_interval_bytes: usize,
    pub max_index_bytes: usize,
}

/// The suffix of the files the log cleaner is writing.
pub const CLEANED: &str = ".cleaned";

pub fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// Removes what an interrupted deletion or clean left in a partition
/// directory: `*.deleted` and `*.cleaned` files, and index files whose
/// `.log` is gone. (A clean that got as far as its swap manifest is
/// finished first: `cleaner::swap::finish`.)
pub fn remove_leftovers(dir: &Path) -> io::Result<()> {
    let names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    for name in &names {
        let orphan_index = [".index", ".timeindex"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| !names.contains(&format!("{base}.log")))
        });
        if name.ends_with(".deleted") || name.ends_with(CLEANED) || orphan_index {
            // The log deleter may be removing the same `.deleted` file.
            match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Wall-clock milliseconds since the Unix epoch (Kafka's timestamps).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct LogSegment {
    base_offset: i64,
    path: PathBuf,
    /// The open `.log` file, shared with the fetches sending from it; None
    /// while a closed segment is idle (`release_if_idle`): it is opened
    /// again on its next use.
    file: std::sync::Mutex<Option<Arc<File>>>,
    /// When the file was last used (ms), for `release_if_idle`.
    last_used_ms: std::sync::atomic::AtomicI64,
    size: u32,
    index: OffsetIndex,
    time_index: TimeIndex,
    sizes: SegmentSizes,
    bytes_since_last_index_entry: usize,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    created_ms: i64,
    /// A partial write could not be cut off (`undo_partial_write`).
    unwritable: bool,
    /// Sorted, disjoint byte ranges of whole batches this process wrote or
    /// checked (`check_range`): reads inside them need no check.
    verified: std::sync::Mutex<Vec<(u32, u32)>>,
}

/// Adds `range` to sorted, disjoint `ranges`, merging what touches it.
fn add_range(ranges: &mut Vec<(u32, u32)>, (mut start, mut end): (u32, u32)) {
    if start >= end {
        return;
    }
    ranges.retain(|&(a, b)| {
        let touches = a <= end && start <= b;
        if touches {
            start = start.min(a);
            end = end.max(b);
        }
        !touches
    });
    let at = ranges.partition_point(|&(a, _)| a < start);
    ranges.insert(at, (start, end));
    // Reads that jump around a large old segment leave many islands: keep
    // the list short (a forgotten range is only checked again).
    if ranges.len() > MAX_VERIFIED_RANGES {
        if let Some(shortest) = (0..ranges.len()).min_by_key(|&i| ranges[i].1 - ranges[i].0) {
            ranges.remove(shortest);
        }
    }
}

/// How many disjoint verified ranges a segment remembers.
const MAX_VERIFIED_RANGES: usize = 64;

impl LogSegment {
    /// Opens the segment at `base_offset` in `dir`, creating empty files if absent.
    pub fn open(dir: &Path, base_offset: i64, sizes: SegmentSizes) -> io::Result<LogSegment> {
        Self::open_with_suffix(dir, base_offset, sizes, "")
    }

    /// A segment whose three files end in `.cleaned`: the log cleaner's
    /// output, swapped in under the usual names once complete.
    pub fn create_cleaned(
        dir: &Path,
        base_offset: i64,
        sizes: SegmentSizes,
    ) -> io::Result<LogSegment> {
        for suffix in [".log", ".index", ".timeindex"] {
            let path = dir.join(file_name(base_offset, suffix) + CLEANED);
            if path.exists() {
                std::fs::remove_file(path)?;
            }
        }
        Self::open_with_suffix(dir, base_offset, sizes, CLEANED)
    }

    fn open_with_suffix(
        dir: &Path,
        base_offset: i64,
        sizes: SegmentSizes,
        suffix: &str,
    ) -> io::Result<LogSegment> {
        let path = dir.join(file_name(base_offset, ".log") + suffix);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let meta = file.metadata()?;
        let size = u32::try_from(meta.len()).map_err(|_| io::Error::other("segment over 4 GiB"))?;
        let created_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or_else(now_ms);
        let index = OffsetIndex::open(
            &dir.join(file_name(base_offset, ".index") + suffix),
            base_offset,
            sizes.max_index_bytes,
        )?;
        let time_index = TimeIndex::open(
            &dir.join(file_name(base_offset, ".timeindex") + suffix),
            base_offset,
            sizes.max_index_bytes,
        )?;
        let (max_timestamp, offset_of_max_timestamp) = time_index.last().unwrap_or((-1, -1));
        Ok(LogSegment {
            base_offset,
            path,
            file: std::sync::Mutex::new(Some(Arc::new(file))),
            last_used_ms: now_ms().into(),
            size,
            index,
            time_index,
            sizes,
            bytes_since_last_index_entry: 0,
            max_timestamp,
            offset_of_max_timestamp,
            created_ms: if size == 0 { now_ms() } else { created_ms },
            unwritable: false,
            verified: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    /// The `.log` file, opened again if an idle closed segment let it go
    /// (the cleaner reads closed segments through it).
    pub fn file(&self) -> io::Result<Arc<File>> {
        self.last_used_ms.store(now_ms(), Ordering::Relaxed);
        let mut slot = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &*slot {
            return Ok(file.clone());
        }
        let file = Arc::new(
            OpenOptions::new()
                .read(true)
                .append(true)
                .open(&self.path)?,
        );
        *slot = Some(file.clone());
        Ok(file)
    }

    /// The `.log` file for a short read elsewhere (the cleaner's plan): the
    /// open one, or a new handle that is not kept, so that planning does not
    /// keep idle segments' files open.
    pub fn file_uncached(&self) -> io::Result<Arc<File>> {
        if let Some(file) = &*self.file.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(file.clone());
        }
        Ok(Arc::new(File::open(&self.path)?))
    }

    /// Lets the `.log` file and the index files go when the segment has not
    /// been used for `idle_ms` (the indexes stay mapped): a partition's
    /// closed segments hold no file descriptors while nobody reads them.
    /// Only for closed segments: the active one is written all the time.
    pub fn release_if_idle(&mut self, idle_ms: i64, now: i64) -> bool {
        if now - self.last_used_ms.load(Ordering::Relaxed) < idle_ms {
            return false;
        }
        let released = self
            .file
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some();
        self.index.release_file();
        self.time_index.release_file();
        released
    }

    /// Whether the `.log` file is open now.
    pub fn holds_file(&self) -> bool {
        self.file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
    pub fn size(&self) -> u32 {
        self.size
    }
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }
    /// True when no more index entries fit: the segment must roll.
    pub fn indexes_full(&self) -> bool {
        self.index.is_full() || self.time_index.is_full()
    }
    pub fn indexes_sane(&self) -> bool {
        self.index.is_sane(self.size) && self.time_index.is_sane()
    }

    /// Appends already-validated, offset-assigned batches given as slices
    /// (one `writev`, no copy). `batches` lists each batch's position in the
    /// concatenated slices and its header.
    pub fn append(
        &mut self,
        parts: &mut [IoSlice<'_>],
        batches: &[(usize, BatchHeader)],
    ) -> io::Result<()> {
        if self.unwritable {
            return Err(io::Error::other(format!(
                "{} holds a partial write that could not be removed; restart the broker to recover it",
                self.path.display()
            )));
        }
        let start = self.size;
        let len: usize = parts.iter().map(|p| p.len()).sum();
        // Index pages first: a full disk then fails here, before any byte.
        self.index.reserve(batches.len())?;
        self.time_index.reserve(batches.len())?;
        let file = self.file()?;
        if let Err(error) = write_all_vectored(&file, parts) {
            self.undo_partial_write(start);
            return Err(error);
        }
        for (position, header) in batches {
            self.index_batch(start + *position as u32, header);
        }
        self.size += len as u32;
        add_range(&mut self.verified(), (start, self.size));
        Ok(())
    }

    /// A failed write may have left part of a batch at the end of the file
    /// (O_APPEND wrote what fitted): cut the file back to `size`, so the next
    /// append lands where the segment thinks its end is. If even that fails,
    /// the segment refuses appends until recovery at the next start.
    fn undo_partial_write(&mut self, size: u32) {
        if let Err(error) = self.file().and_then(|f| f.set_len(size as u64)) {
            tracing::error!(segment = %self.path.display(), %error,
                "cannot remove a partial write; the segment takes no more appends");
            self.unwritable = true;
        }
    }

    /// Updates both indexes for one batch written at `position`.
    fn index_batch(&mut self, position: u32, header: &BatchHeader) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        if self.bytes_since_last_index_entry > self.sizes.index_interval_bytes {
            self.index.append(header.base_offset, position);
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += header.size;
    }

    /// Reads the header of the batch at `position`, if a whole header is there
    /// and the batch it describes ends inside the segment (so walking from
    /// batch to batch always stops, whatever the bytes say).
    pub fn header_at(&self, position: u32) -> io::Result<Option<BatchHeader>> {
        self.header_in(&*self.file()?, position)
    }

    /// `header_at` with the file already in hand (walks open it once).
    fn header_in(&self, file: &File, position: u32) -> io::Result<Option<BatchHeader>> {
        if position as usize + HEADER_SIZE > self.size as usize {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_SIZE];
        file.read_exact_at(&mut buf, position as u64)?;
        Ok(BatchHeader::parse(&buf)
            .ok()
            .filter(|h| position as usize + h.size <= self.size as usize))
    }

    /// Position and header of the first batch whose last offset is >= `offset`.
    pub fn find(&self, offset: i64) -> io::Result<Option<(u32, BatchHeader)>> {
        let (_, mut position) = self.index.lookup(offset);
        let file = self.file()?;
        while let Some(header) = self.header_in(&file, position)? {
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.size as u32;
        }
        Ok(None)
    }

    /// The last batch of the segment, walking from the last index entry.
    pub fn last_batch(&self) -> io::Result<Option<(u32, BatchHeader)>> {
        let mut position = self.index.last().map(|(_, p)| p).unwrap_or(0);
        let mut last = None;
        let file = self.file()?;
        while let Some(header) = self.header_in(&file, position)? {
            last = Some((position, header));
            position += header.size as u32;
        }
        Ok(last)
    }

    /// Position and header of the first batch with a max timestamp >= `timestamp`.
    pub fn find_by_timestamp(&self, timestamp: i64) -> io::Result<Option<(u32, BatchHeader)>> {
        let start_offset = self.time_index.lookup(timestamp);
        let Some((mut position, _)) = self.find(start_offset)? else {
            return Ok(None);
        };
        let file = self.file()?;
        while let Some(header) = self.header_in(&file, position)? {
            if header.max_timestamp >= timestamp {
                return Ok(Some((position, header)));
            }
            position += header.size as u32;
        }
        Ok(None)
    }

    /// Reads `[position, min(position + len, end))` of the log file.
    pub fn read(&self, position: u32, len: usize, end: u32) -> io::Result<Bytes> {
        let end = end.min(self.size) as usize;
        let len = len.min(end.saturating_sub(position as usize));
        let mut buf = vec![0u8; len];
        self.file()?.read_exact_at(&mut buf, position as u64)?;
        Ok(Bytes::from(buf))
    }

    /// The range `[position, min(position + len, end))` of the log file, to be
    /// sent as it is, once its batches are known to be sound (`check_range`:
    /// damage is an `InvalidData` error).
    pub fn slice(
        &self,
        position: u32,
        len: usize,
        end: u32,
        max_batch_size: usize,
    ) -> io::Result<FileSlice> {
        let end = end.min(self.size) as usize;
        let len = len.min(end.saturating_sub(position as usize));
        self.check_range(position, position + len as u32, max_batch_size)?;
        Ok(FileSlice::new(self.file()?, position as u64, len))
    }

    /// Validates every batch, rebuilds both indexes and truncates anything
    /// after the last valid batch. Returns (next offset, bytes truncated).
    pub fn recover(&mut self, max_batch_size: usize) -> io::Result<(Option<i64>, u64)> {
        self.index.reset();
        self.time_index.reset();
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.bytes_since_last_index_entry = 0;
        let file = self.file()?;
        let walked = verify::walk(
            &file,
            self.size,
            0,
            self.size,
            None,
            max_batch_size,
            |p, h| self.index_batch(p, h),
        )?;
        if let Some(damage) = &walked.damage {
            tracing::warn!(segment = %self.path.display(), position = damage.position,
                reason = %damage.reason, "recovery stops at a damaged batch");
        }
        let truncated = (self.size - walked.end) as u64;
        if truncated > 0 {
            file.set_len(walked.end as u64)?;
            self.size = walked.end;
            super::metrics::TRUNCATED_BYTES.fetch_add(truncated, Ordering::Relaxed);
        }
        *self.verified() = vec![(0, self.size)];
        Ok((walked.next_offset, truncated))
    }

    /// Checks the batches from the last offset index entry to the end of
    /// the file (what a clean start used to trust unread): a torn or
    /// damaged tail is cut off, with the indexes rebuilt, before the
    /// segment takes appends. Returns the bytes truncated.
    pub fn verify_tail(&mut self, max_batch_size: usize) -> io::Result<u64> {
        let from = self.index.last().map(|(_, p)| p).unwrap_or(0);
        let walked = verify::walk(
            &*self.file()?,
            self.size,
            from,
            self.size,
            None,
            max_batch_size,
            |_, _| {},
        )?;
        match walked.damage {
            None => {
                self.verified().push((from, self.size));
                Ok(0)
            }
            Some(damage) => {
                tracing::warn!(segment = %self.path.display(), position = damage.position,
                    reason = %damage.reason, "the tail of the active segment is damaged");
                Ok(self.recover(max_batch_size)?.1)
            }
        }
    }

    /// Checks the whole batches that `[position, end)` of the file covers
    /// before they are sent, unless this process wrote or checked them
    /// already: bytes damaged on disk make the read fail (the fetch gets
    /// KAFKA_STORAGE_ERROR) instead of reaching a consumer.
    fn check_range(&self, position: u32, end: u32, max_batch_size: usize) -> io::Result<()> {
        let covered =
            |ranges: &[(u32, u32)]| ranges.iter().any(|&(a, b)| a <= position && end <= b);
        if position >= end || covered(&self.verified()) {
            return Ok(());
        }
        let walked = verify::walk(
            &*self.file()?,
            self.size,
            position,
            end,
            None,
            max_batch_size,
            |_, _| {},
        )?;
        if let Some(damage) = walked.damage {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "damaged batch in {} at position {}: {} (run `weir log verify`)",
                    self.path.display(),
                    damage.position,
                    damage.reason
                ),
            ));
        }
        add_range(&mut self.verified(), (position, walked.end));
        Ok(())
    }

    /// The byte ranges known to hold sound batches.
    fn verified(&self) -> std::sync::MutexGuard<'_, Vec<(u32, u32)>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets verified bytes past `size` (after a truncation).
    fn clip_verified(&mut self) {
        let size = self.size;
        let mut ranges = self.verified();
        ranges.retain(|&(a, _)| a < size);
        for range in ranges.iter_mut() {
            range.1 = range.1.min(size);
        }
    }

    /// Removes every batch holding an offset at or after `offset` (as
    /// Kafka does, the whole batch that holds `offset`).
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        let position = match self.find(offset)? {
            Some((position, _)) => position,
            None => return Ok(()),
        };
        self.file()?.set_len(position as u64)?;
        self.size = position;
        self.clip_verified();
        self.index.truncate_to_position(position);
        self.time_index.truncate_to_offset(offset);
        (self.max_timestamp, self.offset_of_max_timestamp) =
            self.time_index.last().unwrap_or((-1, -1));
        Ok(())
    }

    /// Starts writing the log file's dirty pages back without waiting
    /// (sync_file_range): a long writer (the cleaner) calls it as it goes,
    /// so its final fsync does not flush a burst that stalls other writers.
    pub fn start_writeback(&self) {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain syscall on a file descriptor this segment owns.
        if let Ok(file) = self.file() {
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
    }

    /// Makes the log and its indexes durable (fsync / msync).
    pub fn flush(&self) -> io::Result<()> {
        self.file()?.sync_data()?;
        self.index.flush()?;
        self.time_index.flush()
    }

    /// Called when the segment stops being active, and on shutdown: the index
    /// files shrink to their entries so the next open reads them as they are.
    pub fn close(&mut self) -> io::Result<()> {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
        self.index.trim()?;
        self.time_index.trim()
    }

    /// Deletes the segment's files so that a crash at any point leaves
    /// either the whole segment or none of it: the `.log` is renamed to
    /// `.log.deleted` first (from then on the log does not list it), then
    /// the indexes are removed, and the renamed file soon after by the log
    /// deleter thread (`deleter`, idle CPU class). Start-up removes what
    /// a crash left behind (`remove_leftovers`). Fetches sending from the
    /// file keep reading it through their open handle.
    pub fn delete(self) -> io::Result<()> {
        let LogSegment {
            path,
            file,
            index,
            time_index,
            ..
        } = self;
        drop(file);
        let deleted = path.with_extension("log.deleted");
        std::fs::rename(&path, &deleted)?;
        index.delete()?;
        time_index.delete()?;
        super::deleter::remove_later(deleted);
        Ok(())
    }

    /// The last offset a closed segment spans, given the next segment's base.
    pub fn info(&self, next_base: i64) -> super::retention::SegmentInfo {
        super::retention::SegmentInfo {
            base_offset: self.base_offset,
            last_offset: next_base - 1,
            size: self.size as u64,
            max_timestamp: if self.max_timestamp >= 0 {
                self.max_timestamp
            } else {
                self.created_ms
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch;
    use crate::log::batch::tests::make_batch;
    use kafka_protocol::records::Compression;

    const SIZES: SegmentSizes = SegmentSizes {
        index_interval_bytes: 100,
        max_index_bytes: 4096,
    };

    /// Appends `count` batches of 5 records each, starting at `next`.
    fn fill(segment: &mut LogSegment, next: &mut i64, count: usize, ts: i64) {
        for _ in 0..count {
            let mut bytes = make_batch(5, ts + *next, Compression::None);
            batch::assign(&mut bytes, *next, 0, None);
            let header = batch::validate(&bytes).unwrap();
            segment
                .append(&mut [IoSlice::new(&bytes)], &[(0, header)])
                .unwrap();
            *next += 5;
        }
    }

    #[test]
    fn verified_ranges_merge_and_stay_few() {
        let mut ranges = Vec::new();
        add_range(&mut ranges, (100, 200));
        add_range(&mut ranges, (300, 400));
        add_range(&mut ranges, (200, 300));
        assert_eq!(ranges, vec![(100, 400)]);
        add_range(&mut ranges, (0, 50));
        add_range(&mut ranges, (40, 120));
        assert_eq!(ranges, vec![(0, 400)]);
        for n in 0..200u32 {
            add_range(&mut ranges, (1_000 + n * 10, 1_000 + n * 10 + 1 + n % 3));
        }
        assert!(ranges.len() <= MAX_VERIFIED_RANGES);
        assert!(
            ranges.windows(2).all(|w| w[0].1 < w[1].0),
            "sorted and disjoint"
        );
        assert_eq!(ranges[0], (0, 400), "the long range is kept");
    }

    #[test]
    fn append_then_find_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        let mut next = 0;
        fill(&mut segment, &mut next, 50, 1_000);
        assert!(segment.index.entries() > 5, "sparse index was written");
        for target in [0, 3, 5, 122, 249] {
            let (position, header) = segment.find(target).unwrap().unwrap();
            assert!(header.base_offset <= target && target <= header.last_offset());
            let bytes = segment.read(position, header.size, segment.size()).unwrap();
            assert_eq!(
                batch::validate(&bytes).unwrap().base_offset,
                header.base_offset
            );
        }
        assert!(segment.find(250).unwrap().is_none());
    }

    #[test]
    fn find_by_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        let mut next = 0;
        fill(&mut segment, &mut next, 40, 10_000);
        // batch n (5 records at offset o) has timestamps 10_000 + o + 0..5
        let (_, header) = segment.find_by_timestamp(10_102).unwrap().unwrap();
        assert_eq!(header.base_offset, 100);
        let (_, header) = segment.find_by_timestamp(0).unwrap().unwrap();
        assert_eq!(header.base_offset, 0);
        assert!(segment.find_by_timestamp(99_999).unwrap().is_none());
        assert_eq!(segment.max_timestamp(), 10_000 + 195 + 4);
        assert_eq!(segment.offset_of_max_timestamp(), 199);
    }

    #[test]
    fn recovery_truncates_a_torn_tail_byte_by_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        let mut next = 0;
        fill(&mut segment, &mut next, 10, 0);
        let good = segment.size();
        let mut torn = make_batch(5, 0, Compression::Gzip);
        batch::assign(&mut torn, next, 0, None);
        drop(segment);
        // Every prefix of the next batch is a torn write that recovery must cut.
        for cut in [1, 11, 12, 40, 61, torn.len() - 1] {
            let path = dir.path().join(file_name(0, ".log"));
            let file = OpenOptions::new().append(true).open(&path).unwrap();
            file.set_len(good as u64).unwrap();
            (&file).write_all(&torn[..cut]).unwrap();
            let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
            let (next_offset, truncated) = segment.recover(1 << 20).unwrap();
            assert_eq!(next_offset, Some(50));
            assert_eq!(truncated, cut as u64);
            assert_eq!(segment.size(), good);
            assert!(segment.indexes_sane());
            assert!(segment.find(49).unwrap().is_some());
        }
    }

    #[test]
    fn recovery_stops_at_a_corrupt_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        let mut next = 0;
        fill(&mut segment, &mut next, 4, 0);
        let third = segment.find(10).unwrap().unwrap().0;
        // (O_APPEND ignores pwrite offsets on Linux, so use a second handle.)
        let path = dir.path().join(file_name(0, ".log"));
        let raw = OpenOptions::new().write(true).open(path).unwrap();
        raw.write_at(&[0xff], third as u64 + 70).unwrap();
        let (next_offset, _) = segment.recover(1 << 20).unwrap();
        assert_eq!(next_offset, Some(10));
        assert_eq!(segment.size(), third);
    }

    #[test]
    fn truncate_to_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        let mut next = 0;
        fill(&mut segment, &mut next, 20, 0);
        segment.truncate_to(50).unwrap();
        assert!(segment.find(50).unwrap().is_none());
        assert_eq!(segment.find(49).unwrap().unwrap().1.last_offset(), 49);
        assert!(segment.indexes_sane());
    }

    #[test]
    fn close_and_reopen_keeps_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        let mut next = 0;
        fill(&mut segment, &mut next, 30, 0);
        let entries = segment.index.entries();
        let max_ts = segment.max_timestamp();
        segment.close().unwrap();
        drop(segment);
        let segment = LogSegment::open(dir.path(), 0, SIZES).unwrap();
        assert_eq!(segment.index.entries(), entries);
        assert_eq!(segment.max_timestamp(), max_ts);
        assert!(segment.indexes_sane());
    }
}
