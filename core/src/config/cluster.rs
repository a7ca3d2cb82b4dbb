//! The configs of a cluster member, with KRaft's names: its roles, the
//! controller quorum's voters and listener, its rack. A broker with no
//! `process.roles` is a single node, its metadata log a local file, as
//! before clusters existed.
//!
//! Roles, as in KRaft: a `controller` is a quorum voter (listed in
//! `controller.quorum.voters`) and serves only its controller listener; a
//! `broker` serves clients and follows the metadata the quorum commits,
//! fetching it from the voters when it is not one itself; a node with
//! both (combined mode) does both.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};

use super::defs::{BrokerDef, Kind, IMAX};
use super::{BrokerConfig, ConfigError, Listener};

macro_rules! def {
    ($name:literal, $kind:expr, $default:expr, $doc:literal) => {
        BrokerDef {
            name: $name,
            kind: $kind,
            default: $default,
            dynamic: false,
            doc: $doc,
        }
    };
}

pub static CLUSTER: &[BrokerDef] = &[
    def!(
        "auto.leader.rebalance.enable",
        Kind::Bool,
        Some("true"),
        "Whether the active controller moves leadership back to preferred replicas (the first of each partition) when a broker's imbalance is above leader.imbalance.per.broker.percentage."
    ),
    def!(
        "leader.imbalance.check.interval.seconds",
        Kind::Long(1, i64::MAX),
        Some("300"),
        "How often the active controller checks the leader imbalance."
    ),
    def!(
        "leader.imbalance.per.broker.percentage",
        Kind::Int(0, 100),
        Some("10"),
        "The share of a broker's preferred partitions led elsewhere above which leadership is moved back."
    ),
    def!(
        "replica.selector.class",
        Kind::String,
        Some(""),
        "How a leader picks the replica a consumer should fetch from (KIP-392): empty, the leader itself; org.apache.kafka.common.replica.RackAwareReplicaSelector, an in-sync replica in the consumer's client.rack when there is one."
    ),
    def!(
        "replica.fetch.wait.max.ms",
        Kind::Int(0, IMAX),
        Some("500"),
        "How long a follower's fetch waits at the leader for new records."
    ),
    def!(
        "replica.fetch.min.bytes",
        Kind::Int(1, IMAX),
        Some("1"),
        "Bytes a follower's fetch waits for at the leader."
    ),
    def!(
        "replica.fetch.max.bytes",
        Kind::Int(1024, IMAX),
        Some("1048576"),
        "Bytes a follower fetches per partition (a larger first batch still comes whole)."
    ),
    def!(
        "replica.fetch.response.max.bytes",
        Kind::Int(1024, IMAX),
        Some("10485760"),
        "Bytes a follower fetches per request, over all its partitions there."
    ),
    def!(
        "replica.fetch.backoff.ms",
        Kind::Int(0, IMAX),
        Some("1000"),
        "How long a follower waits after a failed fetch before it tries again."
    ),
    def!(
        "replica.socket.timeout.ms",
        Kind::Int(100, IMAX),
        Some("30000"),
        "How long a follower waits for its leader to answer a fetch (beyond replica.fetch.wait.max.ms)."
    ),
    def!(
        "process.roles",
        Kind::EnumList(&["broker", "controller"]),
        None,
        "The roles of this node in a cluster: 'broker' (serves clients, follows the quorum's metadata), 'controller' (a quorum voter serving only its controller listener) or 'broker,controller' (combined mode). Unset: a single node with a local metadata log."
    ),
    def!(
        "controller.quorum.voters",
        Kind::List,
        None,
        "The controller quorum's voters, as id@host:port (the port of each voter's controller listener)."
    ),
    def!(
        "controller.quorum.bootstrap.servers",
        Kind::List,
        None,
        "For a broker that is not a voter, instead of controller.quorum.voters: host:port of some controllers' listeners; the broker learns the active controller from them. Needs weir.cluster.id."
    ),
    def!(
        "controller.listener.names",
        Kind::List,
        None,
        "The listener (named in listeners) the controller quorum talks over; it does not serve clients."
    ),
    def!(
        "listener.security.protocol.map",
        Kind::List,
        Some("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"),
        "Each listener name's security protocol, as NAME:PROTOCOL."
    ),
    def!(
        "broker.rack",
        Kind::String,
        None,
        "This broker's rack: replicas of new topics are spread over racks."
    ),
    def!(
        "controller.quorum.election.timeout.ms",
        Kind::Int(100, IMAX),
        Some("1000"),
        "How long a voter waits without hearing from a leader before it stands for election (a random time between this and twice this)."
    ),
    def!(
        "broker.heartbeat.interval.ms",
        Kind::Int(10, IMAX),
        Some("250"),
        "How often a broker heartbeats to the active controller (Kafka: 2000; Weir's are cheap and it has no collector pauses to ride out)."
    ),
    def!(
        "broker.session.timeout.ms",
        Kind::Int(100, IMAX),
        Some("1500"),
        "A broker the active controller has not heard from for this long is fenced: clients are no longer sent to it and no new replicas are placed on it."
    ),
    def!(
        "weir.controlled.shutdown.timeout.ms",
        Kind::Int(0, IMAX),
        Some("5000"),
        "Weir: how long a stopping broker (SIGTERM) waits for the active controller to record its controlled shutdown."
    ),
    def!(
        "metadata.log.max.record.bytes.between.snapshots",
        Kind::Long(1, i64::MAX),
        Some("20971520"),
        "A controller snapshots the metadata image and truncates its log behind it once this many bytes of records were committed since the last snapshot."
    ),
    def!(
        "metadata.log.max.snapshot.interval.ms",
        Kind::Long(0, i64::MAX),
        Some("3600000"),
        "...or once this long has passed since the last snapshot, if anything was committed (0: never by time)."
    ),
    def!(
        "weir.cluster.id",
        Kind::String,
        None,
        "Weir: the cluster's id (what kafka-storage format -t sets in Kafka). Unset: derived from controller.quorum.voters, so the nodes of one cluster agree."
    ),
];

