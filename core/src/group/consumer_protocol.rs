//! The consumer protocol that classic consumers embed in JoinGroup metadata
//! (ConsumerProtocolSubscription) and SyncGroup assignments
//! (ConsumerProtocolAssignment): a version (i16) and the message at that
//! version. The coordinator reads them only to move a group between the
//! classic and the KIP-848 protocols, where it must know each classic
//! member's topics and partitions.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// The newest version this codec reads and writes; newer versions only
/// append fields, so they are read as this one.
const NEWEST: i16 = 3;

/// What a classic member subscribes to and says it owns, by topic name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    pub version: i16,
    pub topics: Vec<String>,
    pub owned: BTreeSet<(String, i32)>,
    pub rack_id: Option<String>,
}

/// Why embedded protocol bytes could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed embedded consumer protocol: {0}")]
pub struct Malformed(String);

fn version_of(buf: &mut Bytes) -> Result<i16, Malformed> {
    if buf.len() < 2 {
        return Err(Malformed("shorter than its version".into()));
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(Malformed(format!("version {version}")));
    }
    Ok(version)
}

/// The version of an embedded message, without reading the rest.
pub fn version(metadata: &Bytes) -> i16 {
    version_of(&mut metadata.clone()).unwrap_or(0)
}

pub fn decode_subscription(metadata: &Bytes) -> Result<Subscription, Malformed> {
    let mut buf = metadata.clone();
    let version = version_of(&mut buf)?;
    let s = ConsumerProtocolSubscription::decode(&mut buf, version.min(NEWEST))
        .map_err(|e| Malformed(e.to_string()))?;
    Ok(Subscription {
        version,
        topics: s.topics.iter().map(|t| t.to_string()).collect(),
        owned: s
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
            .collect(),
        rack_id: s.rack_id.map(|r| r.to_string()),
    })
}

/// An assignment's partitions by topic name; empty bytes are an empty assignment.
pub fn decode_assignment(assignment: &Bytes) -> Result<BTreeSet<(String, i32)>, Malformed> {
    if assignment.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut buf = assignment.clone();
    let version = version_of(&mut buf)?;
    let a = ConsumerProtocolAssignment::decode(&mut buf, version.min(NEWEST))
        .map_err(|e| Malformed(e.to_string()))?;
    Ok(a.assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
        .collect())
}

/// Encodes partitions (sorted by topic) as an assignment at `version`.
pub fn encode_assignment(partitions: &BTreeSet<(String, i32)>, version: i16) -> Bytes {
    let version = version.clamp(0, NEWEST);
    let mut topics: Vec<AssignedTopic> = Vec::new();
    for (topic, partition) in partitions {
        match topics.last_mut() {
            Some(t) if t.topic.as_str() == topic => t.partitions.push(*partition),
            _ => topics.push(
                AssignedTopic::default()
                    .with_topic(StrBytes::from_string(topic.clone()).into())
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    let message = ConsumerProtocolAssignment::default().with_assigned_partitions(topics);
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    message
        .encode(&mut buf, version)
        .expect("an assignment always encodes");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;

    fn subscription(version: i16) -> Bytes {
        let s = ConsumerProtocolSubscription::default()
            .with_topics(vec![StrBytes::from_static_str("a")])
            .with_owned_partitions(vec![OwnedTopic::default()
                .with_topic(StrBytes::from_static_str("a").into())
                .with_partitions(vec![0, 2])])
            .with_rack_id(Some(StrBytes::from_static_str("r1")));
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        s.encode(&mut buf, version.min(NEWEST)).unwrap();
        buf.freeze()
    }

    #[test]
    fn reads_every_version_of_a_subscription() {
        let v0 = decode_subscription(&subscription(0)).unwrap();
        assert_eq!(v0.topics, vec!["a"]);
        assert!(v0.owned.is_empty() && v0.rack_id.is_none());
        let v3 = decode_subscription(&subscription(3)).unwrap();
        assert_eq!(v3.owned.len(), 2);
        assert_eq!(v3.rack_id.as_deref(), Some("r1"));
        assert!(decode_subscription(&Bytes::from_static(&[0])).is_err());
    }

    #[test]
    fn assignments_round_trip() {
        let parts: BTreeSet<(String, i32)> = [
            ("a".to_string(), 1),
            ("a".to_string(), 3),
            ("b".to_string(), 0),
        ]
        .into();
        for version in 0..=4 {
            let bytes = encode_assignment(&parts, version);
            assert_eq!(decode_assignment(&bytes).unwrap(), parts);
        }
        assert!(decode_assignment(&Bytes::new()).unwrap().is_empty());
    }
}
