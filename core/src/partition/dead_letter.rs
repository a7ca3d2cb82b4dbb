//! Dead letters: when a plugin bound with `weir.plugin.on-error=dead-letter`
//! fails on a batch, the batch's original records are set aside here, to be
//! appended to the topic's dead-letter topic, while the partition they were
//! sent to keeps the batch's identity with no records (so an idempotent
//! producer's retry is still recognised and nothing is appended twice).
//! Each dead record carries headers saying where it was going and why it
//! did not get there.

use bytes::Bytes;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record};

use crate::log::rewrite::encode_records;

/// The topic config naming a topic's dead-letter topic.
pub const TOPIC_CONFIG: &str = "weir.plugin.dead-letter.topic";

/// The dead-letter topic of `topic` when `weir.plugin.dead-letter.topic`
/// is not set.
pub fn default_topic(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

/// Records a failing plugin could not handle.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The plugin that failed, and how.
    pub plugin: String,
    pub error: String,
    /// The records as the producer sent them.
    pub records: Vec<Record>,
}

impl DeadLetter {
    /// The records as one plain batch (no producer id: the dead-letter
    /// topic is not the producer's), each with the headers
    /// `weir.dead-letter.{topic,partition,plugin,error}` added to its own.
    pub fn encode(&self, topic: &str, partition: i32) -> Vec<u8> {
        let added = [
            ("weir.dead-letter.topic", topic.to_string()),
            ("weir.dead-letter.partition", partition.to_string()),
            ("weir.dead-letter.plugin", self.plugin.clone()),
            ("weir.dead-letter.error", self.error.clone()),
        ];
        let records: Vec<Record> = self
            .records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for (name, value) in &added {
                    r.headers.insert(
                        StrBytes::from_static_str(name),
                        Some(Bytes::from(value.clone())),
                    );
                }
                r
            })
            .collect();
        encode_records(&records, Compression::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{validate, Batches};
    use crate::partition::partitioner::decode;
    use kafka_protocol::records::TimestampType;

    #[test]
    fn dead_records_keep_their_content_and_say_why() {
        let record = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: 7,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: 3,
            timestamp: 1234,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
        };
        let letter = DeadLetter {
            plugin: "bomb".into(),
            error: "trapped: out of memory".into(),
            records: vec![record.clone(), record],
        };
        let bytes = letter.encode("orders", 2);
        validate(&bytes).expect("a valid batch");
        let header = Batches::new(&bytes).next().unwrap().unwrap().1;
        assert_eq!(header.producer_id, -1, "not the producer's batch");
        let records = decode(&bytes).unwrap();
        assert_eq!(records.len(), 2);
        let header =
            |name: &str| records[1].headers[&StrBytes::from_string(name.to_string())].clone();
        assert_eq!(records[1].value.as_deref(), Some(&b"v"[..]));
        assert_eq!(records[1].timestamp, 1234);
        assert_eq!(header("weir.dead-letter.topic").unwrap(), "orders");
        assert_eq!(header("weir.dead-letter.partition").unwrap(), "2");
        assert_eq!(header("weir.dead-letter.plugin").unwrap(), "bomb");
        assert_eq!(
            header("weir.dead-letter.error").unwrap(),
            "trapped: out of memory"
        );
    }
}
