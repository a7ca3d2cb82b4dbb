//! Snapshots of the metadata image, so the metadata log can be truncated
//! behind them and a new or long-absent node can start from one instead of
//! the whole log. The controller quorum keeps them inside its Raft log
//! (`quorum::log`) and sends them to members that fell behind it.
//!
//! A snapshot is `WEIRSNAP` · version (u16 BE) · the Raft index and
//! term of the last entry it includes (u64 BE each) · body length (u64 BE)
//! · crc32c of the body (u32 BE) · body (the image as JSON). Readers refuse
//! a newer version, a short snapshot and a checksum mismatch, naming which.

use super::image::MetadataImage;

const MAGIC: &[u8; 8] = b"WEIRSNAP";
const VERSION: u16 = 1;
const HEADER: usize = 8 + 2 + 8 + 8 + 8 + 4;

/// A snapshot: the image after applying the log up to `index` (of `term`).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub index: u64,
    pub term: u64,
    pub image: MetadataImage,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("not a Weir metadata snapshot")]
    NotASnapshot,
    #[error("snapshot version {0} is newer than this broker reads ({VERSION})")]
    TooNew(u16),
    #[error("the snapshot is cut short: {have} of {want} bytes")]
    Short { have: usize, want: usize },
    #[error("the snapshot's checksum does not match: it is damaged")]
    Damaged,
    #[error("the snapshot's image cannot be read: {0}")]
    Unreadable(String),
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(&self.image).expect("an image serializes");
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.term.to_be_bytes());
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        if bytes.len() < 10 || &bytes[..8] != MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = u16::from_be_bytes([bytes[8], bytes[9]]);
        if version > VERSION {
            return Err(SnapshotError::TooNew(version));
        }
        if bytes.len() < HEADER {
            return Err(SnapshotError::Short {
                have: bytes.len(),
                want: HEADER,
            });
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let (index, term, len) = (u64_at(10), u64_at(18), u64_at(26) as usize);
        let crc = u32::from_be_bytes(bytes[34..38].try_into().expect("4 bytes"));
        let want = HEADER.saturating_add(len);
        let body = bytes.get(HEADER..want).ok_or(SnapshotError::Short {
            have: bytes.len(),
            want,
        })?;
        if crc32c::crc32c(body) != crc {
            return Err(SnapshotError::Damaged);
        }
        let mut image: MetadataImage =
            serde_json::from_slice(body).map_err(|e| SnapshotError::Unreadable(e.to_string()))?;
        image.rebuild_indexes();
        Ok(Snapshot { index, term, image })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::command::{Artifact, Command, ConfigScope, DeployedPlugin};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn command() -> impl Strategy<Value = Command> {
        let name = (0..8u8).prop_map(|n| format!("topic-{n}"));
        prop_oneof![
            (name.clone(), any::<u128>(), 1..5usize).prop_map(|(name, id, n)| {
                Command::CreateTopic {
                    name,
                    topic_id: Uuid::from_u128(id),
                    partitions: vec![vec![1, 2]; n],
                    configs: [("cleanup.policy".to_string(), "compact".to_string())].into(),
                }
            }),
            (name.clone(), 0..1000u32).prop_map(|(name, v)| Command::SetConfig {
                scope: ConfigScope::Topic(name),
                key: "retention.ms".into(),
                value: Some(v.to_string()),
            }),
            (0..4u8).prop_map(|g| Command::SetConfig {
                scope: ConfigScope::Group(format!("g{g}")),
                key: "consumer.session.timeout.ms".into(),
                value: Some("50000".into()),
            }),
            (1..5i32).prop_map(|id| Command::RegisterBroker {
                id,
                host: "127.0.0.1".into(),
                port: 9092,
                rack: Some(format!("r{id}")),
                listeners: Vec::new(),
            }),
            (0..1000i64).prop_map(|first| Command::AllocateProducerIds { first, count: 1000 }),
            (name.clone(), 0..3i32).prop_map(|(topic, partition)| Command::SetPartitionLeader {
                topic,
                partition,
                leader: 2,
                leader_epoch: 4,
            }),
            (name.clone(), 0..3i32).prop_map(|(topic, partition)| Command::ChangePartition {
                topic,
                partition,
                leader: Some(-1),
                isr: Some(vec![2]),
                replicas: Some(vec![2, 1]),
            }),
            (name.clone(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
                |(name, bytes)| Command::DeployPlugin(DeployedPlugin {
                    name,
                    kind: "partitioner".into(),
                    sha256: "ab".repeat(32),
                    timeout_ms: 100,
                    memory_mb: 16,
                    max_output_bytes: 1 << 20,
                    config: Default::default(),
                    deployed_at_ms: 1,
                    artifact: Artifact(bytes.into()),
                })
            ),
            (name.clone(), 1..4i32, any::<bool>()).prop_map(|(name, broker, running)| {
                Command::PluginRunning {
                    broker,
                    name,
                    sha256: running.then(|| "cd".repeat(32)),
                }
            }),
            name.clone().prop_map(|name| Command::RemovePlugin { name }),
            (name.clone(), 2..5i8, any::<bool>()).prop_map(|(resource_name, operation, create)| {
                let acl = crate::security::acl::AclBinding {
                    resource_type: 2,
                    resource_name,
                    pattern_type: 3,
                    principal: "User:alice".into(),
                    host: "*".into(),
                    operation,
                    permission: 3,
                };
                if create {
                    Command::CreateAcls { acls: vec![acl] }
                } else {
                    Command::DeleteAcls { acls: vec![acl] }
                }
            }),
            (name.clone(), 0..3u8, proptest::option::of(1..1000u32)).prop_map(
                |(user, shape, value)| {
                    use crate::metadata::command::{QuotaEntity, QuotaName};
                    let entity = match shape {
                        0 => QuotaEntity {
                            user: Some(QuotaName::Name(user)),
                            client_id: None,
                        },
                        1 => QuotaEntity {
                            user: Some(QuotaName::Default),
                            client_id: Some(QuotaName::Name(user)),
                        },
                        _ => QuotaEntity {
                            user: None,
                            client_id: Some(QuotaName::Default),
                        },
                    };
                    Command::SetClientQuota {
                        entity,
                        key: "producer_byte_rate".into(),
                        value: value.map(f64::from),
                    }
                }
            ),
            (name, any::<bool>(), any::<bool>()).prop_map(|(user, sha512, set)| {
                Command::SetScramCredential {
                    user,
                    mechanism: if sha512 {
                        "SCRAM-SHA-512"
                    } else {
                        "SCRAM-SHA-256"
                    }
                    .into(),
                    credential: set.then(|| crate::metadata::command::ScramCredential {
                        salt: "c2FsdA==".into(),
                        stored_key: "a2V5".into(),
                        server_key: "a2V5".into(),
                        iterations: 4096,
                    }),
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn any_image_reads_back_as_it_was(commands in proptest::collection::vec(command(), 0..60)) {
            let mut image = MetadataImage::default();
            commands.iter().for_each(|c| image.apply(c));
            let snapshot = Snapshot { index: commands.len() as u64, term: 3, image };
            prop_assert_eq!(Snapshot::decode(&snapshot.encode()).unwrap(), snapshot);
        }
    }

    fn sample() -> Snapshot {
        let mut image = MetadataImage::default();
        image.apply(&Command::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(9),
            partitions: vec![vec![1]],
            configs: Default::default(),
        });
        Snapshot {
            index: 7,
            term: 2,
            image,
        }
    }

    #[test]
    fn damage_is_named_never_read_as_an_image() {
        let bytes = sample().encode();
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 0x20;
        assert_eq!(Snapshot::decode(&flipped), Err(SnapshotError::Damaged));
        assert!(matches!(
            Snapshot::decode(&bytes[..bytes.len() - 3]),
            Err(SnapshotError::Short { .. })
        ));
        let mut newer = bytes.clone();
        newer[9] = 9;
        assert_eq!(Snapshot::decode(&newer), Err(SnapshotError::TooNew(9)));
        assert_eq!(Snapshot::decode(b"hello"), Err(SnapshotError::NotASnapshot));
        let read = Snapshot::decode(&bytes).unwrap();
        assert_eq!(read.image.topic_names[&Uuid::from_u128(9)], "t");
    }
}
