//! Configuration with Kafka's names: the broker config read from `weir.toml`,
//! the cluster-wide dynamic overrides set through AlterConfigs, and topic
//! configs resolved against both (topic override → dynamic broker default →
//! static broker config → Kafka's default).

pub mod cluster;
pub mod defs;
pub mod group;
pub mod kafka_names;
pub mod plugins;
pub mod security;
pub mod topic_defs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kafka_protocol::records::Compression;
use thiserror::Error;

use crate::log::LogConfig;
use defs::{broker_def, topic_def, TopicDef};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("unknown config key `{0}`")]
    Unknown(String),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
}

/// Where a config value came from, as Kafka's DescribeConfigs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Topic,
    DynamicBrokerDefault,
    StaticBroker,
    Default,
    /// A group config resource's own value (KIP-848).
    Group,
}

impl Source {
    /// Kafka's ConfigSource code.
    pub fn code(self) -> i8 {
        match self {
            Source::Topic => 1,
            Source::DynamicBrokerDefault => 3,
            Source::StaticBroker => 4,
            Source::Default => 5,
            Source::Group => 8,
        }
    }
}

/// A listener: its name (PLAINTEXT unless named, e.g. CONTROLLER) and
/// address. Its security protocol comes from `listener.security.protocol.map`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn parse(value: &str) -> Result<Listener, String> {
        let (name, rest) = match value.split_once("://") {
            Some((name, rest)) => {
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(format!("{name:?} is not a listener name"));
                }
                (name.to_ascii_uppercase(), rest)
            }
            None => ("PLAINTEXT".to_string(), value),
        };
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{value:?} is not host:port"))?;
        let port = port
            .parse()
            .map_err(|_| format!("{port:?} is not a port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        Ok(Listener {
            name,
            host: host.to_string(),
            port,
        })
    }
}

/// The static broker config: values set in `weir.toml` (or on the command
/// line), each validated against its definition.
#[derive(Debug, Clone, Default)]
pub struct BrokerConfig {
    set: BTreeMap<String, String>,
    /// `[[plugins]]`: the components to load.
    pub plugins: Vec<plugins::PluginSpec>,
}

