//! The commands of the metadata log. Every change to cluster metadata is one
//! of these, appended to an ordered log and then applied to the image; the
//! same log will be replicated by the controller quorum over Raft.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The resource a config change applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigScope {
    Topic(String),
    /// The cluster-wide dynamic broker default (Kafka's broker resource "").
    ClusterDefault,
    /// A group's configs (KIP-848's group resource).
    Group(String),
}

/// One advertised listener of a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// A PLAINTEXT listener at `host:port`.
    pub fn plaintext(host: &str, port: u16) -> Endpoint {
        Endpoint {
            name: "PLAINTEXT".into(),
            host: host.into(),
            port,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// The first command of a new cluster.
    InitCluster {
        cluster_id: String,
    },
    /// A broker's (or a restarted broker's) endpoint: `host:port` where
    /// other brokers reach it, and each listener clients may use, by name.
    RegisterBroker {
        id: i32,
        host: String,
        port: u16,
        rack: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        listeners: Vec<Endpoint>,
    },
    /// A broker's liveness as the active controller judges it: fenced when
    /// its heartbeats stop, shutting down when it asked to, running again
    /// when it heartbeats (or registers).
    SetBrokerState {
        id: i32,
        state: BrokerState,
    },
    CreateTopic {
        name: String,
        topic_id: Uuid,
        /// Replica broker ids of each partition; the first is the leader.
        partitions: Vec<Vec<i32>>,
        configs: BTreeMap<String, String>,
    },
    DeleteTopic {
        name: String,
        topic_id: Uuid,
    },
    /// Appends partitions to a topic.
    CreatePartitions {
        name: String,
        partitions: Vec<Vec<i32>>,
    },
    /// Sets (`Some`) or removes (`None`) a config.
    SetConfig {
        scope: ConfigScope,
        key: String,
        value: Option<String>,
    },
    /// Producer ids `first .. first + count` are handed out (by one broker):
    /// no later allocation reuses them, across restarts.
    AllocateProducerIds {
        first: i64,
        count: i64,
    },
    /// A new leader (and so a new leader epoch) for one partition.
    SetPartitionLeader {
        topic: String,
        partition: i32,
        leader: i32,
        leader_epoch: i32,
    },
    /// A partition's leader, ISR or replicas change (Kafka's
    /// PartitionChangeRecord): `None` leaves a field as it is. A new
    /// leader (-1: none) starts a new leader epoch; every change starts a
    /// new partition epoch.
    ChangePartition {
        topic: String,
        partition: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isr: Option<Vec<i32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replicas: Option<Vec<i32>>,
    },
    /// A reassignment of a partition's replicas starts (`Some`: the target
    /// replicas, which the partition's replicas then hold alongside those
    /// leaving) or is cancelled (`None`). It completes with a
    /// `ChangePartition` naming the target replicas, once they are in sync.
    Reassign {
        topic: String,
        partition: i32,
        target: Option<Vec<i32>>,
    },
    /// A plugin version deployed at run time: every broker loads the
    /// component with this content hash (its artifact is stored beside the
    /// metadata log) under this name, with these limits and config.
    DeployPlugin(DeployedPlugin),
    /// A plugin deployed at run time is withdrawn.
    RemovePlugin {
        name: String,
    },
    /// The version of a plugin one broker of a cluster runs (`None`: none).
    PluginRunning {
        broker: i32,
        name: String,
        sha256: Option<String>,
    },
    /// A user's SCRAM credential for one mechanism is set (`Some`) or
    /// deleted (`None`), as AlterUserScramCredentials asks.
    SetScramCredential {
        user: String,
        mechanism: String,
        credential: Option<ScramCredential>,
    },
    /// ACLs are added (CreateAcls).
    CreateAcls {
        acls: Vec<crate::security::acl::AclBinding>,
    },
    /// ACLs are removed (DeleteAcls).
    DeleteAcls {
        acls: Vec<crate::security::acl::AclBinding>,
    },
    /// A client quota of an entity is set (`Some`) or removed (`None`), as
    /// AlterClientQuotas asks.
    SetClientQuota {
        entity: QuotaEntity,
        key: String,
        value: Option<f64>,
    },
}

/// A client quota entity, as Kafka names them: a user, a client id, or
/// both; each either named or the default of its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QuotaEntity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<QuotaName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<QuotaName>,
}

/// One part of a quota entity: a name, or the default (`<default>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaName {
    Default,
    Name(String),
}

/// The quotas set for one entity (e.g. producer_byte_rate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientQuota {
    pub entity: QuotaEntity,
    pub values: BTreeMap<String, f64>,
}

/// What the broker keeps of a SCRAM password (RFC 5802): the salt, the
/// iteration count and two keys derived from the salted password, in
/// base64; never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: String,
    pub stored_key: String,
    pub server_key: String,
    pub iterations: i32,
}

impl Command {
    /// Whether any broker may commit this command through the active
    /// controller as it stands (plugin deployments and their reports); the
    /// others are decided by the controller itself.
    pub fn is_plugin_change(&self) -> bool {
        matches!(
            self,
            Command::DeployPlugin(_) | Command::RemovePlugin { .. } | Command::PluginRunning { .. }
        )
    }
}

/// A plugin component's bytes, carried in the metadata log of a cluster so
/// every broker loads exactly them. Shared, because the image is cloned on
/// every change; written as base64 in the log's JSON. Empty on a single
/// node, whose artifacts are files beside its journal.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Artifact(pub std::sync::Arc<[u8]>);

impl Artifact {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Artifact({} bytes)", self.0.len())
    }
}

impl Serialize for Artifact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Artifact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(|bytes| Artifact(bytes.into()))
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerState {
    #[default]
    Running,
    Fenced,
    ShuttingDown,
}

impl BrokerState {
    /// As `weir cluster status` shows it.
    pub fn name(self) -> &'static str {
        match self {
            BrokerState::Running => "running",
            BrokerState::Fenced => "fenced",
            BrokerState::ShuttingDown => "shutting down",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedPlugin {
    pub name: String,
    pub kind: String,
    pub sha256: String,
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub max_output_bytes: u64,
    pub config: BTreeMap<String, String>,
    /// When it was deployed: a weir.toml file changed later wins at start-up.
    pub deployed_at_ms: i64,
    /// The component, in a cluster (see `Artifact`).
    #[serde(default, skip_serializing_if = "Artifact::is_empty")]
    pub artifact: Artifact,
}
