//! Records packed for plugins and the log cleaner: one byte buffer holding
//! every key, value and header of a batch, plus flat index arrays (the shape
//! of `weir:plugin/types.packed-records`). A batch is packed straight from
//! its bytes — the records section copied once (decompressed first when the
//! batch is compressed) and each record's parts found in place by walking
//! its varints: no decoded `Record`s, no per-record allocations.

use std::borrow::Cow;

use bytes::Bytes;
use kafka_protocol::compression::{self as codec, Decompressor};
use kafka_protocol::records::{Compression, Record};

use super::batch::{BatchError, BatchHeader, HEADER_SIZE};
use super::rewrite::{encode_parts_keeping_identity, RecordParts};

/// Where one record's parts are in `PackedRecords::data`; -1 lengths are nulls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordRef {
    pub key_offset: u32,
    pub key_len: i32,
    pub value_offset: u32,
    pub value_len: i32,
    pub headers_start: u32,
    pub headers_count: u32,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderRef {
    pub name_offset: u32,
    pub name_len: u32,
    pub value_offset: u32,
    pub value_len: i32,
}

/// The records of a batch, packed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackedRecords {
    pub data: Vec<u8>,
    pub records: Vec<RecordRef>,
    pub headers: Vec<HeaderRef>,
}

impl PackedRecords {
    pub fn pack(records: &[Record]) -> PackedRecords {
        let size: usize = records
            .iter()
            .map(|r| r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len))
            .sum();
        let mut packed = PackedRecords {
            data: Vec::with_capacity(size),
            records: Vec::with_capacity(records.len()),
            headers: Vec::new(),
        };
        for r in records {
            packed.push_record(
                r.key.as_deref(),
                r.value.as_deref(),
                r.headers.iter().map(|(n, v)| (n.as_bytes(), v.as_deref())),
                r.timestamp,
            );
        }
        packed
    }

    /// Appends one record (None: a null key, value or header value).
    pub fn push_record<'a>(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
        timestamp: i64,
    ) {
        let (key_offset, key_len) = self.push(key);
        let (value_offset, value_len) = self.push(value);
        let headers_start = self.headers.len() as u32;
        for (name, value) in headers {
            let (name_offset, name_len) = self.push(Some(name));
            let (value_offset, value_len) = self.push(value);
            self.headers.push(HeaderRef {
                name_offset,
                name_len: name_len as u32,
                value_offset,
                value_len,
            });
        }
        self.records.push(RecordRef {
            key_offset,
            key_len,
            value_offset,
            value_len,
            headers_start,
            headers_count: self.headers.len() as u32 - headers_start,
            timestamp,
        });
    }

    fn push(&mut self, bytes: Option<&[u8]>) -> (u32, i32) {
        let offset = self.data.len() as u32;
        match bytes {
            Some(b) => {
                self.data.extend_from_slice(b);
                (offset, b.len() as i32)
            }
            None => (offset, -1),
        }
    }
}

/// The records of the batch `raw` (one whole batch), packed, with each
/// record's offset delta.
pub fn pack_batch(
    raw: &[u8],
    header: &BatchHeader,
) -> Result<(PackedRecords, Vec<i32>), BatchError> {
    let data = records_section(raw, header)?.into_owned();
    let count = header.records_count.max(0) as usize;
    let mut records = Vec::with_capacity(count);
    let mut headers = Vec::new();
    let mut offset_deltas = Vec::with_capacity(count);
    walk(&data, header, &mut headers, |record, delta| {
        records.push(record);
        offset_deltas.push(delta);
    })?;
    let packed = PackedRecords {
        data,
        records,
        headers,
    };
    Ok((packed, offset_deltas))
}

/// Calls `f` with each record's key (None: null), offset delta and
/// timestamp, reading an uncompressed batch in place (the log cleaner's
/// first pass needs no more than this).
pub fn for_each_key(
    raw: &[u8],
    header: &BatchHeader,
    mut f: impl FnMut(Option<&[u8]>, i32, i64),
) -> Result<(), BatchError> {
    let data = records_section(raw, header)?;
    let mut headers = Vec::new();
    walk(&data, header, &mut headers, |r, delta| {
        let key = (r.key_len >= 0).then(|| &data[r.key_offset as usize..][..r.key_len as usize]);
        f(key, delta, r.timestamp);
    })
}

