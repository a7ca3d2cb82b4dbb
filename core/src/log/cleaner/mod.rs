//! The log cleaner (`cleanup.policy=compact`): it rewrites the closed part
//! of a partition's log keeping, per key, what the compaction policy keeps
//! (natively Kafka's rule: the latest record, tombstones until their
//! batch's delete horizon, which the first clean that keeps them stamps at
//! now + `delete.retention.ms`). Two passes over the cleanable segments, read
//! through their open handles without the partition lock: the first maps
//! each key to its latest record, the second writes each group of
//! segments (up to `segment.bytes`) as one new segment — batches keep their
//! base offset, offset span, producer id, epoch and sequence, and their
//! codec; records keep their offsets (gaps are fine); control batches are
//! kept; a batch left empty is kept only when it is its producer's last
//! (producer state is rebuilt from it). `PartitionLog::swap_cleaned` then
//! swaps the new segments in atomically (`swap`).

pub mod offset_map;
mod pace;
pub mod policy;
mod reader;
pub mod swap;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::path::PathBuf;
use std::sync::Arc;

use tracing::warn;

use super::batch::{self, BatchHeader};
use super::records::{encode_packed, for_each_key, pack_batch};
use super::segment::LogSegment;
use super::LogConfig;
use offset_map::OffsetMap;
pub(crate) use pace::enter_idle_class;
pub use pace::Pace;
use policy::{Candidate, CompactionInput, CompactionPolicy, KafkaCompaction};
use reader::BatchReader;

/// How much the cleaner writes before starting its writeback.
const WRITEBACK_BYTES: usize = 8 << 20;

/// One closed segment to clean.
#[derive(Debug, Clone)]
pub struct PlannedSegment {
    pub base: i64,
    pub next_base: i64,
    pub size: u32,
    pub file: Arc<File>,
}

/// What to clean in one partition, and how urgently.
#[derive(Debug, Clone)]
pub struct CleanPlan {
    pub dir: PathBuf,
    pub config: LogConfig,
    /// From the log's first segment to the last cleanable one.
    pub segments: Vec<PlannedSegment>,
    /// The share of the cleanable bytes written since the last clean.
    pub dirty_ratio: f64,
    /// The dirty ratio reached `min.cleanable.dirty.ratio`, or the oldest
    /// dirty segment waited `max.compaction.lag.ms`.
    pub due: bool,
}

impl CleanPlan {
    /// The first offset after the cleaned range.
    pub fn end(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.next_base)
    }
}

/// What the cleaner wrote, for `PartitionLog::swap_cleaned`.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// (new segment base, the old segments it replaces as (base, size)).
    pub groups: Vec<(i64, Vec<(i64, u32)>)>,
    pub end: i64,
    pub stats: CleanStats,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct CleanStats {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_kept: u64,
    pub records_dropped: u64,
    pub keys: usize,
    /// Batches the compaction policy failed on (decided natively instead).
    pub policy_failures: u64,
    /// The earliest delete horizon of the batches with tombstones kept, or
    /// i64::MAX: the log is worth cleaning again then.
    pub tombstones_expire: i64,
}

/// Where a batch came from, for the compaction policy.
pub struct Source<'a> {
    pub topic: &'a str,
    pub partition: i32,
}

