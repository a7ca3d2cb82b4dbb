//! The controller: the only writer of the metadata log. It validates each
//! admin request against the current image (Kafka's error codes and
//! messages), turns it into commands and commits them (`log`); the image is
//! published once they are applied. Readers take a snapshot (`image()`) and
//! never block writers. In a cluster only the active controller (the
//! quorum's leader) validates; elsewhere changes fail with NOT_CONTROLLER.

mod configs;
mod partitions;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::command::{Command, Endpoint};
use super::image::{MetadataImage, TopicImage};
use super::journal::Journal;
use super::log::{not_controller, Images, MetadataLog};
use super::placement;
use crate::config::{validate_topic_config, BrokerConfig};
use crate::protocol::error::{ApiError, ResponseError};
pub use partitions::{check_isr_request, unclean_allowed, IsrRequest};

/// Kafka's limit on topic name length.
const MAX_TOPIC_NAME: usize = 249;

/// A topic to create, as CreateTopics (or auto-creation) asks for it.
#[derive(Debug, Clone, Default)]
pub struct NewTopic {
    pub name: String,
    /// -1: `num.partitions`.
    pub num_partitions: i32,
    /// -1: `default.replication.factor`.
    pub replication_factor: i16,
    /// Explicit replica assignment per partition, if given.
    pub assignments: Vec<Vec<i32>>,
    pub configs: Vec<(String, Option<String>)>,
}

pub struct Controller {
    node_id: i32,
    log: MetadataLog,
    images: Arc<Images>,
    /// One change at a time: each is validated against the image every
    /// earlier one left, so two requests cannot both pass the checks.
    writes: tokio::sync::Mutex<()>,
    /// `weir.max.partitions`: replicas one broker may host.
    max_partitions: std::sync::atomic::AtomicUsize,
}

impl Controller {
    /// Sets the most partition replicas one broker may host: creations that
    /// would pass it are refused before anything is recorded.
    pub fn set_max_partitions(&self, max: usize) {
        self.max_partitions
            .store(max, std::sync::atomic::Ordering::Relaxed);
    }

    /// Refuses `added` replica lists that would put more partitions on a
    /// broker than `weir.max.partitions` allows.
    fn check_partition_cap(
        &self,
        image: &MetadataImage,
        added: &[Vec<i32>],
    ) -> Result<(), ApiError> {
        let max = self
            .max_partitions
            .load(std::sync::atomic::Ordering::Relaxed);
        let mut hosted: BTreeMap<i32, usize> = BTreeMap::new();
        let existing = image
            .topics
            .values()
            .flat_map(|t| t.partitions.iter().map(|p| &p.replicas));
        for replicas in existing.chain(added.iter()) {
            for broker in replicas {
                *hosted.entry(*broker).or_default() += 1;
            }
        }
        match hosted.into_iter().find(|(_, n)| *n > max) {
            None => Ok(()),
            Some((broker, n)) => Err(ApiError::new(
                ResponseError::PolicyViolation,
                format!(
                    "Broker {broker} would host {n} partitions, more than weir.max.partitions ({max}) allows: each needs open files (raise the open files limit or weir.max.partitions)."
                ),
            )),
        }
    }

    /// Replays the single node's metadata log in `dir`; a new cluster gets
    /// an id, and this broker (re-)registers its endpoint.
    pub fn open(dir: &Path, node_id: i32, listeners: &[Endpoint]) -> io::Result<Controller> {
        let (journal, commands) = Journal::open(dir)?;
        let mut image = MetadataImage::default();
        commands.iter().for_each(|c| image.apply(c));
        let controller = Controller::new(node_id, MetadataLog::Local(Mutex::new(journal)), image);
        let mut startup = Vec::new();
        if controller.image().cluster_id.is_empty() {
            startup.push(Command::InitCluster {
                cluster_id: kafka_uuid_string(Uuid::new_v4()),
            });
        }
        startup.extend(controller.registration(node_id, listeners, None));
        if let (false, MetadataLog::Local(journal)) = (startup.is_empty(), &controller.log) {
            journal.lock().expect("journal lock").append(&startup)?;
            controller.images.apply(&startup);
        }
        Ok(controller)
    }

    /// A controller over `log`, whose committed commands (replayed or yet
    /// to come) are applied to `images`.
    pub fn with_log(node_id: i32, log: MetadataLog, images: Arc<Images>) -> Controller {
        Controller {
            node_id,
            log,
            images,
            writes: tokio::sync::Mutex::new(()),
            max_partitions: usize::MAX.into(),
        }
    }

