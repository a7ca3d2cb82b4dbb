//! A response as the connection writes it: encoded bytes, with fetched record
//! ranges of segment files spliced in, which the connection sends with
//! `sendfile` — the records go from the page cache to the socket without
//! passing through the broker (DESIGN: no re-encoding on the plain path).
//!
//! `kafka-protocol` encodes the Fetch response with an empty `records` field
//! in each partition that has data. The position of each placeholder follows
//! from the encoded sizes (records is the last field of a partition, and the
//! partition and topic arrays the last fields of their parents, before the
//! tagged fields); each placeholder is checked before it is replaced by the
//! real length prefix and the file range. If a check fails, the records are
//! read into memory and encoded the ordinary way.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;

use crate::log::FileSlice;

/// One piece of a response.
#[derive(Debug, Clone)]
pub enum Part {
    Bytes(Bytes),
    File(FileSlice),
}

/// An encoded response: its parts, and their total length (the frame size).
#[derive(Debug, Clone)]
pub struct Response {
    pub parts: Vec<Part>,
    pub len: usize,
    /// How long the connection reads nothing more once this is sent: a
    /// client over its quota (KIP-219).
    pub mute: std::time::Duration,
}

impl Response {
    pub fn from_bytes(bytes: Bytes) -> Response {
        Response {
            len: bytes.len(),
            parts: vec![Part::Bytes(bytes)],
            mute: std::time::Duration::ZERO,
        }
    }
}

/// Records of one fetched partition: (topic index, partition index, range).
pub type FetchedRange = (usize, usize, FileSlice);

fn encode_header(correlation_id: i32, version: i16, buf: &mut BytesMut) -> Result<(), String> {
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(buf, ApiKey::Fetch.response_header_version(version))
        .map_err(|e| format!("could not encode a response header: {e}"))
}

/// Encodes a Fetch response whose partitions listed in `ranges` carry an
/// empty `records` placeholder, splicing the ranges in.
pub fn encode_fetch(
    correlation_id: i32,
    version: i16,
    mut response: FetchResponse,
    ranges: Vec<FetchedRange>,
) -> Result<Response, String> {
    let mut buf = BytesMut::new();
    encode_header(correlation_id, version, &mut buf)?;
    let header_len = buf.len();
    response
        .encode(&mut buf, version)
        .map_err(|e| format!("could not encode the Fetch v{version} response: {e}"))?;
    let buf = buf.freeze();
    match splice(&buf, header_len, &response, version, &ranges) {
        Some(spliced) => Ok(spliced),
        None => {
            // Placeholders not where expected: copy the records in instead.
            for (t, p, range) in ranges {
                let bytes = range
                    .read()
                    .map_err(|e| format!("reading fetched records: {e}"))?;
                response.responses[t].partitions[p].records = Some(bytes);
            }
            let mut buf = BytesMut::new();
            encode_header(correlation_id, version, &mut buf)?;
            response
                .encode(&mut buf, version)
                .map_err(|e| format!("could not encode the Fetch v{version} response: {e}"))?;
            Ok(Response::from_bytes(buf.freeze()))
        }
    }
}