/// Cleans `plan` into `.cleaned` segments beside the log.
pub fn compact(
    plan: &CleanPlan,
    source: &Source,
    policy: &dyn CompactionPolicy,
    pace: &mut Pace,
    now: i64,
) -> io::Result<Cleaned> {
    let mut stats = CleanStats {
        tombstones_expire: i64::MAX,
        ..Default::default()
    };
    let (mut map, last_batch_of) = map_keys(plan, pace, &mut stats)?;
    stats.keys = map.len();
    let mut cleaned = Cleaned {
        end: plan.end(),
        ..Default::default()
    };
    for group in groups(&plan.segments, plan.config.segment_bytes) {
        let base = group[0].base;
        let mut out = LogSegment::create_cleaned(&plan.dir, base, plan.config.segment_sizes())?;
        let mut unsynced = 0usize;
        for segment in group {
            let mut reader = BatchReader::new(&segment.file, segment.size as u64);
            while let Some((header, raw)) = reader.next_batch()? {
                pace.account(header.size);
                stats.bytes_read += header.size as u64;
                let kept = if header.is_control() {
                    Some(Cow::Borrowed(raw))
                } else {
                    let last_of_producer = header.producer_id >= 0
                        && last_batch_of.get(&header.producer_id) == Some(&header.base_offset);
                    let decision = Decision {
                        source,
                        policy,
                        now,
                        delete_retention_ms: plan.config.delete_retention_ms,
                        last_of_producer,
                    };
                    decision.rewrite(raw, &header, &mut map, &mut stats)?
                };
                if let Some(bytes) = kept {
                    let written = batch::validate(&bytes).map_err(invalid)?;
                    pace.account(written.size);
                    stats.bytes_written += written.size as u64;
                    out.append(&mut [IoSlice::new(&bytes)], &[(0, written)])?;
                    unsynced += written.size;
                    if unsynced >= WRITEBACK_BYTES {
                        out.start_writeback();
                        unsynced = 0;
                    }
                }
            }
        }
        out.close()?;
        out.flush()?;
        let replaced = group.iter().map(|s| (s.base, s.size)).collect();
        cleaned.groups.push((base, replaced));
    }
    cleaned.stats = stats;
    Ok(cleaned)
}

/// The first pass: every key's latest record, and each producer's last
/// batch (by base offset).
fn map_keys(
    plan: &CleanPlan,
    pace: &mut Pace,
    stats: &mut CleanStats,
) -> io::Result<(OffsetMap, HashMap<i64, i64>)> {
    let mut map = OffsetMap::default();
    let mut last_batch_of = HashMap::new();
    for segment in &plan.segments {
        let mut reader = BatchReader::new(&segment.file, segment.size as u64);
        while let Some((header, raw)) = reader.next_batch()? {
            pace.account(header.size);
            stats.bytes_read += header.size as u64;
            if header.producer_id >= 0 {
                last_batch_of.insert(header.producer_id, header.base_offset);
            }
            if header.is_control() {
                continue;
            }
            for_each_key(raw, &header, |key, delta, timestamp| {
                if let Some(key) = key {
                    map.put(key, header.base_offset + delta as i64, timestamp);
                }
            })
            .map_err(invalid)?;
        }
    }
    Ok((map, last_batch_of))
}

/// Consecutive segments whose sizes add up to at most `segment_bytes`
/// (and whose offsets fit one segment's 32-bit relative index).
fn groups(segments: &[PlannedSegment], segment_bytes: u64) -> Vec<&[PlannedSegment]> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut size = 0u64;
    for (i, s) in segments.iter().enumerate() {
        let too_big = size + s.size as u64 > segment_bytes;
        let too_far = s.next_base - segments[start].base > i32::MAX as i64;
        if i > start && (too_big || too_far) {
            groups.push(&segments[start..i]);
            start = i;
            size = 0;
        }
        size += s.size as u64;
    }
    if start < segments.len() {
        groups.push(&segments[start..]);
    }
    groups
}

/// How one batch is rewritten.
struct Decision<'a> {
    source: &'a Source<'a>,
    policy: &'a dyn CompactionPolicy,
    now: i64,
    delete_retention_ms: i64,
    last_of_producer: bool,
}

