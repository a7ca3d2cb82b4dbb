//! Groups' durable state in `__consumer_offsets`: records are appended to
//! the group's partition through the same log as user topics, and read back
//! in order at start-up (later records win; a null value deletes).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};

use super::records::{GroupValue, OffsetValue, RecordKey};
use crate::log::batch::{self, Batches};
use crate::partition::{AppendOrigin, PendingCommit, ReplicaManager};
use crate::protocol::error::{ApiError, ResponseError};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The `__consumer_offsets` partition that holds `group` (Kafka's choice:
/// the Java hash of the group id, made non-negative, modulo the count).
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let hash = group
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32));
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}

pub struct Store {
    replicas: Arc<ReplicaManager>,
}

/// What loading found for one group.
#[derive(Default)]
pub struct LoadedGroup {
    pub metadata: Option<GroupValue>,
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
}

impl Store {
    pub fn new(replicas: Arc<ReplicaManager>) -> Store {
        Store { replicas }
    }

    pub fn has_partition(&self, partition: i32) -> bool {
        self.replicas
            .get_by_name(OFFSETS_TOPIC, partition)
            .is_some()
    }

    /// Appends records (key, value or tombstone) as one batch, as leader;
    /// what to wait for before it is committed (acks=all), if anything.
    pub fn append(
        &self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<Option<PendingCommit>, ApiError> {
        if records.is_empty() {
            return Ok(None);
        }
        let Some(log) = self.replicas.get_by_name(OFFSETS_TOPIC, partition) else {
            return Err(ApiError::new(
                ResponseError::CoordinatorNotAvailable,
                format!("{OFFSETS_TOPIC}-{partition} is not hosted here"),
            ));
        };
        let batch = batch::encode(
            records.into_iter().map(|(k, v)| (Some(k), v)),
            crate::log::now_ms(),
            Compression::None,
        );
        let (info, _) = log.append_records(&batch, AppendOrigin::Coordinator, -1)?;
        Ok(PendingCommit::of(&log, &info))
    }

    /// The leader epoch of `partition` when this broker leads it.
    pub fn leader_epoch_if_led(&self, partition: i32) -> Option<i32> {
        let log = self.replicas.get_by_name(OFFSETS_TOPIC, partition)?;
        log.is_leader().then(|| log.leader_epoch())
    }

    /// Reads one partition of `__consumer_offsets`, to its log end.
    pub fn load_partition(&self, partition: i32) -> std::io::Result<HashMap<String, LoadedGroup>> {
        let mut groups: HashMap<String, LoadedGroup> = HashMap::new();
        let Some(log) = self.replicas.get_by_name(OFFSETS_TOPIC, partition) else {
            return Ok(groups);
        };
        let mut offset = log.log_start_offset();
        let end = log.log_end_offset();
        while offset < end {
            let data = log
                .read_to_log_end(offset, 1 << 20)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let bytes = data.read()?;
            if bytes.is_empty() {
                break;
            }
            offset = apply_batches(&bytes, offset, &mut groups)?;
        }
        Ok(groups)
    }
}

/// Applies each whole batch in `bytes`; returns the offset after the last.
fn apply_batches(
    bytes: &Bytes,
    mut next: i64,
    groups: &mut HashMap<String, LoadedGroup>,
) -> std::io::Result<i64> {
    for item in Batches::new(bytes) {
        let Ok((position, header)) = item else { break };
        next = header.next_offset();
        if header.is_control() {
            continue;
        }
        let mut slice = bytes.slice(position..position + header.size);
        let set = RecordBatchDecoder::decode(&mut slice)
            .map_err(|e| std::io::Error::other(format!("{OFFSETS_TOPIC}: {e}")))?;
        for record in set.records {
            let Some(key) = record.key else { continue };
            apply(&key, record.value.as_deref(), groups);
        }
    }
    Ok(next)
}

fn apply(key: &[u8], value: Option<&[u8]>, groups: &mut HashMap<String, LoadedGroup>) {
    let key = match RecordKey::decode(key) {
        Ok(Some(key)) => key,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "skipping a record");
            return;
        }
    };
    match key {
        RecordKey::Offset {
            group,
            topic,
            partition,
        } => {
            let entry = groups.entry(group).or_default();
            match value.map(OffsetValue::decode) {
                Some(Ok(v)) => {
                    entry.offsets.insert((topic, partition), v);
                }
                None => {
                    entry.offsets.remove(&(topic, partition));
                }
                Some(Err(e)) => tracing::warn!(error = %e, "skipping an offset"),
            }
        }
        RecordKey::Group(group) => {
            let entry = groups.entry(group).or_default();
            match value.map(GroupValue::decode) {
                Some(Ok(v)) => entry.metadata = Some(v),
                None => entry.metadata = None,
                Some(Err(e)) => tracing::warn!(error = %e, "skipping a group"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_matches_kafka() {
        // Java: "my-group".hashCode() == -1906497762; abs % 50 == 12.
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("", 50), 0);
    }
}
