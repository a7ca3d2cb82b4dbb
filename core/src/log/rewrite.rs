//! Re-encoding record batches when the broker changes what a batch holds
//! (records routed elsewhere, later records dropped by interceptors):
//! `encode_records` makes a plain new batch; `encode_keeping_identity` keeps
//! a producer's batch identity — producer id, epoch, base sequence and the
//! offset span (last offset delta) — with only some of its records, each at
//! its original offset delta. Kafka's own log cleaner writes such batches,
//! down to empty ones, so an idempotent producer's retries stay recognised.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{self as codec, Compressor};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::batch::{compute_crc, BatchError, BatchHeader, HEADER_SIZE, LOG_OVERHEAD};

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
    let mut attributes = header.attributes;
    let compression = if kept.is_empty() {
        // As Kafka writes empty batches: a header, no compressed body
        // (some clients refuse a compressed stream of nothing).
        attributes &= !0x07;
        Compression::None
    } else {
        compression
    };
    let mut body = BytesMut::new();
    let write = |buf: &mut BytesMut| -> anyhow::Result<()> {
        for r in kept {
            write_record(buf, r, &header);
        }
        Ok(())
    };
    let written = match compression {
        Compression::None => codec::None::compress(&mut body, write),
        Compression::Gzip => codec::Gzip::compress(&mut body, write),
        Compression::Snappy => codec::Snappy::compress(&mut body, write),
        Compression::Lz4 => codec::Lz4::compress(&mut body, write),
        Compression::Zstd => codec::Zstd::compress(&mut body, write),
    };
    written.map_err(|e| BatchError::Invalid(format!("cannot compress records: {e}")))?;
    // LogAppendTime batches carry the append time here; an empty batch keeps
    // the time its producer state is dated by.
    let log_append_time = header.attributes & 0x08 != 0;
    let max_timestamp = match kept.iter().map(|r| r.timestamp).max() {
        Some(max) if !log_append_time => max,
        _ => header.max_timestamp,
    };
    let mut out = BytesMut::with_capacity(HEADER_SIZE + body.len());
    out.put_i64(header.base_offset);
    out.put_i32((HEADER_SIZE - LOG_OVERHEAD + body.len()) as i32);
    out.put_i32(header.partition_leader_epoch);
    out.put_i8(2);
    out.put_u32(0); // the CRC, below
    out.put_i16(attributes);
    out.put_i32(header.last_offset_delta);
    out.put_i64(header.base_timestamp);
    out.put_i64(max_timestamp);
    out.put_i64(header.producer_id);
    out.put_i16(header.producer_epoch);
    out.put_i32(header.base_sequence);
    out.put_i32(kept.len() as i32);
    out.extend_from_slice(&body);
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out.to_vec())
}

/// One record in the v2 format, its offset and timestamp relative to the batch.
fn write_record(buf: &mut BytesMut, r: &Record, batch: &BatchHeader) {
    let mut rec = BytesMut::new();
    rec.put_i8(0);
    put_varlong(&mut rec, r.timestamp - batch.base_timestamp);
    put_varlong(&mut rec, r.offset - batch.base_offset);
    put_nullable(&mut rec, r.key.as_ref());
    put_nullable(&mut rec, r.value.as_ref());
    put_varlong(&mut rec, r.headers.len() as i64);
    for (name, value) in &r.headers {
        put_nullable(&mut rec, Some(&Bytes::copy_from_slice(name.as_bytes())));
        put_nullable(&mut rec, value.as_ref());
    }
    put_varlong(buf, rec.len() as i64);
    buf.extend_from_slice(&rec);
}

fn put_nullable(buf: &mut BytesMut, bytes: Option<&Bytes>) {
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
    use kafka_protocol::records::RecordBatchDecoder;

    fn decode(bytes: &[u8]) -> Vec<Record> {
        let mut buf = Bytes::copy_from_slice(bytes);
        RecordBatchDecoder::decode(&mut buf).unwrap().records
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
