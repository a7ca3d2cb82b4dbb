//! weir-bench: drives produce and consume through librdkafka (the `rdkafka`
//! crate) and prints MB/s, records/s and produce latency percentiles.
//!
//! With `--spawn PATH/TO/weir` it starts a fresh broker per log engine
//! (`disk`, then `null`: acknowledged, nothing stored) so one run shows how
//! close real storage gets to the protocol ceiling, and reports the broker's
//! resident memory. With `--bootstrap` it measures a broker already running.
//! With `--group` it runs the consumer-group benchmark instead (group.rs);
//! with `--plugins`, produce and consume with plugins bound (plugins.rs);
//! with `--cleaner`, produce while the log cleaner compacts (cleaner.rs);
//! with `--connections N`, the broker memory per idle connection (connections.rs).

mod cleaner;
mod connections;
mod group;
mod plugins;
mod schemas;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::Parser;
use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

#[derive(Parser, Debug, Clone)]
#[command(about = "Produce/consume benchmark through librdkafka")]
struct Args {
    /// A running broker to measure.
    #[arg(long, conflicts_with = "spawn")]
    bootstrap: Option<String>,
    /// Start this weir binary (once per engine) on a free port with a temporary data dir.
    #[arg(long)]
    spawn: Option<PathBuf>,
    /// Engines to run with --spawn.
    #[arg(long, value_delimiter = ',', default_value = "disk,null")]
    engines: Vec<String>,
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Record value size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Replication factor of the benchmark topic (a cluster's --bootstrap).
    #[arg(long, default_value_t = 1)]
    replication_factor: i32,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// all, 1 or 0.
    #[arg(long, default_value = "all")]
    acks: String,
    #[arg(long, default_value_t = 5)]
    linger_ms: u32,
    /// Records per second to offer (0: as fast as possible). Latency is only
    /// meaningful below the broker's capacity; at full speed it is queueing.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Pin spawned brokers to CPU 0 and this client to CPU 1, as if they ran on
    /// separate machines: otherwise the client (which needs most of a core)
    /// and the broker take CPU from each other.
    #[arg(long)]
    pin: bool,
    /// Rounds of all engines, alternating (medians are reported).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Where spawned brokers keep their logs (a temporary directory under it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run the consumer-group benchmark: members share the topic, then one leaves.
    #[arg(long)]
    group: bool,
    /// Consumers in the group.
    #[arg(long, default_value_t = 3)]
    members: usize,
    /// classic or consumer (KIP-848).
    #[arg(long, default_value = "classic")]
    group_protocol: String,
    /// heartbeat.interval.ms of classic members (group.consumer.heartbeat.interval.ms
    /// of the spawned broker for KIP-848 members).
    #[arg(long, default_value_t = 3000)]
    heartbeat_ms: u32,
    /// Run the plugin benchmark: throughput with plugins bound, next to none.
    #[arg(long)]
    plugins: bool,
    /// Where the standard plugins were built (default target/wasm32-wasip2/release).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Run the schema validation benchmark: produce with validation off,
    /// ids only, and the avro serializer; then registry lookups per second.
    #[arg(long)]
    schemas: bool,
    /// Run the cleaner benchmark: produce while a compacted log is cleaned.
    #[arg(long)]
    cleaner: bool,
    /// MiB of keyed records the cleaner compacts.
    #[arg(long, default_value_t = 1024)]
    cleaner_mb: usize,
    /// log.cleaner.io.max.bytes.per.second of the spawned broker.
    #[arg(long)]
    cleaner_io: Option<f64>,
    /// With --cleaner: `history` is deleted by retention instead of compacted.
    #[arg(long)]
    retention: bool,
    /// Measure the broker's memory per idle connection with this many
    /// connections (connections.rs) instead of produce/consume.
    #[arg(long, default_value_t = 0)]
    connections: usize,
}

/// Records each record's latency from `send` to its delivery report; with
/// `from`, only that of records sent once it is set (leaving out a warm-up),
/// and each of those with its send time too.
struct Timing {
    latency: Mutex<Histogram<u64>>,
    failed: AtomicUsize,
    from: Option<Arc<OnceLock<Instant>>>,
    sends: Mutex<Vec<(Instant, u32)>>,
}

impl ClientContext for Timing {}

impl ProducerContext for Timing {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Some(from) = &self.from {
            if from.get().is_none_or(|from| *sent < *from) {
                return;
            }
        }
        let micros = sent.elapsed().as_micros() as u64;
        if self.from.is_some() {
            let micros = micros.min(u32::MAX as u64) as u32;
            self.sends.lock().expect("sends").push((*sent, micros));
        }
        self.latency
            .lock()
            .expect("histogram")
            .saturating_record(micros);
    }
}