impl BrokerConfig {
    pub fn load(path: &Path) -> Result<BrokerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Toml {
            path: path.to_path_buf(),
            source,
        })?;
        let mut table = table;
        let mut config = BrokerConfig::default();
        if let Some(plugins) = table.remove("plugins") {
            let base = path.parent().unwrap_or(Path::new("."));
            config.plugins = plugins::PluginSpec::parse_all(&plugins, base).map_err(|reason| {
                ConfigError::Invalid {
                    key: "plugins".into(),
                    reason,
                }
            })?;
        }
        config.set_table("", &table)?;
        config.check()?;
        Ok(config)
    }

    /// Flattens nested tables so `log.dirs = ..` (a TOML dotted key) and
    /// `"log.dirs" = ..` both name `log.dirs`.
    fn set_table(&mut self, prefix: &str, table: &toml::Table) -> Result<(), ConfigError> {
        for (key, value) in table {
            let name = format!("{prefix}{key}");
            let text = match value {
                toml::Value::Table(inner) => {
                    self.set_table(&format!("{name}."), inner)?;
                    continue;
                }
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                toml::Value::Datetime(d) => d.to_string(),
            };
            self.set(&name, &text)?;
        }
        Ok(())
    }

    /// Sets one value, validated against its definition.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let def = broker_def(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        let value = def
            .kind
            .validate(value)
            .map_err(|reason| ConfigError::Invalid {
                key: name.to_string(),
                reason,
            })?;
        self.set.insert(name.to_string(), value);
        Ok(())
    }

    /// Cross-field checks that single values cannot express.
    pub fn check(&self) -> Result<(), ConfigError> {
        for key in ["listeners", "advertised.listeners"] {
            for l in self.list(key) {
                Listener::parse(&l).map_err(|reason| ConfigError::Invalid {
                    key: key.to_string(),
                    reason,
                })?;
            }
        }
        for listener in self.all_listeners() {
            match self.listener_protocol(&listener.name) {
                Some(p) if ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&p.as_str()) => {}
                Some(p) => {
                    return Err(ConfigError::Invalid {
                        key: "listener.security.protocol.map".into(),
                        reason: format!(
                        "listener {} uses {p}; the security protocols are PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL",
                        listener.name
                    ),
                    })
                }
                None => {
                    return Err(ConfigError::Invalid {
                        key: "listener.security.protocol.map".into(),
                        reason: format!("listener {} has no security protocol", listener.name),
                    })
                }
            }
        }
        // Brokers and controllers talk to each other in plain text for now:
        // over the controller listener, and over the first advertised one.
        for listener in self.all_listeners() {
            let secured = self.listener_protocol(&listener.name).as_deref() != Some("PLAINTEXT");
            if secured && self.is_controller_listener(&listener.name) {
                return Err(ConfigError::Invalid {
                    key: "listener.security.protocol.map".into(),
                    reason: format!(
                        "controller listener {} must be PLAINTEXT: TLS and SASL between controllers and brokers are not supported yet",
                        listener.name
                    ),
                });
            }
        }
        // A controller-only node has only its controller listener (checked
        // with the other cluster settings).
        let cluster = self.cluster()?;
        let first = self.advertised_listeners().into_iter().next();
        if let (Some(_), Some(first)) = (&cluster, first) {
            if self.listener_protocol(&first.name).as_deref() != Some("PLAINTEXT") {
                return Err(ConfigError::Invalid {
                    key: "listeners".into(),
                    reason: format!(
                        "in a cluster, brokers replicate over the first listener, {}, which must be PLAINTEXT for now; list SSL and SASL listeners after it",
                        first.name
                    ),
                });
            }
        }
        if self.listeners().is_empty() && cluster.is_none() {
            return Err(ConfigError::Invalid {
                key: "listeners".into(),
                reason: "at least one listener is needed".into(),
            });
        }
        Ok(())
    }

    /// The explicitly set value of `name`.
    pub fn get_set(&self, name: &str) -> Option<&str> {
        self.set.get(name).map(String::as_str)
    }

    /// The value of `name`: set, else its default.
    pub fn get(&self, name: &str) -> Option<String> {
        self.set
            .get(name)
            .cloned()
            .or_else(|| broker_def(name).and_then(|d| d.default.map(str::to_string)))
    }

    /// A config for one listener: `listener.name.<name>.<key>` when set,
    /// else `key` (Kafka's per-listener configs).
    pub fn listener_get(&self, listener: &str, key: &str) -> Option<String> {
        let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
        self.set.get(&prefixed).cloned().or_else(|| self.get(key))
    }

    /// A numeric config's value (its default when unset).
    pub fn number(&self, name: &str) -> i64 {
        self.num(name)
    }
    fn num(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).as_deref() == Some("true")
    }
    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| defs::split_list(&v))
            .unwrap_or_default()
    }

    pub fn node_id(&self) -> i32 {
        self.num("node.id") as i32
    }
    /// Every listener, the controller's included.
    pub fn all_listeners(&self) -> Vec<Listener> {
        self.list("listeners")
            .iter()
            .filter_map(|l| Listener::parse(l).ok())
            .collect()
    }
    /// The listeners that serve Kafka clients.
    pub fn listeners(&self) -> Vec<Listener> {
        self.all_listeners()
            .into_iter()
            .filter(|l| !self.is_controller_listener(&l.name))
            .collect()
    }
    pub fn advertised_listeners(&self) -> Vec<Listener> {
        let advertised: Vec<Listener> = self
            .list("advertised.listeners")
            .iter()
            .filter_map(|l| Listener::parse(l).ok())
            .filter(|l| !self.is_controller_listener(&l.name))
            .collect();
        if advertised.is_empty() {
            self.listeners()
        } else {
            advertised
        }
    }
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        let dirs = self.list("log.dirs");
        if dirs.is_empty() {
            vec![PathBuf::from(self.get("log.dir").unwrap_or_default())]
        } else {
            dirs.into_iter().map(PathBuf::from).collect()
        }
    }
    pub fn metadata_log_dir(&self) -> PathBuf {
        self.get("metadata.log.dir")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.log_dirs()[0].clone())
    }
    pub fn null_log(&self) -> bool {
        self.get("log.engine").as_deref() == Some("null")
    }
    pub fn num_partitions(&self) -> i32 {
        self.num("num.partitions") as i32
    }
    pub fn default_replication_factor(&self) -> i16 {
        self.num("default.replication.factor") as i16
    }
    pub fn auto_create_topics(&self) -> bool {
        self.flag("auto.create.topics.enable")
    }
    pub fn delete_topic_enable(&self) -> bool {
        self.flag("delete.topic.enable")
    }
    pub fn socket_request_max_bytes(&self) -> usize {
        self.num("socket.request.max.bytes") as usize
    }
    pub fn connections_max_idle_ms(&self) -> u64 {
        self.num("connections.max.idle.ms") as u64
    }
    pub fn request_read_timeout_ms(&self) -> u64 {
        self.num("weir.request.read.timeout.ms") as u64
    }
    /// `queued.max.request.bytes`, or None when unbounded (-1).
    pub fn queued_max_request_bytes(&self) -> Option<usize> {
        usize::try_from(self.num("queued.max.request.bytes")).ok()
    }
    pub fn max_connections(&self) -> usize {
        self.num("max.connections") as usize
    }
    pub fn max_connections_per_ip(&self) -> usize {
        self.num("max.connections.per.ip") as usize
    }
    /// `max.connections.per.ip.overrides`: `host:count` pairs.
    pub fn max_connections_per_ip_overrides(&self) -> Vec<(String, usize)> {
        self.list("max.connections.per.ip.overrides")
            .iter()
            .filter_map(|item| {
                let (host, count) = item.rsplit_once(':')?;
                Some((host.trim().to_string(), count.trim().parse().ok()?))
            })
            .collect()
    }
    /// `weir.max.partitions`, or when 0 a quarter of the open files limit
    /// above 1024 (a partition's active segment holds three files; closed
    /// segments hold theirs only while read).
    pub fn max_partitions(&self) -> usize {
        match self.num("weir.max.partitions") {
            n if n > 0 => n as usize,
            _ => {
                let files = crate::open_files_limit().map_or(1024 * 5, |(soft, _)| {
                    soft.min(usize::MAX as u64 / 2) as usize
                });
                (files.saturating_sub(1024) / 4).max(100)
            }
        }
    }
    pub fn flush_scheduler_interval_ms(&self) -> i64 {
        self.num("log.flush.scheduler.interval.ms")
    }
    pub fn checkpoint_interval_ms(&self) -> i64 {
        self.num("log.flush.offset.checkpoint.interval.ms")
    }
}

