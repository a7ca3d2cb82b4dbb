//! Bad input against a real `weir` process: each gets Kafka's answer, and the
//! broker (and its other connections) live on.

mod common;

use std::io::Write;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;
use kafka_protocol::records::Compression;

use common::*;

#[test]
fn oversized_and_negative_frames_close_only_that_connection() {
    let weir = Weir::start(&["socket.request.max.bytes=1024"]);
    let mut bystander = weir.connect();
    api_versions_ok(&mut bystander);

    let mut client = weir.connect();
    // Announce 1 GiB: the broker must close without waiting for (or allocating) it.
    client
        .stream
        .write_all(&(1i32 << 30).to_be_bytes())
        .unwrap();
    assert!(client.read_frame().is_none(), "connection closed");

    let mut client = weir.connect();
    client.stream.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert!(client.read_frame().is_none(), "connection closed");

    api_versions_ok(&mut bystander);
    api_versions_ok(&mut weir.connect());
}

#[test]
fn unknown_api_key_and_versions_get_unsupported_version() {
    let weir = Weir::start(&[]);
    let mut client = weir.connect();
    let mut frame = BytesMut::new();
    frame.put_i16(999);
    frame.put_i16(0);
    frame.put_i32(77);
    frame.put_i16(-1);
    client.send_raw(&frame);
    let mut body = client.read_frame().expect("answered");
    assert_eq!(body.get_i32(), 77);
    assert_eq!(body.get_i16(), 35, "UNSUPPORTED_VERSION");

    // An ApiVersions version from the future: a v0 answer listing what we support.
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::ApiVersions as i16);
    frame.put_i16(99);
    frame.put_i32(78);
    frame.put_i16(-1);
    client.send_raw(&frame);
    let mut body = client.read_frame().expect("answered");
    assert_eq!(body.get_i32(), 78);
    let response = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(response.error_code, 35);
    assert!(response
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Fetch as i16));

    // Produce v2 (message format v1) is advertised for librdkafka but refused.
    let frame = client.encode(&MetadataRequest::default(), 1);
    let mut raw = frame.to_vec();
    raw[..2].copy_from_slice(&(ApiKey::Produce as i16).to_be_bytes());
    raw[2..4].copy_from_slice(&2i16.to_be_bytes());
    client.send_raw(&raw);
    let mut body = client.read_frame().expect("answered");
    body.get_i32();
    assert_eq!(body.get_i16(), 35);
    api_versions_ok(&mut client);
}

#[test]
fn undecodable_body_closes_that_connection_only() {
    let weir = Weir::start(&[]);
    let mut bystander = weir.connect();
    let mut client = weir.connect();
    let mut frame = client.encode(&MetadataRequest::default(), 12);
    frame.truncate(frame.len() - 1);
    frame.put_slice(&[0xff; 9]);
    client.send_raw(&frame);
    assert!(client.read_frame().is_none(), "connection closed");
    api_versions_ok(&mut bystander);
}

#[test]
fn bad_batches_get_kafka_errors_and_nothing_is_appended() {
    let weir = Weir::start(&[]);
    let mut client = weir.connect();
    create_topic(&mut client, "t", &[("max.message.bytes", "10000")]);
    let good = produce_error(&mut client, "t", batch(3, 10));
    assert_eq!(good.0, 0);

    let mut corrupt = batch(3, 10).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    let (code, message) = produce_error(&mut client, "t", corrupt.into());
    assert_eq!(code, 2, "CORRUPT_MESSAGE");
    assert!(message.unwrap().contains("CRC"));

    let (code, _) = produce_error(&mut client, "t", batch(1, 20_000));
    assert_eq!(code, 10, "MESSAGE_TOO_LARGE");

    let mut truncated = batch(3, 10).to_vec();
    truncated.truncate(40);
    let (code, _) = produce_error(&mut client, "t", truncated.into());
    assert_eq!(code, 2, "CORRUPT_MESSAGE");

    let (code, _) = produce_error(&mut client, "missing", batch(1, 1));
    assert_eq!(code, 3, "UNKNOWN_TOPIC_OR_PARTITION");

    let response = produce(&mut client, "t", 5, batch(1, 1), 9).unwrap();
    assert_eq!(
        response.responses[0].partition_responses[0].error_code, 21,
        "INVALID_REQUIRED_ACKS"
    );

    assert_eq!(
        log_end_offset(&mut client, "t"),
        3,
        "only the good batch was stored"
    );

    // A failed acks=0 produce closes the connection, as Kafka does.
    assert!(produce(&mut client, "missing", 0, batch(1, 1), 9).is_none());
    let mut client = weir.connect();
    assert_eq!(log_end_offset(&mut client, "t"), 3);
    assert!(weir.data_dir().join("data").join("t-0").exists());
}

