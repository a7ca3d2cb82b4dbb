//! Checking the batches of a produce request before any is written: CRC,
//! magic, size, record count, keys on compacted topics and timestamps, with
//! Kafka's per-record errors (KIP-467) where records are refused one by one.

use super::batch::{self, BatchHeader};
use super::partition_log::AppendError;
use super::LogConfig;

/// Checks every batch of a produce request before any is written: CRC, magic,
/// size, record count and timestamps. Returns each batch's position and header.
/// A producer's batch holds one record per offset of its span; a batch the
/// broker rewrote (`rewritten`) may hold fewer, down to none (its records
/// keep their offsets; see `log::rewrite`).
pub fn validate_batches(
    bytes: &[u8],
    config: &LogConfig,
    now: i64,
    rewritten: bool,
) -> Result<Vec<(usize, BatchHeader)>, AppendError> {
    let mut batches = Vec::new();
    let mut keyless = Vec::new();
    let mut records_before = 0i32;
    for item in batch::Batches::new(bytes) {
        let (position, header) = item.map_err(AppendError::Corrupt)?;
        if header.size > config.max_message_bytes {
            return Err(AppendError::TooLarge {
                size: header.size,
                max: config.max_message_bytes,
            });
        }
        let dense =
            header.records_count > 0 && header.last_offset_delta == header.records_count - 1;
        let sparse =
            header.records_count >= 0 && header.records_count <= header.last_offset_delta + 1;
        if !(dense || rewritten && sparse) {
            return Err(AppendError::InvalidRecord(format!(
                "batch declares {} records with last offset delta {}",
                header.records_count, header.last_offset_delta
            )));
        }
        if config.compact && !header.is_control() {
            // Keys are read in place: no copy of the records on the produce path.
            let raw = &bytes[position..position + header.size];
            let mut index = records_before;
            super::records::for_each_key(raw, &header, |key, _, _| {
                if key.is_none() {
                    keyless.push(index);
                }
                index += 1;
            })
            .map_err(AppendError::Corrupt)?;
        }
        records_before = records_before.saturating_add(header.records_count.max(0));
        if !config.log_append_time && !header.is_control() {
            let too_old =
                now.saturating_sub(header.base_timestamp) > config.timestamp_before_max_ms;
            let too_new = header.max_timestamp.saturating_sub(now) > config.timestamp_after_max_ms;
            if header.base_timestamp >= 0 && (too_old || too_new) {
                return Err(AppendError::InvalidTimestamp {
                    timestamp: if too_old {
                        header.base_timestamp
                    } else {
                        header.max_timestamp
                    },
                });
            }
        }
        batches.push((position, header));
    }
    if !keyless.is_empty() {
        return Err(invalid_records(
            keyless,
            "Compacted topic cannot accept message without key",
        ));
    }
    if batches.is_empty() {
        return Err(AppendError::InvalidRecord(
            "produce request holds no record batch".into(),
        ));
    }
    Ok(batches)
}

/// KIP-467's answer for records refused one by one: each record's error,
/// and a message that counts them and shows the first three, as Kafka's.
pub fn invalid_records(indexes: Vec<i32>, reason: &str) -> AppendError {
    let shown: Vec<String> = indexes
        .iter()
        .take(3)
        .map(|i| format!("record {i}: {reason}"))
        .collect();
    AppendError::InvalidRecords {
        message: format!(
            "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
            indexes.len(),
            shown.join(", ")
        ),
        records: indexes.into_iter().map(|i| (i, reason.to_string())).collect(),
    }
}