/// The broker config as seen at runtime: dynamic cluster-wide overrides
/// (from the metadata log) over the static config.
pub struct ConfigView<'a> {
    pub static_config: &'a BrokerConfig,
    pub dynamic: &'a BTreeMap<String, String>,
}

impl ConfigView<'_> {
    /// The value and source of a broker config, if it has one.
    pub fn broker_value(&self, name: &str) -> Option<(String, Source)> {
        if let Some(v) = self.dynamic.get(name) {
            return Some((v.clone(), Source::DynamicBrokerDefault));
        }
        if let Some(v) = self.static_config.get_set(name) {
            return Some((v.to_string(), Source::StaticBroker));
        }
        broker_def(name)
            .and_then(|d| d.default)
            .map(|v| (v.to_string(), Source::Default))
    }

    /// A numeric broker config as seen now (dynamic over static over default).
    pub fn broker_number(&self, name: &str) -> i64 {
        self.broker_value(name)
            .and_then(|(v, _)| v.parse().ok())
            .unwrap_or(0)
    }

    /// A topic config's value: the override if any, else the first synonym set
    /// explicitly, else the first synonym default, scaled by its factor.
    pub fn topic_value(
        &self,
        def: &TopicDef,
        overrides: &BTreeMap<String, String>,
    ) -> (String, Source) {
        if let Some(v) = overrides.get(def.name) {
            return (v.clone(), Source::Topic);
        }
        let scaled = |value: String, factor: i64| {
            if factor == 1 {
                value
            } else {
                value
                    .parse::<i64>()
                    .map(|n| if n < 0 { n } else { n.saturating_mul(factor) }.to_string())
                    .unwrap_or(value)
            }
        };
        for (name, factor) in def.synonyms {
            if let Some((v, source)) = self
                .broker_value(name)
                .filter(|(_, s)| *s != Source::Default)
            {
                return (scaled(v, *factor), source);
            }
        }
        for (name, factor) in def.synonyms {
            if let Some((v, _)) = self.broker_value(name) {
                return (scaled(v, *factor), Source::Default);
            }
        }
        (String::new(), Source::Default)
    }

    fn topic_num(&self, name: &str, overrides: &BTreeMap<String, String>) -> i64 {
        let def = topic_def(name).expect("known topic config");
        self.topic_value(def, overrides)
            .0
            .parse()
            .unwrap_or(i64::MAX)
    }

    /// The log settings of a topic with these overrides.
    pub fn log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let num = |name: &str| self.topic_num(name, overrides);
        let compression = match self
            .topic_value(topic_def("compression.type").expect("known"), overrides)
            .0
            .as_str()
        {
            "uncompressed" => Some(Compression::None),
            "gzip" => Some(Compression::Gzip),
            "snappy" => Some(Compression::Snappy),
            "lz4" => Some(Compression::Lz4),
            "zstd" => Some(Compression::Zstd),
            _ => None, // producer
        };
        let timestamp_type = self
            .topic_value(
                topic_def("message.timestamp.type").expect("known"),
                overrides,
            )
            .0;
        let value = |name: &str| {
            self.topic_value(topic_def(name).expect("known topic config"), overrides)
                .0
        };
        let cleanup = value("cleanup.policy");
        let cleanup: Vec<&str> = cleanup.split(',').map(str::trim).collect();
        LogConfig {
            delete: cleanup.contains(&"delete"),
            compact: cleanup.contains(&"compact"),
            retention_ms: num("retention.ms"),
            retention_bytes: num("retention.bytes"),
            delete_retention_ms: num("delete.retention.ms"),
            min_cleanable_dirty_ratio: value("min.cleanable.dirty.ratio").parse().unwrap_or(0.5),
            min_compaction_lag_ms: num("min.compaction.lag.ms"),
            max_compaction_lag_ms: num("max.compaction.lag.ms"),
            segment_bytes: num("segment.bytes") as u64,
            segment_ms: num("segment.ms"),
            segment_jitter_ms: num("segment.jitter.ms"),
            index_interval_bytes: num("index.interval.bytes") as usize,
            segment_index_bytes: num("segment.index.bytes") as usize,
            flush_messages: num("flush.messages"),
            flush_ms: num("flush.ms"),
            max_message_bytes: num("max.message.bytes") as usize,
            log_append_time: timestamp_type == "LogAppendTime",
            timestamp_before_max_ms: num("message.timestamp.before.max.ms"),
            timestamp_after_max_ms: num("message.timestamp.after.max.ms"),
            compression,
            null: self.static_config.null_log(),
        }
    }

    pub fn min_insync_replicas(&self, overrides: &BTreeMap<String, String>) -> i64 {
        self.topic_num("min.insync.replicas", overrides)
    }
}

