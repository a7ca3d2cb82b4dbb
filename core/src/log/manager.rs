//! The log manager: the data directories (`log.dirs`). It loads every
//! partition log at start-up (recovering after an unclean shutdown), creates
//! and deletes partition directories, and writes the per-directory checkpoints
//! and the clean-shutdown marker.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tracing::{info, warn};
use uuid::Uuid;

use super::checkpoint;
use super::{LogConfig, PartitionLog, TopicPartition};

const CLEAN_SHUTDOWN: &str = ".kafka_cleanshutdown";
const RECOVERY_POINT: &str = "recovery-point-offset-checkpoint";
const HIGH_WATERMARK: &str = "replication-offset-checkpoint";
const LOG_START: &str = "log-start-offset-checkpoint";
const CLEANER: &str = "cleaner-offset-checkpoint";
const PARTITION_METADATA: &str = "partition.metadata";

/// A log found on disk at start-up.
pub struct LoadedLog {
    pub tp: TopicPartition,
    pub topic_id: Option<Uuid>,
    pub high_watermark: Option<i64>,
    pub log: PartitionLog,
}

/// What the checkpoints record for one partition.
pub struct CheckpointEntry {
    pub tp: TopicPartition,
    pub dir: PathBuf,
    pub recovery_point: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// Where the log cleaner stopped (compacted topics).
    pub first_dirty_offset: i64,
}

/// A partition whose log could not be opened, and why.
pub type OfflineLog = (TopicPartition, String);

/// File descriptors kept free for the rest of start-up while logs load:
/// 256, or an eighth of the open files limit when that is lower.
fn fd_reserve() -> usize {
    crate::open_files_limit().map_or(0, |(soft, _)| (soft / 8).min(256) as usize)
}

pub struct LogManager {
    dirs: Vec<PathBuf>,
}

impl LogManager {
    pub fn new(dirs: Vec<PathBuf>) -> io::Result<LogManager> {
        for dir in &dirs {
            fs::create_dir_all(dir)?;
        }
        Ok(LogManager { dirs })
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Loads every partition directory. `config_for` gives the log config of
    /// a topic (None for directories of topics that no longer exist).
    /// A partition whose log cannot be opened (too many open files, a
    /// damaged directory) is returned among the offline ones with the
    /// reason, and the rest load: one partition never stops a start.
    pub fn load_all(
        &self,
        config_for: impl Fn(&str) -> LogConfig,
    ) -> io::Result<(Vec<LoadedLog>, Vec<OfflineLog>)> {
        let mut loaded = Vec::new();
        let mut offline = Vec::new();
        // Descriptors held back while loading, so that running out of them
        // takes partitions offline rather than the listeners and journals
        // that the broker opens next.
        let reserve: Vec<fs::File> = (0..fd_reserve())
            .map_while(|_| fs::File::open("/dev/null").ok())
            .collect();
        for dir in &self.dirs {
            let clean = dir.join(CLEAN_SHUTDOWN).exists();
            let recovery = checkpoint::read_offsets(&dir.join(RECOVERY_POINT)).unwrap_or_default();
            let starts = checkpoint::read_offsets(&dir.join(LOG_START)).unwrap_or_default();
            let hws = checkpoint::read_offsets(&dir.join(HIGH_WATERMARK)).unwrap_or_default();
            let cleaned = checkpoint::read_offsets(&dir.join(CLEANER)).unwrap_or_default();
            if !clean {
                info!(dir = %dir.display(), "no clean shutdown marker: recovering logs");
            }
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                if !entry.file_type()?.is_dir() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(super::deleter::DELETED_DIR) {
                    // A deleted partition a crash left behind.
                    super::deleter::remove_later(entry.path());
                    continue;
                }
                if name == super::METADATA_LOG_DIR {
                    // The controller quorum's log, not a partition's.
                    continue;
                }
                let Some(tp) = TopicPartition::from_dir_name(&name) else {
                    continue;
                };
                let key = (tp.topic.clone(), tp.partition);
                let opened = PartitionLog::open(
                    &entry.path(),
                    config_for(&tp.topic),
                    recovery.get(&key).copied().unwrap_or(0),
                    starts.get(&key).copied().unwrap_or(0),
                    clean,
                );
                let mut log = match opened {
                    Ok(log) => log,
                    Err(e) => {
                        tracing::error!(partition = %tp, dir = %entry.path().display(), error = %e,
                            "cannot open the partition's log: it is offline");
                        offline.push((tp, e.to_string()));
                        continue;
                    }
                };
                log.set_first_dirty_offset(cleaned.get(&key).copied().unwrap_or(0));
                loaded.push(LoadedLog {
                    topic_id: read_topic_id(&entry.path()),
                    high_watermark: hws.get(&key).copied(),
                    tp,
                    log,
                });
            }
            // Only now: a crash while loading must recover again next time.
            if clean {
                fs::remove_file(dir.join(CLEAN_SHUTDOWN))?;
            }
        }
        drop(reserve);
        Ok((loaded, offline))
    }

