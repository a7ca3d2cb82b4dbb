//! Group configs (KIP-848's group resource, ConfigResource type 32): Kafka's
//! five names, each falling back to a broker `group.*` config, and how a
//! group's effective value is resolved.

use std::collections::BTreeMap;

use super::defs::{Kind, IMAX};
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