impl Decision<'_> {
    /// The batch as it is, fewer of its records, its identity alone, or
    /// nothing.
    fn rewrite<'b>(
        &self,
        raw: &'b [u8],
        header: &BatchHeader,
        map: &mut OffsetMap,
        stats: &mut CleanStats,
    ) -> io::Result<Option<Cow<'b, [u8]>>> {
        let (packed, deltas) = pack_batch(raw, header).map_err(invalid)?;
        let candidates: Vec<Candidate> = packed
            .records
            .iter()
            .zip(&deltas)
            .map(|(r, delta)| {
                let offset = header.base_offset + *delta as i64;
                let key = (r.key_len >= 0)
                    .then(|| &packed.data[r.key_offset as usize..][..r.key_len as usize]);
                match key.and_then(|k| map.pass(k)) {
                    Some(latest) => Candidate {
                        offset,
                        latest_offset: latest.offset,
                        latest_timestamp: latest.timestamp,
                        newer: latest.count.saturating_sub(latest.seen + 1),
                    },
                    None => Candidate {
                        offset,
                        latest_offset: -1,
                        latest_timestamp: -1,
                        newer: 0,
                    },
                }
            })
            .collect();
        let input = CompactionInput {
            topic: self.source.topic,
            partition: self.source.partition,
            now_ms: self.now,
            delete_retention_ms: self.delete_retention_ms,
            delete_horizon: header.delete_horizon(),
            records: &packed,
            candidates: &candidates,
        };
        let keep = match self.policy.keep(&input) {
            Ok(keep) if keep.len() == candidates.len() => keep,
            answer => {
                let why = answer
                    .err()
                    .unwrap_or_else(|| "a wrong number of answers".into());
                warn!(topic = self.source.topic, partition = self.source.partition,
                    policy = self.policy.name(), error = %why,
                    "compaction policy failed; Kafka's rule decides this batch");
                stats.policy_failures += 1;
                KafkaCompaction
                    .keep(&input)
                    .expect("the native rule answers")
            }
        };
        let keeps_tombstones = packed
            .records
            .iter()
            .zip(&keep)
            .any(|(r, k)| *k && r.value_len < 0 && r.key_len >= 0);
        // The first clean to keep a tombstone stamps its batch (KIP-534).
        let stamp = (keeps_tombstones && header.delete_horizon().is_none())
            .then(|| self.now.saturating_add(self.delete_retention_ms));
        // Tombstones a policy keeps past their horizon bring no clean back.
        let horizon = stamp.or(header.delete_horizon()).unwrap_or(i64::MAX);
        if keeps_tombstones && horizon > self.now {
            stats.tombstones_expire = stats.tombstones_expire.min(horizon);
        }
        let kept = keep.iter().filter(|k| **k).count();
        stats.records_kept += kept as u64;
        stats.records_dropped += (keep.len() - kept) as u64;
        let codec = batch::codec(header).map_err(invalid)?;
        Ok(if kept == keep.len() && stamp.is_none() {
            Some(Cow::Borrowed(raw))
        } else if kept > 0 || self.last_of_producer {
            let bytes =
                encode_packed(raw, &packed, &deltas, Some(&keep), codec, stamp).map_err(invalid)?;
            Some(Cow::Owned(bytes))
        } else {
            None
        })
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode, encode_idempotent, Batches};
    use crate::log::segment::now_ms;
    use crate::log::PartitionLog;
    use bytes::Bytes;
    use kafka_protocol::records::{Compression, RecordBatchDecoder};

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 2048,
            index_interval_bytes: 256,
            segment_index_bytes: 4096,
            timestamp_after_max_ms: i64::MAX,
            compact: true,
            delete: false,
            ..LogConfig::default()
        }
    }

    fn kv(key: &str, value: Option<&str>) -> (Option<Bytes>, Option<Bytes>) {
        (
            Some(Bytes::from(key.to_string())),
            value.map(|v| Bytes::from(v.to_string())),
        )
    }

    /// (offset, key, value) of every record, read from the start.
    fn contents(log: &PartitionLog) -> Vec<(i64, String, Option<String>)> {
        let mut out = Vec::new();
        let mut next = log.log_start_offset();
        while next < log.log_end_offset() {
            let bytes = log
                .read(next, 1 << 20, i64::MAX, true)
                .unwrap()
                .records
                .read()
                .unwrap();
            let mut last = None;
            for item in Batches::new(&bytes) {
                let (position, header) = item.unwrap();
                let mut raw = Bytes::copy_from_slice(&bytes[position..position + header.size]);
                for r in RecordBatchDecoder::decode(&mut raw).unwrap().records {
                    let text = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
                    out.push((r.offset, text(r.key).unwrap(), text(r.value)));
                }
                last = Some(header.next_offset());
            }
            next = last.expect("a batch");
        }
        out
    }

    fn clean(log: &PartitionLog, policy: &dyn CompactionPolicy) -> Cleaned {
        clean_at(log, policy, now_ms())
    }

    fn clean_at(log: &PartitionLog, policy: &dyn CompactionPolicy, now: i64) -> Cleaned {
        let plan = log
            .clean_plan(log.log_end_offset(), now)
            .expect("something to clean");
        let source = Source {
            topic: "t",
            partition: 0,
        };
        compact(&plan, &source, policy, &mut Pace::new(f64::MAX), now).unwrap()
    }

    /// Each batch's (base offset, delete horizon), where it has one.
    fn horizons(log: &PartitionLog) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        log.for_each_batch(0, |h| {
            if let Some(horizon) = h.delete_horizon() {
                out.push((h.base_offset, horizon));
            }
        })
        .unwrap();
        out
    }

    /// 10 keys updated 20 times each (gzip and plain batches alternating),
    /// then tombstones for k0 (old) and k1 (new), and an idempotent
    /// producer whose last batch is all superseded.
    fn fill(log: &mut PartitionLog) {
        let old = now_ms() - 3_600_000;
        for round in 0..20 {
            let codec = if round % 2 == 0 {
                Compression::Gzip
            } else {
                Compression::None
            };
            let records = (0..10).map(|k| kv(&format!("k{k}"), Some(&format!("v{round}"))));
            log.append(&encode(records, old + round, codec), 0).unwrap();
        }
        log.append(&encode([kv("k0", None)], old, Compression::None), 0)
            .unwrap();
        log.append(&encode([kv("k1", None)], now_ms(), Compression::None), 0)
            .unwrap();
        log.append(
            &encode_idempotent([kv("k2", Some("p"))], old, Compression::None, (7, 0, 0)),
            0,
        )
        .unwrap();
        log.append(&encode([kv("k2", Some("last"))], old, Compression::None), 0)
            .unwrap();
        log.roll().unwrap();
    }

    #[test]
    fn keeps_the_latest_record_per_key_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-0");
        let config = LogConfig {
            delete_retention_ms: 60_000,
            ..config()
        };
        let mut log = PartitionLog::open(&path, config.clone(), 0, 0, true).unwrap();
        fill(&mut log);
        let end = log.log_end_offset();
        let before = log.size();
        let now = now_ms();
        let cleaned = clean_at(&log, &KafkaCompaction, now);
        assert!(log.swap_cleaned(&cleaned).unwrap());
        assert!(
            log.size() < before / 5,
            "{} of {before} bytes left",
            log.size()
        );
        let latest = |tombstones: &[(i64, &str)]| -> Vec<(i64, String, Option<String>)> {
            let mut out: Vec<_> = (3..10)
                .map(|k| (190 + k, format!("k{k}"), Some("v19".to_string())))
                .chain(tombstones.iter().map(|(o, k)| (*o, k.to_string(), None)))
                .chain([(203, "k2".to_string(), Some("last".to_string()))])
                .collect();
            out.sort();
            out
        };
        // The first clean keeps both tombstones, k0's an hour old too, and
        // stamps their batches with a delete horizon (KIP-534) — their
        // records' timestamps unchanged.
        let expected = latest(&[(200, "k0"), (201, "k1")]);
        assert_eq!(contents(&log), expected);
        let horizon = now + 60_000;
        assert_eq!(horizons(&log), [(200, horizon), (201, horizon)]);
        let mut k0_timestamp = 0;
        log.for_each_batch(0, |h| {
            if h.base_offset == 200 {
                k0_timestamp = h.max_timestamp;
            }
        })
        .unwrap();
        assert!(now - k0_timestamp >= 3_600_000, "the tombstone's own time");
        assert_eq!(log.log_end_offset(), end);
        assert_eq!(log.first_dirty_offset(), end);
        assert!(
            log.clean_plan(end, horizon - 1).is_none(),
            "nothing dirty left, no tombstone expired"
        );
        // At the horizon the log is due again, and both tombstones go.
        let plan = log.clean_plan(end, horizon).expect("tombstones expired");
        assert!(plan.due);
        let cleaned = clean_at(&log, &KafkaCompaction, horizon);
        assert_eq!(cleaned.stats.tombstones_expire, i64::MAX);
        assert!(log.swap_cleaned(&cleaned).unwrap());
        let expected = latest(&[]);
        assert_eq!(contents(&log), expected);
        assert!(horizons(&log).is_empty());
        // The idempotent producer's last batch stays, empty, for its sequence.
        let mut producers = Vec::new();
        log.for_each_batch(0, |h| {
            if h.producer_id == 7 {
                producers.push((h.base_offset, h.records_count));
            }
        })
        .unwrap();
        assert_eq!(producers, [(202, 0)]);
        // And all of it reads the same after a restart.
        drop(log);
        let log = PartitionLog::open(&path, config, end, 0, false).unwrap();
        assert_eq!(contents(&log), expected);
    }

    #[test]
    fn the_plan_respects_the_dirty_ratio_and_both_compaction_lags() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        fill(&mut log); // records an hour old, the last few now
        let end = log.log_end_offset();
        let plan = log.clean_plan(end, now_ms()).unwrap();
        assert!(plan.due && plan.dirty_ratio == 1.0);
        assert_eq!(plan.end(), end);
        // Nothing below the high watermark: nothing to clean.
        assert!(log.clean_plan(0, now_ms()).is_none());
        // min.compaction.lag.ms keeps segments holding newer records out.
        let mut lagged = log.config().clone();
        lagged.min_compaction_lag_ms = 60_000;
        log.set_config(lagged.clone());
        let plan = log.clean_plan(end, now_ms()).unwrap();
        assert!(
            plan.end() < end,
            "the last segment holds records a second old"
        );
        // Once cleaned, a little new dirt is not due, unless it waited
        // max.compaction.lag.ms.
        log.set_config(config());
        let cleaned = clean(&log, &KafkaCompaction);
        assert!(log.swap_cleaned(&cleaned).unwrap());
        log.append(
            &encode([kv("k3", Some("new"))], now_ms(), Compression::None),
            0,
        )
        .unwrap();
        log.roll().unwrap();
        let plan = log.clean_plan(log.log_end_offset(), now_ms()).unwrap();
        assert!(plan.dirty_ratio < 0.5, "{}", plan.dirty_ratio);
        let due = |log: &PartitionLog| log.clean_plan(log.log_end_offset(), now_ms()).unwrap().due;
        let mut strict = config();
        strict.min_cleanable_dirty_ratio = 0.9;
        strict.delete_retention_ms = i64::MAX / 2;
        log.set_config(strict.clone());
        assert!(!due(&log));
        strict.max_compaction_lag_ms = 1;
        log.set_config(strict);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(due(&log));
    }

    #[test]
    fn a_crash_leaves_the_old_segments_or_the_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-0");
        let mut log = PartitionLog::open(&path, config(), 0, 0, true).unwrap();
        fill(&mut log);
        let before = contents(&log);
        // Killed while writing: the .cleaned files are dropped at start.
        let cleaned = clean(&log, &KafkaCompaction);
        drop(log);
        let log = PartitionLog::open(&path, config(), 0, 0, false).unwrap();
        assert_eq!(contents(&log), before);
        assert!(std::fs::read_dir(&path).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".cleaned")));
        // Killed right after the manifest was committed: start-up finishes it.
        let cleaned_again = clean(&log, &KafkaCompaction);
        assert_eq!(cleaned.groups.len(), cleaned_again.groups.len());
        let swap: swap::Swap = cleaned_again
            .groups
            .iter()
            .map(|(new, old)| (*new, old.iter().map(|(b, _)| *b).collect()))
            .collect();
        swap::commit(&path, &swap).unwrap();
        drop(log);
        let log = PartitionLog::open(&path, config(), 0, 0, false).unwrap();
        let after = contents(&log);
        assert!(
            after.len() < 20 && after.last() == before.last(),
            "{after:?}"
        );
    }

    #[test]
    fn a_policy_decides_and_a_failing_one_falls_back() {
        /// Keeps the newest two records of each key.
        struct KeepTwo;
        impl CompactionPolicy for KeepTwo {
            fn name(&self) -> &str {
                "keep-two"
            }
            fn keep(&self, input: &CompactionInput) -> Result<Vec<bool>, String> {
                Ok(input.candidates.iter().map(|c| c.newer < 2).collect())
            }
        }
        struct Broken;
        impl CompactionPolicy for Broken {
            fn name(&self) -> &str {
                "broken"
            }
            fn keep(&self, _: &CompactionInput) -> Result<Vec<bool>, String> {
                Err("no".into())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        fill(&mut log);
        let cleaned = clean(&log, &KeepTwo);
        assert!(log.swap_cleaned(&cleaned).unwrap());
        let v19 = contents(&log)
            .iter()
            .filter(|(_, k, v)| k == "k5" && v.is_some())
            .count();
        assert_eq!(v19, 2);

        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(&dir.path().join("t-0"), config(), 0, 0, true).unwrap();
        fill(&mut log);
        let cleaned = clean(&log, &Broken);
        assert!(cleaned.stats.policy_failures > 0);
        assert!(log.swap_cleaned(&cleaned).unwrap());
        assert_eq!(
            contents(&log).iter().filter(|(_, k, _)| k == "k5").count(),
            1
        );
    }
}
