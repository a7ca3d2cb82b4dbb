//! The replica manager: every partition this broker hosts. It makes the set of
//! partition logs follow the metadata image (create, update configs and
//! leadership, delete), serves lookups for the request handlers, and
//! flushes and checkpoints logs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tracing::{info, warn};

use super::{Leadership, Partition};
use crate::config::{BrokerConfig, ConfigView};
use crate::log::manager::{CheckpointEntry, LoadedLog};
use crate::log::retention::RetentionPolicy;
use crate::log::segment::now_ms;
use crate::log::{LogManager, TopicPartition};
use crate::metadata::{MetadataDelta, MetadataImage};
use crate::protocol::error::{ApiError, ResponseError};

pub struct ReplicaManager {
    node_id: i32,
    config: Arc<BrokerConfig>,
    logs: LogManager,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    /// Partitions this broker should host but whose log could not be
    /// opened or created, with the reason: requests get KAFKA_STORAGE_ERROR.
    offline: RwLock<HashMap<TopicPartition, String>>,
    /// Set by `shutdown`: background work (the log cleaner) stops.
    shut_down: std::sync::atomic::AtomicBool,
}

impl ReplicaManager {
    /// Loads the logs on disk and makes them match `image`.
    pub fn start(
        config: Arc<BrokerConfig>,
        logs: LogManager,
        image: &MetadataImage,
    ) -> std::io::Result<ReplicaManager> {
        let view = ConfigView {
            static_config: &config,
            dynamic: &image.cluster_configs,
        };
        let empty = Default::default();
        let (loaded, offline) = logs.load_all(|topic| {
            view.log_config(
                image
                    .topics
                    .get(topic)
                    .map(|t| &t.configs)
                    .unwrap_or(&empty),
            )
        })?;
        let manager = ReplicaManager {
            node_id: config.node_id(),
            config,
            logs,
            partitions: RwLock::new(HashMap::new()),
            offline: RwLock::new(offline.into_iter().collect()),
            shut_down: Default::default(),
        };
        manager.adopt(loaded, image)?;
        manager.apply(image)?;
        Ok(manager)
    }

    /// Takes the logs found on disk whose topic still exists with the same id;
    /// deletes the others (topics deleted while the broker was down).
    fn adopt(&self, loaded: Vec<LoadedLog>, image: &MetadataImage) -> std::io::Result<()> {
        let mut partitions = self.partitions.write().expect("partitions lock");
        for found in loaded {
            let topic = image.topics.get(&found.tp.topic);
            let current = topic.filter(|t| found.topic_id.is_none_or(|id| id == t.id));
            let Some((topic, p)) = current.and_then(|t| {
                t.partitions
                    .get(found.tp.partition as usize)
                    .map(|p| (t, p))
            }) else {
                warn!(partition = %found.tp, "deleting the log of a partition that no longer exists");
                found.log.delete()?;
                continue;
            };
            let partition = Partition::new(
                found.tp.clone(),
                topic.id,
                self.node_id,
                found.log,
                found.high_watermark.unwrap_or(0),
                Leadership::from(p),
            );
            partitions.insert(found.tp, Arc::new(partition));
        }
        Ok(())
    }

    /// Makes the hosted partitions match the image.
    pub fn apply(&self, image: &MetadataImage) -> std::io::Result<()> {
        self.apply_delta(image, &MetadataDelta::everything())
    }

