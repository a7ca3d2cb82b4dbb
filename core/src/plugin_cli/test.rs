//! `weir plugin test`: loads the built plugin with the broker's own host
//! code (the registry, the sandbox, the limits) and runs it once on sample
//! records, printing what it decided — no broker, no network.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Deserialize;

use super::project::Project;
use weir::config::plugins::PluginSpec;
use weir::partition::interceptor::{Target, Verdict};
use weir::partition::partitioner::PackedRecords;
use weir::plugin::PluginRegistry;

/// One sample record, as a JSON line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<(String, Option<String>)>,
    #[serde(default)]
    timestamp: i64,
}

fn default_samples() -> Vec<Sample> {
    (0..6)
        .map(|i| Sample {
            key: (i != 5).then(|| format!("customer-{i}")),
            value: Some(format!(
                "{{\"id\":{i},\"region\":\"{}\"}}",
                if i % 2 == 0 { "eu" } else { "us" }
            )),
            headers: vec![(
                "tenant".into(),
                Some(if i < 3 { "acme" } else { "other" }.into()),
            )],
            timestamp: 1_700_000_000_000 + i,
        })
        .collect()
}

/// Three keys updated in turn, the last update of one a tombstone.
fn compaction_samples() -> Vec<Sample> {
    let now = weir::log::now_ms();
    (0..8)
        .map(|i| Sample {
            key: Some(format!("customer-{}", i % 3)),
            value: (i != 7).then(|| format!("{{\"balance\":{}}}", i * 10)),
            headers: Vec::new(),
            timestamp: now - (8 - i) * 60_000,
        })
        .collect()
}

fn read_samples(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))
        })
        .collect()
}

fn pack(samples: &[Sample]) -> PackedRecords {
    let mut packed = PackedRecords::default();
    for s in samples {
        let headers = s
            .headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_deref().map(str::as_bytes)));
        packed.push_record(
            s.key.as_deref().map(str::as_bytes),
            s.value.as_deref().map(str::as_bytes),
            headers,
            s.timestamp,
        );
    }
    packed
}

/// One packed record as a JSON line.
fn describe(packed: &PackedRecords, i: usize) -> serde_json::Value {
    let part = |offset: u32, len: i32| {
        (len >= 0).then(|| {
            String::from_utf8_lossy(&packed.data[offset as usize..][..len as usize]).into_owned()
        })
    };
    let r = &packed.records[i];
    let start = r.headers_start as usize;
    let headers: Vec<_> = packed.headers[start..start + r.headers_count as usize]
        .iter()
        .map(|h| {
            (
                part(h.name_offset, h.name_len as i32),
                part(h.value_offset, h.value_len),
            )
        })
        .collect();
    serde_json::json!({
        "key": part(r.key_offset, r.key_len),
        "value": part(r.value_offset, r.value_len),
        "headers": headers,
        "timestamp": r.timestamp,
    })
}

pub fn run(
    project: &Project,
    records: Option<&Path>,
    partitions: u32,
    config: &[String],
) -> anyhow::Result<()> {
    let m = &project.manifest;
    let bytes = std::fs::read(project.built_artifact()?)?;
    let mut spec = PluginSpec::deployed(&m.name, &m.kind);
    let mut values = m.config.clone();
    for item in config {
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("--config {item}: expected KEY=VALUE"))?;
        values.insert(k.trim().to_string(), v.to_string());
    }
    spec.config = values
        .into_iter()
        .map(|(k, v)| (k, toml::Value::String(v)))
        .collect();
    let cache = tempfile::tempdir()?;
    let registry = PluginRegistry::new(cache.path());
    let (sha, took) = registry
        .deploy(spec, &bytes)
        .with_context(|| format!("loading {}", m.name))?;
    println!(
        "loaded {} ({}) in {:.1} ms, sha256 {sha}",
        m.name,
        m.kind,
        took.as_secs_f64() * 1e3
    );
    let samples = match records {
        Some(path) => read_samples(path)?,
        None if m.kind == "compaction-policy" => compaction_samples(),
        None => default_samples(),
    };
    let packed = pack(&samples);
    let (topic, partition) = ("test-topic", 0);
    let started = Instant::now();
    match m.kind.as_str() {
        "retention-policy" => super::test_policy::retention(&registry, &m.name)?,
        "authenticator" => super::test_auth::authenticator(&registry, &m.name)?,
        "authorizer" => super::test_auth::authorizer(&registry, &m.name)?,
        "compaction-policy" => {
            super::test_policy::compaction(&registry, &m.name, &packed, |i| describe(&packed, i))?
        }
        "partitioner" => {
            let plugin = registry.partitioner(&m.name).context("loaded")?;
            let answer = plugin.partition(topic, partition, partitions, packed.clone());
            println!(
                "one call, {} records, {:.1} µs",
                samples.len(),
                started.elapsed().as_secs_f64() * 1e6
            );
            let targets = answer.map_err(|e| anyhow::anyhow!("the plugin {e}"))?;
            if targets.len() != samples.len() || targets.iter().any(|t| *t >= partitions) {
                bail!("the plugin answered {targets:?} for {} records of a {partitions}-partition topic: the broker would refuse that", samples.len());
            }
            for (i, t) in targets.iter().enumerate() {
                println!("record {i} → partition {t}   {}", describe(&packed, i));
            }
        }
        kind => {
            let plugin = registry.interceptor(&m.name, kind).context("loaded")?;
            let target = Target {
                topic,
                partition,
                partition_count: partitions,
                client_id: Some("weir-plugin-test"),
            };
            let answer = plugin.intercept(&target, packed.clone());
            println!(
                "one call, {} records, {:.1} µs",
                samples.len(),
                started.elapsed().as_secs_f64() * 1e6
            );
            match answer.map_err(|e| anyhow::anyhow!("the plugin {e}"))? {
                Verdict::Accept => println!("accept: the batch goes on unchanged"),
                Verdict::Reject { message, records } => {
                    println!("reject: {message}");
                    for (index, reason) in records {
                        println!("record {index} refused: {reason}");
                    }
                }
                Verdict::Rewrite { records, sources } => {
                    println!("rewrite: {} of {} records", sources.len(), samples.len());
                    for (i, source) in sources.iter().enumerate() {
                        println!("record {source} → {}", describe(&records, i));
                    }
                }
            }
        }
    }
    Ok(())
}