/// The records section of a batch: borrowed when uncompressed.
fn records_section<'a>(raw: &'a [u8], header: &BatchHeader) -> Result<Cow<'a, [u8]>, BatchError> {
    let body = raw.get(HEADER_SIZE..header.size).unwrap_or_default();
    Ok(match header.compression() {
        0 => Cow::Borrowed(body),
        c => Cow::Owned(decompress(c, body)?),
    })
}

/// Walks the records of `data` (a records section), finding each one's
/// parts in place: `on_record` gets it with its offset delta; its headers
/// are pushed to `headers` first.
fn walk(
    data: &[u8],
    header: &BatchHeader,
    headers: &mut Vec<HeaderRef>,
    mut on_record: impl FnMut(RecordRef, i32),
) -> Result<(), BatchError> {
    let mut reader = Reader { data, at: 0 };
    for _ in 0..header.records_count.max(0) {
        let length = reader.varint()?;
        let end =
            reader.at + usize::try_from(length).map_err(|_| corrupt("a negative record length"))?;
        let _attributes = reader.take(1)?;
        let timestamp = header.base_timestamp + reader.varint()?;
        let offset_delta = reader.varint()? as i32;
        let (key_offset, key_len) = reader.slice()?;
        let (value_offset, value_len) = reader.slice()?;
        let headers_start = headers.len() as u32;
        let headers_count = reader.varint()?;
        for _ in 0..headers_count.max(0) {
            let (name_offset, name_len) = reader.slice()?;
            let (value_offset, value_len) = reader.slice()?;
            headers.push(HeaderRef {
                name_offset,
                name_len: name_len.max(0) as u32,
                value_offset,
                value_len,
            });
        }
        if reader.at != end {
            return Err(corrupt("a record whose length does not match its fields"));
        }
        let record = RecordRef {
            key_offset,
            key_len,
            value_offset,
            value_len,
            headers_start,
            headers_count: headers_count.max(0) as u32,
            timestamp,
        };
        on_record(record, offset_delta);
    }
    Ok(())
}

/// The batch `raw` (its identity kept: see `rewrite`) holding `records`
/// at their offset deltas — only those `keep` marks, when given.
pub fn encode_packed(
    raw: &[u8],
    records: &PackedRecords,
    offset_deltas: &[i32],
    keep: Option<&[bool]>,
    compression: Compression,
    delete_horizon: Option<i64>,
) -> Result<Vec<u8>, BatchError> {
    let data = &records.data;
    let slice =
        |offset: u32, len: i32| (len >= 0).then(|| &data[offset as usize..][..len as usize]);
    let parts = records
        .records
        .iter()
        .zip(offset_deltas)
        .enumerate()
        .filter(move |(i, _)| keep.is_none_or(|k| k[*i]))
        .map(move |(_, (r, delta))| {
            let start = r.headers_start as usize;
            RecordParts {
                offset_delta: *delta as i64,
                timestamp: r.timestamp,
                key: slice(r.key_offset, r.key_len),
                value: slice(r.value_offset, r.value_len),
                headers: records.headers[start..start + r.headers_count as usize]
                    .iter()
                    .map(move |h| {
                        (
                            slice(h.name_offset, h.name_len as i32).unwrap_or_default(),
                            slice(h.value_offset, h.value_len),
                        )
                    }),
            }
        });
    encode_parts_keeping_identity(raw, parts, compression, delete_horizon)
}