/// Validates a topic config override, returning its canonical value.
pub fn validate_topic_config(name: &str, value: &str) -> Result<String, String> {
    let def = topic_def(name).ok_or_else(|| format!("Unknown topic config name: {name}"))?;
    def.kind
        .validate(value)
        .map_err(|reason| format!("Invalid value {value} for configuration {name}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_str(text: &str) -> Result<BrokerConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, text).unwrap();
        BrokerConfig::load(&path)
    }

    #[test]
    fn reads_kafka_names_dotted_or_quoted() {
        let config = from_str(
            "listeners = \"PLAINTEXT://127.0.0.1:19092\"\nlog.dirs = [\"/a\", \"/b\"]\n\"num.partitions\" = 3\n[log.segment]\nbytes = 1048576\n",
        )
        .unwrap();
        assert_eq!(
            config.listeners(),
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 19092
            }]
        );
        assert_eq!(
            config.log_dirs(),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(config.num_partitions(), 3);
        assert_eq!(config.get("log.segment.bytes").unwrap(), "1048576");
    }

    #[test]
    fn with_no_config_it_serves_loopback_9092_into_weir_data() {
        let config = BrokerConfig::default();
        assert_eq!(
            config.listeners(),
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092
            }]
        );
        assert_eq!(config.advertised_listeners(), config.listeners());
        assert_eq!(config.log_dirs(), vec![PathBuf::from("./weir-data")]);
        assert_eq!(config.metadata_log_dir(), PathBuf::from("./weir-data"));
        assert!(config.check().is_ok());
    }

    #[test]
    fn the_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/weir.toml");
        let config = BrokerConfig::load(&path).unwrap();
        assert_eq!(config.num_partitions(), 3);
        assert_eq!(config.log_dirs(), vec![PathBuf::from("./weir-data")]);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values_by_name() {
        let err = from_str("log.segmnt.bytes = 5\n").unwrap_err().to_string();
        assert!(err.contains("log.segmnt.bytes"), "{err}");
        let err = from_str("num.partitions = 0\n").unwrap_err().to_string();
        assert!(err.contains("num.partitions"), "{err}");
        let err = from_str("auto.create.topics.enable = \"maybe\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("auto.create.topics.enable"), "{err}");
        let err = from_str("listeners = \"KERBEROS://x:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("listener KERBEROS has no security protocol"),
            "{err}"
        );
    }

    #[test]
    fn topic_values_fall_back_through_synonyms() {
        let mut config = BrokerConfig::default();
        let dynamic = BTreeMap::new();
        let view = ConfigView {
            static_config: &config,
            dynamic: &dynamic,
        };
        let retention = topic_def("retention.ms").unwrap();
        assert_eq!(
            view.topic_value(retention, &BTreeMap::new()),
            ("604800000".into(), Source::Default)
        );
        config.set("log.retention.minutes", "10").unwrap();
        let view = ConfigView {
            static_config: &config,
            dynamic: &dynamic,
        };
        assert_eq!(
            view.topic_value(retention, &BTreeMap::new()),
            ("600000".into(), Source::StaticBroker)
        );
        let mut dynamic = BTreeMap::new();
        dynamic.insert("log.retention.ms".to_string(), "5".to_string());
        let view = ConfigView {
            static_config: &config,
            dynamic: &dynamic,
        };
        assert_eq!(view.topic_value(retention, &BTreeMap::new()).0, "5");
        let overrides = BTreeMap::from([("retention.ms".to_string(), "7".to_string())]);
        assert_eq!(
            view.topic_value(retention, &overrides),
            ("7".into(), Source::Topic)
        );
        let log = view.log_config(&BTreeMap::new());
        assert_eq!(log.segment_ms, 168 * 3_600_000);
        assert_eq!(log.flush_ms, i64::MAX);
    }
}
