//! Removing deleted files in the background. Retention and truncation
//! rename a segment's `.log` to `.log.deleted` under the partition lock, and
//! deleting a partition renames its directory to `<name>.<id>-delete` (as
//! Kafka does): from then on nothing lists them, and start-up removes what
//! a crash left. The removal itself frees the files' page cache — a few
//! hundred milliseconds of CPU for a gigabyte — so it runs on one thread in
//! the idle CPU class, and requests do not wait for it (produce p99 on
//! other partitions rose 54% while retention removed 1 GiB inline:
//! docs/benchmarks.md).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::warn;

static DELETER: OnceLock<Option<Sender<PathBuf>>> = OnceLock::new();

/// What a deleted partition directory's name ends with.
pub const DELETED_DIR: &str = "-delete";

/// Renames the partition directory `dir` out of the way and removes it on
/// the deleter thread.
pub fn remove_dir_later(dir: &Path) -> io::Result<()> {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let deleted = dir.with_file_name(format!("{name}.{id:x}{DELETED_DIR}"));
    std::fs::rename(dir, &deleted)?;
    remove_later(deleted);
    Ok(())
}

/// Removes the file or directory `path` soon, on the deleter thread (at
/// once if it cannot start).
pub fn remove_later(path: PathBuf) {
    match DELETER.get_or_init(start) {
        Some(deleter) => {
            if let Err(unsent) = deleter.send(path) {
                remove(&unsent.0);
            }
        }
        None => remove(&path),
    }
}

fn start() -> Option<Sender<PathBuf>> {
    let (sender, paths) = channel::<PathBuf>();
    let spawned = std::thread::Builder::new()
        .name("log-deleter".into())
        .spawn(move || {
            if !super::cleaner::enter_idle_class() {
                warn!("the log deleter thread could not enter the idle CPU class");
            }
            for path in paths {
                remove(&path);
            }
        });
    match spawned {
        Ok(_) => Some(sender),
        Err(e) => {
            warn!(error = %e, "could not start the log deleter thread; removing files inline");
            None
        }
    }
}

fn remove(path: &Path) {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    if let Err(e) = removed {
        if e.kind() != io::ErrorKind::NotFound {
            warn!(path = %path.display(), error = %e, "could not remove deleted log files");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_file_handed_over_is_removed_soon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log.deleted");
        std::fs::write(&path, b"records").unwrap();
        remove_later(path.clone());
        remove_later(dir.path().join("never-existed.log.deleted"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while path.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!path.exists());
    }

    #[test]
    fn a_partition_directory_is_renamed_at_once_and_removed_soon() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("topic-0");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("00000000000000000000.log"), b"records").unwrap();
        remove_dir_later(&dir).unwrap();
        assert!(!dir.exists());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_dir(data.path()).unwrap().count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
    }
}