struct ProduceResult {
    seconds: f64,
    latency: Histogram<u64>,
    /// (sent, latency µs) of each measured record (`produce_measured` only).
    sends: Vec<(Instant, u32)>,
}

struct ConsumeResult {
    seconds: f64,
    records: usize,
    bytes: usize,
}

pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

fn create_topic(bootstrap: &str, args: &Args, configs: &[(&str, &str)]) -> Result<()> {
    create_replicated_topic(
        bootstrap,
        "bench",
        args.partitions,
        args.replication_factor,
        configs,
    )
}

fn create_named_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<()> {
    create_replicated_topic(bootstrap, name, partitions, 1, configs)
}

fn create_replicated_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    replication_factor: i32,
    configs: &[(&str, &str)],
) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap).create()?;
    let mut topic = NewTopic::new(
        name,
        partitions,
        TopicReplication::Fixed(replication_factor),
    );
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let runtime = futures_lite_block_on(admin.create_topics([&topic], &AdminOptions::new()))?;
    for result in runtime {
        if let Err((name, code)) = result {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                bail!("creating {name}: {code}");
            }
        }
    }
    Ok(())
}

/// A minimal executor for the one admin future (avoids pulling in a runtime).
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

pub(crate) fn payload(size: usize) -> Vec<u8> {
    // Varied bytes so compression has real work to do, but not random noise.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..size)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if i % 4 == 0 {
                b'a' + (state % 26) as u8
            } else {
                b' ' + (i % 64) as u8
            }
        })
        .collect()
}

/// Produces `args.records` records to `bench`, their values taken from
/// `values` in turn, with `extra` producer configs.
fn produce(
    bootstrap: &str,
    args: &Args,
    values: &[Vec<u8>],
    extra: &[(&str, &str)],
) -> Result<ProduceResult> {
    produce_measured(bootstrap, args, values, extra, None)
}

/// As `produce`, the latency counting only records sent after `from` is set.
fn produce_measured(
    bootstrap: &str,
    args: &Args,
    values: &[Vec<u8>],
    extra: &[(&str, &str)],
    from: Option<Arc<OnceLock<Instant>>>,
) -> Result<ProduceResult> {
    let mut config = client_config(bootstrap);
    for (key, value) in extra {
        config.set(*key, *value);
    }
    // A polling thread serves delivery reports as they come, so latency is not
    // inflated by how often this loop would poll.
    let producer: ThreadedProducer<Timing> = config
        .set("acks", &args.acks)
        .set("linger.ms", args.linger_ms.to_string())
        .set("compression.type", &args.compression)
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create_with_context(Timing {
            latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
            failed: AtomicUsize::new(0),
            from,
            sends: Mutex::new(Vec::new()),
        })?;
    let start = Instant::now();
    for i in 0..args.records {
        let value = &values[i % values.len()];
        let key = format!("{i:012}");
        let mut opaque = Box::new(Instant::now());
        loop {
            let record = BaseRecord::with_opaque_to("bench", opaque)
                .key(key.as_bytes())
                .payload(value);
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), record)) => {
                    opaque = record.delivery_opaque;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => bail!("produce failed: {e}"),
            }
        }
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64(i as f64 / args.rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let seconds = start.elapsed().as_secs_f64();
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} records were not acknowledged");
    }
    let latency = producer
        .context()
        .latency
        .lock()
        .expect("histogram")
        .clone();
    let sends = std::mem::take(&mut *producer.context().sends.lock().expect("sends"));
    Ok(ProduceResult {
        seconds,
        latency,
        sends,
    })
}

/// Reads `bench` from the beginning until `expected` records arrived.
fn consume(bootstrap: &str, args: &Args, expected: usize) -> Result<ConsumeResult> {
    consume_topic(bootstrap, "bench", args.partitions, expected)
}

/// Reads `topic` from the beginning until `expected` records arrived.
fn consume_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> Result<ConsumeResult> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "weir-bench")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let start = Instant::now();
    let (mut records, mut bytes) = (0usize, 0usize);
    let deadline = start + Duration::from_secs(300);
    while records < expected && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            bytes += message.payload_len() + message.key().map_or(0, <[u8]>::len);
            records += 1;
        }
    }
    Ok(ConsumeResult {
        seconds: start.elapsed().as_secs_f64(),
        records,
        bytes,
    })
}

/// Restricts the calling process (or thread group member) to one CPU.
fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// (user, system) CPU seconds of a process (`self` for this one), from /proc.
fn process_cpu_seconds(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / 100.0
    };
    (ticks(11), ticks(12))
}