/// What a cluster member needs to know to join its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    pub node_id: i32,
    pub cluster_id: String,
    pub roles: Roles,
    /// Every voter's id and quorum address (empty on a broker that knows
    /// only `controller.quorum.bootstrap.servers`).
    pub voters: BTreeMap<i32, SocketAddr>,
    /// Where a broker that is not a voter fetches metadata: the voters, or
    /// `controller.quorum.bootstrap.servers`.
    pub bootstrap: Vec<SocketAddr>,
    /// Where this node's quorum listener binds (`None` on a broker only).
    pub controller_listener: Option<Listener>,
    pub election_timeout_ms: u64,
    pub snapshot_bytes: u64,
    pub snapshot_interval_ms: u64,
}

/// What a cluster member does (`process.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub broker: bool,
    pub controller: bool,
}

impl BrokerConfig {
    /// This node's cluster settings, or `None` for a single node.
    pub fn cluster(&self) -> Result<Option<ClusterSettings>, ConfigError> {
        let listed = self.list("process.roles");
        if listed.is_empty() {
            return Ok(None);
        }
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: key.to_string(),
            reason,
        };
        let has = |role: &str| listed.iter().any(|r| r.eq_ignore_ascii_case(role));
        let roles = Roles {
            broker: has("broker"),
            controller: has("controller"),
        };
        let voters = match self.list("controller.quorum.voters") {
            items if items.is_empty() => BTreeMap::new(),
            items => parse_voters(&items).map_err(|r| invalid("controller.quorum.voters", r))?,
        };
        let bootstrap = parse_addresses(&self.list("controller.quorum.bootstrap.servers"))
            .map_err(|r| invalid("controller.quorum.bootstrap.servers", r))?;
        let node_id = self.node_id();
        if roles.controller && !voters.contains_key(&node_id) {
            return Err(invalid(
                "controller.quorum.voters",
                format!("node.id {node_id} is a controller but is not among the voters (id@host:port,...)"),
            ));
        }
        if !roles.controller && voters.contains_key(&node_id) {
            return Err(invalid(
                "process.roles",
                format!("node.id {node_id} is a voter in controller.quorum.voters, so it must have the controller role"),
            ));
        }
        if voters.is_empty() && bootstrap.is_empty() {
            return Err(invalid(
                "controller.quorum.voters",
                "a cluster member needs the voters (id@host:port,...) or controller.quorum.bootstrap.servers".into(),
            ));
        }
        let controller_listener = if roles.controller {
            Some(self.controller_listener()?)
        } else {
            None
        };
        if roles.controller && !roles.broker && !self.listeners().is_empty() {
            return Err(invalid(
                "listeners",
                "a controller-only node serves no clients: list only its controller listener"
                    .into(),
            ));
        }
        if roles.broker && self.listeners().is_empty() {
            return Err(invalid(
                "listeners",
                "a broker needs a listener for clients besides the controller listener".into(),
            ));
        }
        let cluster_id = match self.get("weir.cluster.id") {
            Some(id) if !id.is_empty() => id,
            _ if !voters.is_empty() => derived_cluster_id(&voters),
            _ => {
                return Err(invalid(
                    "weir.cluster.id",
                    "a broker that knows only controller.quorum.bootstrap.servers needs the cluster's id (as kafka-storage format -t gives it)".into(),
                ))
            }
        };
        let bootstrap = if bootstrap.is_empty() {
            voters.values().copied().collect()
        } else {
            bootstrap
        };
        Ok(Some(ClusterSettings {
            node_id,
            cluster_id,
            roles,
            voters,
            bootstrap,
            controller_listener,
            election_timeout_ms: self.num("controller.quorum.election.timeout.ms") as u64,
            snapshot_bytes: self.num("metadata.log.max.record.bytes.between.snapshots") as u64,
            snapshot_interval_ms: match self.num("metadata.log.max.snapshot.interval.ms") {
                0 => u64::MAX / 4,
                ms => ms as u64,
            },
        }))
    }

    /// The listener named by `controller.listener.names`.
    fn controller_listener(&self) -> Result<Listener, ConfigError> {
        let names = self.list("controller.listener.names");
        let name = names.first().ok_or_else(|| ConfigError::Invalid {
            key: "controller.listener.names".into(),
            reason: "a controller needs a controller listener (e.g. CONTROLLER, listed in listeners as CONTROLLER://127.0.0.1:9093)".into(),
        })?;
        self.all_listeners()
            .into_iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| ConfigError::Invalid {
                key: "listeners".into(),
                reason: format!("no listener is named {name} (controller.listener.names)"),
            })
    }

    /// Whether `name` is a controller listener (which serves no clients).
    pub fn is_controller_listener(&self, name: &str) -> bool {
        self.list("controller.listener.names")
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The security protocol a listener name maps to.
    pub fn listener_protocol(&self, name: &str) -> Option<String> {
        if name.eq_ignore_ascii_case("PLAINTEXT") {
            return Some("PLAINTEXT".into());
        }
        self.list("listener.security.protocol.map")
            .iter()
            .filter_map(|pair| pair.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, p)| p.trim().to_ascii_uppercase())
    }
}

