//! The harness the integration tests share: a real `weir` process on a free
//! loopback port with its own data directory, and a minimal Kafka client built
//! on kafka-protocol's own encoders.
#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::Compression;

pub struct Weir {
    pub child: Child,
    pub port: u16,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Weir {
    pub fn start(extra: &[&str]) -> Weir {
        Self::start_limited(extra, None)
    }

    /// Starts weir with its open files limit (soft and hard) set to `nofile`.
    pub fn start_limited(extra: &[&str], nofile: Option<u64>) -> Weir {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let args = Self::args(dir.path(), port, extra);
            if let Some(child) = try_spawn_limited(&args, dir.path(), nofile) {
                return Weir {
                    child,
                    port,
                    args,
                    _dir: dir,
                };
            }
        }
        panic!("weir could not bind a free port in 5 tries");
    }

    fn args(dir: &Path, port: u16, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "serve".to_string(),
            "--set".into(),
            format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
            "--set".into(),
            format!("log.dirs={}", dir.join("data").display()),
            "--set".into(),
            "weir.admin.listener=127.0.0.1:0".into(),
            // Tests run in parallel: no two may take the default 8081.
            "--set".into(),
            "schema.registry.listener=127.0.0.1:0".into(),
        ];
        for e in extra {
            args.push("--set".into());
            args.push(e.to_string());
        }
        args
    }

    /// kill -9, then start again on the same port and data directory.
    pub fn restart_after_kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.args, self._dir.path(), self.port);
    }

    pub fn connect(&self) -> Client {
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

    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }

    /// What the broker has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("weir.log")).unwrap_or_default()
    }

    /// The broker's resident memory, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts weir (stderr to weir.log in `dir`) and waits until it listens.
/// Tests run in parallel and each picks a free port before its broker binds
/// it, so two can race for one: a broker that could not bind exits, and a
/// connect alone might reach another test's broker. Only this broker's own
/// "listening" line counts; None when it exited first.
fn try_spawn(args: &[String], dir: &Path) -> Option<Child> {
    try_spawn_limited(args, dir, None)
}

/// The line a Kafka listener logs once bound (the schema registry and the
/// admin endpoint log "listening" too, and the registry binds first: a
/// bare "listening" let a test connect before the broker listened).
const KAFKA_LISTENING: &str = "weir::server: listening";

fn try_spawn_limited(args: &[String], dir: &Path, nofile: Option<u64>) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("weir.log"))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command.args(args).stdout(Stdio::null()).stderr(log);
    if let Some(n) = nofile {
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = command.spawn().unwrap();
    let mut child = child;
    let log_path = dir.join("weir.log");
    let starts_before = std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .matches(KAFKA_LISTENING)
        .count();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "weir did not start");
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.matches(KAFKA_LISTENING).count() > starts_before {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(args: &[String], dir: &Path, _port: u16) -> Child {
    try_spawn(args, dir).expect("weir exited while starting")
}

pub struct Client {
    pub stream: TcpStream,
    pub correlation: i32,
}

impl Client {
    pub fn send_raw(&mut self, frame: &[u8]) {
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(frame);
        self.stream.write_all(&out).unwrap();
    }

    /// Reads one response frame; None when the broker closed the connection.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    pub fn encode<R: Request>(&mut self, request: &R, version: i16) -> BytesMut {
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

    pub fn call<R: Request>(&mut self, request: &R, version: i16) -> Option<R::Response> {
        let frame = self.encode(request, version);
        self.send_raw(&frame);
        let mut body = self.read_frame()?;
        let header =
            ResponseHeader::decode(&mut body, R::Response::header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation);
        Some(R::Response::decode(&mut body, version).unwrap())
    }
}

pub fn api_versions_ok(client: &mut Client) {
    let response = client
        .call(&ApiVersionsRequest::default(), 3)
        .expect("connection alive");
    assert_eq!(response.error_code, 0);
    assert!(response
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Produce as i16 && k.min_version == 0));
}

pub fn create_topic(client: &mut Client, name: &str, configs: &[(&str, &str)]) {
    create_topic_with_partitions(client, name, 1, configs)
}

pub fn create_topic_with_partitions(
    client: &mut Client,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.into())))
        .with_num_partitions(partitions)
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

pub fn batch(count: usize, value_size: usize) -> Bytes {
    let records = (0..count).map(|_| (None, Some(Bytes::from(vec![b'x'; value_size]))));
    weir::log::batch::encode(records, 1_700_000_000_000, Compression::None).into()
}

pub fn produce(
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

pub fn produce_error(client: &mut Client, topic: &str, records: Bytes) -> (i16, Option<String>) {
    let response = produce(client, topic, -1, records, 9).expect("answered");
    let p = &response.responses[0].partition_responses[0];
    (
        p.error_code,
        p.error_message.as_ref().map(|m| m.to_string()),
    )
}

pub fn log_end_offset(client: &mut Client, topic: &str) -> i64 {
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
