//! The definitions of every config Weir knows, with Kafka's names, types,
//! defaults and ranges: broker configs (`weir.toml`, DescribeConfigs on a
//! broker) and topic configs (CreateTopics, AlterConfigs, DescribeConfigs on a
//! topic), and which broker config supplies each topic config's default.

/// The type of a config value and the range it must fall in.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int(i64, i64),
    Long(i64, i64),
    Short(i64, i64),
    Double(f64, f64),
    Bool,
    String,
    /// Comma-separated list.
    List,
    /// One of these values (case-insensitive).
    Enum(&'static [&'static str]),
    /// A comma-separated list of these values.
    EnumList(&'static [&'static str]),
}

/// A config, as Kafka's DescribeConfigs v3+ describes its type.
impl Kind {
    /// Kafka's `ConfigType` for DescribeConfigs (BOOLEAN 1, STRING 2, INT 3,
    /// SHORT 4, LONG 5, DOUBLE 6, LIST 7).
    pub fn config_type(&self) -> i8 {
        match self {
            Kind::Bool => 1,
            Kind::String | Kind::Enum(_) => 2,
            Kind::Int(..) => 3,
            Kind::Short(..) => 4,
            Kind::Long(..) => 5,
            Kind::Double(..) => 6,
            Kind::List | Kind::EnumList(_) => 7,
        }
    }

    /// Checks a value, returning it in canonical form or a reason.
    pub fn validate(&self, value: &str) -> Result<String, String> {
        let value = value.trim();
        let in_range = |n: i64, min: i64, max: i64| {
            if n < min || n > max {
                Err(format!("value {n} is outside [{min}, {max}]"))
            } else {
                Ok(n.to_string())
            }
        };
        match *self {
            Kind::Int(min, max) | Kind::Long(min, max) | Kind::Short(min, max) => value
                .parse::<i64>()
                .map_err(|_| format!("{value:?} is not an integer"))
                .and_then(|n| in_range(n, min, max)),
            Kind::Double(min, max) => match value.parse::<f64>() {
                Ok(n) if n >= min && n <= max => Ok(n.to_string()),
                Ok(n) => Err(format!("value {n} is outside [{min}, {max}]")),
                Err(_) => Err(format!("{value:?} is not a number")),
            },
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "true" => Ok("true".into()),
                "false" => Ok("false".into()),
                _ => Err(format!("{value:?} is not true or false")),
            },
            Kind::String => Ok(value.to_string()),
            Kind::List => Ok(split_list(value).join(",")),
            Kind::Enum(allowed) => allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(value))
                .map(|a| a.to_string())
                .ok_or_else(|| format!("{value:?} is not one of {}", allowed.join(", "))),
            Kind::EnumList(allowed) => {
                let items = split_list(value);
                for item in &items {
                    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(item)) {
                        return Err(format!("{item:?} is not one of {}", allowed.join(", ")));
                    }
                }
                Ok(items.join(",").to_ascii_lowercase())
            }
        }
    }
}

pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A broker config.
#[derive(Debug)]
pub struct BrokerDef {
    pub name: &'static str,
    pub kind: Kind,
    /// None: no default (null).
    pub default: Option<&'static str>,
    /// May be changed at runtime, cluster-wide, through AlterConfigs.
    pub dynamic: bool,
    pub doc: &'static str,
}

/// A topic config and the broker configs its default comes from, in order,
/// each with a factor (e.g. `log.roll.hours` × 3,600,000 = `segment.ms`).
#[derive(Debug)]
pub struct TopicDef {
    pub name: &'static str,
    pub kind: Kind,
    pub synonyms: &'static [(&'static str, i64)],
    pub doc: &'static str,
}

pub(super) const MAX: i64 = i64::MAX;
pub(super) const IMAX: i64 = i32::MAX as i64;
pub(super) const COMPRESSION: &[&str] =
    &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
pub use super::topic_defs::{topic_def, TOPIC};

pub(super) const CLEANUP: &[&str] = &["delete", "compact"];
pub(super) const TIMESTAMP_TYPE: &[&str] = &["CreateTime", "LogAppendTime"];
pub(super) const PARTITIONER_MODES: &[&str] = &["route", "verify"];
/// Confluent's subject name strategies, short or as its Java class names.
pub(super) const SUBJECT_STRATEGIES: &[&str] = &[
    "TopicNameStrategy",
    "RecordNameStrategy",
    "TopicRecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicNameStrategy",
    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
];
pub(super) const ON_ERROR: &[&str] = &["reject", "skip", "dead-letter"];