    fn new(node_id: i32, log: MetadataLog, image: MetadataImage) -> Controller {
        Controller::with_log(node_id, log, Arc::new(Images::new(image)))
    }

    /// The command that registers a broker's endpoint (and makes it live
    /// again), unless the image already holds exactly that, live.
    /// Other brokers reach it at the first of `listeners`.
    pub fn registration(
        &self,
        id: i32,
        listeners: &[Endpoint],
        rack: Option<String>,
    ) -> Option<Command> {
        let first = listeners.first()?;
        let command = Command::RegisterBroker {
            id,
            host: first.host.clone(),
            port: first.port,
            rack,
            listeners: listeners.to_vec(),
        };
        let current = self
            .image()
            .brokers
            .get(&id)
            .filter(|b| b.is_live())
            .map(|b| Command::RegisterBroker {
                id: b.id,
                host: b.host.clone(),
                port: b.port,
                rack: b.rack.clone(),
                listeners: b.listeners.clone(),
            });
        (current.as_ref() != Some(&command)).then_some(command)
    }

    pub fn log(&self) -> &MetadataLog {
        &self.log
    }

    /// The active controller's node id, if one is known.
    pub fn active_controller(&self) -> Option<i32> {
        match self.log.quorum_status() {
            None => Some(self.node_id),
            Some(status) => status.leader.map(|id| id as i32),
        }
    }

