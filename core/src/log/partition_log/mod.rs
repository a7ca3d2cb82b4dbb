//! The log of one partition: an ordered set of segments, the log end offset,
//! the log start offset and the recovery point. It appends produced batches
//! (checked by `validate`), serves reads by offset and by timestamp, rolls
//! segments and recovers after a crash.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};

use kafka_protocol::records::RecordBatchDecoder;
use thiserror::Error;
use tracing::{error, warn};

use super::batch::{self, BatchError, BatchHeader};
use super::cleaner::swap::{self, Swap};
use super::cleaner::{CleanPlan, Cleaned, PlannedSegment};
use super::file_slice::FileSlice;
use super::retention::SegmentInfo;
use super::segment::{self, CLEANED};
use super::segment::{now_ms, LogSegment, SegmentSizes};
use super::validate::validate_batches;
use super::LogConfig;

mod epochs;
mod follower;
mod load;

pub use epochs::{truncation_offset, EpochCache, UNDEFINED as UNDEFINED_EPOCH};

/// Why an append was refused. Nothing is written when any batch is bad.
#[derive(Debug, Error)]
pub enum AppendError {
    #[error("{0}")]
    Corrupt(BatchError),
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    TooLarge { size: usize, max: usize },
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Some records are invalid (KIP-467): each one's index in the
    /// request's records and why; the batch is refused whole.
    #[error("{message}")]
    InvalidRecords {
        message: String,
        records: Vec<(i32, String)>,
    },
    #[error(
        "timestamp {timestamp} is out of range (message.timestamp.before.max.ms / after.max.ms)"
    )]
    InvalidTimestamp { timestamp: i64 },
    #[error("log I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The broker's timestamp for LogAppendTime topics, else -1.
    pub log_append_time: i64,
    pub records: i64,
    /// A retry of batches already in the log (idempotence): nothing was
    /// appended; the offsets are the original ones.
    pub duplicate: bool,
    /// The leader epoch the batches were written in.
    pub leader_epoch: i32,
}

/// A read of the log: stored batches, as they are on disk.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub records: FileSlice,
}

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error("log I/O error: {0}")]
    Io(#[from] io::Error),
}

pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, LogSegment>,
    log_start_offset: i64,
    next_offset: i64,
    recovery_point: i64,
    unflushed_messages: i64,
    last_flush_ms: i64,
    /// The leader epoch cache.
    epochs: EpochCache,
    /// Where the log cleaner stopped last: what follows is dirty.
    first_dirty_offset: i64,
    /// The earliest delete horizon of the tombstones the cleaner kept: the
    /// log is due then even with nothing new written.
    tombstones_expire: i64,
    /// Taken off `segment.ms` for the active segment (`roll_jitter`).
    roll_jitter_ms: i64,
}

/// Kafka's roll jitter: a random share of `segment.jitter.ms` (below
/// `segment.ms`) taken off a segment's roll time, so that partitions
/// created together do not all roll, and become deletable, at once.
fn roll_jitter(config: &LogConfig) -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let bound = config.segment_jitter_ms.min(config.segment_ms);
    if bound <= 0 {
        return 0;
    }
    // Each RandomState is seeded anew: a random number without a crate.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (random % bound as u64) as i64
}

