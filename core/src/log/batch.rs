//! The RecordBatch v2 header, read and patched in place.
//!
//! The log stores batches exactly as producers sent them. The broker only reads
//! the fixed 61-byte header (to validate and index a batch) and writes the fields
//! that are the broker's to write: base offset, partition leader epoch and, for
//! LogAppendTime topics, the timestamps (which forces a fresh CRC).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use thiserror::Error;

/// Size of the fixed RecordBatch v2 header.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the `batchLength` field ends: base offset (8) + length (4).
pub const LOG_OVERHEAD: usize = 12;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORDS_COUNT: usize = 57;

const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const CONTROL_BIT: i16 = 1 << 5;
/// KIP-534: the base timestamp holds the batch's delete horizon.
pub const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// Why a run of bytes is not a valid batch.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record batch is truncated: {0}")]
    Truncated(String),
    #[error("record batch has magic {0}; only magic 2 is supported")]
    UnsupportedMagic(i8),
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CorruptCrc { stored: u32, computed: u32 },
    #[error("invalid record batch: {0}")]
    Invalid(String),
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The header fields of one batch, decoded from its first 61 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Total size of the batch on disk, including the 12-byte log overhead.
    pub size: usize,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads a header from the start of `bytes` (which must hold at least 61 bytes).
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
        if bytes.len() < HEADER_SIZE {
            return Err(BatchError::Truncated(format!(
                "{} bytes, a header needs {HEADER_SIZE}",
                bytes.len()
            )));
        }
        let length = i32_at(bytes, BATCH_LENGTH);
        if length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return Err(BatchError::Invalid(format!(
                "batch length {length} is too small"
            )));
        }
        let magic = bytes[MAGIC] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        Ok(BatchHeader {
            base_offset: i64_at(bytes, BASE_OFFSET),
            size: length as usize + LOG_OVERHEAD,
            partition_leader_epoch: i32_at(bytes, LEADER_EPOCH),
            magic,
            crc: i32_at(bytes, CRC) as u32,
            attributes: i16_at(bytes, ATTRIBUTES),
            last_offset_delta: i32_at(bytes, LAST_OFFSET_DELTA),
            base_timestamp: i64_at(bytes, BASE_TIMESTAMP),
            max_timestamp: i64_at(bytes, MAX_TIMESTAMP),
            producer_id: i64_at(bytes, PRODUCER_ID),
            producer_epoch: i16_at(bytes, PRODUCER_EPOCH),
            base_sequence: i32_at(bytes, BASE_SEQUENCE),
            records_count: i32_at(bytes, RECORDS_COUNT),
        })
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    pub fn compression(&self) -> i16 {
        self.attributes & 0x7
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
    /// When the log cleaner may drop this batch's tombstones (KIP-534: set
    /// by the first clean that kept them); none before that clean.
    pub fn delete_horizon(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }
}

/// The codec of a batch, from its attributes.
pub fn codec(header: &BatchHeader) -> Result<kafka_protocol::records::Compression, BatchError> {
    use kafka_protocol::records::Compression;
    Ok(match header.compression() {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        other => {
            return Err(BatchError::Invalid(format!(
                "unknown compression codec {other}"
            )))
        }
    })
}

/// CRC32C over the bytes the batch CRC covers (attributes to the end).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES..])
}

/// Parses the header of the batch at the start of `bytes` and checks that the
/// whole batch is present and its CRC matches.
pub fn validate(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes)?;
    if bytes.len() < header.size {
        return Err(BatchError::Truncated(format!(
            "batch declares {} bytes, {} present",
            header.size,
            bytes.len()
        )));
    }
    let computed = compute_crc(&bytes[..header.size]);
    if computed != header.crc {
        return Err(BatchError::CorruptCrc {
            stored: header.crc,
            computed,
        });
    }
    Ok(header)
}

/// Iterates over the batches of a buffer, validating each (used on produce and
/// in recovery). Stops with an error at the first bad batch.
pub struct Batches<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Batches<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Batches { bytes, position: 0 }
    }
}

