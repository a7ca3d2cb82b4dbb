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
use tracing::{error, info, warn};

use super::batch::{self, BatchError, BatchHeader};
use super::checkpoint;
use super::cleaner::swap::{self, Swap};
use super::cleaner::{CleanPlan, Cleaned, PlannedSegment};
use super::file_slice::FileSlice;
use super::retention::SegmentInfo;
use super::segment::{self, CLEANED};
use super::segment::{now_ms, LogSegment, SegmentSizes};
use super::validate::validate_batches;
use super::LogConfig;

const EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

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
    /// Leader epoch cache: (epoch, first offset written in it), ascending.
    epochs: Vec<(i32, i64)>,
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
    /// Opens the log in `dir`. When the broker did not shut down cleanly, every
    /// segment from the one holding `recovery_point` on is validated, its
    /// indexes rebuilt and a torn tail truncated.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        recovery_point: i64,
        log_start_offset: i64,
        clean_shutdown: bool,
    ) -> io::Result<PartitionLog> {
        fs::create_dir_all(dir)?;
        if super::cleaner::swap::finish(dir)? {
            info!(dir = %dir.display(), "finished swapping in cleaned segments");
        }
        super::segment::remove_leftovers(dir)?;
        let mut bases: Vec<i64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort_unstable();
        let sizes = config.segment_sizes();
        let mut segments = BTreeMap::new();
        for base in bases {
            segments.insert(base, LogSegment::open(dir, base, sizes)?);
        }
        let epochs = checkpoint::read_epochs(&dir.join(EPOCH_CHECKPOINT)).unwrap_or_default();
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            next_offset: 0,
            recovery_point,
            unflushed_messages: 0,
            last_flush_ms: now_ms(),
            epochs,
            first_dirty_offset: 0,
            tombstones_expire: i64::MAX,
            roll_jitter_ms: 0,
        };
        log.roll_jitter_ms = roll_jitter(&log.config);
        log.load(clean_shutdown)?;
        // Loaded and checked: closed segments need no open files until read.
        log.release_idle_files(0, now_ms());
        Ok(log)
    }

    fn load(&mut self, clean_shutdown: bool) -> io::Result<()> {
        if self.segments.is_empty() {
            let base = self.log_start_offset.max(0);
            self.segments.insert(
                base,
                LogSegment::open(&self.dir, base, self.config.segment_sizes())?,
            );
        }
        let first_to_recover = if clean_shutdown {
            // Still recover a segment whose index files look wrong.
            self.segments
                .values()
                .find(|s| !s.indexes_sane())
                .map(|s| s.base_offset())
        } else {
            let point = self.recovery_point;
            Some(
                self.segments
                    .range(..=point)
                    .next_back()
                    .map(|(b, _)| *b)
                    .unwrap_or(point),
            )
        };
        match first_to_recover {
            Some(first) => self.recover_from(first)?,
            None => {
                // Even after a clean stop, check what the indexes do not
                // vouch for: the active segment's tail.
                let max_batch = self.max_batch_size();
                let truncated = self.active_mut().verify_tail(max_batch)?;
                if truncated > 0 {
                    warn!(dir = %self.dir.display(), truncated,
                        "cut a damaged tail off the active segment after a clean stop");
                }
            }
        }
        self.next_offset = self.compute_next_offset()?;
        if self.log_start_offset > self.next_offset || self.log_start_offset < self.first_base() {
            self.log_start_offset = self
                .log_start_offset
                .clamp(self.first_base(), self.next_offset);
        }
        self.epochs.retain(|(_, start)| *start < self.next_offset);
        self.recovery_point = self.recovery_point.min(self.next_offset);
        Ok(())
    }

    /// Validates segments from `first` on, cutting each at its first damaged
    /// batch. Unlike Kafka, the sound segments after a damaged one are kept:
    /// their batches were acknowledged and are intact, and their offsets
    /// still ascend; what is lost is only the damaged segment's tail, which
    /// leaves a gap in the offsets (consumers step over gaps, as they do on
    /// compacted topics). See docs/storage.md.
    fn recover_from(&mut self, first: i64) -> io::Result<()> {
        let bases: Vec<i64> = self.segments.range(first..).map(|(b, _)| *b).collect();
        let max_batch = self.max_batch_size();
        for (n, base) in bases.iter().enumerate() {
            let next_base = bases.get(n + 1).copied();
            let segment = self.segments.get_mut(base).expect("segment listed above");
            let (next, truncated) = segment.recover(max_batch)?;
            if truncated > 0 {
                warn!(dir = %self.dir.display(), base, truncated, next_offset = ?next,
                    lost_below = ?next_base, "truncated a torn or damaged segment tail");
            }
        }
        if self.segments.is_empty() {
            let base = self.log_start_offset.max(0);
            self.segments.insert(
                base,
                LogSegment::open(&self.dir, base, self.config.segment_sizes())?,
            );
        }
        info!(dir = %self.dir.display(), "recovered log");
        Ok(())
    }

    /// The largest batch a check of stored bytes accepts (bounds what a
    /// damaged length field can make it read).
    fn max_batch_size(&self) -> usize {
        self.config.max_message_bytes.max(1 << 20) * 2
    }

    /// The offset after the last batch of the last non-empty segment.
    fn compute_next_offset(&self) -> io::Result<i64> {
        for segment in self.segments.values().rev() {
            if let Some((_, header)) = segment.last_batch()? {
                return Ok(header.next_offset());
            }
        }
        Ok(self.active().base_offset())
    }

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
        self.epochs.last().copied()
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
        self.unflushed_messages += records;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: next - 1,
            log_append_time: log_append_time.unwrap_or(-1),
            records,
            duplicate: false,
        })
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

    fn assign_epoch(&mut self, epoch: i32, start_offset: i64) {
        if epoch < 0 || self.epochs.last().is_some_and(|(e, _)| *e >= epoch) {
            return;
        }
        self.epochs.push((epoch, start_offset));
        if let Err(e) = checkpoint::write_epochs(&self.dir.join(EPOCH_CHECKPOINT), &self.epochs) {
            warn!(dir = %self.dir.display(), error = %e, "could not write leader epoch checkpoint");
        }
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

    /// Removes every record at or after `offset` (follower truncation).
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        if offset >= self.next_offset {
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
        self.next_offset = offset;
        self.recovery_point = self.recovery_point.min(offset);
        self.epochs.retain(|(_, start)| *start < offset);
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
mod tests {
    use super::*;
    use crate::log::batch::tests::make_batch;
    use kafka_protocol::records::Compression;

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            index_interval_bytes: 256,
            segment_index_bytes: 4096,
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        }
    }

    /// Appends `batches` batches of 10 records; record i of the log has timestamp 1000 + i.
    fn fill(log: &mut PartitionLog, batches: usize) {
        for _ in 0..batches {
            let ts = 1_000 + log.log_end_offset();
            log.append(&make_batch(10, ts, Compression::None), 3)
                .unwrap();
        }
    }

    fn read_offsets(log: &PartitionLog, from: i64) -> Vec<i64> {
        let mut offsets = Vec::new();
        let mut next = from;
        while next < log.log_end_offset() {
            let bytes = log
                .read(next, 1 << 20, i64::MAX, true)
                .unwrap()
                .records
                .read()
                .unwrap();
            let batches: Vec<_> = batch::Batches::new(&bytes).filter_map(Result::ok).collect();
            assert!(!batches.is_empty());
            for (_, h) in &batches {
                offsets.extend(h.base_offset.max(next)..h.next_offset());
            }
            next = batches.last().unwrap().1.next_offset();
        }
        offsets
    }

    #[test]
    fn retention_deletes_the_oldest_closed_segments_and_a_crash_leaves_no_half() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-0");
        let mut log = PartitionLog::open(&path, config(), 0, 0, true).unwrap();
        fill(&mut log, 200);
        let closed = log.closed_segments(log.log_end_offset());
        assert!(closed.len() > 4);
        assert_eq!(
            closed.len(),
            log.segment_count() - 1,
            "all but the active one"
        );
        assert_eq!(closed[1].base_offset, closed[0].last_offset + 1);
        let total = log.size();
        // A stale decision (not the oldest segments) deletes nothing.
        let stale = [closed[1].base_offset];
        assert_eq!(log.delete_oldest_segments(&stale).unwrap(), 0);
        let two = [closed[0].base_offset, closed[1].base_offset];
        assert_eq!(
            log.delete_oldest_segments(&two).unwrap(),
            closed[2].base_offset
        );
        assert_eq!(log.size(), total - closed[0].size - closed[1].size);
        assert!(matches!(
            log.read(0, 100, i64::MAX, true),
            Err(ReadError::OffsetOutOfRange { start, .. }) if start == closed[2].base_offset
        ));
        assert_eq!(
            read_offsets(&log, closed[2].base_offset)[0],
            closed[2].base_offset
        );
        // A deletion interrupted after the rename: the leftovers go at the
        // next start, and the log starts at its first whole segment.
        let base = closed[2].base_offset;
        let name = |suffix: &str| path.join(super::super::segment::file_name(base, suffix));
        fs::rename(name(".log"), name(".log.deleted")).unwrap();
        drop(log);
        let log = PartitionLog::open(&path, config(), 0, closed[2].base_offset, false).unwrap();
        assert!(
            !name(".log.deleted").exists()
                && !name(".index").exists()
                && !name(".timeindex").exists()
        );
        assert_eq!(log.log_start_offset(), closed[3].base_offset);
        assert_eq!(log.log_end_offset(), 2_000);
        assert_eq!(
            read_offsets(&log, closed[3].base_offset).len() as i64,
            2_000 - closed[3].base_offset
        );
    }

    #[test]
    fn closed_segments_let_their_files_go_and_open_them_again_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), config(), 0, 0, true).unwrap();
        fill(&mut log, 200);
        assert!(log.segment_count() > 3);
        let closed = log.segment_count() - 1;
        assert_eq!(
            log.release_idle_files(60_000, now_ms()),
            0,
            "in use just now"
        );
        assert_eq!(log.release_idle_files(0, now_ms()), closed);
        assert!(log.segments.values().rev().skip(1).all(|s| !s.holds_file()));
        assert!(
            log.active().holds_file(),
            "the active segment keeps its file"
        );
        assert_eq!(read_offsets(&log, 0).len() as i64, log.log_end_offset());
        assert!(log.segments.values().next().unwrap().holds_file());
        // Reopened from disk, closed segments start without open files.
        log.close().unwrap();
        drop(log);
        let mut log = PartitionLog::open(dir.path(), config(), 0, 0, true).unwrap();
        assert!(log.segments.values().rev().skip(1).all(|s| !s.holds_file()));
        let end = log.log_end_offset();
        log.truncate_to(50).unwrap();
        assert_eq!(log.log_end_offset(), 50);
        assert!(end > 50);
        fill(&mut log, 3);
        assert_eq!(read_offsets(&log, 0).len() as i64, log.log_end_offset());
    }

    #[test]
    fn an_idle_segment_rolls_after_segment_ms() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_ms: 1_000,
            ..config()
        };
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config, 0, 0, true).unwrap();
        assert!(
            !log.roll_if_idle(now_ms() + 10_000).unwrap(),
            "an empty segment stays"
        );
        fill(&mut log, 1);
        assert!(!log.roll_if_idle(now_ms()).unwrap());
        assert!(log.roll_if_idle(now_ms() + 1_000).unwrap());
        assert_eq!(log.closed_segments(10).len(), 1);
    }

    #[test]
    fn appends_roll_by_size_and_read_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        fill(&mut log, 100);
        assert_eq!(log.log_end_offset(), 1_000);
        assert!(log.segment_count() > 3, "rolled by segment.bytes");
        assert_eq!(read_offsets(&log, 0), (0..1_000).collect::<Vec<_>>());
        assert_eq!(read_offsets(&log, 555)[0], 555);
        assert!(matches!(
            log.read(1_001, 100, i64::MAX, true),
            Err(ReadError::OffsetOutOfRange { .. })
        ));
        assert!(log
            .read(1_000, 100, i64::MAX, true)
            .unwrap()
            .records
            .is_empty());
        // Never past the high watermark.
        let bytes = log
            .read(0, 1 << 20, 20, true)
            .unwrap()
            .records
            .read()
            .unwrap();
        let last = batch::Batches::new(&bytes)
            .filter_map(Result::ok)
            .last()
            .unwrap()
            .1;
        assert_eq!(last.next_offset(), 20);
        assert_eq!(log.latest_epoch(), Some((3, 0)));
    }

    #[test]
    fn tiny_indexes_roll_segments_instead_of_overflowing() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_index_bytes: 8,
            index_interval_bytes: 0,
            ..config()
        };
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config, 0, 0, true).unwrap();
        let mut many = Vec::new();
        for i in 0..5 {
            many.extend(make_batch(3, 1_000 + i * 3, Compression::None));
        }
        for _ in 0..4 {
            log.append(&many, 0).unwrap();
        }
        assert_eq!(log.log_end_offset(), 60);
        assert!(log.segment_count() >= 3);
        assert_eq!(read_offsets(&log, 0), (0..60).collect::<Vec<_>>());
        assert_eq!(
            log.offset_for_timestamp(1_007)
                .unwrap()
                .map(|(o, _)| o % 15),
            Some(7)
        );
    }

    #[test]
    fn rolls_by_segment_ms() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_ms: 0,
            segment_bytes: 1 << 30,
            ..config()
        };
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config, 0, 0, true).unwrap();
        fill(&mut log, 3);
        assert_eq!(log.segment_count(), 3);
        let names: Vec<String> = std::fs::read_dir(log.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".log"))
            .collect();
        assert!(
            names.contains(&"00000000000000000010.log".to_string()),
            "{names:?}"
        );
    }

    #[test]
    fn segment_jitter_ms_takes_a_random_share_off_the_roll_time() {
        let config = LogConfig {
            segment_ms: 10_000,
            segment_jitter_ms: 60_000,
            ..config()
        };
        let jitters: Vec<i64> = (0..50).map(|_| roll_jitter(&config)).collect();
        assert!(
            jitters.iter().all(|j| (0..10_000).contains(j)),
            "below segment.ms"
        );
        assert!(jitters.iter().any(|j| *j != jitters[0]), "random");
        assert_eq!(roll_jitter(&LogConfig::default()), 0, "none by default");
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config, 0, 0, true).unwrap();
        fill(&mut log, 1);
        let created = log.active().created_ms();
        let due = created + 10_000 - log.roll_jitter_ms;
        assert!(!log.roll_if_idle(due - 1).unwrap());
        assert!(log.roll_if_idle(due).unwrap());
    }

    #[test]
    fn offsets_by_timestamp_and_max_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        fill(&mut log, 50);
        for target in [0, 1_000, 1_001, 1_237, 1_499] {
            let expected = (target - 1_000).max(0);
            assert_eq!(
                log.offset_for_timestamp(target).unwrap(),
                Some((expected, 1_000 + expected))
            );
        }
        assert_eq!(log.offset_for_timestamp(1_500).unwrap(), None);
        assert_eq!(log.max_timestamp().unwrap(), Some((499, 1_499)));
    }

    #[test]
    fn unclean_reopen_recovers_and_clean_reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-0");
        let mut log = PartitionLog::open(&path, config(), 0, 0, true).unwrap();
        fill(&mut log, 40);
        log.close().unwrap();
        drop(log);
        let log = PartitionLog::open(&path, config(), 400, 0, true).unwrap();
        assert_eq!(log.log_end_offset(), 400);
        assert_eq!(read_offsets(&log, 0).len(), 400);
        drop(log);

        // A torn write at the end of the active segment, then an unclean start.
        let active = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .max()
            .unwrap();
        let mut torn = make_batch(10, 0, Compression::Zstd);
        torn.truncate(torn.len() / 2);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&active)
            .unwrap()
            .write_all_at_end(&torn);
        let mut log = PartitionLog::open(&path, config(), 0, 0, false).unwrap();
        assert_eq!(log.log_end_offset(), 400);
        assert_eq!(read_offsets(&log, 0), (0..400).collect::<Vec<_>>());
        fill(&mut log, 1);
        assert_eq!(log.log_end_offset(), 410);
    }

    #[test]
    fn delete_records_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        fill(&mut log, 100);
        let segments = log.segment_count();
        assert_eq!(log.delete_records_before(555).unwrap(), 555);
        assert!(
            log.segment_count() < segments,
            "segments below the start are gone"
        );
        assert!(matches!(
            log.read(100, 100, i64::MAX, true),
            Err(ReadError::OffsetOutOfRange { .. })
        ));
        assert_eq!(read_offsets(&log, 555)[0], 555);
        log.truncate_to(800).unwrap();
        assert_eq!(log.log_end_offset(), 800);
        assert_eq!(*read_offsets(&log, 555).last().unwrap(), 799);
        fill(&mut log, 1);
        assert_eq!(log.log_end_offset(), 810);
    }

    #[test]
    fn topic_compression_type_recompresses_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            compression: Some(Compression::Gzip),
            ..config()
        };
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config, 0, 0, true).unwrap();
        log.append(&make_batch(10, 1_000, Compression::None), 0)
            .unwrap();
        log.append(&make_batch(10, 2_000, Compression::Lz4), 0)
            .unwrap();
        let bytes = log
            .read(0, 1 << 20, i64::MAX, true)
            .unwrap()
            .records
            .read()
            .unwrap();
        let headers: Vec<_> = batch::Batches::new(&bytes).map(|b| b.unwrap().1).collect();
        assert_eq!(headers.len(), 2);
        assert!(headers
            .iter()
            .all(|h| h.compression() == Compression::Gzip as i16));
        assert_eq!((headers[1].base_offset, headers[1].last_offset()), (10, 19));
        assert_eq!(log.offset_for_timestamp(2_005).unwrap(), Some((15, 2_005)));
    }

    #[test]
    fn a_bad_batch_rejects_the_whole_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        let mut bytes = make_batch(5, 1_000, Compression::None);
        let mut bad = make_batch(5, 1_000, Compression::None);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        bytes.extend(bad);
        assert!(matches!(
            log.append(&bytes, 0),
            Err(AppendError::Corrupt(_))
        ));
        assert_eq!(log.log_end_offset(), 0);
        let config = LogConfig {
            max_message_bytes: 50,
            ..config()
        };
        log.set_config(config);
        assert!(matches!(
            log.append(&make_batch(5, 1_000, Compression::None), 0),
            Err(AppendError::TooLarge { .. })
        ));
        let config = LogConfig {
            timestamp_after_max_ms: 1_000,
            ..LogConfig::default()
        };
        log.set_config(config);
        let future = now_ms() + 3_600_000;
        assert!(matches!(
            log.append(&make_batch(1, future, Compression::None), 0),
            Err(AppendError::InvalidTimestamp { .. })
        ));
    }

    trait WriteAtEnd {
        fn write_all_at_end(self, bytes: &[u8]);
    }
    impl WriteAtEnd for File {
        fn write_all_at_end(mut self, bytes: &[u8]) {
            use std::io::Write;
            self.write_all(bytes).unwrap();
        }
    }
}
