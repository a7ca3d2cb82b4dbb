//! Re-encoding record batches when the broker changes what a batch holds
//! (records routed elsewhere, later records dropped by interceptors):
//! `encode_records` makes a plain new batch; `encode_keeping_identity` keeps
//! a producer's batch identity — producer id, epoch, base sequence and the
//! offset span (last offset delta) — with only some of its records, each at
//! its original offset delta, and can stamp it with a KIP-534 delete horizon. Kafka's own log cleaner writes such batches,
//! down to empty ones, so an idempotent producer's retries stay recognised.

use bytes::{BufMut, BytesMut};
use kafka_protocol::compression::{self as codec, Compressor};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::batch::{
    compute_crc, BatchError, BatchHeader, DELETE_HORIZON_BIT, HEADER_SIZE, LOG_OVERHEAD,
};

/// `records` as one new batch with the codec given: offsets from 0, no
/// producer id, timestamps kept.
pub fn encode_records(records: &[Record], compression: Compression) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever offset - sequence
            // changes; this keeps one batch whose base sequence is -1.
            sequence: i as i32 - 1,
            ..r.clone()
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

/// The batch `template` (one whole batch as the producer sent it) holding
/// only `kept` (records decoded from it, in order).
pub fn encode_keeping_identity(
    template: &[u8],
    kept: &[Record],
    compression: Compression,
) -> Result<Vec<u8>, BatchError> {
    let header = BatchHeader::parse(template)?;
    let records = kept.iter().map(|r| RecordParts {
        offset_delta: r.offset - header.base_offset,
        timestamp: r.timestamp,
        key: r.key.as_deref(),
        value: r.value.as_deref(),
        headers: r.headers.iter().map(|(n, v)| (n.as_bytes(), v.as_deref())),
    });
    encode_parts_keeping_identity(template, records, compression, None)
}

/// One record to write: its offset relative to the batch, its timestamp,
/// and its parts (headers in order, duplicates allowed, as Kafka allows).
pub struct RecordParts<'a, H> {
    pub offset_delta: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: H,
}

/// As `encode_keeping_identity`, with the records given as parts (so a
/// rewrite is written straight from where its bytes are, never decoded).
/// `delete_horizon` stamps the batch with one (KIP-534, as the log cleaner
/// does the first time it keeps a tombstone): the base timestamp becomes
/// the horizon and the records' timestamps are written relative to it.
pub fn encode_parts_keeping_identity<'a, H>(
    template: &[u8],
    kept: impl Iterator<Item = RecordParts<'a, H>> + Clone,
    compression: Compression,
    delete_horizon: Option<i64>,
) -> Result<Vec<u8>, BatchError>
where
    H: Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + Clone,
{
    let mut header = BatchHeader::parse(template)?;
    if let Some(horizon) = delete_horizon {
        header.attributes |= DELETE_HORIZON_BIT;
        header.base_timestamp = horizon;
    }
    let count = kept.clone().count();
    let mut attributes = header.attributes;
    let compression = if count == 0 {
        // As Kafka writes empty batches: a header, no compressed body
        // (some clients refuse a compressed stream of nothing).
        attributes &= !0x07;
        Compression::None
    } else {
        compression
    };
    let estimate: usize = kept
        .clone()
        .map(|r| 24 + r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len))
        .sum();
    let write = |buf: &mut BytesMut| -> anyhow::Result<()> {
        for r in kept.clone() {
            write_record(buf, r, header.base_timestamp);
        }
        Ok(())
    };
    // The header is written last, over this placeholder, once the body's
    // size and CRC are known; an uncompressed body is written in place.
    let mut out = BytesMut::with_capacity(HEADER_SIZE + estimate);
    out.put_bytes(0, HEADER_SIZE);
    let written = match compression {
        Compression::None => write(&mut out),
        compressed => {
            let mut body = BytesMut::new();
            let written = match compressed {
                Compression::Gzip => codec::Gzip::compress(&mut body, write),
                Compression::Snappy => codec::Snappy::compress(&mut body, write),
                Compression::Lz4 => codec::Lz4::compress(&mut body, write),
                Compression::Zstd => codec::Zstd::compress(&mut body, write),
                Compression::None => unreachable!("matched above"),
            };
            out.extend_from_slice(&body);
            written
        }
    };
    written.map_err(|e| BatchError::Invalid(format!("cannot compress records: {e}")))?;
    // LogAppendTime batches carry the append time here; an empty batch keeps
    // the time its producer state is dated by.
    let log_append_time = header.attributes & 0x08 != 0;
    let max_timestamp = match kept.map(|r| r.timestamp).max() {
        Some(max) if !log_append_time => max,
        _ => header.max_timestamp,
    };
    let body_len = out.len() - HEADER_SIZE;
    let mut h = &mut out[..HEADER_SIZE];
    h.put_i64(header.base_offset);
    h.put_i32((HEADER_SIZE - LOG_OVERHEAD + body_len) as i32);
    h.put_i32(header.partition_leader_epoch);
    h.put_i8(2);
    h.put_u32(0); // the CRC, below
    h.put_i16(attributes);
    h.put_i32(header.last_offset_delta);
    h.put_i64(header.base_timestamp);
    h.put_i64(max_timestamp);
    h.put_i64(header.producer_id);
    h.put_i16(header.producer_epoch);
    h.put_i32(header.base_sequence);
    h.put_i32(count as i32);
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(Vec::from(out))
}

