//! Log cleaner throughput: a 1 GiB log (1 KiB values, 10% of the records'
//! keys unique, so 90% of the log is superseded) compacted natively and
//! with the standard `keep-last-n` compaction policy as a plugin (n = 1,
//! so both keep the same records and only the decision differs).
//!   cargo bench -p weir --bench cleaner [-- SIZE_MIB]
//! The plugin is built by tests/run.sh (plugins/ for wasm32-wasip2).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use weir::config::plugins::PluginSpec;
use weir::log::batch::encode;
use weir::log::cleaner::policy::{CompactionPolicy, KafkaCompaction};
use weir::log::cleaner::{compact, Pace, Source};
use weir::log::{now_ms, LogConfig, PartitionLog};
use weir::plugin::PluginRegistry;

const VALUE: usize = 1000;
const PER_BATCH: usize = 100;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1024);
    let records = mib * (1 << 20) / (VALUE + 30);
    let keys = records / 10;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 256 << 20,
        compact: true,
        delete: false,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(&dir.path().join("bench-0"), config, 0, 0, true).unwrap();
    let value = Bytes::from(vec![b'v'; VALUE]);
    let started = Instant::now();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for batch in 0..records / PER_BATCH {
        let records = (0..PER_BATCH).map(|_| {
            // xorshift: keys spread over the whole log, as updates are.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = format!("key-{:08}", state as usize % keys);
            (Some(Bytes::from(key)), Some(value.clone()))
        });
        let bytes = encode(records, now_ms() + batch as i64, Compression::None);
        log.append(&bytes, 0).unwrap();
    }
    log.roll().unwrap();
    let size = log.size();
    println!(
        "a {:.0} MiB log: {records} records of {VALUE} B values in batches of {PER_BATCH}, {keys} keys; written in {:.1} s",
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );

    let cache = tempfile::tempdir().unwrap();
    let registry = PluginRegistry::new(cache.path());
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release/keep_last_n.wasm");
    let bytes = std::fs::read(&wasm).expect("build the plugins first (tests/run.sh does)");
    let mut spec = PluginSpec::deployed("keep-last-n", "compaction-policy");
    spec.config = [("n".to_string(), toml::Value::String("1".into()))]
        .into_iter()
        .collect();
    spec.timeout_ms = 10_000;
    registry.deploy(spec, &bytes).unwrap();
    let plugin = registry.compaction_policy("keep-last-n").unwrap();
    let policies: [(&str, Arc<dyn CompactionPolicy>); 2] = [
        ("native (Kafka's rule)", Arc::new(KafkaCompaction)),
        ("keep-last-n plugin, n = 1", plugin),
    ];

    println!("\n| policy | cleaned | MB/s (log size / time) | records kept | peak RSS |");
    println!("|---|---|---|---|---|");
    let source = Source {
        topic: "bench",
        partition: 0,
    };
    for (name, policy) in policies {
        let plan = log.clean_plan(log.log_end_offset(), now_ms()).unwrap();
        let started = Instant::now();
        let cleaned = compact(
            &plan,
            &source,
            policy.as_ref(),
            &mut Pace::new(f64::MAX),
            now_ms(),
        )
        .unwrap();
        let took = started.elapsed().as_secs_f64();
        // Leave the log as it was for the next policy.
        for entry in std::fs::read_dir(dir.path().join("bench-0")).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".cleaned") {
                std::fs::remove_file(path).unwrap();
            }
        }
        println!(
            "| {name} | {:.1} s | {:.0} | {} of {records} ({:.1}%), {} written | {:.0} MiB |",
            took,
            size as f64 / 1e6 / took,
            cleaned.stats.records_kept,
            100.0 * cleaned.stats.records_kept as f64 / records as f64,
            human(cleaned.stats.bytes_written),
            rss_mib()
        );
        assert_eq!(cleaned.stats.policy_failures, 0);
    }
}

fn human(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
}
