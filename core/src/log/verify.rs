//! Checking stored batches: one walk over a segment file's batches (header,
//! length inside the file, offsets ascending, CRC) shared by crash recovery,
//! the tail check every start does, the fetch path's first read of bytes this
//! process did not write, and `weir log verify`, which reports every damaged
//! segment under a data directory without changing anything.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::batch::{self, BatchHeader, HEADER_SIZE};

/// The first damaged batch a walk met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Where the damaged batch starts in the segment file.
    pub position: u32,
    /// The offset the damaged batch should have held (the one after the
    /// last good batch), when known.
    pub expected_offset: Option<i64>,
    pub reason: String,
}

/// How far a walk got: the position after the last good batch, the offset
/// after it, and the damage that stopped it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub end: u32,
    pub next_offset: Option<i64>,
    pub damage: Option<Damage>,
}

/// Walks the batches of `file` (of `size` bytes) from `from` (a batch
/// boundary) while they start before `until`, checking each whole batch and
/// calling `each` with its position and header. `next_offset` is the offset
/// the first batch may not start below. Stops at the first damaged batch.
pub fn walk(
    file: &File,
    size: u32,
    from: u32,
    until: u32,
    mut next_offset: Option<i64>,
    max_batch_size: usize,
    mut each: impl FnMut(u32, &BatchHeader),
) -> io::Result<Walk> {
    let mut position = from;
    let mut buf = Vec::new();
    let until = until.min(size);
    while position < until {
        let damaged = |reason: String| Walk {
            end: position,
            next_offset,
            damage: Some(Damage {
                position,
                expected_offset: next_offset,
                reason,
            }),
        };
        if position as usize + HEADER_SIZE > size as usize {
            let left = size - position;
            return Ok(damaged(format!(
                "{left} bytes at the end are less than a batch header"
            )));
        }
        let mut head = [0u8; HEADER_SIZE];
        file.read_exact_at(&mut head, position as u64)?;
        let header = match BatchHeader::parse(&head) {
            Ok(header) => header,
            Err(e) => return Ok(damaged(e.to_string())),
        };
        if let Some(reason) = implausible(&header, position, size, next_offset, max_batch_size) {
            return Ok(damaged(reason));
        }
        buf.resize(header.size, 0);
        file.read_exact_at(&mut buf, position as u64)?;
        if let Err(e) = batch::validate(&buf) {
            return Ok(damaged(e.to_string()));
        }
        each(position, &header);
        next_offset = Some(header.next_offset());
        position += header.size as u32;
    }
    Ok(Walk {
        end: position,
        next_offset,
        damage: None,
    })
}

/// What makes a parsed header impossible where it stands.
fn implausible(
    header: &BatchHeader,
    position: u32,
    size: u32,
    next_offset: Option<i64>,
    max_batch_size: usize,
) -> Option<String> {
    if position as usize + header.size > size as usize {
        return Some(format!(
            "batch of {} bytes runs past the end of the file ({} bytes left)",
            header.size,
            size - position
        ));
    }
    if header.size > max_batch_size {
        return Some(format!(
            "batch length {} is above the largest batch allowed ({max_batch_size})",
            header.size
        ));
    }
    if header.last_offset_delta < 0 || header.base_offset < 0 {
        return Some(format!(
            "base offset {} / last offset delta {} are negative",
            header.base_offset, header.last_offset_delta
        ));
    }
    match next_offset {
        Some(next) if header.base_offset < next => Some(format!(
            "base offset {} goes back below {next}",
            header.base_offset
        )),
        _ => None,
    }
}

/// `topic-N`: a partition directory (not `__cluster_metadata`, not a
/// `topic-N.<id>-delete` directory waiting for the log deleter).
fn is_partition_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| *n != super::METADATA_LOG_DIR)
        .and_then(|n| n.rsplit_once('-'))
        .is_some_and(|(topic, p)| {
            !topic.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
        })
}

/// One segment's result in a `verify_dir` report.
#[derive(Debug)]
pub struct SegmentReport {
    pub path: PathBuf,
    pub size: u64,
    pub batches: u64,
    pub damage: Option<Damage>,
}