#[test]
fn keyless_records_on_a_compacted_topic_get_record_errors() {
    let weir = Weir::start(&[]);
    let mut client = weir.connect();
    create_topic(&mut client, "c", &[("cleanup.policy", "compact")]);
    let records = (0..100).map(|i| {
        let key = (i % 10 != 3).then(|| bytes::Bytes::from(format!("k{i}")));
        (key, Some(bytes::Bytes::from_static(b"v")))
    });
    let batch = weir::log::batch::encode(records, 1_700_000_000_000, Compression::None);
    let response = produce(&mut client, "c", -1, batch.into(), 9).unwrap();
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 87, "INVALID_RECORD");
    let indexes: Vec<i32> = p.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(indexes, (0..10).map(|n| n * 10 + 3).collect::<Vec<_>>());
    let first = p.record_errors[0]
        .batch_index_error_message
        .as_ref()
        .unwrap();
    assert_eq!(
        first.as_str(),
        "Compacted topic cannot accept message without key in topic partition c-0."
    );
    let message = p.error_message.as_ref().unwrap().to_string();
    assert!(message.contains("10 record errors"), "{message}");
    assert_eq!(log_end_offset(&mut client, "c"), 0, "nothing was appended");
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bodies_for_every_api_never_take_the_broker_down() {
    let mut weir = Weir::start(&[]);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut client = weir.connect();
    create_topic(&mut client, "t", &[]);
    let apis = weir::protocol::supported_apis();
    let mut closed = 0;
    for round in 0..3000 {
        let (key, min, max) = apis[round % apis.len()];
        let version = min + (noise.next() % (max - min + 1) as u64) as i16;
        let mut frame = BytesMut::new();
        frame.put_i16(key as i16);
        frame.put_i16(version);
        frame.put_i32(round as i32);
        frame.put_i16(-1); // null client id
        if key.request_header_version(version) >= 2 {
            frame.put_u8(0); // empty tagged fields of a flexible header
        }
        let len = (noise.next() % 200) as usize;
        frame.put_slice(&noise.bytes(len));
        client.send_raw(&frame);
        if client.read_frame().is_none() {
            closed += 1; // undecodable: that connection is closed, as in Kafka
            client = weir.connect();
        }
    }
    // Structurally valid produce requests carrying random "record batches".
    for _ in 0..500 {
        let mut records = batch(
            1 + (noise.next() % 5) as usize,
            (noise.next() % 64) as usize,
        )
        .to_vec();
        let flips = noise.next() % 4;
        for _ in 0..flips {
            let at = (noise.next() as usize) % records.len();
            records[at] ^= 1 << (noise.next() % 8);
        }
        if noise.next().is_multiple_of(3) {
            records.truncate((noise.next() as usize) % records.len());
        }
        match produce(&mut client, "t", -1, records.into(), 9) {
            Some(response) => {
                let code = response.responses[0].partition_responses[0].error_code;
                assert!(
                    [0, 2, 10, 32, 43, 87].contains(&code),
                    "unexpected error code {code}"
                );
            }
            None => client = weir.connect(),
        }
    }
    assert!(
        weir.child.try_wait().unwrap().is_none(),
        "weir is still running"
    );
    let mut fresh = weir.connect();
    api_versions_ok(&mut fresh);
    assert!(closed > 0, "some random bodies did not decode");
    // Whatever was stored is readable, batch by batch.
    assert!(log_end_offset(&mut fresh, "t") > 0);
}
