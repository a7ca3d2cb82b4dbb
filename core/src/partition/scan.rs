//! Packing an uncompressed batch for a plugin straight from its bytes: the
//! records section is copied once, as the packed data, and each record's
//! key, value and headers are found in place by walking its varints — no
//! decoded `Record`s, no per-record allocations, no second copy. Compressed
//! batches are decompressed and decoded instead (the codec is the cost
//! there).

use super::partitioner::{HeaderRef, PackedRecords, RecordRef};
use crate::log::batch::{BatchHeader, HEADER_SIZE};
use crate::protocol::error::{ApiError, ResponseError};

/// The records of the uncompressed batch `raw`, packed, with each record's
/// offset delta; None when the batch is compressed.
pub fn pack_uncompressed(
    raw: &[u8],
    header: &BatchHeader,
) -> Result<Option<(PackedRecords, Vec<i32>)>, ApiError> {
    if header.compression() != 0 {
        return Ok(None);
    }
    let data = raw
        .get(HEADER_SIZE..header.size)
        .unwrap_or_default()
        .to_vec();
    let count = header.records_count.max(0) as usize;
    let mut packed = PackedRecords {
        records: Vec::with_capacity(count),
        headers: Vec::new(),
        data: Vec::new(),
    };
    let mut offset_deltas = Vec::with_capacity(count);
    let mut reader = Reader { data: &data, at: 0 };
    for _ in 0..count {
        let length = reader.varint()?;
        let end =
            reader.at + usize::try_from(length).map_err(|_| corrupt("a negative record length"))?;
        let _attributes = reader.take(1)?;
        let timestamp = header.base_timestamp + reader.varint()?;
        offset_deltas.push(reader.varint()? as i32);
        let (key_offset, key_len) = reader.slice()?;
        let (value_offset, value_len) = reader.slice()?;
        let headers_start = packed.headers.len() as u32;
        let headers_count = reader.varint()?;
        for _ in 0..headers_count.max(0) {
            let (name_offset, name_len) = reader.slice()?;
            let (value_offset, value_len) = reader.slice()?;
            packed.headers.push(HeaderRef {
                name_offset,
                name_len: name_len.max(0) as u32,
                value_offset,
                value_len,
            });
        }
        if reader.at != end {
            return Err(corrupt("a record whose length does not match its fields"));
        }
        packed.records.push(RecordRef {
            key_offset,
            key_len,
            value_offset,
            value_len,
            headers_start,
            headers_count: headers_count.max(0) as u32,
            timestamp,
        });
    }
    packed.data = data;
    Ok(Some((packed, offset_deltas)))
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// Kafka's zig-zag varint (up to 64 bits).
    fn varint(&mut self) -> Result<i64, ApiError> {
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

    fn take(&mut self, len: usize) -> Result<usize, ApiError> {
        let start = self.at;
        if self.data.len() - start < len {
            return Err(corrupt("a truncated record"));
        }
        self.at += len;
        Ok(start)
    }

    /// A length-prefixed slice: (offset, length), length -1 for null.
    fn slice(&mut self) -> Result<(u32, i32), ApiError> {
        let len = self.varint()?;
        if len < 0 {
            return Ok((self.at as u32, -1));
        }
        let len = i32::try_from(len).map_err(|_| corrupt("a field longer than 2 GiB"))?;
        Ok((self.take(len as usize)? as u32, len))
    }
}

fn corrupt(what: &str) -> ApiError {
    ApiError::new(
        ResponseError::CorruptMessage,
        format!("cannot decode records: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_idempotent, validate};
    use crate::partition::partitioner::decode;
    use kafka_protocol::records::Compression;

    #[test]
    fn packs_like_the_decoder_does() {
        let records = (0..50).map(|i| {
            let key = (i % 7 != 0).then(|| bytes::Bytes::from(format!("key-{i}")));
            let value = (i % 11 != 0).then(|| bytes::Bytes::from("v".repeat(i * 13)));
            (key, value)
        });
        let raw = encode_idempotent(records, 1_000, Compression::None, (7, 0, 3));
        let header = validate(&raw).unwrap();
        let (scanned, deltas) = pack_uncompressed(&raw, &header).unwrap().unwrap();
        assert_eq!(deltas, (0..50).collect::<Vec<i32>>());
        let decoded = PackedRecords::pack(&decode(&raw).unwrap());
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
        let compressed = encode_idempotent([(None, None)], 1, Compression::Gzip, (7, 0, 3));
        let header = validate(&compressed).unwrap();
        assert!(pack_uncompressed(&compressed, &header).unwrap().is_none());
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
            let _ = pack_uncompressed(&bad, &header);
        }
        let mut bad = raw.clone();
        bad[HEADER_SIZE] = 0x7f; // the record's length
        assert!(pack_uncompressed(&bad, &header).is_err());
    }
}