struct Broker {
    child: Child,
    bootstrap: String,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn spawn(
        weir: &PathBuf,
        engine: &str,
        parent: Option<&PathBuf>,
        pin: bool,
        extra: &[String],
    ) -> Result<Broker> {
        Broker::spawn_with(weir, engine, parent, pin, extra, None)
    }

    /// As `spawn`, with a weir.toml (`--config`) under the `--set`s.
    fn spawn_with(
        weir: &PathBuf,
        engine: &str,
        parent: Option<&PathBuf>,
        pin: bool,
        extra: &[String],
        config: Option<&std::path::Path>,
    ) -> Result<Broker> {
        let dir = match parent {
            Some(parent) => tempfile::tempdir_in(parent)?,
            None => tempfile::tempdir()?,
        };
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new(weir);
        command.arg("serve");
        if pin {
            use std::os::unix::process::CommandExt;
            // SAFETY: only an async-signal-safe syscall runs between fork and exec.
            unsafe { command.pre_exec(|| pin_to_cpu(0)) };
        }
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let child = command
            .args(["--set", &format!("listeners=PLAINTEXT://127.0.0.1:{port}")])
            .args(["--set", &format!("log.dirs={}", dir.path().display())])
            .args(["--set", &format!("log.engine={engine}")])
            .args(["--set", "weir.admin.listener=127.0.0.1:0"])
            .args(["--set", "schema.registry.listener="])
            .args(extra.iter().flat_map(|e| ["--set", e.as_str()]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", weir.display()))?;
        let bootstrap = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&bootstrap).is_err() {
            if Instant::now() > deadline {
                bail!("weir did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Broker {
            child,
            bootstrap,
            _dir: dir,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (current, peak) resident set size in MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn report(
    engine: &str,
    args: &Args,
    produced: &ProduceResult,
    consumed: Option<&ConsumeResult>,
    broker: Option<&Broker>,
) {
    let bytes = (args.records * args.size) as f64;
    let p = |q: f64| produced.latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{engine:>6} produce: {:>9.0} records/s {:>8.1} MB/s   latency ms p50 {:.2} p99 {:.2} p99.9 {:.2}",
        args.records as f64 / produced.seconds,
        bytes / produced.seconds / 1e6,
        p(0.5),
        p(0.99),
        p(0.999),
    );
    if let Some(c) = consumed {
        println!(
            "{engine:>6} consume: {:>9.0} records/s {:>8.1} MB/s   ({} records)",
            c.records as f64 / c.seconds,
            c.bytes as f64 / c.seconds / 1e6,
            c.records
        );
    }
    if let Some(broker) = broker {
        let (rss, peak) = broker.rss_mib();
        println!("{engine:>6} broker RSS: {rss:.1} MiB now, {peak:.1} MiB peak");
    }
}

/// Runs every engine `--repeat` times, alternating, and prints the medians:
/// on a shared machine one run of each says little.
fn compare_engines(weir: &PathBuf, args: &Args) -> Result<()> {
    let mut produce_rates: Vec<(String, f64)> = Vec::new();
    let mut consume_rates: Vec<(String, f64)> = Vec::new();
    for round in 0..args.repeat {
        if args.repeat > 1 {
            println!("-- round {}", round + 1);
        }
        for engine in &args.engines {
            let broker = Broker::spawn(weir, engine, args.data_dir.as_ref(), args.pin, &[])?;
            create_topic(&broker.bootstrap, args, &[])?;
            let cpu = |pid: &str| {
                let (user, system) = process_cpu_seconds(pid);
                user + system
            };
            let broker_pid = broker.child.id().to_string();
            let client_start = cpu("self");
            let produced = produce(&broker.bootstrap, args, &[payload(args.size)], &[])?;
            let (broker_produced, client_produced) = (cpu(&broker_pid), cpu("self"));
            let consumed = (engine != "null")
                .then(|| consume(&broker.bootstrap, args, args.records))
                .transpose()?;
            report(engine, args, &produced, consumed.as_ref(), Some(&broker));
            println!(
                "{engine:>6} CPU seconds: broker {:.1} producing + {:.1} consuming; bench client {:.1} + {:.1}",
                broker_produced,
                cpu(&broker_pid) - broker_produced,
                client_produced - client_start,
                cpu("self") - client_produced
            );
            let mb = |bytes: f64, seconds: f64| bytes / seconds / 1e6;
            produce_rates.push((
                engine.clone(),
                mb((args.records * args.size) as f64, produced.seconds),
            ));
            if let Some(c) = consumed {
                consume_rates.push((engine.clone(), mb(c.bytes as f64, c.seconds)));
            }
        }
    }
    let median = |rates: &[(String, f64)], engine: &str| {
        let mut values: Vec<f64> = rates
            .iter()
            .filter(|(e, _)| e == engine)
            .map(|(_, r)| *r)
            .collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    println!("-- medians over {} round(s)", args.repeat);
    for engine in &args.engines {
        if let Some(p) = median(&produce_rates, engine) {
            print!("{engine:>6}: produce {p:.1} MB/s");
        }
        match median(&consume_rates, engine) {
            Some(c) => println!(", consume {c:.1} MB/s"),
            None => println!(),
        }
    }
    if let (Some(disk), Some(null)) = (
        median(&produce_rates, "disk"),
        median(&produce_rates, "null"),
    ) {
        println!(
            "disk produce = {:.0}% of the null-log ceiling (medians)",
            100.0 * disk / null
        );
    }
    Ok(())
}

/// `--group`: the consumer-group benchmark, `--repeat` rounds, medians.
fn group_benchmark(args: &Args) -> Result<()> {
    println!(
        "group benchmark: {} members, protocol {}, heartbeat {} ms",
        args.members, args.group_protocol, args.heartbeat_ms
    );
    let mut results = Vec::new();
    for round in 0..args.repeat {
        let (broker, bootstrap) = match (&args.bootstrap, &args.spawn) {
            (Some(b), _) => (None, b.clone()),
            (None, Some(weir)) => {
                let extra = [
                    format!("group.consumer.heartbeat.interval.ms={}", args.heartbeat_ms),
                    "group.initial.rebalance.delay.ms=0".to_string(),
                ];
                let broker = Broker::spawn(weir, "disk", args.data_dir.as_ref(), args.pin, &extra)?;
                let bootstrap = broker.bootstrap.clone();
                (Some(broker), bootstrap)
            }
            (None, None) => bail!("give --bootstrap HOST:PORT or --spawn PATH/TO/weir"),
        };
        create_topic(&bootstrap, args, &[])?;
        let r = group::run(&bootstrap, args)?;
        println!(
            "round {}: {:.0} records/s, end-to-end latency ms p50 {:.2} p99 {:.2}, rebalance after a graceful leave {:.0} ms",
            round + 1,
            r.records_per_second,
            r.p50_ms,
            r.p99_ms,
            r.rebalance_ms
        );
        results.push(r);
        drop(broker);
    }
    let median = |f: fn(&group::GroupResult) -> f64| {
        let mut v: Vec<f64> = results.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "-- medians over {} round(s): {:.0} records/s, p50 {:.2} ms, p99 {:.2} ms, rebalance {:.0} ms",
        args.repeat,
        median(|r| r.records_per_second),
        median(|r| r.p50_ms),
        median(|r| r.p99_ms),
        median(|r| r.rebalance_ms)
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.pin {
        // Before librdkafka starts its threads, so they inherit the mask.
        pin_to_cpu(1).context("pinning the client to CPU 1")?;
    }
    println!(
        "weir-bench: {} records x {} B, {} partitions, compression={}, acks={}, linger.ms={}, rate={}, pinned={}",
        args.records,
        args.size,
        args.partitions,
        args.compression,
        args.acks,
        args.linger_ms,
        if args.rate == 0 { "max".to_string() } else { format!("{}/s", args.rate) },
        args.pin
    );
    if args.group {
        return group_benchmark(&args);
    }
    if args.cleaner {
        let Some(weir) = &args.spawn else {
            bail!("--cleaner needs --spawn PATH/TO/weir");
        };
        return cleaner::run(weir, &args);
    }
    if args.connections > 0 {
        let Some(weir) = &args.spawn else {
            bail!("--connections needs --spawn PATH/TO/weir");
        };
        return connections::run(weir, &args);
    }
    if args.schemas {
        let Some(weir) = &args.spawn else {
            bail!("--schemas needs --spawn PATH/TO/weir");
        };
        return schemas::run(weir, &args);
    }
    if args.plugins {
        let Some(weir) = &args.spawn else {
            bail!("--plugins needs --spawn PATH/TO/weir");
        };
        return plugins::run(weir, &args);
    }
    match (&args.bootstrap, &args.spawn) {
        (Some(bootstrap), _) => {
            create_topic(bootstrap, &args, &[])?;
            let produced = produce(bootstrap, &args, &[payload(args.size)], &[])?;
            let consumed = consume(bootstrap, &args, args.records)?;
            report("broker", &args, &produced, Some(&consumed), None);
        }
        (None, Some(weir)) => compare_engines(weir, &args)?,
        (None, None) => bail!("give --bootstrap HOST:PORT or --spawn PATH/TO/weir"),
    }
    Ok(())
}