/// The records section of a compressed batch, decompressed.
fn decompress(compression: i16, body: &[u8]) -> Result<Vec<u8>, BatchError> {
    let mut buf = Bytes::copy_from_slice(body);
    let take = |b: &mut Bytes| Ok(b.to_vec());
    match compression {
        1 => codec::Gzip::decompress(&mut buf, take),
        2 => codec::Snappy::decompress(&mut buf, take),
        3 => codec::Lz4::decompress(&mut buf, take),
        4 => codec::Zstd::decompress(&mut buf, take),
        other => return Err(corrupt(&format!("unknown compression codec {other}"))),
    }
    .map_err(|e| corrupt(&format!("cannot decompress: {e}")))
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// Kafka's zig-zag varint (up to 64 bits).
    fn varint(&mut self) -> Result<i64, BatchError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .data
                .get(self.at)
                .ok_or_else(|| corrupt("a truncated record"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(corrupt("a varint longer than 10 bytes"))
    }

    fn take(&mut self, len: usize) -> Result<usize, BatchError> {
        let start = self.at;
        if self.data.len() - start < len {
            return Err(corrupt("a truncated record"));
        }
        self.at += len;
        Ok(start)
    }

    /// A length-prefixed slice: (offset, length), length -1 for null.
    fn slice(&mut self) -> Result<(u32, i32), BatchError> {
        let len = self.varint()?;
        if len < 0 {
            return Ok((self.at as u32, -1));
        }
        let len = i32::try_from(len).map_err(|_| corrupt("a field longer than 2 GiB"))?;
        Ok((self.take(len as usize)? as u32, len))
    }
}

fn corrupt(what: &str) -> BatchError {
    BatchError::Invalid(format!("cannot decode records: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_idempotent, validate};
    use kafka_protocol::records::{Compression, RecordBatchDecoder};

    fn decode(raw: &[u8]) -> Vec<Record> {
        RecordBatchDecoder::decode(&mut Bytes::copy_from_slice(raw))
            .unwrap()
            .records
    }

    #[test]
    fn packs_like_the_decoder_does() {
        let records = (0..50).map(|i| {
            let key = (i % 7 != 0).then(|| bytes::Bytes::from(format!("key-{i}")));
            let value = (i % 11 != 0).then(|| bytes::Bytes::from("v".repeat(i * 13)));
            (key, value)
        });
        let raw = encode_idempotent(records, 1_000, Compression::None, (7, 0, 3));
        let header = validate(&raw).unwrap();
        let (scanned, deltas) = pack_batch(&raw, &header).unwrap();
        assert_eq!(deltas, (0..50).collect::<Vec<i32>>());
        let decoded = PackedRecords::pack(&decode(&raw));
        let view = |p: &PackedRecords| {
            p.records
                .iter()
                .map(|r| {
                    let part = |o: u32, l: i32| {
                        (l >= 0).then(|| p.data[o as usize..][..l as usize].to_vec())
                    };
                    (
                        part(r.key_offset, r.key_len),
                        part(r.value_offset, r.value_len),
                        r.timestamp,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(view(&scanned), view(&decoded));
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let records = (0..50).map(|i| {
                let key = (i % 7 != 0).then(|| bytes::Bytes::from(format!("key-{i}")));
                let value = (i % 11 != 0).then(|| bytes::Bytes::from("v".repeat(i * 13)));
                (key, value)
            });
            let compressed = encode_idempotent(records, 1_000, codec, (7, 0, 3));
            let header = validate(&compressed).unwrap();
            let (unpacked, deltas) = pack_batch(&compressed, &header).unwrap();
            assert_eq!(deltas, (0..50).collect::<Vec<i32>>());
            assert_eq!(view(&unpacked), view(&decoded), "{codec:?}");
        }
    }

    #[test]
    fn a_lying_length_is_corrupt_not_a_panic() {
        let raw = encode_idempotent(
            [(Some(bytes::Bytes::from("k")), Some(bytes::Bytes::from("v")))],
            1,
            Compression::None,
            (-1, -1, -1),
        );
        let header = validate(&raw).unwrap();
        for i in HEADER_SIZE..raw.len() {
            let mut bad = raw.clone();
            bad[i] = 0x7f;
            let _ = pack_batch(&bad, &header);
        }
        let mut bad = raw.clone();
        bad[HEADER_SIZE] = 0x7f; // the record's length
        assert!(pack_batch(&bad, &header).is_err());
    }
}
