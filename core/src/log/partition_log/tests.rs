//! Tests of the partition log: appends, rolls, reads, retention, recovery.

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
        !name(".log.deleted").exists() && !name(".index").exists() && !name(".timeindex").exists()
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
