//! `--plugins`: produce (and consume) throughput through real brokers with
//! plugins bound, next to the same run with none. Each case gets a fresh
//! broker whose weir.toml declares the standard plugins (built from
//! plugins/), a `bench` topic with the case's topic configs, and the same
//! records: 1 KiB JSON values whose `region` alternates between "eu" and
//! "us". Cases run in turn, `--repeat` rounds, and the medians are printed
//! as a table with each case's cost relative to no plugin.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::{consume, create_topic, produce, Args, Broker};

/// One binding to measure: its name and the `bench` topic's configs.
struct Case {
    name: &'static str,
    configs: &'static [(&'static str, &'static str)],
    /// librdkafka's partitioner for the case.
    partitioner: &'static str,
    /// Records the consumer gets (of every two produced).
    kept_of_two: usize,
}

const CASES: &[Case] = &[
    Case {
        name: "no plugin",
        configs: &[],
        partitioner: "consistent_random",
        kept_of_two: 2,
    },
    Case {
        name: "murmur2 route, client agrees (murmur2_random)",
        configs: &[("weir.partitioner", "murmur2")],
        partitioner: "murmur2_random",
        kept_of_two: 2,
    },
    Case {
        name: "murmur2 route, client disagrees (5/6 of records move)",
        configs: &[("weir.partitioner", "murmur2")],
        partitioner: "consistent_random",
        kept_of_two: 2,
    },
    Case {
        name: "1 produce interceptor (header-stamp)",
        configs: &[("weir.interceptors.produce", "stamp")],
        partitioner: "consistent_random",
        kept_of_two: 2,
    },
    Case {
        name: "3 produce interceptors (header-stamp, redact, json-validate)",
        configs: &[("weir.interceptors.produce", "stamp,redact,json-only")],
        partitioner: "consistent_random",
        kept_of_two: 2,
    },
    Case {
        name: "fetch filter (keeps region=eu: half)",
        configs: &[("weir.interceptors.fetch", "eu-only")],
        partitioner: "consistent_random",
        kept_of_two: 1,
    },
];

/// The standard plugins the cases bind, as weir.toml declares them.
fn weir_toml(plugin_dir: &Path) -> String {
    let plugin = |name: &str, file: &str, kind: &str, config: &str| {
        format!(
            "[[plugins]]\nname = \"{name}\"\npath = \"{}\"\nkind = \"{kind}\"\nconfig = {{ {config} }}\n\n",
            plugin_dir.join(file).display()
        )
    };
    [
        plugin("murmur2", "murmur2.wasm", "partitioner", ""),
        plugin(
            "stamp",
            "header_stamp.wasm",
            "produce-interceptor",
            "headers = \"source=bench\"",
        ),
        plugin(
            "redact",
            "redact.wasm",
            "produce-interceptor",
            "fields = \"ssn\"",
        ),
        plugin("json-only", "json_validate.wasm", "produce-interceptor", ""),
        plugin(
            "eu-only",
            "filter.wasm",
            "fetch-interceptor",
            "field = \"region\", equals = \"eu\"",
        ),
    ]
    .concat()
}

/// Two JSON values of `size` bytes, one per region.
fn values(size: usize) -> Vec<Vec<u8>> {
    ["eu", "us"]
        .iter()
        .map(|region| {
            let head = format!("{{\"region\":\"{region}\",\"ssn\":\"123-45-6789\",\"pad\":\"");
            let pad = size.saturating_sub(head.len() + 2).max(1);
            let mut value = head.into_bytes();
            value.extend(crate::payload(pad).iter().map(|b| match b {
                b'"' | b'\\' => b'_',
                b => *b,
            }));
            value.extend_from_slice(b"\"}");
            value
        })
        .collect()
}

struct Measured {
    produce_mb_s: f64,
    consume_mb_s: f64,
    p99_ms: f64,
}

fn run_case(weir: &PathBuf, args: &Args, config: &Path, case: &Case) -> Result<Measured> {
    let broker = Broker::spawn_with(
        weir,
        "disk",
        args.data_dir.as_ref(),
        args.pin,
        &[],
        Some(config),
    )?;
    create_topic(&broker.bootstrap, args, case.configs)?;
    let values = values(args.size);
    let produced = produce(
        &broker.bootstrap,
        args,
        &values,
        &[("partitioner", case.partitioner)],
    )?;
    let expected = args.records / 2 * case.kept_of_two;
    let consumed = consume(&broker.bootstrap, args, expected)?;
    if consumed.records != expected {
        bail!(
            "{}: consumed {} records, expected {expected}",
            case.name,
            consumed.records
        );
    }
    // Consume rates count every record scanned, kept or filtered out.
    let bytes = (args.records * values[0].len()) as f64;
    Ok(Measured {
        produce_mb_s: bytes / produced.seconds / 1e6,
        consume_mb_s: bytes / consumed.seconds / 1e6,
        p99_ms: produced.latency.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

pub fn run(weir: &PathBuf, args: &Args) -> Result<()> {
    let plugin_dir = args
        .plugin_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/wasm32-wasip2/release"));
    let plugin_dir = plugin_dir
        .canonicalize()
        .with_context(|| format!("{} (build the plugins first)", plugin_dir.display()))?;
    let config = tempfile::NamedTempFile::new()?;
    std::fs::write(config.path(), weir_toml(&plugin_dir))?;
    let mut results: Vec<Vec<Measured>> = CASES.iter().map(|_| Vec::new()).collect();
    for round in 0..args.repeat {
        for (case, out) in CASES.iter().zip(&mut results) {
            let m = run_case(weir, args, config.path(), case)?;
            println!(
                "round {}: {:<62} produce {:>6.1} MB/s (p99 {:>6.2} ms), consume {:>6.1} MB/s",
                round + 1,
                case.name,
                m.produce_mb_s,
                m.p99_ms,
                m.consume_mb_s
            );
            out.push(m);
        }
    }
    let median = |ms: &[Measured], f: fn(&Measured) -> f64| {
        let mut v: Vec<f64> = ms.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base_produce = median(&results[0], |m| m.produce_mb_s);
    let base_consume = median(&results[0], |m| m.consume_mb_s);
    println!("\n-- medians over {} round(s)", args.repeat);
    println!(
        "| binding | produce MB/s | vs no plugin | produce p99 ms | consume MB/s | vs no plugin |"
    );
    println!("|---|---|---|---|---|---|");
    for (case, ms) in CASES.iter().zip(&results) {
        let (p, c) = (
            median(ms, |m| m.produce_mb_s),
            median(ms, |m| m.consume_mb_s),
        );
        println!(
            "| {} | {p:.1} | {:+.1}% | {:.2} | {c:.1} | {:+.1}% |",
            case.name,
            100.0 * (p / base_produce - 1.0),
            median(ms, |m| m.p99_ms),
            100.0 * (c / base_consume - 1.0)
        );
    }
    Ok(())
}