    /// Creates the directory of a new partition in the data directory that
    /// holds the fewest partitions.
    pub fn create_log(
        &self,
        tp: &TopicPartition,
        topic_id: Uuid,
        config: LogConfig,
    ) -> io::Result<PartitionLog> {
        let dir = self
            .dirs
            .iter()
            .min_by_key(|d| fs::read_dir(d).map(|r| r.count()).unwrap_or(0))
            .expect("at least one log dir");
        let path = dir.join(tp.dir_name());
        if path.exists() {
            warn!(partition = %tp, "removing a stale directory before creating the partition");
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir_all(&path)?;
        write_topic_id(&path, topic_id)?;
        PartitionLog::open(&path, config, 0, 0, true)
    }

    /// Writes the recovery-point, high-watermark and log-start checkpoints of
    /// every data directory.
    pub fn write_checkpoints(&self, entries: &[CheckpointEntry]) -> io::Result<()> {
        for dir in &self.dirs {
            let mut recovery = BTreeMap::new();
            let mut hws = BTreeMap::new();
            let mut starts = BTreeMap::new();
            let mut cleaned = BTreeMap::new();
            for e in entries
                .iter()
                .filter(|e| e.dir.parent() == Some(dir.as_path()))
            {
                let key = (e.tp.topic.clone(), e.tp.partition);
                recovery.insert(key.clone(), e.recovery_point);
                hws.insert(key.clone(), e.high_watermark);
                starts.insert(key.clone(), e.log_start_offset);
                if e.first_dirty_offset > 0 {
                    cleaned.insert(key, e.first_dirty_offset);
                }
            }
            checkpoint::write_offsets(&dir.join(RECOVERY_POINT), &recovery)?;
            checkpoint::write_offsets(&dir.join(HIGH_WATERMARK), &hws)?;
            checkpoint::write_offsets(&dir.join(LOG_START), &starts)?;
            checkpoint::write_offsets(&dir.join(CLEANER), &cleaned)?;
        }
        Ok(())
    }

    /// The last step of a clean shutdown, after every log is flushed and closed.
    pub fn mark_clean_shutdown(&self) -> io::Result<()> {
        for dir in &self.dirs {
            fs::write(dir.join(CLEAN_SHUTDOWN), b"")?;
        }
        Ok(())
    }
}

fn write_topic_id(dir: &Path, topic_id: Uuid) -> io::Result<()> {
    fs::write(
        dir.join(PARTITION_METADATA),
        format!("version: 0\ntopic_id: {topic_id}\n"),
    )
}

fn read_topic_id(dir: &Path) -> Option<Uuid> {
    let text = fs::read_to_string(dir.join(PARTITION_METADATA)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id: "))
        .and_then(|id| id.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_deleted_partition_a_crash_left_is_removed_not_loaded() {
        let data = tempfile::tempdir().unwrap();
        let manager = LogManager::new(vec![data.path().to_path_buf()]).unwrap();
        let tp = TopicPartition::new("orders", 0);
        let log = manager
            .create_log(&tp, Uuid::new_v4(), LogConfig::default())
            .unwrap();
        drop(log);
        // As a crash between the rename and the removal leaves it.
        let left = data.path().join("orders-1.5f3a-delete");
        fs::rename(data.path().join("orders-0"), &left).unwrap();
        manager
            .create_log(&tp, Uuid::new_v4(), LogConfig::default())
            .unwrap();
        let (loaded, offline) = manager.load_all(|_| LogConfig::default()).unwrap();
        assert!(offline.is_empty());
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].tp, tp);
        let deadline = Instant::now() + Duration::from_secs(10);
        while left.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!left.exists());
    }
}