impl<'a> Iterator for Batches<'a> {
    /// (position of the batch in the buffer, its header)
    type Item = Result<(usize, BatchHeader), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.position >= self.bytes.len() {
            return None;
        }
        let start = self.position;
        match validate(&self.bytes[start..]) {
            Ok(header) => {
                self.position += header.size;
                Some(Ok((start, header)))
            }
            Err(e) => {
                self.position = self.bytes.len();
                Some(Err(e))
            }
        }
    }
}

/// The length of the longest prefix of `bytes` made of whole batches (by
/// their declared sizes): a fetch read cut at its byte limit may end part
/// way through a batch, which a client drops and fetches again later.
pub fn whole_batches_len(bytes: &[u8]) -> usize {
    let mut position = 0;
    while let Some(length) = bytes.get(position + 8..position + LOG_OVERHEAD) {
        let length = i32::from_be_bytes(length.try_into().expect("four bytes"));
        let size = LOG_OVERHEAD + length.max(0) as usize;
        if position + size > bytes.len() {
            break;
        }
        position += size;
    }
    position
}

/// The header of a batch about to be appended, with the broker-owned fields
/// written: base offset and partition leader epoch (outside the CRC) and, for
/// LogAppendTime topics, the timestamp type and max timestamp (inside it, so
/// the CRC is recomputed over the new header and the untouched body). The
/// body after the header is written as the producer sent it.
pub fn assigned_header(
    batch: &[u8],
    base_offset: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) -> [u8; HEADER_SIZE] {
    let mut header: [u8; HEADER_SIZE] = batch[..HEADER_SIZE].try_into().expect("a whole header");
    header[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    header[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&leader_epoch.to_be_bytes());
    if let Some(now) = log_append_time {
        let attributes = i16_at(&header, ATTRIBUTES) | TIMESTAMP_TYPE_BIT;
        header[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
        header[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now.to_be_bytes());
        let crc =
            crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES..]), &batch[HEADER_SIZE..]);
        header[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    }
    header
}

/// `assigned_header`, written back into the batch.
pub fn assign(batch: &mut [u8], base_offset: i64, leader_epoch: i32, log_append_time: Option<i64>) {
    let header = assigned_header(batch, base_offset, leader_epoch, log_append_time);
    batch[..HEADER_SIZE].copy_from_slice(&header);
}

/// Encodes (key, value) pairs as one RecordBatch v2, the way a producer sends
/// it: offsets from 0, timestamps from `first_timestamp` one millisecond apart,
/// no producer id. For the broker's own writers, tests and benchmarks.
pub fn encode(
    records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    first_timestamp: i64,
    compression: Compression,
) -> Vec<u8> {
    encode_idempotent(records, first_timestamp, compression, (-1, -1, -1))
}

/// `encode` for an idempotent producer: (producer id, epoch, base sequence).
pub fn encode_idempotent(
    records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    first_timestamp: i64,
    compression: Compression,
    (producer_id, producer_epoch, base_sequence): (i64, i16, i32),
) -> Vec<u8> {
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder derives the base sequence from the first record and
            // starts a new batch when offset - sequence changes.
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: first_timestamp + i as i64,
            key,
            value,
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("records encode into memory");
    buf.to_vec()
}