    /// A receiver that wakes on every newly published image.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<MetadataImage>> {
        self.images.subscribe()
    }

    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The current image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.images.current()
    }

    /// Commits commands (unvalidated: for the broker's own records, such
    /// as a registration or a deployed plugin) and returns the image after.
    pub async fn submit(&self, commands: Vec<Command>) -> Result<Arc<MetadataImage>, ApiError> {
        let _write = self.begin_write().await?;
        self.commit(commands).await
    }

    /// Takes the write turn, if this node is the active controller.
    async fn begin_write(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, ApiError> {
        let turn = self.writes.lock().await;
        if !self.log.is_active() {
            let leader = self
                .active_controller()
                .map(|id| format!("the active controller is node {id}"))
                .unwrap_or_else(|| "no controller is active yet".into());
            return Err(not_controller(&leader));
        }
        Ok(turn)
    }

    async fn commit(&self, commands: Vec<Command>) -> Result<Arc<MetadataImage>, ApiError> {
        self.log.commit(&self.images, commands).await
    }

    /// Validates and (unless `validate_only`) creates a topic.
    pub async fn create_topic(
        &self,
        config: &BrokerConfig,
        topic: &NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, ApiError> {
        // One creation at a time, so two requests cannot both pass the checks.
        let _write = self.begin_write().await?;
        let image = self.image();
        validate_topic_name(&topic.name)?;
        if image.topics.contains_key(&topic.name) {
            return Err(ApiError::new(
                ResponseError::TopicAlreadyExists,
                format!("Topic '{}' already exists.", topic.name),
            ));
        }
        if let Some(other) = image
            .topics
            .keys()
            .find(|n| n.replace('.', "_") == topic.name.replace('.', "_"))
        {
            return Err(ApiError::new(
                ResponseError::InvalidTopicException,
                format!(
                    "Topic '{}' collides with existing topic: {other}",
                    topic.name
                ),
            ));
        }
        let partitions = self.assign_replicas(&image, config, topic)?;
        self.check_partition_cap(&image, &partitions)?;
        let mut configs = BTreeMap::new();
        for (key, value) in &topic.configs {
            let Some(value) = value else {
                return Err(ApiError::new(
                    ResponseError::InvalidConfig,
                    format!("Null value not supported for topic config {key}"),
                ));
            };
            let value = validate_topic_config(key, value)
                .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
            configs.insert(key.clone(), value);
        }
        let created = TopicImage {
            name: topic.name.clone(),
            id: Uuid::new_v4(),
            partitions: Vec::new(),
            configs,
        };
        let command = Command::CreateTopic {
            name: created.name.clone(),
            topic_id: created.id,
            partitions,
            configs: created.configs.clone(),
        };
        if validate_only {
            let mut preview = MetadataImage::default();
            preview.apply(&command);
            return Ok(preview.topics.remove(&topic.name).expect("just applied"));
        }
        let image = self.commit(vec![command]).await?;
        Ok(image.topics[&topic.name].clone())
    }

    /// Replica lists for each partition of a new topic.
    fn assign_replicas(
        &self,
        image: &MetadataImage,
        config: &BrokerConfig,
        topic: &NewTopic,
    ) -> Result<Vec<Vec<i32>>, ApiError> {
        let brokers = live_brokers(image);
        if !topic.assignments.is_empty() {
            if topic.num_partitions != -1 || topic.replication_factor != -1 {
                return Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                ));
            }
            return validate_assignments(&brokers, &topic.assignments)
                .map(|_| topic.assignments.clone());
        }
        let count = if topic.num_partitions == -1 {
            config.num_partitions()
        } else {
            topic.num_partitions
        };
        if count <= 0 {
            return Err(ApiError::new(
                ResponseError::InvalidPartitions,
                "Number of partitions was set to an invalid non-positive value.",
            ));
        }
        let rf = if topic.replication_factor == -1 {
            config.default_replication_factor()
        } else {
            topic.replication_factor
        };
        if rf <= 0 {
            return Err(ApiError::new(
                ResponseError::InvalidReplicationFactor,
                "Replication factor must be larger than 0, or -1 to use the default value.",
            ));
        }
        if rf as usize > brokers.len() {
            return Err(ApiError::new(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {} broker(s) are registered and live.",
                    brokers.len()
                ),
            ));
        }
        Ok(placement::place(
            &candidates(image),
            count as usize,
            rf as usize,
            random_start(brokers.len()),
            0,
        ))
    }

    pub async fn delete_topic(&self, config: &BrokerConfig, name: &str) -> Result<Uuid, ApiError> {
        if !config.delete_topic_enable() {
            return Err(ApiError::new(
                ResponseError::TopicDeletionDisabled,
                "Topic deletion is disabled.",
            ));
        }
        let _write = self.begin_write().await?;
        let image = self.image();
        let topic = image.topics.get(name).ok_or_else(|| {
            ApiError::new(
                ResponseError::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )
        })?;
        self.commit(vec![Command::DeleteTopic {
            name: name.to_string(),
            topic_id: topic.id,
        }])
        .await?;
        Ok(topic.id)
    }

    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Vec<Vec<i32>>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let _write = self.begin_write().await?;
        let image = self.image();
        let topic = existing_topic(&image, name)?;
        let current = topic.partitions.len() as i32;
        if count < current {
            return Err(ApiError::new(
                ResponseError::InvalidPartitions,
                format!("The topic {name} currently has {current} partition(s); {count} would not be an increase."),
            ));
        }
        if count == current {
            return Err(ApiError::new(
                ResponseError::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        let brokers = live_brokers(&image);
        let added = if assignments.is_empty() {
            let rf = topic.partitions[0].replicas.len().min(brokers.len());
            placement::place(
                &candidates(&image),
                (count - current) as usize,
                rf,
                random_start(brokers.len()),
                current as usize,
            )
        } else {
            if assignments.len() as i32 != count - current {
                return Err(ApiError::new(
                    ResponseError::InvalidReplicaAssignment,
                    format!("Attempted to add {} additional partition(s), but only {} assignment(s) were specified.", count - current, assignments.len()),
                ));
            }
            validate_assignments(&brokers, &assignments)?;
            assignments
        };
        self.check_partition_cap(&image, &added)?;
        if validate_only {
            return Ok(());
        }
        self.commit(vec![Command::CreatePartitions {
            name: name.to_string(),
            partitions: added,
        }])
        .await?;
        Ok(())
    }

    /// Reserves `count` producer ids and returns the first.
    pub async fn allocate_producer_ids(&self, count: i64) -> Result<i64, ApiError> {
        let _write = self.begin_write().await?;
        let first = self.image().next_producer_id;
        self.commit(vec![Command::AllocateProducerIds { first, count }])
            .await?;
        Ok(first)
    }
}

/// The ids of the live brokers (registered, not fenced or shutting down).
fn live_brokers(image: &MetadataImage) -> Vec<i32> {
    image
        .brokers
        .values()
        .filter(|b| b.is_live())
        .map(|b| b.id)
        .collect()
}

/// The live brokers (registered, not fenced or shutting down), for placement.
fn candidates(image: &MetadataImage) -> Vec<placement::Candidate> {
    image
        .brokers
        .values()
        .filter(|b| b.is_live())
        .map(|b| placement::Candidate {
            id: b.id,
            rack: b.rack.clone(),
        })
        .collect()
}

/// Where a new topic's leaders start on the ring: random, as in Kafka, so
/// topics created one after another do not all lead on the same broker.
fn random_start(brokers: usize) -> usize {
    (Uuid::new_v4().as_u128() % brokers.max(1) as u128) as usize
}

fn existing_topic<'a>(image: &'a MetadataImage, name: &str) -> Result<&'a TopicImage, ApiError> {
    image.topics.get(name).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        )
    })
}

