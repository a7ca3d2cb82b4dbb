//! Bad input against a real `weir` process: each gets Kafka's answer, and the
//! broker (and its other connections) live on.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::Compression;

struct Weir {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Weir {
    fn start(extra: &[&str]) -> Weir {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut args = vec![
            "serve".to_string(),
            "--set".into(),
            format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
            "--set".into(),
            format!("log.dirs={}", dir.path().join("data").display()),
        ];
        for e in extra {
            args.push("--set".into());
            args.push(e.to_string());
        }
        let log = std::fs::File::create(dir.path().join("weir.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "weir did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Weir {
            child,
            port,
            _dir: dir,
        }
    }

    fn connect(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap_or_else(|e| {
            let log =
                std::fs::read_to_string(self._dir.path().join("weir.log")).unwrap_or_default();
            let tail: Vec<&str> = log
                .lines()
                .filter(|l| {
                    !l.trim_start().starts_with("at ")
                        && !l.contains(" INFO ")
                        && !l.contains(" WARN ")
                })
                .rev()
                .take(12)
                .collect();
            panic!(
                "cannot connect to weir ({e}); its log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            stream,
            correlation: 0,
        }
    }

    fn data_dir(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    fn send_raw(&mut self, frame: &[u8]) {
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(frame);
        self.stream.write_all(&out).unwrap();
    }

    /// Reads one response frame; None when the broker closed the connection.
    fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    fn encode<R: Request>(&mut self, request: &R, version: i16) -> BytesMut {
        self.correlation += 1;
        let mut buf = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("protocol-test")))
            .encode(&mut buf, R::header_version(version))
            .unwrap();
        request.encode(&mut buf, version).unwrap();
        buf
    }

    fn call<R: Request>(&mut self, request: &R, version: i16) -> Option<R::Response> {
        let frame = self.encode(request, version);
        self.send_raw(&frame);
        let mut body = self.read_frame()?;
        let header =
            ResponseHeader::decode(&mut body, R::Response::header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation);
        Some(R::Response::decode(&mut body, version).unwrap())
    }
}

fn api_versions_ok(client: &mut Client) {
    let response = client
        .call(&ApiVersionsRequest::default(), 3)
        .expect("connection alive");
    assert_eq!(response.error_code, 0);
    assert!(response
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Produce as i16 && k.min_version == 0));
}

fn create_topic(client: &mut Client, name: &str, configs: &[(&str, &str)]) {
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.into())))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    create_topics_request::CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        );
    let response = client
        .call(&CreateTopicsRequest::default().with_topics(vec![topic]), 7)
        .unwrap();
    assert_eq!(
        response.topics[0].error_code, 0,
        "{:?}",
        response.topics[0].error_message
    );
}

fn batch(count: usize, value_size: usize) -> Bytes {
    let records = (0..count).map(|_| (None, Some(Bytes::from(vec![b'x'; value_size]))));
    weir::log::batch::encode(records, 1_700_000_000_000, Compression::None).into()
}

fn produce(
    client: &mut Client,
    topic: &str,
    acks: i16,
    records: Bytes,
    version: i16,
) -> Option<ProduceResponse> {
    let data = produce_request::TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.into())))
        .with_partition_data(vec![produce_request::PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(records))]);
    let request = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![data]);
    client.call(&request, version)
}

fn produce_error(client: &mut Client, topic: &str, records: Bytes) -> (i16, Option<String>) {
    let response = produce(client, topic, -1, records, 9).expect("answered");
    let p = &response.responses[0].partition_responses[0];
    (
        p.error_code,
        p.error_message.as_ref().map(|m| m.to_string()),
    )
}

fn log_end_offset(client: &mut Client, topic: &str) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1),
            ])]);
    client.call(&request, 7).unwrap().topics[0].partitions[0].offset
}

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
