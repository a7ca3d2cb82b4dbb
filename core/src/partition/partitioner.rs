//! The partitioner seam: the partition layer asks a `Partitioner` where each
//! record of a produced batch belongs (a WASM plugin implements it; see
//! `plugin/`), and applies the topic's mode: `verify` refuses a record
//! addressed to another partition; `route` splits the batch so each record
//! is appended where it belongs.
//!
//! Records cross to the partitioner packed: one byte buffer holding every
//! key, value and header, plus flat index arrays (the shape of
//! `weir:plugin/types.record-batch`).

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder};

use super::dead_letter::DeadLetter;
use crate::log::batch::{BatchHeader, Batches};
pub use crate::log::records::{HeaderRef, PackedRecords, RecordRef};
use crate::protocol::error::{ApiError, ResponseError};

/// Why a partitioner gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginFailure {
    /// The plugin returned an error: its message.
    Refused(String),
    /// It trapped, ran out of time or memory, or answered nonsense.
    Failed(String),
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginFailure::Refused(m) => write!(f, "refused the batch: {m}"),
            PluginFailure::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// Decides the partition of each record (a plugin, or native code).
pub trait Partitioner: Send + Sync {
    fn name(&self) -> &str;
    /// One partition per record of `records`, in order.
    fn partition(
        &self,
        topic: &str,
        partition: i32,
        partition_count: u32,
        records: PackedRecords,
    ) -> Result<Vec<u32>, PluginFailure>;
    /// Told when an answer fails the checks made on it here (a partition
    /// out of range), so that a plugin counts it among its failures.
    fn answered_badly(&self, _why: &str) {}
}

/// How a partitioned topic treats records addressed elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Route,
    Verify,
}

/// What to do with a batch when a plugin bound to its topic fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Fail the request with POLICY_VIOLATION; nothing is appended.
    Reject,
    /// Go on as if the plugin were not bound.
    Skip,
    /// Append the batch's records to the dead-letter topic instead
    /// (produce only; a fetch treats it as `Reject`).
    DeadLetter,
}

impl OnError {
    /// The value of the topic config `weir.plugin.on-error`.
    pub fn from_config(value: &str) -> OnError {
        match value {
            "skip" => OnError::Skip,
            "dead-letter" => OnError::DeadLetter,
            _ => OnError::Reject,
        }
    }
}

/// The produced bytes for each partition they must be appended to.
pub type Placement = BTreeMap<i32, Vec<u8>>;

/// Places the batches of one produce request addressed to `partition`.
/// Batches that stay where they were sent are kept byte for byte.
/// Batches the partitioner failed on go to `dead` when `on_error` says so.
pub fn place(
    partitioner: &dyn Partitioner,
    (mode, on_error): (Mode, OnError),
    topic: &str,
    partition: i32,
    partition_count: u32,
    bytes: &[u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Placement, ApiError> {
    let mut placement = Placement::new();
    for item in Batches::new(bytes) {
        let (position, header) =
            item.map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))?;
        let raw = &bytes[position..position + header.size];
        let (packed, _) = pack(raw, &header)?;
        let count = packed.records.len();
        let answer = partitioner
            .partition(topic, partition, partition_count, packed)
            .and_then(|targets| {
                let valid =
                    targets.len() == count && targets.iter().all(|t| *t < partition_count);
                if valid {
                    Ok(targets)
                } else {
                    let why = format!(
                        "answered {} partitions for {count} records, or a partition outside 0..{partition_count}",
                        targets.len(),
                    );
                    partitioner.answered_badly(&why);
                    Err(PluginFailure::Failed(why))
                }
            });
        let targets = match (answer, on_error) {
            (Ok(targets), _) => targets,
            (Err(_), OnError::Skip) => {
                placement
                    .entry(partition)
                    .or_default()
                    .extend_from_slice(raw);
                continue;
            }
            (Err(failure), OnError::Reject) => return Err(rejected(partitioner.name(), failure)),
            (Err(failure), OnError::DeadLetter) => {
                if header.producer_id >= 0 {
                    let codec = super::interceptor::codec(&header)?;
                    placement
                        .entry(partition)
                        .or_default()
                        .extend(keep_identity_only(raw, codec)?);
                }
                dead.push(DeadLetter {
                    plugin: partitioner.name().to_string(),
                    error: failure.to_string(),
                    records: decode(raw)?,
                });
                continue;
            }
        };
        if let Some((i, t)) = targets
            .iter()
            .enumerate()
            .find(|(_, t)| **t as i32 != partition)
        {
            if mode == Mode::Verify {
                return Err(ApiError::new(
                    ResponseError::InvalidRecord,
                    format!(
                        "record {i} belongs in partition {t} of {topic}, not {partition} (weir.partitioner={})",
                        partitioner.name()
                    ),
                ));
            }
        } else {
            placement
                .entry(partition)
                .or_default()
                .extend_from_slice(raw);
            continue;
        }
        route(
            &header,
            raw,
            decode(raw)?,
            &targets,
            partition,
            &mut placement,
        )?;
    }
    Ok(placement)
}

fn rejected(name: &str, failure: PluginFailure) -> ApiError {
    ApiError::new(
        ResponseError::PolicyViolation,
        format!("plugin {name} {failure}"),
    )
}

/// A batch's records packed for a plugin, with each record's offset delta.
pub(super) fn pack(
    raw: &[u8],
    header: &BatchHeader,
) -> Result<(PackedRecords, Vec<i32>), ApiError> {
    crate::log::records::pack_batch(raw, header)
        .map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))
}

/// The batch `raw` with its identity and none of its records.
pub(super) fn keep_identity_only(raw: &[u8], codec: Compression) -> Result<Vec<u8>, ApiError> {
    crate::log::rewrite::encode_keeping_identity(raw, &[], codec)
        .map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))
}

