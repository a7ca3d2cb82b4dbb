//! The controller: the only writer of the metadata log. It validates each
//! admin request against the current image (Kafka's error codes and
//! messages), turns it into commands, persists them and publishes the new
//! image. Readers take a snapshot (`image()`) and never block writers.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use uuid::Uuid;

use super::command::{Command, ConfigScope};
use super::image::{MetadataImage, TopicImage};
use super::journal::Journal;
use crate::config::{defs, group, validate_topic_config, BrokerConfig, ConfigView};
use crate::protocol::error::{ApiError, ResponseError};

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
    journal: Mutex<Journal>,
    image: RwLock<Arc<MetadataImage>>,
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

    /// Replays the metadata log in `dir`; a new cluster gets an id, and this
    /// broker (re-)registers its endpoint.
    pub fn open(dir: &Path, node_id: i32, host: &str, port: u16) -> io::Result<Controller> {
        let (journal, commands) = Journal::open(dir)?;
        let mut image = MetadataImage::default();
        commands.iter().for_each(|c| image.apply(c));
        let controller = Controller {
            node_id,
            journal: Mutex::new(journal),
            image: RwLock::new(Arc::new(image)),
            max_partitions: usize::MAX.into(),
        };
        let mut startup = Vec::new();
        if controller.image().cluster_id.is_empty() {
            startup.push(Command::InitCluster {
                cluster_id: kafka_uuid_string(Uuid::new_v4()),
            });
        }
        let registration = Command::RegisterBroker {
            id: node_id,
            host: host.to_string(),
            port,
            rack: None,
        };
        let current = controller
            .image()
            .brokers
            .get(&node_id)
            .map(|b| Command::RegisterBroker {
                id: b.id,
                host: b.host.clone(),
                port: b.port,
                rack: b.rack.clone(),
            });
        if current.as_ref() != Some(&registration) {
            startup.push(registration);
        }
        if !startup.is_empty() {
            controller.submit(startup)?;
        }
        Ok(controller)
    }

    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The current image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().expect("image lock").clone()
    }

    /// Persists commands, then applies them and publishes the new image.
    pub fn submit(&self, commands: Vec<Command>) -> io::Result<Arc<MetadataImage>> {
        let mut journal = self.journal.lock().expect("journal lock");
        self.submit_locked(&mut journal, commands)
    }

    /// `submit` for a caller that already holds the journal (validated
    /// against the image it saw, so no other change can slip in between).
    fn submit_locked(
        &self,
        journal: &mut Journal,
        commands: Vec<Command>,
    ) -> io::Result<Arc<MetadataImage>> {
        journal.append(&commands)?;
        let mut image = MetadataImage::clone(&self.image());
        commands.iter().for_each(|c| image.apply(c));
        let image = Arc::new(image);
        *self.image.write().expect("image lock") = image.clone();
        Ok(image)
    }

    fn submit_api(
        &self,
        journal: &mut Journal,
        commands: Vec<Command>,
    ) -> Result<Arc<MetadataImage>, ApiError> {
        self.submit_locked(journal, commands).map_err(|e| {
            ApiError::new(
                ResponseError::KafkaStorageError,
                format!("metadata log write failed: {e}"),
            )
        })
    }

    /// Validates and (unless `validate_only`) creates a topic.
    pub fn create_topic(
        &self,
        config: &BrokerConfig,
        topic: &NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, ApiError> {
        // One creation at a time, so two requests cannot both pass the checks.
        let mut journal = self.journal.lock().expect("journal lock");
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
        let image = self.submit_api(&mut journal, vec![command])?;
        Ok(image.topics[&topic.name].clone())
    }

    /// Replica lists for each partition of a new topic.
    fn assign_replicas(
        &self,
        image: &MetadataImage,
        config: &BrokerConfig,
        topic: &NewTopic,
    ) -> Result<Vec<Vec<i32>>, ApiError> {
        let brokers: Vec<i32> = image.brokers.keys().copied().collect();
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
                    "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {} broker(s) are registered.",
                    brokers.len()
                ),
            ));
        }
        let first = image.topics.len();
        Ok((0..count as usize)
            .map(|p| {
                (0..rf as usize)
                    .map(|r| brokers[(first + p + r) % brokers.len()])
                    .collect()
            })
            .collect())
    }

    pub fn delete_topic(&self, config: &BrokerConfig, name: &str) -> Result<Uuid, ApiError> {
        if !config.delete_topic_enable() {
            return Err(ApiError::new(
                ResponseError::TopicDeletionDisabled,
                "Topic deletion is disabled.",
            ));
        }
        let mut journal = self.journal.lock().expect("journal lock");
        let image = self.image();
        let topic = image.topics.get(name).ok_or_else(|| {
            ApiError::new(
                ResponseError::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )
        })?;
        self.submit_api(
            &mut journal,
            vec![Command::DeleteTopic {
                name: name.to_string(),
                topic_id: topic.id,
            }],
        )?;
        Ok(topic.id)
    }

    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Vec<Vec<i32>>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let mut journal = self.journal.lock().expect("journal lock");
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
        let brokers: Vec<i32> = image.brokers.keys().copied().collect();
        let added = if assignments.is_empty() {
            let rf = topic.partitions[0].replicas.len();
            (current..count)
                .map(|p| {
                    (0..rf)
                        .map(|r| brokers[(p as usize + r) % brokers.len()])
                        .collect()
                })
                .collect()
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
        self.submit_api(
            &mut journal,
            vec![Command::CreatePartitions {
                name: name.to_string(),
                partitions: added,
            }],
        )?;
        Ok(())
    }

    /// Applies topic config changes: `Some` sets, `None` removes. `replace`
    /// (legacy AlterConfigs) first removes every override not named.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        changes: &[(String, Option<String>)],
        replace: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let mut journal = self.journal.lock().expect("journal lock");
        let image = self.image();
        let topic = existing_topic(&image, name)?;
        let mut commands = Vec::new();
        let scope = ConfigScope::Topic(name.to_string());
        if replace {
            for key in topic
                .configs
                .keys()
                .filter(|k| !changes.iter().any(|(c, _)| c == *k))
            {
                commands.push(Command::SetConfig {
                    scope: scope.clone(),
                    key: key.clone(),
                    value: None,
                });
            }
        }
        for (key, value) in changes {
            let value = match value {
                Some(v) => Some(
                    validate_topic_config(key, v)
                        .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?,
                ),
                None if defs::topic_def(key).is_none() => {
                    return Err(ApiError::new(
                        ResponseError::InvalidConfig,
                        format!("Unknown topic config name: {key}"),
                    ))
                }
                None => None,
            };
            commands.push(Command::SetConfig {
                scope: scope.clone(),
                key: key.clone(),
                value,
            });
        }
        if !validate_only && !commands.is_empty() {
            self.submit_api(&mut journal, commands)?;
        }
        Ok(())
    }

    /// Reserves `count` producer ids and returns the first.
    pub fn allocate_producer_ids(&self, count: i64) -> Result<i64, ApiError> {
        let mut journal = self.journal.lock().expect("journal lock");
        let first = self.image().next_producer_id;
        self.submit_api(
            &mut journal,
            vec![Command::AllocateProducerIds { first, count }],
        )?;
        Ok(first)
    }

    /// Applies changes to a group's configs (KIP-848's group resource),
    /// with Kafka's checks: known names, values in range, and a session
    /// timeout above the heartbeat interval once both are resolved.
    pub fn alter_group_configs(
        &self,
        group: &str,
        changes: &[(String, Option<String>)],
        replace: bool,
        validate_only: bool,
        view: &ConfigView,
    ) -> Result<(), ApiError> {
        let invalid = |m: String| ApiError::new(ResponseError::InvalidConfig, m);
        if group.is_empty() {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "A group config resource needs a group id.",
            ));
        }
        let mut journal = self.journal.lock().expect("journal lock");
        let image = self.image();
        let current = image.group_configs.get(group).cloned().unwrap_or_default();
        let mut next = if replace {
            BTreeMap::new()
        } else {
            current.clone()
        };
        for (key, value) in changes {
            let def = group::group_def(key)
                .ok_or_else(|| invalid(format!("Unknown group config name: {key}")))?;
            match value {
                Some(v) => {
                    let v = def.kind.validate(v).map_err(|reason| {
                        invalid(format!(
                            "Invalid value {v} for configuration {key}: {reason}"
                        ))
                    })?;
                    next.insert(key.clone(), v);
                }
                None => {
                    next.remove(key);
                }
            }
        }
        let effective = |name: &str| -> i64 {
            let def = group::group_def(name).expect("a group config");
            view.group_value(def, Some(&next)).0.parse().unwrap_or(0)
        };
        for kind in ["consumer", "share"] {
            let session = format!("{kind}.session.timeout.ms");
            let heartbeat = format!("{kind}.heartbeat.interval.ms");
            if effective(&session) <= effective(&heartbeat) {
                return Err(invalid(format!(
                    "{session} must be greater than {heartbeat}"
                )));
            }
        }
        if validate_only {
            return Ok(());
        }
        let keys: std::collections::BTreeSet<&String> = current.keys().chain(next.keys()).collect();
        let commands: Vec<Command> = keys
            .into_iter()
            .filter(|k| current.get(*k) != next.get(*k))
            .map(|k| Command::SetConfig {
                scope: ConfigScope::Group(group.to_string()),
                key: k.clone(),
                value: next.get(k).cloned(),
            })
            .collect();
        if !commands.is_empty() {
            self.submit_api(&mut journal, commands)?;
        }
        Ok(())
    }

    /// Applies cluster-wide dynamic broker config changes.
    pub fn alter_cluster_configs(
        &self,
        changes: &[(String, Option<String>)],
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let mut journal = self.journal.lock().expect("journal lock");
        let mut commands = Vec::new();
        for (key, value) in changes {
            let def = defs::broker_def(key).ok_or_else(|| {
                ApiError::new(
                    ResponseError::InvalidConfig,
                    format!("Unknown broker config name: {key}"),
                )
            })?;
            if !def.dynamic {
                return Err(ApiError::new(
                    ResponseError::InvalidConfig,
                    format!("Cannot update these configs dynamically: Set({key})"),
                ));
            }
            let value = match value {
                Some(v) => Some(def.kind.validate(v).map_err(|reason| {
                    ApiError::new(
                        ResponseError::InvalidConfig,
                        format!("Invalid value {v} for configuration {key}: {reason}"),
                    )
                })?),
                None => None,
            };
            commands.push(Command::SetConfig {
                scope: ConfigScope::ClusterDefault,
                key: key.clone(),
                value,
            });
        }
        if !validate_only && !commands.is_empty() {
            self.submit_api(&mut journal, commands)?;
        }
        Ok(())
    }
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
                format!("The manual partition assignment includes broker {unknown}, but no such broker is registered."),
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
        Controller::open(dir, 1, "127.0.0.1", 9092).unwrap()
    }

    #[test]
    fn topic_lifecycle_survives_reopen() {
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
        let created = c.create_topic(&config, &topic, false).unwrap();
        assert_eq!(created.partitions.len(), 3);
        let err = c.create_topic(&config, &topic, false).unwrap_err();
        assert_eq!(err.error, ResponseError::TopicAlreadyExists);
        c.create_partitions("orders", 5, vec![], false).unwrap();
        c.alter_topic_configs(
            "orders",
            &[("retention.ms".into(), Some("1000".into()))],
            false,
            false,
        )
        .unwrap();
        drop(c);
        let c = controller(dir.path());
        let image = c.image();
        assert_eq!(image.cluster_id, cluster);
        assert_eq!(image.topics["orders"].partitions.len(), 5);
        assert_eq!(image.topics["orders"].configs["retention.ms"], "1000");
        c.delete_topic(&config, "orders").unwrap();
        assert!(c.image().topics.is_empty());
    }

    #[test]
    fn rejects_what_kafka_rejects() {
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
            c.create_topic(&config, &topic, false)
                .map(|_| ())
                .unwrap_err()
                .error
        };
        assert_eq!(
            create("bad name!", 1, 1),
            ResponseError::InvalidTopicException
        );
        assert_eq!(
            create(&"x".repeat(250), 1, 1),
            ResponseError::InvalidTopicException
        );
        assert_eq!(create("t", 0, 1), ResponseError::InvalidPartitions);
        assert_eq!(create("t", 1, 3), ResponseError::InvalidReplicationFactor);
        let topic = NewTopic {
            name: "t".into(),
            num_partitions: 1,
            replication_factor: 1,
            configs: vec![("segment.bytes".into(), Some("nope".into()))],
            ..Default::default()
        };
        assert_eq!(
            c.create_topic(&config, &topic, false).unwrap_err().error,
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
