//! Removing deleted segments' log files in the background. Retention and
//! truncation rename a segment's `.log` to `.log.deleted` under the
//! partition lock (from then on the log does not list it, and start-up
//! removes what a crash left); the removal itself frees the file's page
//! cache — a few hundred milliseconds of CPU for a gigabyte — so it runs on
//! one thread in the idle CPU class, and requests do not wait for it
//! (produce p99 on other partitions rose 54% while retention removed 1 GiB
//! inline: docs/benchmarks.md).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use tracing::warn;

static DELETER: OnceLock<Option<Sender<PathBuf>>> = OnceLock::new();

/// Removes `path` soon, on the deleter thread (at once if it cannot start).
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
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            warn!(path = %path.display(), error = %e, "could not remove a deleted segment");
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
}