/// A `BrokerDef` from its name, kind, default, dynamic flag and doc.
macro_rules! broker {
    ($name:literal, $kind:expr, $default:expr, $dynamic:literal, $doc:literal) => {
        BrokerDef {
            name: $name,
            kind: $kind,
            default: $default,
            dynamic: $dynamic,
            doc: $doc,
        }
    };
}
pub(super) use broker;

pub static BROKER: &[BrokerDef] = &[
    broker!(
        "node.id",
        Kind::Int(0, IMAX),
        Some("1"),
        false,
        "This broker's id."
    ),
    broker!(
        "listeners",
        Kind::List,
        Some("PLAINTEXT://127.0.0.1:9092"),
        false,
        "Addresses to listen on, as PLAINTEXT://host:port."
    ),
    broker!(
        "advertised.listeners",
        Kind::List,
        None,
        false,
        "Addresses clients are told to use; defaults to listeners."
    ),
    broker!(
        "log.dirs",
        Kind::List,
        None,
        false,
        "Data directories; defaults to log.dir."
    ),
    broker!(
        "log.dir",
        Kind::String,
        Some("./weir-data"),
        false,
        "The data directory when log.dirs is not set."
    ),
    broker!(
        "metadata.log.dir",
        Kind::String,
        None,
        false,
        "Where the metadata command log lives; defaults to the first log dir."
    ),
    broker!(
        "log.engine",
        Kind::Enum(&["disk", "null"]),
        Some("disk"),
        false,
        "Weir: 'null' acknowledges produce without storing anything (benchmarks only)."
    ),
    broker!(
        "num.partitions",
        Kind::Int(1, IMAX),
        Some("1"),
        true,
        "Default partition count of auto-created topics."
    ),
    broker!(
        "default.replication.factor",
        Kind::Short(1, 32767),
        Some("1"),
        false,
        "Default replication factor of auto-created topics."
    ),
    broker!(
        "auto.create.topics.enable",
        Kind::Bool,
        Some("true"),
        false,
        "Create a topic when a client asks for metadata of an unknown one."
    ),
    broker!(
        "delete.topic.enable",
        Kind::Bool,
        Some("true"),
        false,
        "Allow DeleteTopics."
    ),
    broker!(
        "message.max.bytes",
        Kind::Int(0, IMAX),
        Some("1048588"),
        true,
        "Largest record batch a topic accepts."
    ),
    broker!(
        "socket.request.max.bytes",
        Kind::Int(1, IMAX),
        Some("104857600"),
        false,
        "Largest request frame; a larger frame closes the connection."
    ),
    broker!(
        "connections.max.idle.ms",
        Kind::Long(1, MAX),
        Some("600000"),
        false,
        "Close connections idle this long."
    ),
    broker!(
        "weir.request.read.timeout.ms",
        Kind::Long(1, MAX),
        Some("30000"),
        false,
        "Weir: close a connection whose request stops arriving halfway for this long."
    ),
    broker!(
        "queued.max.request.bytes",
        Kind::Long(-1, MAX),
        Some("536870912"),
        false,
        "Bytes of requests read and not yet handled, across connections; readers wait beyond it (-1: no bound)."
    ),
    broker!(
        "max.connections",
        Kind::Int(0, IMAX),
        Some("2147483647"),
        false,
        "Connections the broker accepts at once; more are closed as they arrive."
    ),
    broker!(
        "max.connections.per.ip",
        Kind::Int(0, IMAX),
        Some("2147483647"),
        false,
        "Connections accepted at once from one IP address."
    ),
    broker!(
        "max.connections.per.ip.overrides",
        Kind::String,
        Some(""),
        false,
        "Per-IP limits over max.connections.per.ip: 'host:count,...'."
    ),
    broker!(
        "weir.max.partitions",
        Kind::Int(0, IMAX),
        Some("0"),
        false,
        "Weir: partition replicas this broker may host; CreateTopics/CreatePartitions beyond it fail with POLICY_VIOLATION (0: from the open files limit, a quarter of what is left after 1024)."
    ),
    broker!(
        "weir.segment.file.idle.ms",
        Kind::Long(1, MAX),
        Some("60000"),
        false,
        "Weir: a closed segment's files are closed after this long unread, and opened again on the next read."
    ),
    broker!(
        "num.io.threads",
        Kind::Int(1, 1024),
        Some("8"),
        false,
        "Accepted for compatibility; Weir runs on one async runtime sized to the machine."
    ),
    broker!(
        "num.network.threads",
        Kind::Int(1, 1024),
        Some("3"),
        false,
        "Accepted for compatibility."
    ),
    broker!(
        "log.segment.bytes",
        Kind::Int(14, IMAX),
        Some("1073741824"),
        true,
        "Segment size before rolling."
    ),
    broker!(
        "log.roll.ms",
        Kind::Long(1, MAX),
        None,
        true,
        "Segment age before rolling; defaults to log.roll.hours."
    ),
    broker!(
        "log.roll.hours",
        Kind::Int(1, IMAX),
        Some("168"),
        false,
        "Segment age in hours before rolling."
    ),
    broker!(
        "log.roll.jitter.ms",
        Kind::Long(0, MAX),
        None,
        true,
        "Jitter subtracted from the roll time."
    ),
    broker!(
        "log.roll.jitter.hours",
        Kind::Int(0, IMAX),
        Some("0"),
        false,
        "Jitter in hours."
    ),
    broker!(
        "log.index.interval.bytes",
        Kind::Int(0, IMAX),
        Some("4096"),
        true,
        "Bytes between offset index entries."
    ),
    broker!(
        "log.index.size.max.bytes",
        Kind::Int(4, IMAX),
        Some("10485760"),
        true,
        "Largest offset index file."
    ),
    broker!(
        "log.flush.interval.messages",
        Kind::Long(1, MAX),
        Some("9223372036854775807"),
        true,
        "fsync after this many messages."
    ),
    broker!(
        "log.flush.interval.ms",
        Kind::Long(0, MAX),
        None,
        true,
        "fsync after this long; defaults to log.flush.scheduler.interval.ms."
    ),
    broker!(
        "log.flush.scheduler.interval.ms",
        Kind::Long(0, MAX),
        Some("9223372036854775807"),
        false,
        "How often the flusher checks logs."
    ),
    broker!(
        "log.flush.offset.checkpoint.interval.ms",
        Kind::Int(0, IMAX),
        Some("60000"),
        false,
        "How often recovery points are checkpointed."
    ),
    broker!(
        "log.retention.ms",
        Kind::Long(-1, MAX),
        None,
        true,
        "Retention time; defaults to log.retention.minutes."
    ),
    broker!(
        "log.retention.minutes",
        Kind::Int(-1, IMAX),
        None,
        false,
        "Retention time in minutes; defaults to log.retention.hours."
    ),
    broker!(
        "log.retention.hours",
        Kind::Int(-1, IMAX),
        Some("168"),
        false,
        "Retention time in hours."
    ),
    broker!(
        "log.retention.bytes",
        Kind::Long(-1, MAX),
        Some("-1"),
        true,
        "Retention size per partition."
    ),
    broker!(
        "log.retention.check.interval.ms",
        Kind::Long(1, MAX),
        Some("300000"),
        false,
        "How often retention runs."
    ),
    broker!(
        "log.cleanup.policy",
        Kind::EnumList(CLEANUP),
        Some("delete"),
        true,
        "delete and/or compact."
    ),
    broker!(
        "log.cleaner.enable",
        Kind::Bool,
        Some("true"),
        false,
        "Run the log cleaner for compacted topics."
    ),
    broker!(
        "log.cleaner.delete.retention.ms",
        Kind::Long(0, MAX),
        Some("86400000"),
        true,
        "How long tombstones are kept after the clean that first kept them."
    ),
    broker!(
        "log.cleaner.min.compaction.lag.ms",
        Kind::Long(0, MAX),
        Some("0"),
        true,
        "Minimum age before compaction."
    ),
    broker!(
        "log.cleaner.max.compaction.lag.ms",
        Kind::Long(1, MAX),
        Some("9223372036854775807"),
        true,
        "Maximum age before compaction."
    ),
    broker!(
        "log.cleaner.min.cleanable.ratio",
        Kind::Double(0.0, 1.0),
        Some("0.5"),
        true,
        "Dirty ratio that triggers compaction."
    ),
    broker!(
        "log.cleaner.threads",
        Kind::Int(1, 64),
        Some("1"),
        false,
        "Threads compacting logs."
    ),
    broker!(
        "log.cleaner.backoff.ms",
        Kind::Long(1, MAX),
        Some("15000"),
        false,
        "How long the cleaner sleeps when no log needs cleaning."
    ),
    broker!(
        "log.cleaner.io.max.bytes.per.second",
        Kind::Double(0.0, f64::MAX),
        Some("1.7976931348623157E308"),
        false,
        "The cleaner's read and write I/O budget."
    ),
    broker!(
        "log.segment.delete.delay.ms",
        Kind::Long(0, MAX),
        Some("60000"),
        true,
        "Delay before a deleted segment's files are removed."
    ),
    broker!(
        "log.preallocate",
        Kind::Bool,
        Some("false"),
        true,
        "Preallocate segment files."
    ),
    broker!(
        "log.message.timestamp.type",
        Kind::Enum(TIMESTAMP_TYPE),
        Some("CreateTime"),
        true,
        "CreateTime or LogAppendTime."
    ),
    broker!(
        "log.message.timestamp.before.max.ms",
        Kind::Long(0, MAX),
        Some("9223372036854775807"),
        true,
        "How far in the past a CreateTime timestamp may be."
    ),
    broker!(
        "log.message.timestamp.after.max.ms",
        Kind::Long(0, MAX),
        Some("3600000"),
        true,
        "How far in the future a CreateTime timestamp may be."
    ),
    broker!(
        "compression.type",
        Kind::Enum(COMPRESSION),
        Some("producer"),
        true,
        "Final compression of a topic; 'producer' keeps what the producer sent."
    ),
    broker!(
        "min.insync.replicas",
        Kind::Int(1, IMAX),
        Some("1"),
        true,
        "Replicas that must hold a batch for acks=all."
    ),
    broker!(
        "unclean.leader.election.enable",
        Kind::Bool,
        Some("false"),
        true,
        "Allow a leader from outside the ISR."
    ),
    broker!(
        "replica.lag.time.max.ms",
        Kind::Long(1, MAX),
        Some("30000"),
        false,
        "A follower this far behind leaves the ISR."
    ),
    broker!(
        "producer.id.expiration.ms",
        Kind::Int(1, IMAX),
        Some("86400000"),
        true,
        "How long an idle idempotent producer's sequences are kept."
    ),
    broker!(
        "producer.id.expiration.check.interval.ms",
        Kind::Int(1, IMAX),
        Some("600000"),
        false,
        "How often idle producers are looked for."
    ),
    broker!(
        "weir.admin.listener",
        Kind::String,
        Some("127.0.0.1:9644"),
        false,
        "host:port (or http://host:port, or https://host:port for TLS configured as listener ADMIN: listener.name.admin.ssl.*) of the admin HTTP endpoint (/metrics, /v1/plugins) that `weir plugin` talks to; empty: none."
    ),
    broker!(
        "schema.registry.listener",
        Kind::String,
        Some("127.0.0.1:8081"),
        false,
        "host:port (or http://host:port) of the built-in Confluent-compatible schema registry (REST API; state in the compacted _schemas topic); empty: none."
    ),
    broker!(
        "schema.registry.topic.replication.factor",
        Kind::Short(1, 32767),
        Some("3"),
        false,
        "Replication factor of _schemas, the schema registry's topic (Confluent's kafkastore.topic.replication.factor), at most the live brokers when it is created; brokers without a replica read it from its leader."
    ),
    broker!(
        "weir.admin.authentication",
        Kind::Enum(&["token", "none"]),
        Some("token"),
        false,
        "Weir: `token`: the admin endpoint's mutating calls (plugin deploy, replace, remove) need `Authorization: Bearer TOKEN` with a token from weir.admin.tokens.file; `none`: anyone who reaches it may make them."
    ),
    broker!(
        "weir.admin.tokens.file",
        Kind::String,
        Some(""),
        false,
        "Weir: the admin endpoint's tokens, one `PRINCIPAL TOKEN` per line, read again when the file changes; empty: admin.tokens beside the metadata log, written at first start with a random token for User:admin (mode 0600)."
    ),
    broker!(
        "weir.plugin.max.bytes",
        Kind::Long(1, MAX),
        Some("67108864"),
        false,
        "Weir: the largest plugin component the admin endpoint takes; a larger upload is refused (413) as it streams in, and nothing of it is written."
    ),
    broker!(
        "weir.plugin.native.enabled",
        Kind::Bool,
        Some("false"),
        false,
        "Whether plugins may be native shared libraries (.so), which run unsandboxed in the broker's process."
    ),
    broker!(
        "weir.plugin.native.dir",
        Kind::String,
        Some(""),
        false,
        "Weir: the directory on the broker's own disk native libraries are loaded from (weir.toml [[plugins]] entries only; never an upload or a cluster deployment); empty: none."
    ),
    broker!(
        "weir.plugin.watch.interval.ms",
        Kind::Long(1, MAX),
        Some("1000"),
        false,
        "How often the files of weir.toml plugins are checked for a new version to load."
    ),
    broker!(
        "weir.partitioner.mode",
        Kind::Enum(PARTITIONER_MODES),
        Some("route"),
        true,
        "Default of the topic config weir.partitioner.mode."
    ),
    broker!(
        "weir.plugin.on-error",
        Kind::Enum(ON_ERROR),
        Some("reject"),
        true,
        "Default of the topic config weir.plugin.on-error."
    ),
];

