//! `--cleaner`: produce throughput and latency while the log cleaner
//! compacts a large log in the same broker, next to the same run with the
//! cleaner off. Each case gets a fresh broker; a `history` topic is filled
//! with `--cleaner-mb` of 1 KiB records whose keys are 10% unique, then
//! made compacted (AlterConfigs), and the usual produce run to `bench`
//! starts at once. A watcher notes when the cleaner's `.cleaned` files
//! exist, to show the cleaner ran during the produce window.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::{
    client_config, create_named_topic, futures_lite_block_on, payload, produce, Args, Broker,
};

struct Measured {
    produce_mb_s: f64,
    p99_ms: f64,
    /// When `.cleaned` files were first and last seen, from the produce start.
    cleaning: Option<(f64, f64)>,
    produce_seconds: f64,
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

fn make_compacted(bootstrap: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap).create()?;
    let config = AlterConfig::new(ResourceSpecifier::Topic("history"))
        .set("cleanup.policy", "compact")
        .set("segment.bytes", "67108864")
        .set("segment.ms", "500");
    for result in futures_lite_block_on(admin.alter_configs([&config], &AdminOptions::new()))? {
        if let Err((_, code)) = result {
            bail!("making history compacted: {code}");
        }
    }
    Ok(())
}

/// Watches `dir` for the cleaner's files until `stop`.
fn watch(
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    start: Instant,
    seen: Arc<Mutex<Option<(f64, f64)>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let cleaning = walk(&dir)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".cleaned"));
        if cleaning {
            let now = start.elapsed().as_secs_f64();
            let mut seen = seen.lock().unwrap();
            *seen = Some(seen.map_or((now, now), |(first, _)| (first, now)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
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
    make_compacted(&broker.bootstrap)?;
    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(None)));
    let start = Instant::now();
    let watcher = {
        let (dir, stop, seen) = (broker.data_dir(), stop.clone(), seen.clone());
        std::thread::spawn(move || watch(dir, stop, start, seen))
    };
    let produced = produce(&broker.bootstrap, args, &[payload(args.size)], &[])?;
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    let cleaning = *seen.lock().unwrap();
    Ok(Measured {
        produce_mb_s: (args.records * args.size) as f64 / produced.seconds / 1e6,
        p99_ms: produced.latency.value_at_quantile(0.99) as f64 / 1000.0,
        cleaning,
        produce_seconds: produced.seconds,
    })
}

pub fn run(weir: &PathBuf, args: &Args) -> Result<()> {
    let cases = [("cleaner off", false), ("cleaner compacting history", true)];
    let mut results: Vec<Vec<Measured>> = vec![Vec::new(), Vec::new()];
    for round in 0..args.repeat {
        for ((name, cleaner), out) in cases.iter().zip(&mut results) {
            let m = run_case(weir, args, *cleaner)?;
            let cleaning = m.cleaning.map_or("—".to_string(), |(a, b)| {
                format!(
                    "cleaning seen {a:.1}–{b:.1} s of {:.1} s",
                    m.produce_seconds
                )
            });
            println!(
                "round {}: {name:<28} produce {:>6.1} MB/s, p99 {:>6.2} ms   {cleaning}",
                round + 1,
                m.produce_mb_s,
                m.p99_ms
            );
            out.push(m);
        }
    }
    let median = |ms: &[Measured], f: fn(&Measured) -> f64| {
        let mut v: Vec<f64> = ms.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (base_mb, base_p99) = (
        median(&results[0], |m| m.produce_mb_s),
        median(&results[0], |m| m.p99_ms),
    );
    println!(
        "\n-- medians over {} round(s), history {} MiB",
        args.repeat, args.cleaner_mb
    );
    println!("| case | produce MB/s | vs cleaner off | produce p99 ms | vs cleaner off |");
    println!("|---|---|---|---|---|");
    for ((name, _), ms) in cases.iter().zip(&results) {
        let (mb, p99) = (median(ms, |m| m.produce_mb_s), median(ms, |m| m.p99_ms));
        println!(
            "| {name} | {mb:.1} | {:+.1}% | {p99:.2} | {:+.1}% |",
            100.0 * (mb / base_mb - 1.0),
            100.0 * (p99 / base_p99 - 1.0)
        );
    }
    Ok(())
}