/// Checks every batch of every segment under `dir`: a partition directory
/// (it holds `.log` files) or a data directory of them. Read-only.
pub fn verify_dir(dir: &Path, max_batch_size: usize) -> io::Result<Vec<SegmentReport>> {
    let mut reports = Vec::new();
    let mut logs = Vec::new();
    let mut partitions = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if is_partition_dir(&path) {
                partitions.push(path);
            }
        } else if path.extension().is_some_and(|e| e == "log") {
            logs.push(path);
        }
    }
    logs.sort();
    partitions.sort();
    let mut next_offset = None;
    for path in logs {
        let file = File::open(&path)?;
        let size = file.metadata()?.len();
        let Ok(size32) = u32::try_from(size) else {
            reports.push(SegmentReport {
                path,
                size,
                batches: 0,
                damage: Some(Damage {
                    position: 0,
                    expected_offset: None,
                    reason: "segment is over 4 GiB".into(),
                }),
            });
            continue;
        };
        let mut batches = 0;
        let walked = walk(
            &file,
            size32,
            0,
            size32,
            next_offset,
            max_batch_size,
            |_, _| batches += 1,
        )?;
        // A damaged segment says nothing of where the next one starts.
        next_offset = walked
            .damage
            .is_none()
            .then_some(walked.next_offset)
            .flatten();
        reports.push(SegmentReport {
            path,
            size,
            batches,
            damage: walked.damage,
        });
    }
    for partition in partitions {
        reports.extend(verify_dir(&partition, max_batch_size)?);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::make_batch;
    use kafka_protocol::records::Compression;
    use std::io::Write;

    fn segment_of(batches: usize) -> (tempfile::TempDir, PathBuf, Vec<u32>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut file = File::create(&path).unwrap();
        let mut positions = Vec::new();
        let mut at = 0;
        for n in 0..batches {
            let mut bytes = make_batch(4, 1_000, Compression::None);
            batch::assign(&mut bytes, n as i64 * 4, 0, None);
            positions.push(at);
            at += bytes.len() as u32;
            file.write_all(&bytes).unwrap();
        }
        (dir, path, positions)
    }

    #[test]
    fn a_sound_directory_reports_no_damage() {
        let (dir, _, _) = segment_of(20);
        let reports = verify_dir(dir.path(), 1 << 20).unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].batches, 20);
        assert!(reports[0].damage.is_none());
    }

    #[test]
    fn a_data_directory_is_checked_partition_by_partition() {
        let (partition, _, _) = segment_of(3);
        let data = tempfile::tempdir().unwrap();
        std::fs::rename(partition.path(), data.path().join("orders-0")).unwrap();
        // Not partitions: the metadata journal and a deleted partition.
        for other in [
            "__cluster_metadata",
            "__cluster_metadata-0",
            "orders-1.abc-delete",
        ] {
            std::fs::create_dir(data.path().join(other)).unwrap();
            std::fs::write(
                data.path().join(other).join("00000000000000000000.log"),
                b"junk",
            )
            .unwrap();
        }
        let reports = verify_dir(data.path(), 1 << 20).unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].batches, 3);
    }

    #[test]
    fn flipped_bytes_and_a_cut_tail_are_reported_where_they_are() {
        let (dir, path, positions) = segment_of(20);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_at(&[0xAB; 16], positions[7] as u64 + 70)
            .unwrap();
        let report = &verify_dir(dir.path(), 1 << 20).unwrap()[0];
        let damage = report.damage.as_ref().unwrap();
        assert_eq!(damage.position, positions[7]);
        assert_eq!(damage.expected_offset, Some(28));
        assert!(damage.reason.contains("CRC"), "{}", damage.reason);

        let (dir, path, positions) = segment_of(20);
        let len = std::fs::metadata(&path).unwrap().len();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 30)
            .unwrap();
        let report = &verify_dir(dir.path(), 1 << 20).unwrap()[0];
        let damage = report.damage.as_ref().unwrap();
        assert_eq!(damage.position, positions[19]);
        assert!(damage.reason.contains("past the end"), "{}", damage.reason);
    }

    #[test]
    fn a_length_field_pointing_nowhere_is_damage_not_a_long_read() {
        let (dir, path, positions) = segment_of(5);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_at(&0x7fff_fff0i32.to_be_bytes(), positions[2] as u64 + 8)
            .unwrap();
        let report = &verify_dir(dir.path(), 1 << 20).unwrap()[0];
        assert_eq!(report.damage.as_ref().unwrap().position, positions[2]);
    }
}