/// Weir's definition of a broker config, or, for a name only Apache Kafka
/// knows, a definition that accepts any value and says it has no effect.
/// The definition of a broker config; a `listener.name.<name>.ssl.…` (or
/// `sasl.…`) config is defined as the config it sets for one listener.
pub fn broker_def(name: &str) -> Option<&'static BrokerDef> {
    let name = super::security::without_listener_prefix(name);
    weir_broker_defs()
        .find(|d| d.name == name)
        .or_else(|| kafka_only_defs().iter().find(|d| d.name == name))
}

/// The broker configs Weir acts on: the node's own and its cluster's.
pub fn weir_broker_defs() -> impl Iterator<Item = &'static BrokerDef> {
    BROKER
        .iter()
        .chain(super::cluster::CLUSTER.iter())
        .chain(super::group::GROUP_BROKER.iter())
        .chain(super::security::SECURITY.iter())
}

/// Kafka's broker configs that Weir does not act on (`kafka_names`).
pub fn kafka_only_defs() -> &'static [BrokerDef] {
    static DEFS: std::sync::OnceLock<Vec<BrokerDef>> = std::sync::OnceLock::new();
    DEFS.get_or_init(|| {
        super::kafka_names::KAFKA_BROKER_CONFIGS
            .iter()
            .filter(|name| !weir_broker_defs().any(|d| d.name == **name))
            .map(|name| BrokerDef {
                name,
                kind: Kind::String,
                default: None,
                dynamic: true,
                doc: "An Apache Kafka broker config: accepted, stored and described; Weir does not act on it.",
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_weir_does_not_act_on_are_known_and_say_so() {
        for name in [
            "background.threads",
            "sasl.kerberos.min.time.before.relogin",
            // Kafka 4.x names.
            "group.streams.session.timeout.ms",
            "controller.quorum.auto.join.enable",
            "transaction.two.phase.commit.enable",
            "log.remote.copy.lag.ms",
        ] {
            let def = broker_def(name).expect("a Kafka broker config");
            assert!(def.dynamic && def.doc.contains("does not act"), "{name}");
        }
        assert!(broker_def("message.max.bytes")
            .unwrap()
            .doc
            .contains("batch"));
        assert!(broker_def("no.such.config").is_none());
        assert!(
            broker_def("zookeeper.connect").is_none(),
            "Kafka 4 has no ZooKeeper"
        );
    }

    #[test]
    fn every_topic_synonym_is_a_broker_config() {
        for def in TOPIC {
            for (synonym, _) in def.synonyms {
                assert!(broker_def(synonym).is_some(), "{} -> {synonym}", def.name);
            }
        }
    }

    #[test]
    fn kinds_validate() {
        assert_eq!(Kind::Int(1, 10).validate("5").unwrap(), "5");
        assert!(Kind::Int(1, 10).validate("11").is_err());
        assert!(Kind::Int(1, 10).validate("x").is_err());
        assert_eq!(Kind::Bool.validate("TRUE").unwrap(), "true");
        assert_eq!(
            Kind::Enum(TIMESTAMP_TYPE)
                .validate("logappendtime")
                .unwrap(),
            "LogAppendTime"
        );
        assert_eq!(
            Kind::EnumList(CLEANUP).validate("compact, delete").unwrap(),
            "compact,delete"
        );
        assert!(Kind::EnumList(CLEANUP).validate("compact,shred").is_err());
    }
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    /// docs/configuration.md documents every config Weir accepts.
    #[test]
    fn configuration_reference_lists_every_key() {
        let doc = include_str!("../../../docs/configuration.md");
        for name in weir_broker_defs()
            .map(|d| d.name)
            .chain(TOPIC.iter().map(|d| d.name))
        {
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/configuration.md does not mention {name}"
            );
        }
    }
}
