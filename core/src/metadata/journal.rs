//! The persisted metadata log on a single node: one command per line,
//! `<crc32c in hex> <json>\n`, fsynced before the command is applied. At
//! start-up it is replayed in order; a torn or corrupt tail (a crash in the
//! middle of a write) is cut off. In a cluster, the Raft log takes its place.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use super::command::Command;

pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens the journal in `dir` and returns it with every intact command.
    pub fn open(dir: &Path) -> io::Result<(Journal, Vec<Command>)> {
        fs::create_dir_all(dir)?;
        let path = dir.join("commands.log");
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let (commands, good_len) = parse(&text);
        if good_len < text.len() {
            warn!(path = %path.display(), cut = text.len() - good_len, "truncating a torn metadata log tail");
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.set_len(good_len as u64)?;
        Ok((Journal { path, file }, commands))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends commands durably (one write, one fsync).
    pub fn append(&mut self, commands: &[Command]) -> io::Result<()> {
        let mut buf = Vec::new();
        for command in commands {
            let json = serde_json::to_string(command).map_err(io::Error::other)?;
            writeln!(buf, "{:08x} {json}", crc32c::crc32c(json.as_bytes()))?;
        }
        self.file.write_all(&buf)?;
        self.file.sync_data()
    }
}

/// The commands of every intact line, and the byte length they span.
fn parse(text: &[u8]) -> (Vec<Command>, usize) {
    let mut commands = Vec::new();
    let mut good = 0;
    for line in text.split_inclusive(|b| *b == b'\n') {
        let Some(body) = line.strip_suffix(b"\n") else {
            break;
        };
        let Ok(body) = std::str::from_utf8(body) else {
            break;
        };
        let Some((crc, json)) = body.split_once(' ') else {
            break;
        };
        let intact = u32::from_str_radix(crc, 16).ok() == Some(crc32c::crc32c(json.as_bytes()));
        let Some(command) = intact.then(|| serde_json::from_str(json).ok()).flatten() else {
            break;
        };
        commands.push(command);
        good += line.len();
    }
    (commands, good)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, commands) = Journal::open(dir.path()).unwrap();
        assert!(commands.is_empty());
        let a = Command::InitCluster {
            cluster_id: "a".into(),
        };
        let b = Command::RegisterBroker {
            id: 1,
            host: "h".into(),
            port: 1,
            rack: None,
            listeners: Vec::new(),
        };
        journal.append(&[a.clone(), b.clone()]).unwrap();
        let path = journal.path().to_path_buf();
        drop(journal);
        let mut bytes = fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(b"0000abcd {\"type\":\"init_clu");
        fs::write(&path, &bytes).unwrap();
        let (_, commands) = Journal::open(dir.path()).unwrap();
        assert_eq!(commands, vec![a, b]);
        assert_eq!(fs::metadata(&path).unwrap().len() as usize, whole);
    }
}