/// One record in the v2 format, its timestamp relative to the batch's,
/// preceded by its length.
fn write_record<'a, H>(buf: &mut BytesMut, r: RecordParts<'a, H>, base_timestamp: i64)
where
    H: Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + Clone,
{
    let timestamp_delta = r.timestamp - base_timestamp;
    let nullable_len =
        |b: Option<&[u8]>| b.map_or(varlong_len(-1), |b| varlong_len(b.len() as i64) + b.len());
    let header_count = r.headers.clone().count();
    let length = 1
        + varlong_len(timestamp_delta)
        + varlong_len(r.offset_delta)
        + nullable_len(r.key)
        + nullable_len(r.value)
        + varlong_len(header_count as i64)
        + r.headers
            .clone()
            .map(|(name, value)| nullable_len(Some(name)) + nullable_len(value))
            .sum::<usize>();
    buf.reserve(length + 10);
    put_varlong(buf, length as i64);
    buf.put_i8(0);
    put_varlong(buf, timestamp_delta);
    put_varlong(buf, r.offset_delta);
    put_nullable(buf, r.key);
    put_nullable(buf, r.value);
    put_varlong(buf, header_count as i64);
    for (name, value) in r.headers {
        put_nullable(buf, Some(name));
        put_nullable(buf, value);
    }
}

/// How many bytes `put_varlong` writes for `value`.
fn varlong_len(value: i64) -> usize {
    let v = ((value << 1) ^ (value >> 63)) as u64;
    (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

fn put_nullable(buf: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            put_varlong(buf, b.len() as i64);
            buf.extend_from_slice(b);
        }
        None => put_varlong(buf, -1),
    }
}

/// Kafka's zig-zag varint.
fn put_varlong(buf: &mut BytesMut, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_idempotent, validate};
    use bytes::Bytes;
    use kafka_protocol::records::RecordBatchDecoder;

    fn decode(bytes: &[u8]) -> Vec<Record> {
        let mut buf = Bytes::copy_from_slice(bytes);
        RecordBatchDecoder::decode(&mut buf).unwrap().records
    }

    #[test]
    fn varlong_len_is_what_put_varlong_writes() {
        for value in [
            0,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            8191,
            8192,
            i32::MAX as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = BytesMut::new();
            put_varlong(&mut buf, value);
            assert_eq!(varlong_len(value), buf.len(), "{value}");
        }
    }

    #[test]
    fn a_subset_keeps_the_batch_identity_for_every_codec() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let records = (0..5).map(|i| {
                (
                    Some(Bytes::from(format!("k{i}"))),
                    Some(Bytes::from(format!("v{i}"))),
                )
            });
            let original = encode_idempotent(records, 1_000, codec, (77, 3, 40));
            let all = decode(&original);
            let kept = vec![all[1].clone(), all[3].clone()];
            let rewritten = encode_keeping_identity(&original, &kept, codec).unwrap();
            let header = validate(&rewritten).expect("a valid batch");
            let before = BatchHeader::parse(&original).unwrap();
            assert_eq!(header.producer_id, 77);
            assert_eq!(header.producer_epoch, 3);
            assert_eq!(header.base_sequence, 40);
            assert_eq!(header.last_offset_delta, before.last_offset_delta);
            assert_eq!(header.records_count, 2);
            let back = decode(&rewritten);
            assert_eq!(back.len(), 2);
            assert_eq!((back[0].offset, back[1].offset), (1, 3));
            assert_eq!(back[1].value.as_deref(), Some(&b"v3"[..]));
            assert_eq!(back[1].timestamp, all[3].timestamp);
            let empty = encode_keeping_identity(&original, &[], codec).unwrap();
            assert_eq!(validate(&empty).unwrap().records_count, 0);
        }
    }

    #[test]
    fn a_delete_horizon_moves_the_base_timestamp_not_the_records() {
        let records = (0..3).map(|i| (Some(Bytes::from(format!("k{i}"))), None));
        let original = encode_idempotent(records, 1_000, Compression::Zstd, (5, 0, 0));
        let all = decode(&original);
        let parts = all.iter().map(|r| RecordParts {
            offset_delta: r.offset,
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: None,
            headers: std::iter::empty(),
        });
        let stamped =
            encode_parts_keeping_identity(&original, parts, Compression::Zstd, Some(90_000))
                .unwrap();
        let header = validate(&stamped).unwrap();
        assert_eq!(header.delete_horizon(), Some(90_000));
        assert_eq!(
            BatchHeader::parse(&original).unwrap().delete_horizon(),
            None
        );
        let back = decode(&stamped);
        assert!(back.iter().all(|r| r.delete_horizon));
        let times = |rs: &[Record]| rs.iter().map(|r| r.timestamp).collect::<Vec<_>>();
        assert_eq!(times(&back), times(&all));
        assert_eq!(header.max_timestamp, *times(&all).iter().max().unwrap());
    }

    #[test]
    fn plain_batches_renumber_offsets() {
        let records = (0..3).map(|i| (None, Some(Bytes::from(vec![i as u8; 10]))));
        let original = encode_idempotent(records, 5, Compression::None, (9, 0, 0));
        let all = decode(&original);
        let moved = encode_records(&all[1..], Compression::Lz4);
        let header = validate(&moved).unwrap();
        assert_eq!(header.producer_id, -1);
        assert_eq!(header.records_count, 2);
        assert_eq!(decode(&moved)[1].offset, 1);
    }
}
