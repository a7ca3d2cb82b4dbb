//! Opening a partition log: finding its segments, recovering what a crash
//! may have torn (from the recovery point on) and working out the log end.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use tracing::{info, warn};

use super::{roll_jitter, EpochCache, PartitionLog};
use crate::log::segment::{now_ms, LogSegment};
use crate::log::LogConfig;

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
        if crate::log::cleaner::swap::finish(dir)? {
            info!(dir = %dir.display(), "finished swapping in cleaned segments");
        }
        crate::log::segment::remove_leftovers(dir)?;
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
        let epochs = EpochCache::load(dir);
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
        self.epochs.clamp_to_log(self.next_offset);
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
    pub(super) fn max_batch_size(&self) -> usize {
        self.config.max_message_bytes.max(1 << 20) * 2
    }

    /// The offset after the last batch of the last non-empty segment.
    pub(super) fn compute_next_offset(&self) -> io::Result<i64> {
        for segment in self.segments.values().rev() {
            if let Some((_, header)) = segment.last_batch()? {
                return Ok(header.next_offset());
            }
        }
        Ok(self.active().base_offset())
    }
}
