//! The metadata image: the state every applied command leads to. `apply` is
//! deterministic, so every node that applies the same log holds the same image.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::security::acl::AclBinding;

use super::command::{
    BrokerState, ClientQuota, Command, ConfigScope, DeployedPlugin, Endpoint, ScramCredential,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerImage {
    pub id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
    #[serde(default)]
    pub state: BrokerState,
    /// Each advertised listener, by name (none recorded: `host:port` is
    /// the only one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Endpoint>,
}

impl BrokerImage {
    /// Where a client of listener `name` reaches this broker; None when
    /// the broker has no listener of that name (Kafka leaves it out of
    /// Metadata then).
    pub fn endpoint(&self, name: &str) -> Option<(&str, u16)> {
        if self.listeners.is_empty() {
            return Some((&self.host, self.port));
        }
        self.listeners
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| (l.host.as_str(), l.port))
    }

    /// Not fenced and not shutting down: clients may be sent to it and new
    /// replicas placed on it.
    pub fn is_live(&self) -> bool {
        self.state == BrokerState::Running
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// During a reassignment (KIP-455): the replicas being added (in
    /// `replicas`, catching up) and being removed (leaving once the added
    /// ones are in sync).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

impl PartitionImage {
    /// The replica set a reassignment in progress ends with.
    pub fn target_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.removing_replicas.contains(r))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionImage>,
    pub configs: BTreeMap<String, String>,
}

impl TopicImage {
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataImage {
    pub cluster_id: String,
    pub brokers: BTreeMap<i32, BrokerImage>,
    pub topics: BTreeMap<String, TopicImage>,
    /// Topic id → name, derived from `topics` (a snapshot rebuilds it).
    #[serde(skip)]
    pub topic_names: HashMap<Uuid, String>,
    /// The first producer id not yet handed out.
    pub next_producer_id: i64,
    /// Cluster-wide dynamic broker config overrides.
    pub cluster_configs: BTreeMap<String, String>,
    /// Group config overrides, by group id.
    pub group_configs: BTreeMap<String, BTreeMap<String, String>>,
    /// Plugins deployed at run time, by name.
    pub plugins: BTreeMap<String, DeployedPlugin>,
    /// In a cluster: the version (sha256) of each plugin each broker says
    /// it runs, by plugin name, then broker.
    #[serde(default)]
    pub plugin_versions: BTreeMap<String, BTreeMap<i32, String>>,
    /// SCRAM credentials, by user, then mechanism (SCRAM-SHA-256, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scram: BTreeMap<String, BTreeMap<String, ScramCredential>>,
    /// The ACLs (CreateAcls, DeleteAcls).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub acls: BTreeSet<AclBinding>,
    /// Client quotas (AlterClientQuotas), one entry per entity, by entity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_quotas: Vec<ClientQuota>,
    /// How many commands have been applied.
    pub applied: u64,
}

fn partition(replicas: Vec<i32>) -> PartitionImage {
    PartitionImage {
        leader: replicas.first().copied().unwrap_or(-1),
        isr: replicas.clone(),
        replicas,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    }
}

impl MetadataImage {
    /// Rebuilds what is derived from the rest (after a snapshot is read).
    pub fn rebuild_indexes(&mut self) {
        self.topic_names = self
            .topics
            .values()
            .map(|t| (t.id, t.name.clone()))
            .collect();
    }

    /// A topic's id and partition count, by name (what group assignors need).
    pub fn topic_shape(&self, name: &str) -> Option<(Uuid, i32)> {
        self.topics
            .get(name)
            .map(|t| (t.id, t.partitions.len() as i32))
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topic_names
            .get(id)
            .and_then(|name| self.topics.get(name))
    }

    fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionImage> {
        self.topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(partition).ok()?)
    }

    pub fn apply(&mut self, command: &Command) {
        self.applied += 1;
        match command.clone() {
            Command::InitCluster { cluster_id } => self.cluster_id = cluster_id,
            Command::RegisterBroker {
                id,
                host,
                port,
                rack,
                listeners,
            } => {
                self.brokers.insert(
                    id,
                    BrokerImage {
                        id,
                        host,
                        port,
                        rack,
                        state: BrokerState::Running,
                        listeners,
                    },
                );
            }
            Command::SetBrokerState { id, state } => {
                if let Some(broker) = self.brokers.get_mut(&id) {
                    broker.state = state;
                }
            }
            Command::CreateTopic {
                name,
                topic_id,
                partitions,
                configs,
            } => {
                // A name created again replaces the topic: its old id goes.
                if let Some(old) = self.topics.get(&name) {
                    self.topic_names.remove(&old.id);
                }
                self.topic_names.insert(topic_id, name.clone());
                let partitions = partitions.into_iter().map(partition).collect();
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name,
                        id: topic_id,
                        partitions,
                        configs,
                    },
                );
            }
            Command::DeleteTopic { name, topic_id } => {
                if self.topics.get(&name).is_some_and(|t| t.id == topic_id) {
                    self.topics.remove(&name);
                    self.topic_names.remove(&topic_id);
                }
            }
            Command::CreatePartitions { name, partitions } => {
                if let Some(topic) = self.topics.get_mut(&name) {
                    topic
                        .partitions
                        .extend(partitions.into_iter().map(partition));
                }
            }
            Command::SetConfig { scope, key, value } => {
                let map = match scope {
                    ConfigScope::Topic(name) => match self.topics.get_mut(&name) {
                        Some(topic) => &mut topic.configs,
                        None => return,
                    },
                    ConfigScope::ClusterDefault => &mut self.cluster_configs,
                    ConfigScope::Group(group) => self.group_configs.entry(group).or_default(),
                };
                match value {
                    Some(value) => map.insert(key, value),
                    None => map.remove(&key),
                };
                self.group_configs.retain(|_, configs| !configs.is_empty());
            }
            Command::AllocateProducerIds { first, count } => {
                self.next_producer_id = self.next_producer_id.max(first + count);
            }
            Command::SetPartitionLeader {
                topic,
                partition,
                leader,
                leader_epoch,
            } => {
                let found = self.partition_mut(&topic, partition);
                if let Some(p) = found {
                    p.leader = leader;
                    p.leader_epoch = leader_epoch;
                    p.partition_epoch += 1;
                }
            }
            Command::ChangePartition {
                topic,
                partition,
                leader,
                isr,
                replicas,
            } => {
                let found = self.partition_mut(&topic, partition);
                let Some(p) = found else { return };
                if let Some(leader) = leader.filter(|l| *l != p.leader) {
                    p.leader = leader;
                    p.leader_epoch += 1;
                }
                if let Some(isr) = isr {
                    p.isr = isr;
                }
                if let Some(replicas) = replicas {
                    p.replicas = replicas;
                    p.adding_replicas.clear();
                    p.removing_replicas.clear();
                }
                p.partition_epoch += 1;
            }
            Command::Reassign {
                topic,
                partition,
                target,
            } => {
                let found = self.partition_mut(&topic, partition);
                let Some(p) = found else { return };
                // Back to where the partition was before any reassignment.
                let original: Vec<i32> = p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| !p.adding_replicas.contains(r))
                    .collect();
                match target {
                    Some(target) => {
                        p.adding_replicas = target
                            .iter()
                            .copied()
                            .filter(|r| !original.contains(r))
                            .collect();
                        p.removing_replicas = original
                            .iter()
                            .copied()
                            .filter(|r| !target.contains(r))
                            .collect();
                        p.replicas = target.clone();
                        p.replicas.extend(p.removing_replicas.iter().copied());
                    }
                    None => {
                        p.isr.retain(|r| original.contains(r));
                        p.replicas = original;
                        p.adding_replicas.clear();
                        p.removing_replicas.clear();
                    }
                }
                p.partition_epoch += 1;
            }
            Command::DeployPlugin(plugin) => {
                self.plugins.insert(plugin.name.clone(), plugin);
            }
            Command::RemovePlugin { name } => {
                self.plugins.remove(&name);
                self.plugin_versions.remove(&name);
            }
            Command::PluginRunning {
                broker,
                name,
                sha256,
            } => {
                let versions = self.plugin_versions.entry(name.clone()).or_default();
                match sha256 {
                    Some(sha256) => versions.insert(broker, sha256),
                    None => versions.remove(&broker),
                };
                if versions.is_empty() {
                    self.plugin_versions.remove(&name);
                }
            }
            Command::SetScramCredential {
                user,
                mechanism,
                credential,
            } => {
                let credentials = self.scram.entry(user.clone()).or_default();
                match credential {
                    Some(credential) => credentials.insert(mechanism, credential),
                    None => credentials.remove(&mechanism),
                };
                if credentials.is_empty() {
                    self.scram.remove(&user);
                }
            }
            Command::SetClientQuota { entity, key, value } => {
                let at = self
                    .client_quotas
                    .binary_search_by(|q| q.entity.cmp(&entity));
                let at = at.unwrap_or_else(|at| {
                    let values = Default::default();
                    self.client_quotas
                        .insert(at, ClientQuota { entity, values });
                    at
                });
                let values = &mut self.client_quotas[at].values;
                match value {
                    Some(value) => values.insert(key, value),
                    None => values.remove(&key),
                };
                if values.is_empty() {
                    self.client_quotas.remove(at);
                }
            }
            Command::CreateAcls { acls } => self.acls.extend(acls),
            Command::DeleteAcls { acls } => {
                for acl in &acls {
                    self.acls.remove(acl);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applying_the_same_log_gives_the_same_image() {
        let id = Uuid::new_v4();
        let log = [
            Command::InitCluster {
                cluster_id: "c".into(),
            },
            Command::RegisterBroker {
                id: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
                listeners: Vec::new(),
            },
            Command::CreateTopic {
                name: "t".into(),
                topic_id: id,
                partitions: vec![vec![1], vec![1]],
                configs: BTreeMap::new(),
            },
            Command::CreatePartitions {
                name: "t".into(),
                partitions: vec![vec![1]],
            },
            Command::SetConfig {
                scope: ConfigScope::Topic("t".into()),
                key: "retention.ms".into(),
                value: Some("5".into()),
            },
            Command::SetPartitionLeader {
                topic: "t".into(),
                partition: 2,
                leader: 1,
                leader_epoch: 3,
            },
        ];
        let (mut a, mut b) = (MetadataImage::default(), MetadataImage::default());
        log.iter().for_each(|c| a.apply(c));
        log.iter().for_each(|c| b.apply(c));
        let topic = &a.topics["t"];
        assert_eq!(topic.partitions.len(), 3);
        assert_eq!(topic.partitions[2].leader_epoch, 3);
        assert_eq!(topic.configs["retention.ms"], "5");
        assert_eq!(a.topics, b.topics);
        a.apply(&Command::DeleteTopic {
            name: "t".into(),
            topic_id: id,
        });
        assert!(a.topics.is_empty() && a.topic_names.is_empty());
    }
}
