//! Group configs (KIP-848's group resource, ConfigResource type 32): Kafka's
//! five names, each falling back to a broker `group.*` config, and how a
//! group's effective value is resolved; and the group coordinator's broker
//! configs (`offsets.*`, `group.*`).

use std::collections::BTreeMap;

use super::defs::{broker, BrokerDef, Kind, IMAX, MAX};
use super::{ConfigView, Source};

/// A group config (KIP-848's group resource): its default is the broker
/// config named `broker_default`.
#[derive(Debug)]
pub struct GroupDef {
    pub name: &'static str,
    pub broker_default: &'static str,
    /// Kafka's default, when the broker config has no value either.
    pub default: &'static str,
    pub kind: Kind,
    /// Weir acts on it (the share group ones wait for share groups).
    pub acted_on: bool,
    pub doc: &'static str,
}

pub static GROUP: &[GroupDef] = &[
    GroupDef {
        name: "consumer.session.timeout.ms",
        broker_default: "group.consumer.session.timeout.ms",
        default: "45000",
        kind: Kind::Int(1, IMAX),
        acted_on: true,
        doc: "Session timeout of this consumer group's members (KIP-848 protocol).",
    },
    GroupDef {
        name: "consumer.heartbeat.interval.ms",
        broker_default: "group.consumer.heartbeat.interval.ms",
        default: "5000",
        kind: Kind::Int(1, IMAX),
        acted_on: true,
        doc: "Heartbeat interval this consumer group's members are given (KIP-848 protocol).",
    },
    GroupDef {
        name: "share.session.timeout.ms",
        broker_default: "group.share.session.timeout.ms",
        default: "45000",
        kind: Kind::Int(1, IMAX),
        acted_on: false,
        doc: "Share groups' session timeout: accepted; Weir has no share groups yet.",
    },
    GroupDef {
        name: "share.heartbeat.interval.ms",
        broker_default: "group.share.heartbeat.interval.ms",
        default: "5000",
        kind: Kind::Int(1, IMAX),
        acted_on: false,
        doc: "Share groups' heartbeat interval: accepted; Weir has no share groups yet.",
    },
    GroupDef {
        name: "share.record.lock.duration.ms",
        broker_default: "group.share.record.lock.duration.ms",
        default: "30000",
        kind: Kind::Int(1000, IMAX),
        acted_on: false,
        doc: "Share groups' record lock duration: accepted; Weir has no share groups yet.",
    },
];

pub fn group_def(name: &str) -> Option<&'static GroupDef> {
    GROUP.iter().find(|d| d.name == name)
}

impl ConfigView<'_> {
    /// A group config's value and source: the group's own (`own`), else the
    /// broker config it falls back to, else Kafka's default.
    pub fn group_value(
        &self,
        def: &GroupDef,
        own: Option<&BTreeMap<String, String>>,
    ) -> (String, Source) {
        match own.and_then(|c| c.get(def.name)) {
            Some(v) => (v.clone(), Source::Group),
            None => self
                .broker_value(def.broker_default)
                .unwrap_or((def.default.to_string(), Source::Default)),
        }
    }
}

/// The group coordinator's broker configs.
pub static GROUP_BROKER: &[BrokerDef] = &[
    broker!(
        "offsets.topic.num.partitions",
        Kind::Int(1, IMAX),
        Some("50"),
        false,
        "Partitions of __consumer_offsets."
    ),
    broker!(
        "offsets.commit.timeout.ms",
        Kind::Int(1, IMAX),
        Some("5000"),
        false,
        "How long an offset commit waits for every in-sync replica of its __consumer_offsets partition."
    ),
    broker!(
        "offsets.topic.replication.factor",
        Kind::Short(1, 32767),
        Some("3"),
        false,
        "Replication factor of __consumer_offsets (at most the live brokers when it is created: 1 on a single node)."
    ),
    broker!(
        "offsets.retention.minutes",
        Kind::Int(1, IMAX),
        Some("10080"),
        false,
        "How long committed offsets of empty groups are kept."
    ),
    broker!(
        "offsets.retention.check.interval.ms",
        Kind::Long(1, MAX),
        Some("600000"),
        false,
        "How often expired committed offsets are removed."
    ),
    broker!(
        "offsets.topic.segment.bytes",
        Kind::Int(1, IMAX),
        Some("104857600"),
        false,
        "Segment size of __consumer_offsets."
    ),
    broker!(
        "offset.metadata.max.bytes",
        Kind::Int(0, IMAX),
        Some("4096"),
        false,
        "Largest metadata string an offset commit may carry."
    ),
    broker!(
        "group.max.size",
        Kind::Int(1, IMAX),
        Some("2147483647"),
        false,
        "Most members a group may have."
    ),
    broker!(
        "group.consumer.session.timeout.ms",
        Kind::Int(1, IMAX),
        Some("45000"),
        false,
        "Session timeout of KIP-848 consumer group members."
    ),
    broker!(
        "group.consumer.heartbeat.interval.ms",
        Kind::Int(1, IMAX),
        Some("5000"),
        false,
        "Heartbeat interval the coordinator gives KIP-848 consumer group members."
    ),
    broker!(
        "group.consumer.assignors",
        Kind::EnumList(&["uniform", "range"]),
        Some("uniform,range"),
        false,
        "Server-side assignors of KIP-848 consumer groups; the first is the default."
    ),
    broker!(
        "group.consumer.migration.policy",
        Kind::Enum(&["bidirectional", "upgrade", "downgrade", "disabled"]),
        Some("bidirectional"),
        false,
        "Whether a classic group with members becomes a consumer group when a KIP-848 member joins (upgrade), and goes back when the last one leaves (downgrade)."
    ),
    broker!(
        "group.consumer.max.size",
        Kind::Int(1, IMAX),
        Some("2147483647"),
        false,
        "Most members a KIP-848 consumer group may have."
    ),
    broker!(
        "group.initial.rebalance.delay.ms",
        Kind::Int(0, IMAX),
        Some("3000"),
        false,
        "Delay of a new group's first rebalance."
    ),
    broker!(
        "group.min.session.timeout.ms",
        Kind::Int(0, IMAX),
        Some("6000"),
        false,
        "Smallest session timeout a member may ask for."
    ),
    broker!(
        "group.max.session.timeout.ms",
        Kind::Int(0, IMAX),
        Some("1800000"),
        false,
        "Largest session timeout a member may ask for."
    ),
];
