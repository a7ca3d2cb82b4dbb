//! What changed between two images, as a broker's partitions and groups
//! follow it: the topics created, changed or deleted, and whether the
//! cluster-wide or group configs changed. A broker follows each committed
//! change by touching only what the delta names, not every partition of
//! the image.

use std::collections::BTreeSet;

use super::image::MetadataImage;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataDelta {
    /// Everything may have changed (a broker's first look at an image).
    pub everything: bool,
    /// Topics created, changed (partitions, leaders, replicas, configs) or
    /// deleted, by name; a topic re-created under its name is here too.
    pub topics: BTreeSet<String>,
    /// The cluster-wide dynamic configs changed: every topic's effective
    /// configs may have.
    pub cluster_configs: bool,
    pub group_configs: bool,
}

impl MetadataDelta {
    /// Everything, as when nothing was followed before.
    pub fn everything() -> MetadataDelta {
        MetadataDelta {
            everything: true,
            cluster_configs: true,
            group_configs: true,
            ..Default::default()
        }
    }

    /// What changed from `old` to `new`.
    pub fn between(old: &MetadataImage, new: &MetadataImage) -> MetadataDelta {
        let mut topics = BTreeSet::new();
        for (name, topic) in &new.topics {
            if old.topics.get(name) != Some(topic) {
                topics.insert(name.clone());
            }
        }
        for name in old.topics.keys() {
            if !new.topics.contains_key(name) {
                topics.insert(name.clone());
            }
        }
        MetadataDelta {
            everything: false,
            topics,
            cluster_configs: old.cluster_configs != new.cluster_configs,
            group_configs: old.group_configs != new.group_configs,
        }
    }

    /// Whether the partitions of `topic` must be looked at again.
    pub fn touches(&self, topic: &str) -> bool {
        self.everything || self.cluster_configs || self.topics.contains(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::command::{Command, ConfigScope};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn command() -> impl Strategy<Value = Command> {
        let name = (0..6u8).prop_map(|i| format!("t{i}"));
        // One id per name, so a deletion finds the topic it names.
        let id = |name: &str| Uuid::from_u128(name[1..].parse::<u128>().unwrap() + 1);
        prop_oneof![
            (name.clone(), 1..4i32).prop_map(move |(name, n)| Command::CreateTopic {
                topic_id: id(&name),
                name,
                partitions: (0..n).map(|p| vec![p % 3 + 1]).collect(),
                configs: Default::default(),
            }),
            name.clone().prop_map(move |name| Command::DeleteTopic {
                topic_id: id(&name),
                name,
            }),
            (name.clone(), 0..100u32).prop_map(|(name, v)| Command::SetConfig {
                scope: ConfigScope::Topic(name),
                key: "retention.ms".into(),
                value: Some(v.to_string()),
            }),
            (0..100u32).prop_map(|v| Command::SetConfig {
                scope: ConfigScope::ClusterDefault,
                key: "log.retention.ms".into(),
                value: Some(v.to_string()),
            }),
            (name.clone(), 0..3i32, 1..4i32).prop_map(|(topic, partition, leader)| {
                Command::SetPartitionLeader {
                    topic,
                    partition,
                    leader,
                    leader_epoch: 1,
                }
            }),
            (name, 0..3i32, 1..4i32).prop_map(|(topic, partition, leader)| {
                Command::ChangePartition {
                    topic,
                    partition,
                    leader: Some(leader),
                    isr: Some(vec![leader]),
                    replicas: None,
                }
            }),
        ]
    }

    proptest! {
        /// A topic outside the delta is exactly as it was; one inside it
        /// differs (or appeared, or went).
        #[test]
        fn the_delta_names_exactly_the_changed_topics(
            before in proptest::collection::vec(command(), 0..30),
            after in proptest::collection::vec(command(), 0..10),
        ) {
            let mut old = MetadataImage::default();
            before.iter().for_each(|c| old.apply(c));
            let mut new = old.clone();
            after.iter().for_each(|c| new.apply(c));
            let delta = MetadataDelta::between(&old, &new);
            let names: BTreeSet<&String> = old.topics.keys().chain(new.topics.keys()).collect();
            for name in names {
                let same = old.topics.get(name) == new.topics.get(name);
                prop_assert_eq!(delta.topics.contains(name), !same, "{}", name);
            }
            prop_assert_eq!(delta.cluster_configs, old.cluster_configs != new.cluster_configs);
            prop_assert!(!MetadataDelta::between(&new, &new).touches("t0"));
        }
    }
}