pub(super) fn decode(raw: &[u8]) -> Result<Vec<Record>, ApiError> {
    let mut buf = Bytes::copy_from_slice(raw);
    RecordBatchDecoder::decode(&mut buf)
        .map(|set| set.records)
        .map_err(|e| {
            ApiError::new(
                ResponseError::CorruptMessage,
                format!("cannot decode records: {e}"),
            )
        })
}

/// Splits one batch by target partition. An idempotent batch keeps its
/// identity (producer id, epoch, base sequence, offset span) in the
/// partition it was sent to, holding the records that stay (possibly none),
/// so a retry is still recognised there; records that move are appended to
/// their partitions as plain batches.
fn route(
    header: &BatchHeader,
    raw: &[u8],
    records: Vec<Record>,
    targets: &[u32],
    partition: i32,
    placement: &mut Placement,
) -> Result<(), ApiError> {
    let codec = super::interceptor::codec(header)?;
    let mut groups: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    for (record, target) in records.into_iter().zip(targets) {
        groups.entry(*target as i32).or_default().push(record);
    }
    let staying = groups.remove(&partition).unwrap_or_default();
    if header.producer_id >= 0 {
        let kept = crate::log::rewrite::encode_keeping_identity(raw, &staying, codec)
            .map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))?;
        placement.entry(partition).or_default().extend(kept);
    } else if !staying.is_empty() {
        placement
            .entry(partition)
            .or_default()
            .extend(crate::log::rewrite::encode_records(&staying, codec));
    }
    for (target, moved) in groups {
        placement
            .entry(target)
            .or_default()
            .extend(crate::log::rewrite::encode_records(&moved, codec));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_idempotent, validate};
    use kafka_protocol::records::Compression;

    /// A native partitioner: the first byte of the key, modulo the count.
    struct FirstByte;

    impl Partitioner for FirstByte {
        fn name(&self) -> &str {
            "first-byte"
        }
        fn partition(
            &self,
            _: &str,
            _: i32,
            count: u32,
            records: PackedRecords,
        ) -> Result<Vec<u32>, PluginFailure> {
            Ok(records
                .records
                .iter()
                .map(|r| records.data[r.key_offset as usize] as u32 % count)
                .collect())
        }
    }

    fn batch(keys: &[u8], identity: (i64, i16, i32)) -> Vec<u8> {
        let records = keys
            .iter()
            .map(|k| (Some(Bytes::from(vec![*k])), Some(Bytes::from_static(b"v"))));
        encode_idempotent(records, 1_000, Compression::Lz4, identity)
    }

    #[test]
    fn verify_names_the_right_partition() {
        let err = place(
            &FirstByte,
            (Mode::Verify, OnError::Reject),
            "t",
            0,
            4,
            &batch(&[0, 4, 6], (-1, -1, -1)),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.error, ResponseError::InvalidRecord);
        let message = err.to_string();
        assert!(
            message.contains("record 2 belongs in partition 2 of t, not 0"),
            "{message}"
        );
        assert!(message.contains("weir.partitioner=first-byte"), "{message}");
    }

    #[test]
    fn route_keeps_what_stays_and_the_producers_identity() {
        let placed = place(
            &FirstByte,
            (Mode::Route, OnError::Reject),
            "t",
            1,
            4,
            &batch(&[1, 2, 5, 3], (7, 0, 10)),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(placed.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        let stays = validate(&placed[&1]).unwrap();
        assert_eq!((stays.producer_id, stays.base_sequence), (7, 10));
        assert_eq!((stays.records_count, stays.last_offset_delta), (2, 3));
        let moved = validate(&placed[&2]).unwrap();
        assert_eq!((moved.producer_id, moved.records_count), (-1, 1));
        // A batch that stays entirely is kept byte for byte.
        let same = batch(&[1, 5], (-1, -1, -1));
        let route = (Mode::Route, OnError::Reject);
        let placed = place(&FirstByte, route, "t", 1, 4, &same, &mut Vec::new()).unwrap();
        assert_eq!(placed[&1], same);
    }

    /// A partitioner that always fails.
    struct Broken;

    impl Partitioner for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn partition(
            &self,
            _: &str,
            _: i32,
            _: u32,
            _: PackedRecords,
        ) -> Result<Vec<u32>, PluginFailure> {
            Err(PluginFailure::Failed("trapped: unreachable".into()))
        }
    }

    #[test]
    fn dead_letters_keep_an_idempotent_identity_and_the_records() {
        let mut dead = Vec::new();
        let sent = batch(&[1, 2], (7, 0, 10));
        let placed = place(
            &Broken,
            (Mode::Route, OnError::DeadLetter),
            "t",
            1,
            4,
            &sent,
            &mut dead,
        )
        .unwrap();
        let kept = validate(&placed[&1]).unwrap();
        assert_eq!(
            (kept.producer_id, kept.base_sequence, kept.records_count),
            (7, 10, 0)
        );
        assert_eq!(
            kept.last_offset_delta, 1,
            "the span a retry is recognised by"
        );
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].plugin, "broken");
        assert_eq!(dead[0].error, "failed: trapped: unreachable");
        assert_eq!(dead[0].records.len(), 2);
        // Without a producer id there is nothing to keep.
        let plain = batch(&[1], (-1, -1, -1));
        let placed = place(
            &Broken,
            (Mode::Route, OnError::DeadLetter),
            "t",
            1,
            4,
            &plain,
            &mut dead,
        )
        .unwrap();
        assert!(placed.is_empty());
        assert_eq!(dead.len(), 2);
    }
}
