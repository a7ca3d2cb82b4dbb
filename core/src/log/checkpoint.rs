//! Checkpoint files in Kafka's text format: a version line, a count line, then
//! one entry per line. Written to a temporary file, fsynced and renamed, so a
//! crash leaves either the old or the new file, never half of one.
//!
//! Per data directory: `recovery-point-offset-checkpoint`,
//! `replication-offset-checkpoint` (high watermarks) and
//! `log-start-offset-checkpoint`, each `topic partition offset`.
//! Per partition: `leader-epoch-checkpoint`, each `epoch start-offset`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

const VERSION: u32 = 0;

fn write_lines(path: &Path, lines: &[String]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut body = format!("{VERSION}\n{}\n", lines.len());
    for line in lines {
        body.push_str(line);
        body.push('\n');
    }
    let mut file = File::create(&tmp)?;
    file.write_all(body.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {why}", path.display()),
        )
    };
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err(bad("unknown checkpoint version"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| bad("missing entry count"))?;
    let entries: Vec<String> = lines.map(str::to_owned).collect();
    if entries.len() != count {
        return Err(bad("entry count does not match"));
    }
    Ok(entries)
}

/// A `topic partition offset` checkpoint.
pub fn write_offsets(path: &Path, offsets: &BTreeMap<(String, i32), i64>) -> io::Result<()> {
    let lines: Vec<String> = offsets
        .iter()
        .map(|((topic, partition), offset)| format!("{topic} {partition} {offset}"))
        .collect();
    write_lines(path, &lines)
}

pub fn read_offsets(path: &Path) -> io::Result<BTreeMap<(String, i32), i64>> {
    let mut offsets = BTreeMap::new();
    for line in read_lines(path)? {
        let mut parts = line.split(' ');
        let parsed = (|| {
            let topic = parts.next()?.to_owned();
            let partition = parts.next()?.parse().ok()?;
            let offset = parts.next()?.parse().ok()?;
            Some(((topic, partition), offset))
        })();
        let (key, offset) = parsed.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: bad line {line:?}", path.display()),
            )
        })?;
        offsets.insert(key, offset);
    }
    Ok(offsets)
}

/// A `epoch start-offset` checkpoint (the leader epoch cache).
pub fn write_epochs(path: &Path, epochs: &[(i32, i64)]) -> io::Result<()> {
    let lines: Vec<String> = epochs.iter().map(|(e, o)| format!("{e} {o}")).collect();
    write_lines(path, &lines)
}

pub fn read_epochs(path: &Path) -> io::Result<Vec<(i32, i64)>> {
    read_lines(path)?
        .iter()
        .map(|line| {
            let mut parts = line.split(' ');
            match (
                parts.next().and_then(|e| e.parse().ok()),
                parts.next().and_then(|o| o.parse().ok()),
            ) {
                (Some(e), Some(o)) => Ok((e, o)),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad epoch line {line:?}"),
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recovery-point-offset-checkpoint");
        assert!(read_offsets(&path).unwrap().is_empty());
        let mut offsets = BTreeMap::new();
        offsets.insert(("my-topic".to_string(), 3), 42);
        offsets.insert(("a".to_string(), 0), 0);
        write_offsets(&path, &offsets).unwrap();
        assert_eq!(read_offsets(&path).unwrap(), offsets);
        assert!(fs::read_to_string(&path).unwrap().starts_with("0\n2\n"));
    }

    #[test]
    fn epochs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leader-epoch-checkpoint");
        write_epochs(&path, &[(0, 0), (3, 120)]).unwrap();
        assert_eq!(read_epochs(&path).unwrap(), vec![(0, 0), (3, 120)]);
    }
}