impl PartitionLog {
    fn first_base(&self) -> i64 {
        *self
            .segments
            .keys()
            .next()
            .expect("a log has at least one segment")
    }
    fn active(&self) -> &LogSegment {
        self.segments
            .values()
            .next_back()
            .expect("a log has at least one segment")
    }
    fn active_mut(&mut self) -> &mut LogSegment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log has at least one segment")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    pub fn log_end_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
    pub fn latest_epoch(&self) -> Option<(i32, i64)> {
        self.epochs.latest()
    }
    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }
    /// The largest epoch at or below `epoch` and where the next one began
    /// (OffsetForLeaderEpoch; `epochs::UNDEFINED` when unknown).
    pub fn end_offset_for(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.next_offset)
    }

    /// Validates, assigns offsets to and appends the batches in `bytes`.
    pub fn append(&mut self, bytes: &[u8], leader_epoch: i32) -> Result<AppendInfo, AppendError> {
        let batches = self.validate(bytes, false)?;
        self.append_validated(bytes, batches, leader_epoch)
    }

    /// Checks the batches of a produce request against this log's config
    /// (`validate_batches` with the log's settings and the current time).
    pub fn validate(
        &self,
        bytes: &[u8],
        rewritten: bool,
    ) -> Result<Vec<(usize, BatchHeader)>, AppendError> {
        validate_batches(bytes, &self.config, now_ms(), rewritten)
    }

    /// Appends batches `validate` accepted (so callers can look at the
    /// headers first, e.g. for producer sequence checks).
    pub fn append_validated(
        &mut self,
        bytes: &[u8],
        mut batches: Vec<(usize, BatchHeader)>,
        leader_epoch: i32,
    ) -> Result<AppendInfo, AppendError> {
        let now = now_ms();
        // compression.type other than `producer`: store with the topic's codec.
        let recompressed;
        let bytes = match self.config.compression {
            Some(target)
                if batches
                    .iter()
                    .any(|(_, h)| !h.is_control() && h.compression() != target as i16) =>
            {
                recompressed = batch::recompress(bytes, target).map_err(AppendError::Corrupt)?;
                batches = validate_batches(&recompressed, &self.config, now, true)?;
                &recompressed[..]
            }
            _ => bytes,
        };
        let base_offset = self.next_offset;
        let log_append_time = self.config.log_append_time.then_some(now);
        let records: i64 = batches.iter().map(|(_, h)| h.records_count as i64).sum();
        self.maybe_roll(bytes.len(), now)
            .map_err(|e| self.append_failed("roll a new segment", e))?;
        let mut headers = Vec::with_capacity(batches.len());
        let mut next = base_offset;
        for (position, header) in batches.iter_mut() {
            let batch_bytes = &bytes[*position..*position + header.size];
            headers.push(batch::assigned_header(
                batch_bytes,
                next,
                leader_epoch,
                log_append_time,
            ));
            header.base_offset = next;
            header.partition_leader_epoch = leader_epoch;
            if let Some(time) = log_append_time {
                header.max_timestamp = time;
            }
            next = header.next_offset();
        }
        if !self.config.null {
            let mut parts = Vec::with_capacity(batches.len() * 2);
            for ((position, header), head) in batches.iter().zip(&headers) {
                parts.push(IoSlice::new(head));
                parts.push(IoSlice::new(
                    &bytes[*position + batch::HEADER_SIZE..*position + header.size],
                ));
            }
            if let Err(e) = self.active_mut().append(&mut parts, &batches) {
                return Err(self.append_failed("append", e));
            }
        }
        self.next_offset = next;
        self.assign_epoch(leader_epoch, base_offset);
        self.count_unflushed(records)?;
        Ok(AppendInfo {
            base_offset,
            last_offset: next - 1,
            log_append_time: log_append_time.unwrap_or(-1),
            records,
            duplicate: false,
            leader_epoch,
        })
    }

    /// Counts appended records towards `flush.messages`, flushing when due.
    fn count_unflushed(&mut self, records: i64) -> Result<(), AppendError> {
        self.unflushed_messages += records;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(())
    }

    /// Logs (at ERROR, rate-limited) and counts an append that failed with
    /// an I/O error; the log is as it was before it.
    fn append_failed(&self, what: &str, error: io::Error) -> AppendError {
        super::metrics::log_limited(&super::metrics::APPEND_FAILURES, |suppressed| {
            error!(dir = %self.dir.display(), %error, suppressed,
                "could not {what}: the append was refused and undone");
        });
        AppendError::Io(error)
    }

    /// Records that leader epoch `epoch` starts at `start_offset` (on
    /// appends, and when this replica becomes leader: Kafka's
    /// `maybeAssignEpochStartOffset`, so a follower asking about an older
    /// epoch learns where it ended even before the new leader writes).
    pub fn assign_epoch(&mut self, epoch: i32, start_offset: i64) {
        self.epochs.assign(epoch, start_offset);
    }

    /// Rolls to a new segment when the incoming bytes would overflow
    /// `segment.bytes`, the segment is older than `segment.ms`, or its indexes are full.
    fn maybe_roll(&mut self, incoming: usize, now: i64) -> io::Result<()> {
        let active = self.active();
        if active.size() == 0 {
            return Ok(());
        }
        let full = active.size() as u64 + incoming as u64 > self.config.segment_bytes;
        if full || self.roll_due(now) || active.indexes_full() {
            self.roll()?;
        }
        Ok(())
    }

    pub fn roll(&mut self) -> io::Result<()> {
        let base = self.next_offset;
        if self.active().base_offset() == base {
            return Ok(());
        }
        self.active_mut().close()?;
        let segment = LogSegment::open(&self.dir, base, self.config.segment_sizes())?;
        self.segments.insert(base, segment);
        self.roll_jitter_ms = roll_jitter(&self.config);
        Ok(())
    }

    /// The active segment is older than `segment.ms` less its jitter.
    fn roll_due(&self, now: i64) -> bool {
        now - self.active().created_ms() >= self.config.segment_ms - self.roll_jitter_ms
    }

    /// Reads stored batches from the one holding `offset`, at most `max_bytes`
    /// (but a whole first batch when `min_one`), never past `max_offset`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one: bool,
    ) -> Result<ReadResult, ReadError> {
        if offset < self.log_start_offset || offset > self.next_offset {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: self.next_offset,
            });
        }
        if offset >= max_offset || self.config.null {
            return Ok(ReadResult::default());
        }
        let from = self
            .segments
            .range(..=offset)
            .next_back()
            .map(|(b, _)| *b)
            .unwrap_or(offset);
        for segment in self.segments.range(from..).map(|(_, s)| s) {
            let Some((position, header)) = segment.find(offset)? else {
                continue;
            };
            if header.base_offset >= max_offset {
                return Ok(ReadResult::default());
            }
            let end = if max_offset >= self.next_offset {
                segment.size()
            } else {
                segment
                    .find(max_offset)?
                    .map(|(p, _)| p)
                    .unwrap_or(segment.size())
            };
            let len = if min_one {
                max_bytes.max(header.size)
            } else {
                max_bytes
            };
            return match segment.slice(position, len, end, self.max_batch_size()) {
                Ok(records) => Ok(ReadResult { records }),
                Err(error) => {
                    if error.kind() == io::ErrorKind::InvalidData {
                        super::metrics::log_limited(&super::metrics::DAMAGED_READS, |suppressed| {
                            error!(dir = %self.dir.display(), offset, %error, suppressed,
                                "refused to serve a damaged batch");
                        });
                    }
                    Err(ReadError::Io(error))
                }
            };
        }
        Ok(ReadResult::default())
    }

    /// The first record with a timestamp >= `timestamp`: (offset, timestamp).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> io::Result<Option<(i64, i64)>> {
        for segment in self.segments.values() {
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let Some((position, header)) = segment.find_by_timestamp(timestamp)? else {
                continue;
            };
            let found =
                self.record_in_batch(segment, position, &header, |_, ts| ts >= timestamp)?;
            if let Some((offset, ts)) = found.filter(|(o, _)| *o >= self.log_start_offset) {
                return Ok(Some((offset, ts)));
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp (KIP-734): (offset, timestamp).
    pub fn max_timestamp(&self) -> io::Result<Option<(i64, i64)>> {
        let Some(segment) = self
            .segments
            .values()
            .filter(|s| s.max_timestamp() >= 0)
            .max_by_key(|s| s.max_timestamp())
        else {
            return Ok(None);
        };
        let max = segment.max_timestamp();
        let Some((position, header)) = segment.find(segment.offset_of_max_timestamp())? else {
            return Ok(None);
        };
        self.record_in_batch(segment, position, &header, |_, ts| ts == max)
    }

    /// Decodes one batch and returns the first record matching `pick`.
    fn record_in_batch(
        &self,
        segment: &LogSegment,
        position: u32,
        header: &BatchHeader,
        pick: impl Fn(i64, i64) -> bool,
    ) -> io::Result<Option<(i64, i64)>> {
        if header.is_log_append_time() {
            return Ok(Some((header.base_offset, header.max_timestamp)));
        }
        let mut bytes = segment.read(position, header.size, segment.size())?;
        let set =
            RecordBatchDecoder::decode(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(set
            .records
            .iter()
            .find(|r| pick(r.offset, r.timestamp))
            .map(|r| (r.offset, r.timestamp)))
    }

    /// Calls `f` with the header of every batch from `from` (or the log start)
    /// on, in order (start-up rebuilds the producer state this way).
    pub fn for_each_batch(&self, from: i64, mut f: impl FnMut(&BatchHeader)) -> io::Result<()> {
        let from = from.max(self.log_start_offset);
        let first = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(from, |(b, _)| *b);
        for segment in self.segments.range(first..).map(|(_, s)| s) {
            let Some((mut position, _)) = segment.find(from)? else {
                continue;
            };
            while let Some(header) = segment.header_at(position)? {
                f(&header);
                position += header.size as u32;
            }
        }
        Ok(())
    }

    /// Moves the log start offset forward (DeleteRecords) and deletes every
    /// segment wholly below it.
    pub fn delete_records_before(&mut self, offset: i64) -> io::Result<i64> {
        let offset = offset.min(self.next_offset);
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.log_start_offset = offset;
        self.epochs.truncate_from_start(offset);
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        for pair in bases.windows(2) {
            if pair[1] <= offset {
                if let Some(segment) = self.segments.remove(&pair[0]) {
                    segment.delete()?;
                }
            }
        }
        Ok(self.log_start_offset)
    }

    /// Bytes in every segment.
    pub fn size(&self) -> u64 {
        self.segments.values().map(|s| s.size() as u64).sum()
    }

    /// The closed segments wholly below `below` (the high watermark),
    /// oldest first: what retention may delete.
    pub fn closed_segments(&self, below: i64) -> Vec<SegmentInfo> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        bases
            .windows(2)
            .take_while(|pair| pair[1] <= below)
            .map(|pair| self.segments[&pair[0]].info(pair[1]))
            .collect()
    }

    /// Rolls the active segment when it holds records and is older than
    /// `segment.ms`, so that time retention can delete it once it expires
    /// even if nothing more is produced.
    pub fn roll_if_idle(&mut self, now: i64) -> io::Result<bool> {
        if self.active().size() == 0 || !self.roll_due(now) {
            return Ok(false);
        }
        self.roll()?;
        Ok(true)
    }

    /// Deletes the oldest segments, `bases` (as `closed_segments` listed
    /// them), and moves the log start offset past them. Nothing is deleted
    /// unless they are still the oldest closed segments, in that order (the
    /// decision was made without holding the log). Returns the new log
    /// start offset.
    pub fn delete_oldest_segments(&mut self, bases: &[i64]) -> io::Result<i64> {
        let current: Vec<i64> = self.segments.keys().copied().collect();
        if bases.is_empty() || bases.len() >= current.len() || current[..bases.len()] != *bases {
            return Ok(self.log_start_offset);
        }
        let next_base = current[bases.len()];
        for base in bases {
            if let Some(segment) = self.segments.remove(base) {
                segment.delete()?;
            }
        }
        self.log_start_offset = self.log_start_offset.max(next_base);
        self.epochs.truncate_from_start(self.log_start_offset);
        self.recovery_point = self.recovery_point.max(next_base);
        Ok(self.log_start_offset)
    }

    /// Where the log cleaner stopped last (the cleaner checkpoint).
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset.max(self.log_start_offset)
    }

    pub fn set_first_dirty_offset(&mut self, offset: i64) {
        self.first_dirty_offset = offset;
    }

    /// What the log cleaner may compact now: the closed segments wholly
    /// below `high_watermark` and older than `min.compaction.lag.ms`; None
    /// when the topic is not compacted or nothing was written since the
    /// last clean.
    pub fn clean_plan(&self, high_watermark: i64, now: i64) -> Option<CleanPlan> {
        if !self.config.compact || self.config.null {
            return None;
        }
        let lag_horizon = now.saturating_sub(self.config.min_compaction_lag_ms);
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let segments: Vec<PlannedSegment> = bases
            .windows(2)
            .take_while(|pair| pair[1] <= high_watermark)
            .map(|pair| (&self.segments[&pair[0]], pair[1]))
            .take_while(|(s, _)| {
                self.config.min_compaction_lag_ms == 0 || s.max_timestamp() < lag_horizon
            })
            .map(|(s, next_base)| {
                Ok(PlannedSegment {
                    base: s.base_offset(),
                    next_base,
                    size: s.size(),
                    file: s.file_uncached()?,
                })
            })
            .collect::<io::Result<_>>()
            .inspect_err(|e| warn!(dir = %self.dir.display(), error = %e, "cannot plan a clean"))
            .ok()?;
        let first_dirty = self.first_dirty_offset();
        let (clean, dirty): (Vec<_>, Vec<_>) =
            segments.iter().partition(|s| s.next_base <= first_dirty);
        let dirty_bytes: u64 = dirty.iter().map(|s| s.size as u64).sum();
        let tombstones_expired = now >= self.tombstones_expire && !segments.is_empty();
        if dirty_bytes == 0 && !tombstones_expired {
            return None;
        }
        let clean_bytes: u64 = clean.iter().map(|s| s.size as u64).sum();
        let dirty_ratio = dirty_bytes as f64 / (dirty_bytes + clean_bytes) as f64;
        let overdue = tombstones_expired
            || dirty.first().is_some_and(|d| {
                let oldest_dirty = &self.segments[&d.base];
                now.saturating_sub(oldest_dirty.created_ms()) >= self.config.max_compaction_lag_ms
            });
        Some(CleanPlan {
            dir: self.dir.clone(),
            config: self.config.clone(),
            due: dirty_ratio >= self.config.min_cleanable_dirty_ratio || overdue,
            dirty_ratio,
            segments,
        })
    }

    /// Swaps in the segments the cleaner wrote — if the ones it cleaned are
    /// all still here, unchanged (retention or DeleteRecords may have
    /// removed some meanwhile: then its files are dropped and false
    /// returned).
    pub fn swap_cleaned(&mut self, cleaned: &Cleaned) -> io::Result<bool> {
        let unchanged = cleaned
            .groups
            .iter()
            .flat_map(|(_, old)| old)
            .all(|(base, size)| {
                self.segments.get(base).is_some_and(|s| s.size() == *size)
                    && self.active().base_offset() != *base
            });
        if !unchanged {
            for (base, _) in &cleaned.groups {
                for suffix in [".log", ".index", ".timeindex"] {
                    let _ =
                        fs::remove_file(self.dir.join(segment::file_name(*base, suffix) + CLEANED));
                }
            }
            return Ok(false);
        }
        let swap: Swap = cleaned
            .groups
            .iter()
            .map(|(new, old)| (*new, old.iter().map(|(b, _)| *b).collect()))
            .collect();
        swap::commit(&self.dir, &swap)?;
        for (_, old) in &swap {
            for base in old {
                self.segments.remove(base);
            }
        }
        swap::apply(&self.dir, &swap)?;
        for (new, _) in &swap {
            let segment = LogSegment::open(&self.dir, *new, self.config.segment_sizes())?;
            self.segments.insert(*new, segment);
        }
        self.first_dirty_offset = self.first_dirty_offset.max(cleaned.end);
        self.tombstones_expire = cleaned.stats.tombstones_expire;
        Ok(true)
    }

    /// Removes every batch holding a record at or after `offset` (follower
    /// truncation); the log then ends where the first removed batch began.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        if offset >= self.next_offset {
            // No record goes, but an epoch this replica started as leader
            // without writing in it does (as in Kafka's `truncateTo`): it
            // would make every fetch name an epoch the leader never had.
            self.epochs.truncate_from_end(self.next_offset);
            return Ok(());
        }
        let offset = offset.max(self.log_start_offset);
        let later: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for base in later {
            if self.segments.len() > 1 {
                if let Some(segment) = self.segments.remove(&base) {
                    segment.delete()?;
                }
            }
        }
        self.active_mut().truncate_to(offset)?;
        self.next_offset = self.compute_next_offset()?.max(self.log_start_offset);
        self.recovery_point = self.recovery_point.min(self.next_offset);
        self.epochs.truncate_from_end(self.next_offset);
        Ok(())
    }

    /// fsyncs everything written so far; the recovery point becomes the log end.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.config.null {
            return Ok(());
        }
        for segment in self
            .segments
            .range(self.recovery_point_segment()..)
            .map(|(_, s)| s)
        {
            segment.flush()?;
        }
        self.recovery_point = self.next_offset;
        self.unflushed_messages = 0;
        self.last_flush_ms = now_ms();
        Ok(())
    }

    fn recovery_point_segment(&self) -> i64 {
        self.segments
            .range(..=self.recovery_point)
            .next_back()
            .map(|(b, _)| *b)
            .unwrap_or(self.recovery_point)
    }

    /// True when `flush.ms` has passed since the last flush with data unflushed.
    pub fn flush_due(&self, now: i64) -> bool {
        self.unflushed_messages > 0 && now - self.last_flush_ms >= self.config.flush_ms
    }

    /// Trims the active segment's indexes (clean shutdown).
    pub fn close(&mut self) -> io::Result<()> {
        self.flush()?;
        self.active_mut().close()
    }

    /// Deletes the partition: its directory is renamed at once and removed
    /// in the background (`deleter`).
    pub fn delete(self) -> io::Result<()> {
        let dir = self.dir.clone();
        drop(self);
        super::deleter::remove_dir_later(&dir)
    }

    /// Read-only handles to flush segments without holding the log (used by
    /// the periodic checkpoint): rolled segments above the recovery point.
    pub fn rolled_unflushed(&self) -> Vec<File> {
        let active = self.active().base_offset();
        self.segments
            .range(self.recovery_point_segment()..active)
            .filter_map(|(base, _)| {
                File::open(self.dir.join(super::segment::file_name(*base, ".log"))).ok()
            })
            .collect()
    }

    /// After `rolled_unflushed` files were fsynced: everything below the active
    /// segment is durable.
    pub fn mark_rolled_flushed(&mut self) {
        let active = self.active().base_offset();
        self.recovery_point = self.recovery_point.max(active);
    }

    /// Lets the files of closed segments nobody used for `idle_ms` go, so
    /// that open descriptors follow the partitions in use, not the number of
    /// segments. Returns how many `.log` files were closed.
    pub fn release_idle_files(&mut self, idle_ms: i64, now: i64) -> usize {
        let active = self.active().base_offset();
        self.segments
            .range_mut(..active)
            .filter(|(_, s)| s.holds_file())
            .map(|(_, s)| s.release_if_idle(idle_ms, now))
            .filter(|released| *released)
            .count()
    }

    pub fn segment_sizes(&self) -> SegmentSizes {
        self.config.segment_sizes()
    }
}

#[cfg(test)]
mod tests;
