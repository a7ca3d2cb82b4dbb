//! Producer state snapshots: `<offset>.snapshot` files in a partition's
//! directory (Kafka's names), holding the state of every batch below that
//! offset. At start-up the newest snapshot at or below the log end is loaded
//! and only the batches after it are read, instead of the whole log.
//!
//! Text, one producer a line, and a CRC32C line last; a file that does not
//! check out is ignored (the log is then read from the start).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::state::{BatchMetadata, ProducerStateManager};

const HEADER: &str = "weir producer snapshot v2";
/// v1 lines carry no last timestamp; such producers count as seen at load.
const HEADER_V1: &str = "weir producer snapshot v1";
const SUFFIX: &str = ".snapshot";
/// Snapshots kept per partition (the newest ones).
const KEEP: usize = 2;

fn path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}{SUFFIX}"))
}

/// The offsets of the snapshots in `dir`, ascending.
fn offsets(dir: &Path) -> Vec<i64> {
    let mut offsets: Vec<i64> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|name| name.strip_suffix(SUFFIX)?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    offsets.sort_unstable();
    offsets
}

/// Removes the snapshots above `offset` (the log was truncated there; they
/// describe batches it no longer holds).
pub fn remove_after(dir: &Path, offset: i64) -> io::Result<()> {
    for stale in offsets(dir).into_iter().filter(|o| *o > offset) {
        fs::remove_file(path(dir, stale))?;
    }
    Ok(())
}

/// Writes the state as of `offset` (fsync, then rename) and prunes old snapshots.
pub fn write(dir: &Path, offset: i64, state: &ProducerStateManager) -> io::Result<()> {
    let mut text = format!("{HEADER}\n");
    for (producer_id, epoch, last_timestamp, batches) in state.entries() {
        text.push_str(&format!("{producer_id} {epoch} {last_timestamp}"));
        for b in batches {
            text.push_str(&format!(
                " {}:{}:{}:{}",
                b.first_sequence, b.last_sequence, b.first_offset, b.last_offset
            ));
        }
        text.push('\n');
    }
    text.push_str(&format!("crc {:08x}\n", crc32c::crc32c(text.as_bytes())));
    let target = path(dir, offset);
    let tmp = target.with_extension("snapshot.tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, &target)?;
    let all = offsets(dir);
    for old in &all[..all.len().saturating_sub(KEEP)] {
        let _ = fs::remove_file(path(dir, *old));
    }
    Ok(())
}

/// The newest intact snapshot at or below `max_offset`: (offset, state).
pub fn load(dir: &Path, max_offset: i64) -> Option<(i64, ProducerStateManager)> {
    offsets(dir)
        .into_iter()
        .rev()
        .filter(|o| *o <= max_offset)
        .find_map(|offset| parse(&fs::read_to_string(path(dir, offset)).ok()?).map(|s| (offset, s)))
}

fn parse(text: &str) -> Option<ProducerStateManager> {
    let (body, crc_line) = text.trim_end_matches('\n').rsplit_once('\n')?;
    let body = format!("{body}\n");
    let crc = u32::from_str_radix(crc_line.strip_prefix("crc ")?, 16).ok()?;
    if crc != crc32c::crc32c(body.as_bytes()) {
        return None;
    }
    let mut lines = body.lines();
    let v2 = match lines.next()? {
        HEADER => true,
        HEADER_V1 => false,
        _ => return None,
    };
    let now = crate::log::now_ms();
    let mut state = ProducerStateManager::default();
    for line in lines {
        let mut fields = line.split(' ');
        let producer_id: i64 = fields.next()?.parse().ok()?;
        let epoch: i16 = fields.next()?.parse().ok()?;
        let last_timestamp: i64 = if v2 {
            fields.next()?.parse().ok()?
        } else {
            now
        };
        let mut batches = Vec::new();
        for field in fields {
            let mut n = field.split(':');
            batches.push(BatchMetadata {
                first_sequence: n.next()?.parse().ok()?,
                last_sequence: n.next()?.parse().ok()?,
                first_offset: n.next()?.parse().ok()?,
                last_offset: n.next()?.parse().ok()?,
            });
        }
        state.restore(producer_id, epoch, last_timestamp, batches);
    }
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::BatchHeader;

    fn header(pid: i64, seq: i32, offset: i64) -> BatchHeader {
        crate::producer::state::tests::header(pid, 3, seq, 2, offset)
    }

    #[test]
    fn round_trips_keeps_the_newest_and_ignores_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = ProducerStateManager::default();
        state.record(&header(11, 0, 0));
        state.record(&header(11, 2, 2));
        state.record(&header(12, 0, 4));
        for offset in [6, 20, 40] {
            write(dir.path(), offset, &state).unwrap();
        }
        assert_eq!(
            offsets(dir.path()),
            vec![20, 40],
            "only the newest two are kept"
        );
        let (offset, loaded) = load(dir.path(), 100).unwrap();
        assert_eq!(offset, 40);
        assert_eq!(
            loaded.check(&header(11, 4, 0)),
            state.check(&header(11, 4, 0))
        );
        assert!(matches!(
            loaded.check(&header(11, 2, 0)),
            crate::producer::BatchCheck::Duplicate(_)
        ));
        assert_eq!(
            load(dir.path(), 30).unwrap().0,
            20,
            "none above the log end"
        );
        // A damaged newest snapshot falls back to the one before it.
        let newest = path(dir.path(), 40);
        let text = fs::read_to_string(&newest).unwrap().replace("11 3", "11 4");
        fs::write(&newest, text).unwrap();
        assert_eq!(load(dir.path(), 100).unwrap().0, 20);
    }
}