/// Re-encodes the batches of `bytes` whose codec is not `target` (control
/// batches excepted), keeping every record field and the producer id, epoch
/// and sequences, as Kafka does for a topic whose `compression.type` is not
/// `producer`. Offsets are assigned afterwards, as for any batch.
pub fn recompress(bytes: &[u8], target: Compression) -> Result<Vec<u8>, BatchError> {
    let mut out = BytesMut::with_capacity(bytes.len());
    for item in Batches::new(bytes) {
        let (position, header) = item?;
        let batch = &bytes[position..position + header.size];
        if header.is_control() || header.compression() == target as i16 {
            out.extend_from_slice(batch);
            continue;
        }
        let mut buf = Bytes::copy_from_slice(batch);
        let set = RecordBatchDecoder::decode(&mut buf)
            .map_err(|e| BatchError::Invalid(format!("cannot decode records: {e}")))?;
        let options = RecordEncodeOptions {
            version: 2,
            compression: target,
        };
        RecordBatchEncoder::encode(&mut out, &set.records, &options)
            .map_err(|e| BatchError::Invalid(format!("cannot re-encode records: {e}")))?;
    }
    Ok(out.to_vec())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kafka_protocol::records::Compression;

    /// Encodes `count` records (key `k{i}`, value `v{i}`) as one v2 batch.
    pub fn make_batch(count: usize, timestamp: i64, compression: Compression) -> Vec<u8> {
        let records =
            (0..count).map(|i| (Some(format!("k{i}").into()), Some(format!("v{i}").into())));
        encode(records, timestamp, compression)
    }

    #[test]
    fn parses_and_validates_an_encoded_batch() {
        let batch = make_batch(3, 1_000, Compression::None);
        let header = validate(&batch).unwrap();
        assert_eq!(header.records_count, 3);
        assert_eq!(header.last_offset_delta, 2);
        assert_eq!(header.size, batch.len());
        assert_eq!(header.max_timestamp, 1_002);
    }

    #[test]
    fn whole_batches_stop_before_a_cut_batch() {
        let one = make_batch(3, 1_000, Compression::None);
        let mut two = one.clone();
        two.extend_from_slice(&make_batch(5, 2_000, Compression::None));
        assert_eq!(whole_batches_len(&two), two.len());
        for cut in [1, 11, 12, 40, two.len() - one.len() - 1] {
            assert_eq!(
                whole_batches_len(&two[..two.len() - cut]),
                one.len(),
                "cut {cut}"
            );
        }
        assert_eq!(whole_batches_len(&one[..10]), 0);
    }

    #[test]
    fn detects_a_flipped_bit() {
        let mut batch = make_batch(3, 1_000, Compression::Lz4);
        let last = batch.len() - 1;
        batch[last] ^= 1;
        assert!(matches!(
            validate(&batch),
            Err(BatchError::CorruptCrc { .. })
        ));
    }

    #[test]
    fn assign_keeps_crc_valid() {
        let mut batch = make_batch(2, 1_000, Compression::None);
        assign(&mut batch, 42, 7, None);
        let header = validate(&batch).unwrap();
        assert_eq!((header.base_offset, header.partition_leader_epoch), (42, 7));
        assign(&mut batch, 43, 7, Some(5_000));
        let header = validate(&batch).unwrap();
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 5_000);
    }

    #[test]
    fn recompress_changes_the_codec_and_keeps_the_records() {
        let mut bytes = make_batch(20, 5_000, Compression::Snappy);
        bytes.extend(make_batch(3, 6_000, Compression::Zstd));
        let out = recompress(&bytes, Compression::Zstd).unwrap();
        let headers: Vec<BatchHeader> = Batches::new(&out).map(|b| b.unwrap().1).collect();
        assert_eq!(headers.len(), 2);
        assert!(headers
            .iter()
            .all(|h| h.compression() == Compression::Zstd as i16));
        assert_eq!(
            (headers[0].records_count, headers[0].base_timestamp),
            (20, 5_000)
        );
        let set = RecordBatchDecoder::decode(&mut Bytes::from(out)).unwrap();
        assert_eq!(set.records[7].key.as_deref(), Some(&b"k7"[..]));
        assert_eq!(set.records[7].value.as_deref(), Some(&b"v7"[..]));
        assert_eq!(set.records[7].timestamp, 5_007);
    }

    #[test]
    fn iterates_and_stops_at_a_torn_tail() {
        let mut bytes = make_batch(2, 0, Compression::None);
        bytes.extend(make_batch(1, 0, Compression::None));
        let whole = bytes.len();
        bytes.extend(&make_batch(4, 0, Compression::None)[..30]);
        let results: Vec<_> = Batches::new(&bytes).collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[1].is_ok());
        assert!(results[2].is_err());
        let (pos, h) = results[1].clone().unwrap();
        assert_eq!(pos + h.size, whole);
    }
}
