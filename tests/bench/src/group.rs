//! The consumer-group benchmark (`--group`): a producer writes numbered,
//! timestamped records while a group of consumers (`--members`, default 3)
//! shares the topic; prints records/s and end-to-end latency (produce call
//! to consumer poll), then has one member leave gracefully and measures how
//! long until the others own every partition again.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use crate::{client_config, Args};

/// What the members share: their assignments and what they measured.
struct Shared {
    assignments: Mutex<Vec<BTreeSet<i32>>>,
    latency: Mutex<Histogram<u64>>,
    consumed: AtomicUsize,
    last_consumed: Mutex<Option<Instant>>,
    stop: Vec<AtomicBool>,
}

struct Member {
    index: usize,
    shared: Arc<Shared>,
}

impl ClientContext for Member {}

impl ConsumerContext for Member {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, _: &Rebalance<'_>) {
        let owned = consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        self.shared.assignments.lock().expect("assignments")[self.index] = owned;
    }
}

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn run_member(bootstrap: String, args: Args, index: usize, shared: Arc<Shared>) -> Result<()> {
    let mut config = client_config(&bootstrap);
    config
        .set("group.id", "bench-group")
        .set("auto.offset.reset", "earliest")
        .set("group.protocol", &args.group_protocol);
    if args.group_protocol == "classic" {
        config
            .set("heartbeat.interval.ms", args.heartbeat_ms.to_string())
            .set("session.timeout.ms", "10000");
    }
    let consumer: BaseConsumer<Member> = config.create_with_context(Member {
        index,
        shared: shared.clone(),
    })?;
    consumer.subscribe(&["bench"])?;
    while !shared.stop[index].load(Ordering::Relaxed) {
        let Some(message) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let message = message?;
        if let Some(sent) = message.payload().and_then(|p| p.get(..8)) {
            let sent = u64::from_be_bytes(sent.try_into().expect("8 bytes"));
            let latency = micros_now().saturating_sub(sent);
            shared
                .latency
                .lock()
                .expect("histogram")
                .saturating_record(latency);
            shared.consumed.fetch_add(1, Ordering::Relaxed);
            *shared.last_consumed.lock().expect("time") = Some(Instant::now());
        }
    }
    // Dropping the consumer closes it: a graceful leave of the group.
    drop(consumer);
    Ok(())
}

fn covered(shared: &Shared, members: &[usize], partitions: i32) -> bool {
    let assignments = shared.assignments.lock().expect("assignments");
    let sets: Vec<&BTreeSet<i32>> = members.iter().map(|i| &assignments[*i]).collect();
    let total: usize = sets.iter().map(|s| s.len()).sum();
    let union: BTreeSet<i32> = sets.iter().flat_map(|s| s.iter().copied()).collect();
    total == partitions as usize && union.len() == partitions as usize
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<Duration> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(start.elapsed())
}

pub struct GroupResult {
    pub records_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rebalance_ms: f64,
}

pub fn run(bootstrap: &str, args: &Args) -> Result<GroupResult> {
    let members = args.members;
    let shared = Arc::new(Shared {
        assignments: Mutex::new(vec![BTreeSet::new(); members]),
        latency: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
        consumed: AtomicUsize::new(0),
        last_consumed: Mutex::new(None),
        stop: (0..members).map(|_| AtomicBool::new(false)).collect(),
    });
    let threads: Vec<_> = (0..members)
        .map(|i| {
            let (bootstrap, args, shared) = (bootstrap.to_string(), args.clone(), shared.clone());
            std::thread::spawn(move || run_member(bootstrap, args, i, shared))
        })
        .collect();
    let everyone: Vec<usize> = (0..members).collect();
    let formed = wait_for("the group to form", Duration::from_secs(60), || {
        covered(&shared, &everyone, args.partitions)
            && shared
                .assignments
                .lock()
                .expect("assignments")
                .iter()
                .all(|a| !a.is_empty())
    })?;
    println!("group formed in {:.0} ms", formed.as_secs_f64() * 1000.0);

    let producer: ThreadedProducer<_> = client_config(bootstrap)
        .set("linger.ms", args.linger_ms.to_string())
        .set("acks", &args.acks)
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let mut value = crate::payload(args.size.max(8));
    let start = Instant::now();
    for i in 0..args.records {
        value[..8].copy_from_slice(&micros_now().to_be_bytes());
        let key = format!("{i:012}");
        loop {
            match producer.send(BaseRecord::to("bench").key(key.as_bytes()).payload(&value)) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    std::thread::sleep(Duration::from_micros(200))
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
    wait_for(
        "every record to be consumed",
        Duration::from_secs(300),
        || shared.consumed.load(Ordering::Relaxed) >= args.records,
    )?;
    let last = shared
        .last_consumed
        .lock()
        .expect("time")
        .unwrap_or_else(Instant::now);
    let seconds = last.duration_since(start).as_secs_f64();
    let latency = shared.latency.lock().expect("histogram").clone();

    // A graceful leave: member 0 closes; the rest must own everything again.
    shared.stop[0].store(true, Ordering::Relaxed);
    let left_at = Instant::now();
    let rest: Vec<usize> = (1..members).collect();
    wait_for("the rest to take over", Duration::from_secs(60), || {
        covered(&shared, &rest, args.partitions)
    })?;
    let rebalance = left_at.elapsed();
    for stop in &shared.stop {
        stop.store(true, Ordering::Relaxed);
    }
    for t in threads {
        t.join().expect("member thread")?;
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(GroupResult {
        records_per_second: args.records as f64 / seconds,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        rebalance_ms: rebalance.as_secs_f64() * 1000.0,
    })
}