/// The parts of `buf` with each range in place of its placeholder, or None
/// when a placeholder is not where the sizes say it is.
fn splice(
    buf: &Bytes,
    header_len: usize,
    response: &FetchResponse,
    version: i16,
    ranges: &[FetchedRange],
) -> Option<Response> {
    let flexible = version >= 12;
    // Empty records, then (flexible) an empty tagged-field section.
    let placeholder: &[u8] = if flexible { &[1, 0] } else { &[0, 0, 0, 0] };
    let tagged = usize::from(flexible);
    let size = |r: Result<usize, _>| r.ok();

    let topic_sizes: Vec<usize> = response
        .responses
        .iter()
        .map(|t| size(t.compute_size(version)))
        .collect::<Option<_>>()?;
    let mut topic_start = buf.len() - tagged - topic_sizes.iter().sum::<usize>();
    let mut records_at = Vec::new(); // position of each placeholder, in ranges' order
    let mut wanted = ranges.iter().peekable();
    for (t, topic) in response.responses.iter().enumerate() {
        let partition_sizes: Vec<usize> = topic
            .partitions
            .iter()
            .map(|p| size(p.compute_size(version)))
            .collect::<Option<_>>()?;
        let mut partition_start =
            topic_start + topic_sizes[t] - tagged - partition_sizes.iter().sum::<usize>();
        for (p, partition_size) in partition_sizes.iter().enumerate() {
            if wanted
                .peek()
                .is_some_and(|(rt, rp, _)| (*rt, *rp) == (t, p))
            {
                let at = partition_start + partition_size - placeholder.len();
                if at < header_len || buf.get(at..at + placeholder.len()) != Some(placeholder) {
                    return None;
                }
                records_at.push(at);
                wanted.next();
            }
            partition_start += partition_size;
        }
        topic_start += topic_sizes[t];
    }
    if wanted.next().is_some() {
        return None; // ranges out of order or naming missing partitions
    }

    let mut parts = Vec::with_capacity(ranges.len() * 3 + 1);
    let mut len = 0;
    let mut cursor = 0;
    for ((_, _, range), at) in ranges.iter().zip(records_at) {
        let mut prefix = BytesMut::with_capacity(5);
        if flexible {
            put_unsigned_varint(&mut prefix, range.len() as u32 + 1);
        } else {
            prefix.put_i32(range.len() as i32);
        }
        parts.push(Part::Bytes(buf.slice(cursor..at)));
        len += at - cursor + prefix.len() + range.len();
        parts.push(Part::Bytes(prefix.freeze()));
        parts.push(Part::File(range.clone()));
        // Skip the empty length; a flexible placeholder's tagged byte stays.
        cursor = at + if flexible { 1 } else { 4 };
    }
    parts.push(Part::Bytes(buf.slice(cursor..)));
    len += buf.len() - cursor;
    Some(Response {
        parts,
        len,
        mute: std::time::Duration::ZERO,
    })
}

fn put_unsigned_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;
    use std::io::Write;
    use std::sync::Arc;

    /// A response with three topics; some partitions have records.
    fn response(version: i16, records: impl Fn(usize, usize) -> Option<Bytes>) -> FetchResponse {
        let topics = (0..3)
            .map(|t| {
                let partitions = (0..3)
                    .map(|p| {
                        PartitionData::default()
                            .with_partition_index(p as i32)
                            .with_high_watermark(100 + p as i64)
                            .with_last_stable_offset(100)
                            .with_records(Some(records(t, p).unwrap_or_default()))
                    })
                    .collect();
                let mut topic = FetchableTopicResponse::default().with_partitions(partitions);
                if version >= 13 {
                    topic.topic_id = uuid::Uuid::from_u128(t as u128 + 1);
                } else {
                    topic.topic = TopicName(StrBytes::from_string(format!("topic-{t}")));
                }
                topic
            })
            .collect();
        FetchResponse::default().with_responses(topics)
    }

    fn materialize(response: &Response) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &response.parts {
            match part {
                Part::Bytes(b) => out.extend_from_slice(b),
                Part::File(f) => out.extend_from_slice(&f.read().unwrap()),
            }
        }
        assert_eq!(out.len(), response.len);
        out
    }

    #[test]
    fn spliced_fetch_responses_equal_plain_encoding_at_every_version() {
        let mut file = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&content).unwrap();
        let file = Arc::new(file);
        // Sizes that cross varint boundaries (127/128, 16383/16384).
        let has_records = |t: usize, p: usize| [(0, 1), (1, 0), (1, 2), (2, 2)].contains(&(t, p));
        let range = |t: usize, p: usize| {
            let len = [0usize, 127, 128, 16_384, 200_000][(t * 3 + p) % 5].max(1);
            (t as u64 * 1000 + p as u64, len)
        };
        for version in 4..=17 {
            let expected = response(version, |t, p| {
                has_records(t, p).then(|| {
                    let (at, len) = range(t, p);
                    Bytes::copy_from_slice(&content[at as usize..at as usize + len])
                })
            });
            let mut plain = BytesMut::new();
            encode_header(9, version, &mut plain).unwrap();
            expected.encode(&mut plain, version).unwrap();

            let placeholders = response(version, |_, _| None);
            let ranges: Vec<FetchedRange> = (0..3)
                .flat_map(|t| (0..3).map(move |p| (t, p)))
                .filter(|(t, p)| has_records(*t, *p))
                .map(|(t, p)| {
                    let (at, len) = range(t, p);
                    (t, p, FileSlice::new(file.clone(), at, len))
                })
                .collect();
            let spliced = encode_fetch(9, version, placeholders, ranges).unwrap();
            assert!(
                spliced.parts.iter().any(|p| matches!(p, Part::File(_))),
                "v{version} used sendfile ranges"
            );
            assert_eq!(materialize(&spliced), plain.to_vec(), "Fetch v{version}");
        }
    }
}
