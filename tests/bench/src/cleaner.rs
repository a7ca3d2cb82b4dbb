//! `--cleaner`: produce throughput and latency while the log cleaner
//! compacts a large log in the same broker (or, with `--retention`, while
//! retention deletes it), next to the same run without. Each case gets a
//! fresh broker; a `history` topic is filled with `--cleaner-mb` of 1 KiB
//! records whose keys are 10% unique; the usual produce run to `bench`
//! starts, and after a warm-up `history` is made compacted (or given
//! `retention.bytes=1`). Latency counts from then on. A watcher notes when
//! the cleaner threads use CPU (or `history`'s files shrink), and the p99 of
//! the records sent in that span is reported beside the p99 of the whole
//! measured window.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::{
    client_config, create_named_topic, futures_lite_block_on, payload, produce_measured, Args,
    Broker,
};

/// Produce time before the history is made compacted and latency counts.
const WARM_UP: Duration = Duration::from_secs(2);

struct Measured {
    produce_mb_s: f64,
    p99_ms: f64,
    /// When the cleaner threads were first and last seen using CPU, in
    /// seconds from the time the history became compacted.
    cleaning: Option<(f64, f64)>,
    /// From then to the end of the produce run: the window p99 is taken over.
    measured_seconds: f64,
    /// (seconds from that time, latency µs) of each record sent in the window.
    sends: Vec<(f32, u32)>,
}

impl Measured {
    /// p99 latency in ms of the records sent between `from` and `to` seconds.
    fn p99_between(&self, (from, to): (f64, f64)) -> Option<f64> {
        let mut micros: Vec<u32> = (self.sends.iter())
            .filter(|(sent, _)| (from..=to).contains(&(*sent as f64)))
            .map(|(_, micros)| *micros)
            .collect();
        micros.sort_unstable();
        micros
            .get(micros.len() * 99 / 100)
            .map(|m| *m as f64 / 1000.0)
    }
}

fn fill_history(bootstrap: &str, megabytes: usize) -> Result<()> {
    let producer: BaseProducer = client_config(bootstrap)
        .set("acks", "1")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create()?;
    let value = payload(1000);
    let records = megabytes * (1 << 20) / 1030;
    let keys = (records / 10).max(1);
    for i in 0..records {
        let key = format!("key-{:08}", (i * 7919) % keys);
        let mut record = BaseRecord::to("history")
            .key(key.as_bytes())
            .payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(())
}

/// Makes `history` compacted, or with `retention` deletes all its closed
/// segments (`retention.bytes=1`).
fn clean_history(bootstrap: &str, retention: bool) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap).create()?;
    let config = AlterConfig::new(ResourceSpecifier::Topic("history")).set("segment.ms", "500");
    let config = if retention {
        config
            .set("cleanup.policy", "delete")
            .set("retention.bytes", "1")
    } else {
        config.set("cleanup.policy", "compact")
    };
    for result in futures_lite_block_on(admin.alter_configs([&config], &AdminOptions::new()))? {
        if let Err((_, code)) = result {
            bail!("altering history: {code}");
        }
    }
    Ok(())
}