fn validate_assignments(brokers: &[i32], assignments: &[Vec<i32>]) -> Result<(), ApiError> {
    for replicas in assignments {
        if replicas.is_empty() {
            return Err(ApiError::new(
                ResponseError::InvalidReplicaAssignment,
                "A partition must have at least one replica.",
            ));
        }
        if let Some(unknown) = replicas.iter().find(|r| !brokers.contains(r)) {
            return Err(ApiError::new(
                ResponseError::InvalidReplicaAssignment,
                format!("The manual partition assignment includes broker {unknown}, but no such broker is registered and live."),
            ));
        }
        let mut sorted = replicas.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != replicas.len() {
            return Err(ApiError::new(
                ResponseError::InvalidReplicaAssignment,
                "A partition's replicas must be distinct.",
            ));
        }
    }
    Ok(())
}

/// Kafka's topic name rules.
pub fn validate_topic_name(name: &str) -> Result<(), ApiError> {
    let invalid = |why: String| Err(ApiError::new(ResponseError::InvalidTopicException, why));
    if name.is_empty() {
        return invalid("Topic name is illegal, it can't be empty".into());
    }
    if name == "__cluster_metadata" {
        return invalid("Topic name __cluster_metadata is reserved for the metadata log".into());
    }
    if name == "." || name == ".." {
        return invalid("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > MAX_TOPIC_NAME {
        return invalid(format!("Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME} characters, topic name: {name}"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// A UUID as Kafka prints it: URL-safe base64 without padding (22 chars).
pub fn kafka_uuid_string(id: Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(dir: &Path) -> Controller {
        Controller::open(dir, 1, &[Endpoint::plaintext("127.0.0.1", 9092)]).unwrap()
    }

    #[tokio::test]
    async fn topic_lifecycle_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig::default();
        let c = controller(dir.path());
        let cluster = c.image().cluster_id.clone();
        assert_eq!(cluster.len(), 22);
        let topic = NewTopic {
            name: "orders".into(),
            num_partitions: 3,
            replication_factor: 1,
            ..Default::default()
        };
        let created = c.create_topic(&config, &topic, false).await.unwrap();
        assert_eq!(created.partitions.len(), 3);
        let err = c.create_topic(&config, &topic, false).await.unwrap_err();
        assert_eq!(err.error, ResponseError::TopicAlreadyExists);
        c.create_partitions("orders", 5, vec![], false)
            .await
            .unwrap();
        c.alter_topic_configs(
            "orders",
            &[("retention.ms".into(), Some("1000".into()))],
            false,
            false,
        )
        .await
        .unwrap();
        drop(c);
        let c = controller(dir.path());
        let image = c.image();
        assert_eq!(image.cluster_id, cluster);
        assert_eq!(image.topics["orders"].partitions.len(), 5);
        assert_eq!(image.topics["orders"].configs["retention.ms"], "1000");
        c.delete_topic(&config, "orders").await.unwrap();
        assert!(c.image().topics.is_empty());
    }

    #[tokio::test]
    async fn rejects_what_kafka_rejects() {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig::default();
        let c = controller(dir.path());
        let create = |name: &str, partitions: i32, rf: i16| {
            let topic = NewTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: rf,
                ..Default::default()
            };
            let c = &c;
            let config = &config;
            async move {
                c.create_topic(config, &topic, false)
                    .await
                    .map(|_| ())
                    .unwrap_err()
                    .error
            }
        };
        assert_eq!(
            create("bad name!", 1, 1).await,
            ResponseError::InvalidTopicException
        );
        assert_eq!(
            create(&"x".repeat(250), 1, 1).await,
            ResponseError::InvalidTopicException
        );
        assert_eq!(create("t", 0, 1).await, ResponseError::InvalidPartitions);
        assert_eq!(
            create("t", 1, 3).await,
            ResponseError::InvalidReplicationFactor
        );
        let topic = NewTopic {
            name: "t".into(),
            num_partitions: 1,
            replication_factor: 1,
            configs: vec![("segment.bytes".into(), Some("nope".into()))],
            ..Default::default()
        };
        assert_eq!(
            c.create_topic(&config, &topic, false)
                .await
                .unwrap_err()
                .error,
            ResponseError::InvalidConfig
        );
        assert!(c.image().topics.is_empty(), "nothing was created");
    }

    #[test]
    fn kafka_uuid_strings_are_22_url_safe_chars() {
        let s = kafka_uuid_string(Uuid::from_bytes([0xff; 16]));
        assert_eq!(s, "_____________________w");
    }
}