    /// Makes the hosted partitions of the topics `delta` names match the
    /// image (every topic when the cluster-wide configs changed): deletes
    /// the partitions of deleted (or re-created) topics, removed partitions
    /// and partitions no longer assigned to this broker, creates the new
    /// ones this broker hosts, and updates
    /// leadership and configs. Log files are created and deleted outside
    /// the partitions lock, so requests to other partitions go on.
    pub fn apply_delta(&self, image: &MetadataImage, delta: &MetadataDelta) -> std::io::Result<()> {
        // Whether the image still has this broker host the partition (of
        // that topic id, when given).
        let exists = |tp: &TopicPartition, topic_id: Option<uuid::Uuid>| {
            image.topics.get(&tp.topic).is_some_and(|t| {
                topic_id.is_none_or(|id| id == t.id)
                    && t.partitions
                        .get(tp.partition as usize)
                        .is_some_and(|p| p.replicas.contains(&self.node_id))
            })
        };
        self.offline
            .write()
            .expect("offline lock")
            .retain(|tp, _| !delta.touches(&tp.topic) || exists(tp, None));
        let stale: Vec<Arc<Partition>> = {
            let mut partitions = self.partitions.write().expect("partitions lock");
            let gone: Vec<TopicPartition> = partitions
                .iter()
                .filter(|(tp, p)| delta.touches(&tp.topic) && !exists(tp, Some(p.topic_id)))
                .map(|(tp, _)| tp.clone())
                .collect();
            gone.iter().filter_map(|tp| partitions.remove(tp)).collect()
        };
        for partition in stale {
            info!(partition = %partition.tp, "deleting partition");
            match Arc::try_unwrap(partition) {
                Ok(partition) => partition
                    .state
                    .into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .log
                    .delete()?,
                Err(partition) => {
                    // A request still holds it: remove the files; the handle dies with it.
                    let dir = partition.with_state(|s| s.log.dir().to_path_buf());
                    crate::log::deleter::remove_dir_later(&dir)?;
                }
            }
        }
        let view = ConfigView {
            static_config: &self.config,
            dynamic: &image.cluster_configs,
        };
        let touched = image.topics.values().filter(|t| delta.touches(&t.name));
        for topic in touched {
            let log_config = view.log_config(&topic.configs);
            let min_isr = view.min_insync_replicas(&topic.configs);
            for (index, p) in topic.partitions.iter().enumerate() {
                if !p.replicas.contains(&self.node_id) {
                    continue;
                }
                let tp = TopicPartition::new(topic.name.clone(), index as i32);
                match self.get(&tp) {
                    Some(partition) => {
                        partition.update(Leadership::from(p), log_config.clone(), min_isr)
                    }
                    None if self.offline_reason(&tp).is_some() => {}
                    None => {
                        let log = match self.logs.create_log(&tp, topic.id, log_config.clone()) {
                            Ok(log) => log,
                            Err(e) => {
                                tracing::error!(partition = %tp, error = %e,
                                    "cannot create the partition's log: it is offline");
                                self.set_offline(tp, e.to_string());
                                continue;
                            }
                        };
                        let partition = Partition::new(
                            tp.clone(),
                            topic.id,
                            self.node_id,
                            log,
                            0,
                            Leadership::from(p),
                        );
                        partition.update(Leadership::from(p), log_config.clone(), min_isr);
                        self.partitions
                            .write()
                            .expect("partitions lock")
                            .insert(tp, Arc::new(partition));
                    }
                }
            }
        }
        Ok(())
    }

    /// Why a partition this broker should host is offline, if it is.
    pub fn offline_reason(&self, tp: &TopicPartition) -> Option<String> {
        self.offline.read().expect("offline lock").get(tp).cloned()
    }

    /// `offline_reason` by topic name and partition index.
    pub fn offline_reason_by_name(&self, topic: &str, partition: i32) -> Option<String> {
        let offline = self.offline.read().expect("offline lock");
        if offline.is_empty() {
            return None;
        }
        offline
            .get(&TopicPartition::new(topic.to_string(), partition))
            .cloned()
    }

    /// KAFKA_STORAGE_ERROR with the reason, for a request to a partition
    /// this broker should host but could not open; None if it is not offline.
    pub fn offline_error(&self, topic: &str, partition: i32) -> Option<ApiError> {
        self.offline_reason_by_name(topic, partition).map(|reason| {
            ApiError::new(
                ResponseError::KafkaStorageError,
                format!("The partition is offline: {reason}"),
            )
        })
    }

    fn set_offline(&self, tp: TopicPartition, reason: String) {
        self.offline
            .write()
            .expect("offline lock")
            .insert(tp, reason);
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .expect("partitions lock")
            .get(tp)
            .cloned()
    }

    pub fn get_by_name(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.get(&TopicPartition::new(topic, partition))
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .expect("partitions lock")
            .values()
            .cloned()
            .collect()
    }

    /// Wakes fetches waiting for data.
    /// fsyncs logs whose `flush.ms` has passed.
    pub fn flush_due_logs(&self) {
        let now = now_ms();
        for partition in self.all() {
            partition.with_state(|s| {
                if s.log.flush_due(now) {
                    if let Err(e) = s.log.flush() {
                        warn!(partition = %partition.tp, error = %e, "flush failed");
                    }
                }
            });
        }
    }

    /// Closes the files of closed segments unread for `idle_ms` (they are
    /// opened again on the next read). Returns how many `.log` files closed.
    pub fn release_idle_files(&self, idle_ms: i64) -> usize {
        let now = now_ms();
        self.all()
            .iter()
            .map(|p| p.with_state(|s| s.log.release_idle_files(idle_ms, now)))
            .sum()
    }