/// Watches the broker until `stop`, noting from when to when its log cleaner
/// threads used CPU (or, for retention, `history`'s files shrank).
fn watch(
    broker: (u32, PathBuf),
    retention: bool,
    stop: Arc<AtomicBool>,
    start: Instant,
    seen: Arc<Mutex<Option<(f64, f64)>>>,
) {
    let (pid, history) = broker;
    // A count that grows while the work goes on: the cleaner threads' CPU
    // ticks, or the bytes gone from `history`.
    let initial = dir_bytes(&history);
    let progress = || {
        if retention {
            initial.saturating_sub(dir_bytes(&history))
        } else {
            cleaner_cpu_ticks(pid)
        }
    };
    let mut last = progress();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        let done = progress();
        if done > last {
            let now = start.elapsed().as_secs_f64();
            let mut seen = seen.lock().unwrap();
            *seen = Some(seen.map_or((now, now), |(first, _)| (first, now)));
        }
        last = done;
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    (entries.flatten())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// CPU time (user + system, in clock ticks) of the `log-cleaner-*` threads.
fn cleaner_cpu_ticks(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter(|stat| stat.contains("(log-cleaner-"))
        .filter_map(|stat| {
            // Fields after the command name: state is 0, utime 11, stime 12.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

fn run_case(weir: &PathBuf, args: &Args, cleaner: bool) -> Result<Measured> {
    let mut extra = vec![
        format!("log.cleaner.enable={cleaner}"),
        "log.cleaner.backoff.ms=100".to_string(),
        "log.retention.check.interval.ms=200".to_string(),
    ];
    if let Some(rate) = args.cleaner_io {
        extra.push(format!("log.cleaner.io.max.bytes.per.second={rate}"));
    }
    let broker = Broker::spawn(weir, "disk", args.data_dir.as_ref(), args.pin, &extra)?;
    create_named_topic(&broker.bootstrap, "bench", args.partitions, &[])?;
    create_named_topic(
        &broker.bootstrap,
        "history",
        1,
        &[("segment.bytes", "67108864")],
    )?;
    fill_history(&broker.bootstrap, args.cleaner_mb)?;
    // Written back now, so neither case has a gigabyte of dirty pages
    // flushed under it (the cleaner would drop them with the old segments).
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let from = Arc::new(OnceLock::new());
    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(None)));
    let (produced, start) = std::thread::scope(|scope| -> Result<_> {
        let producing = scope.spawn(|| {
            produce_measured(
                &broker.bootstrap,
                args,
                &[payload(args.size)],
                &[],
                Some(from.clone()),
            )
        });
        // Latency counts from here: the producer's first second (connecting,
        // learning metadata, filling its pipeline) is not the cleaner's doing.
        std::thread::sleep(WARM_UP);
        let start = Instant::now();
        from.set(start).expect("set once");
        let watcher = {
            let history = broker._dir.path().join("history-0");
            let (pid, stop, seen) = (broker.pid(), stop.clone(), seen.clone());
            scope.spawn(move || watch((pid, history), args.retention, stop, start, seen))
        };
        // Without the cleaner `history` is still made compacted (nothing
        // happens); retention is only set in the case measured with it.
        let compacted = if cleaner || !args.retention {
            clean_history(&broker.bootstrap, args.retention)
        } else {
            Ok(())
        };
        let produced = producing.join().expect("producer");
        stop.store(true, Ordering::Relaxed);
        watcher.join().expect("watcher");
        compacted?;
        Ok((produced?, start))
    })?;
    let cleaning = *seen.lock().unwrap();
    Ok(Measured {
        produce_mb_s: (args.records * args.size) as f64 / produced.seconds / 1e6,
        p99_ms: produced.latency.value_at_quantile(0.99) as f64 / 1000.0,
        cleaning,
        measured_seconds: start.elapsed().as_secs_f64(),
        sends: (produced.sends.iter())
            .map(|(sent, micros)| (sent.duration_since(start).as_secs_f32(), *micros))
            .collect(),
    })
}

/// One round: both cases, and the p99 of each over the span the cleaner was
/// busy in the case with the cleaner.
struct Round {
    off: Measured,
    on: Measured,
    busy_p99_ms: Option<(f64, f64)>,
}

pub fn run(weir: &PathBuf, args: &Args) -> Result<()> {
    if args.rate == 0 || (args.records as f64 / args.rate as f64) < 2.0 * WARM_UP.as_secs_f64() {
        bail!(
            "--cleaner needs a --rate and --records lasting at least {} s",
            2 * WARM_UP.as_secs()
        );
    }
    let what = if args.retention {
        "retention deleting `history`"
    } else {
        "the cleaner compacting `history`"
    };
    let mut rounds = Vec::new();
    for round in 0..args.repeat {
        // Which case goes first alternates, so neither always inherits the
        // other's leftovers (writeback, files being removed).
        let (off, on) = if round % 2 == 0 {
            let off = run_case(weir, args, false)?;
            (off, run_case(weir, args, true)?)
        } else {
            let on = run_case(weir, args, true)?;
            (run_case(weir, args, false)?, on)
        };
        let busy_p99_ms = on
            .cleaning
            .and_then(|span| Some((off.p99_between(span)?, on.p99_between(span)?)));
        let busy = match (on.cleaning, busy_p99_ms) {
            (Some((a, b)), Some((off_p99, on_p99))) => format!(
                "; busy {a:.1}–{b:.1} s of {:.1} s: p99 then {on_p99:.2} ms, \
                 without {off_p99:.2} ms",
                on.measured_seconds
            ),
            _ => "; not seen busy".to_string(),
        };
        println!(
            "round {}: produce {:.1} / {:.1} MB/s, p99 {:.2} / {:.2} ms (without / with {what}){busy}",
            round + 1,
            off.produce_mb_s,
            on.produce_mb_s,
            off.p99_ms,
            on.p99_ms,
        );
        rounds.push(Round {
            off,
            on,
            busy_p99_ms,
        });
    }
    let median = |f: &dyn Fn(&Round) -> Option<f64>| {
        let mut v: Vec<f64> = rounds.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "\n-- medians over {} round(s), history {} MiB, latency over the {:.0} s after a {} s warm-up",
        args.repeat,
        args.cleaner_mb,
        median(&|r| Some(r.off.measured_seconds)),
        WARM_UP.as_secs()
    );
    println!("| | without | with {what} | change (median of the rounds') |");
    println!("|---|---|---|---|");
    let rows: [(&str, &dyn Fn(&Round) -> Option<(f64, f64)>); 3] = [
        ("produce MB/s", &|r| {
            Some((r.off.produce_mb_s, r.on.produce_mb_s))
        }),
        ("produce p99 ms, whole window", &|r| {
            Some((r.off.p99_ms, r.on.p99_ms))
        }),
        ("produce p99 ms, while it was busy", &|r| r.busy_p99_ms),
    ];
    for (name, pair) in rows {
        let (off, on) = (median(&|r| Some(pair(r)?.0)), median(&|r| Some(pair(r)?.1)));
        let change = median(&|r| pair(r).map(|(off, on)| 100.0 * (on / off - 1.0)));
        println!("| {name} | {off:.2} | {on:.2} | {change:+.1}% |");
    }
    Ok(())
}