/// `id@host:port,...` → id → address.
fn parse_voters(items: &[String]) -> Result<BTreeMap<i32, SocketAddr>, String> {
    if items.is_empty() {
        return Err("a cluster needs its voters, as id@host:port,...".into());
    }
    let mut voters = BTreeMap::new();
    for item in items {
        let (id, address) = item
            .split_once('@')
            .ok_or_else(|| format!("{item:?} is not id@host:port"))?;
        let id: i32 = id
            .trim()
            .parse()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| format!("{id:?} in {item:?} is not a node id"))?;
        let address = address
            .trim()
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("{address:?} in {item:?} is not a reachable host:port"))?;
        if voters.insert(id, address).is_some() {
            return Err(format!("voter {id} is listed twice"));
        }
    }
    Ok(voters)
}

/// `host:port,...` → addresses.
fn parse_addresses(items: &[String]) -> Result<Vec<SocketAddr>, String> {
    items
        .iter()
        .map(|item| {
            item.trim()
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| format!("{item:?} is not a reachable host:port"))
        })
        .collect()
}

/// The id the nodes of one cluster agree on without a format step: a hash
/// of the voter set, printed as Kafka prints ids.
fn derived_cluster_id(voters: &BTreeMap<i32, SocketAddr>) -> String {
    use sha2::Digest;
    let text: Vec<String> = voters.iter().map(|(id, a)| format!("{id}@{a}")).collect();
    let digest = sha2::Sha256::digest(text.join(",").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    crate::metadata::controller::kafka_uuid_string(uuid::Uuid::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combined(node: i32) -> BrokerConfig {
        let mut config = BrokerConfig::default();
        for (k, v) in [
            ("node.id", node.to_string()),
            ("process.roles", "broker,controller".into()),
            (
                "controller.quorum.voters",
                "1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093".into(),
            ),
            ("controller.listener.names", "CONTROLLER".into()),
            (
                "listeners",
                format!("PLAINTEXT://127.0.0.1:{node}9092,CONTROLLER://127.0.0.1:{node}9093"),
            ),
        ] {
            config.set(k, &v).unwrap();
        }
        config
    }

    #[test]
    fn a_combined_member_knows_its_quorum_and_serves_clients_elsewhere() {
        let config = combined(2);
        config.check().unwrap();
        let cluster = config.cluster().unwrap().unwrap();
        assert_eq!(cluster.voters.len(), 3);
        assert_eq!(cluster.controller_listener.as_ref().unwrap().port, 29093);
        assert_eq!(
            config.listeners().len(),
            1,
            "the controller listener serves no clients"
        );
        assert_eq!(config.listeners()[0].port, 29092);
        // Every member derives the same cluster id from the same voters.
        assert_eq!(
            cluster.cluster_id,
            combined(1).cluster().unwrap().unwrap().cluster_id
        );
        assert!(BrokerConfig::default().cluster().unwrap().is_none());
    }

    #[test]
    fn bad_cluster_configs_name_the_key() {
        let mut config = combined(4);
        let err = config.cluster().unwrap_err().to_string();
        assert!(err.contains("not among the voters"), "{err}");
        config.set("node.id", "1").unwrap();
        config.set("controller.quorum.voters", "1@nowhere").unwrap();
        let err = config.cluster().unwrap_err().to_string();
        assert!(err.contains("controller.quorum.voters"), "{err}");
        config
            .set("controller.quorum.voters", "1@127.0.0.1:19093")
            .unwrap();
        config.set("process.roles", "controller").unwrap();
        let err = config.cluster().unwrap_err().to_string();
        assert!(err.contains("serves no clients"), "{err}");
        config.set("process.roles", "broker").unwrap();
        let err = config.cluster().unwrap_err().to_string();
        assert!(err.contains("must have the controller role"), "{err}");
        config.set("node.id", "7").unwrap();
        config.set("controller.quorum.voters", "").unwrap();
        let err = config.cluster().unwrap_err().to_string();
        assert!(err.contains("bootstrap.servers"), "{err}");
        config
            .set("controller.quorum.bootstrap.servers", "127.0.0.1:19093")
            .unwrap();
        let err = config.cluster().unwrap_err().to_string();
        assert!(err.contains("weir.cluster.id"), "{err}");
    }

    #[test]
    fn controllers_and_brokers_can_be_separate_nodes() {
        let mut controller = combined(1);
        controller.set("process.roles", "controller").unwrap();
        controller
            .set("listeners", "CONTROLLER://127.0.0.1:19093")
            .unwrap();
        let settings = controller.cluster().unwrap().unwrap();
        assert!(settings.roles.controller && !settings.roles.broker);
        assert!(controller.listeners().is_empty());

        let mut broker = combined(4);
        broker.set("process.roles", "broker").unwrap();
        broker
            .set("listeners", "PLAINTEXT://127.0.0.1:49092")
            .unwrap();
        let settings = broker.cluster().unwrap().unwrap();
        assert!(settings.roles.broker && !settings.roles.controller);
        assert_eq!(settings.controller_listener, None);
        assert_eq!(settings.bootstrap.len(), 3, "it fetches from the voters");
        assert_eq!(
            settings.cluster_id,
            controller.cluster().unwrap().unwrap().cluster_id
        );

        broker.set("controller.quorum.voters", "").unwrap();
        broker
            .set("controller.quorum.bootstrap.servers", "127.0.0.1:29093")
            .unwrap();
        broker.set("weir.cluster.id", "abc").unwrap();
        let settings = broker.cluster().unwrap().unwrap();
        assert_eq!(settings.bootstrap, vec!["127.0.0.1:29093".parse().unwrap()]);
        assert!(settings.voters.is_empty());
    }
}