    /// fsyncs rolled segments (without holding the partition while syncing)
    /// and writes the recovery-point, high-watermark and log-start checkpoints.
    pub fn checkpoint(&self) -> std::io::Result<()> {
        let mut entries = Vec::new();
        for partition in self.all() {
            if let Err(e) = partition.write_producer_snapshot(false) {
                warn!(partition = %partition.tp, error = %e, "could not write a producer state snapshot");
            }
            let files = partition.with_state(|s| s.log.rolled_unflushed());
            let synced = files.iter().all(|f| f.sync_data().is_ok());
            entries.push(partition.with_state(|s| {
                if synced && !files.is_empty() {
                    s.log.mark_rolled_flushed();
                }
                CheckpointEntry {
                    tp: partition.tp.clone(),
                    dir: s.log.dir().to_path_buf(),
                    recovery_point: s.log.recovery_point(),
                    high_watermark: s.high_watermark,
                    log_start_offset: s.log.log_start_offset(),
                    first_dirty_offset: s.log.first_dirty_offset(),
                }
            }));
        }
        self.logs.write_checkpoints(&entries)
    }

    /// Forgets idle idempotent producers on every partition
    /// (producer.id.expiration.ms).
    pub fn expire_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        self.all()
            .iter()
            .map(|p| p.expire_producers(now_ms, expiration_ms))
            .sum()
    }

    /// One retention pass over every partition: `policy_for` gives a
    /// topic's retention policy, `committed_for` the lowest offset its
    /// readers committed.
    pub fn enforce_retention(
        &self,
        policy_for: impl Fn(&str) -> std::sync::Arc<dyn RetentionPolicy>,
        committed_for: impl Fn(&TopicPartition) -> Option<i64>,
    ) {
        for partition in self.all() {
            let policy = policy_for(&partition.tp.topic);
            let committed = committed_for(&partition.tp);
            if let Err(e) = partition.enforce_retention(policy.as_ref(), committed, now_ms()) {
                warn!(partition = %partition.tp, error = %e, "retention failed");
            }
        }
    }

    /// Clean shutdown: flush and close every log, checkpoint, then write the
    /// clean-shutdown marker so the next start skips recovery.
    pub fn shutdown(&self) -> std::io::Result<()> {
        self.shut_down
            .store(true, std::sync::atomic::Ordering::Release);
        for partition in self.all() {
            partition.with_state(|s| s.log.close())?;
            partition.write_producer_snapshot(true)?;
        }
        self.checkpoint()?;
        self.logs.mark_clean_shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Command;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use uuid::Uuid;

    fn manager(dir: &std::path::Path, image: &MetadataImage) -> ReplicaManager {
        let mut config = BrokerConfig::default();
        config.set("node.id", "1").unwrap();
        let logs = LogManager::new(vec![dir.to_path_buf()]).unwrap();
        ReplicaManager::start(Arc::new(config), logs, image).unwrap()
    }

    fn hosted(manager: &ReplicaManager) -> BTreeSet<(String, i32, Uuid)> {
        manager
            .all()
            .iter()
            .map(|p| (p.tp.topic.clone(), p.tp.partition, p.topic_id))
            .collect()
    }

    fn command() -> impl Strategy<Value = Command> {
        let name = (0..4u8).prop_map(|i| format!("t{i}"));
        prop_oneof![
            (name.clone(), 1..4usize, 0..3u128).prop_map(|(name, n, generation)| {
                Command::CreateTopic {
                    topic_id: Uuid::from_u128(generation + 1),
                    name,
                    partitions: (0..n).map(|p| vec![p as i32 % 2 + 1]).collect(),
                    configs: Default::default(),
                }
            }),
            (name.clone(), 0..3u128).prop_map(|(name, generation)| Command::DeleteTopic {
                name,
                topic_id: Uuid::from_u128(generation + 1),
            }),
            (name, 1..3usize).prop_map(|(name, n)| Command::CreatePartitions {
                name,
                partitions: (0..n).map(|p| vec![p as i32 % 2 + 1]).collect(),
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Following each change as a delta hosts exactly what a broker
        /// starting on the final image would.
        #[test]
        fn following_deltas_hosts_what_the_whole_image_says(
            steps in proptest::collection::vec(proptest::collection::vec(command(), 1..4), 1..8)
        ) {
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let mut image = MetadataImage::default();
            let following = manager(a.path(), &image);
            for step in &steps {
                let before = image.clone();
                step.iter().for_each(|c| image.apply(c));
                following
                    .apply_delta(&image, &MetadataDelta::between(&before, &image))
                    .unwrap();
            }
            let fresh = manager(b.path(), &image);
            prop_assert_eq!(hosted(&following), hosted(&fresh));
        }
    }
}
