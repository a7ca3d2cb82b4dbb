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
use weir::partition::validation::PluginSchema;
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
            // The last two carry no headers, as many producers' records:
            // a plugin reading a header must cope with its absence.
            headers: if i < 4 {
                vec![(
                    "tenant".into(),
                    Some(if i < 3 { "acme" } else { "other" }.into()),
                )]
            } else {
                Vec::new()
            },
            timestamp: 1_700_000_000_000 + i,
        })
        .collect()
}

/// CSV lines for the serializer template's sample schema: two valid, one
/// short, one long.
fn serializer_samples() -> Vec<Sample> {
    [
        "1,acme,9.50",
        "2,globex",
        "3,initech,12.00,extra",
        "4,umbrella,1.25",
    ]
    .iter()
    .map(|line| Sample {
        key: None,
        value: Some(line.to_string()),
        headers: Vec::new(),
        timestamp: 0,
    })
    .collect()
}

/// The schema a serializer is tested with: `--schema FILE` of
/// `--schema-type`, or the template's sample (CSV columns, as JSON).
pub fn schema(file: Option<&Path>, schema_type: &str) -> anyhow::Result<PluginSchema> {
    let text = match file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => r#"{"title": "orders", "columns": ["id", "customer", "total"]}"#.to_string(),
    };
    Ok(PluginSchema {
        id: 1,
        schema_type: schema_type.to_uppercase(),
        text,
        references: Vec::new(),
    })
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
    expect: Option<&Path>,
    schema: &PluginSchema,
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
    // Compiled once per build: a Python or JavaScript component takes
    // seconds to compile, and `test` is run again and again on one build.
    let cache = compile_cache(project, &bytes)?;
    let registry = PluginRegistry::new(&cache);
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
        None if m.kind == "serializer" => serializer_samples(),
        None => default_samples(),
    };
    let packed = pack(&samples);
    let (topic, partition) = ("test-topic", 0);
    let started = Instant::now();
    let decision = match m.kind.as_str() {
        "retention-policy" => {
            super::test_policy::retention(&registry, &m.name)?;
            None
        }
        "authenticator" => {
            super::test_auth::authenticator(&registry, &m.name)?;
            None
        }
        "authorizer" => {
            super::test_auth::authorizer(&registry, &m.name)?;
            None
        }
        "compaction-policy" => {
            super::test_policy::compaction(&registry, &m.name, &packed, |i| describe(&packed, i))?;
            None
        }
        "serializer" => {
            let plugin = registry.serializer(&m.name).context("loaded")?;
            let payloads: Vec<&[u8]> = samples
                .iter()
                .map(|s| s.value.as_deref().unwrap_or_default().as_bytes())
                .collect();
            let answer = plugin.validate(schema, &payloads);
            println!(
                "one call, {} payloads, {:.1} µs, schema {} ({}): {}",
                payloads.len(),
                started.elapsed().as_secs_f64() * 1e6,
                schema.id,
                schema.schema_type,
                schema.text
            );
            let verdicts = answer.map_err(|e| anyhow::anyhow!("the plugin {e}"))?;
            // What typed access reads (decode), and whether encoding that
            // JSON gives the payload back.
            let decoded = plugin
                .decode(schema, &payloads)
                .map_err(|e| anyhow::anyhow!("the plugin's decode {e}"))?;
            let json: Vec<&[u8]> = decoded
                .iter()
                .map(|d| d.as_deref().unwrap_or("null").as_bytes())
                .collect();
            let encoded = plugin
                .encode(schema, &payloads, &json)
                .map_err(|e| anyhow::anyhow!("the plugin's encode {e}"))?;
            let mut round_trips = Vec::new();
            for (i, verdict) in verdicts.iter().enumerate() {
                let payload = String::from_utf8_lossy(payloads[i]);
                match verdict {
                    None => println!("payload {i} valid     {payload:?}"),
                    Some(why) => println!("payload {i} invalid: {why}     {payload:?}"),
                }
                let Some(text) = &decoded[i] else {
                    round_trips.push(serde_json::Value::Null);
                    continue;
                };
                println!("  decodes to {text}");
                let same = match &encoded[i] {
                    Ok(bytes) if bytes.as_slice() == payloads[i] => {
                        println!("  encodes back to the same bytes");
                        true
                    }
                    Ok(bytes) => {
                        println!(
                            "  encodes back to other bytes: {:?}",
                            String::from_utf8_lossy(bytes)
                        );
                        false
                    }
                    Err(why) => {
                        println!("  does not encode back: {why}");
                        false
                    }
                };
                round_trips.push(same.into());
            }
            Some(
                serde_json::json!({ "verdicts": verdicts, "decoded": decoded, "round_trip": round_trips }),
            )
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
            Some(serde_json::json!({ "partitions": targets }))
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
            Some(
                match answer.map_err(|e| anyhow::anyhow!("the plugin {e}"))? {
                    Verdict::Accept => {
                        println!("accept: the batch goes on unchanged");
                        serde_json::json!({ "verdict": "accept" })
                    }
                    Verdict::Reject { message, records } => {
                        println!("reject: {message}");
                        for (index, reason) in &records {
                            println!("record {index} refused: {reason}");
                        }
                        let refused: serde_json::Map<String, serde_json::Value> = records
                            .into_iter()
                            .map(|(i, why)| (i.to_string(), why.into()))
                            .collect();
                        serde_json::json!({ "verdict": "reject", "message": message, "refused": refused })
                    }
                    Verdict::Rewrite { records, sources } => {
                        println!("rewrite: {} of {} records", sources.len(), samples.len());
                        let mut out = Vec::new();
                        for (i, source) in sources.iter().enumerate() {
                            let record = describe(&records, i);
                            println!("record {source} → {record}");
                            out.push(record);
                        }
                        serde_json::json!({ "verdict": "rewrite", "sources": sources, "records": out })
                    }
                },
            )
        }
    };
    match (expect, decision) {
        (None, _) => Ok(()),
        (Some(path), Some(decision)) => check_expected(path, &decision),
        (Some(_), None) => bail!(
            "--expect checks the decisions of partitioners, interceptors and serializers; a {} prints its answers only",
            m.kind
        ),
    }
}

/// The project's cache of compiled components (`.weir/compiled/`),
/// holding only the current build's.
fn compile_cache(project: &Project, bytes: &[u8]) -> anyhow::Result<std::path::PathBuf> {
    let dir = project.dir.join(".weir/compiled");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let current = weir::plugin::engine::content_hash(bytes);
    for entry in std::fs::read_dir(&dir)?.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&current) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(dir)
}

/// Compares the decision with the JSON in `path`: every field the file
/// names must be as the plugin decided (fields it leaves out are not
/// checked), so a CI job can pin the decisions it cares about.
fn check_expected(path: &Path, decision: &serde_json::Value) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let expected: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let mut differences = Vec::new();
    differ("", &expected, decision, &mut differences);
    if differences.is_empty() {
        println!("as expected ({})", path.display());
        return Ok(());
    }
    bail!(
        "the decision is not as {} expects:\n  {}\n(the whole decision: {decision})",
        path.display(),
        differences.join("\n  ")
    )
}

fn differ(
    at: &str,
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want) in want {
                let at = format!("{at}.{key}");
                match got.get(key) {
                    Some(got) => differ(&at, want, got, out),
                    None => out.push(format!("{at}: expected {want}, absent")),
                }
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (i, (want, got)) in want.iter().zip(got).enumerate() {
                differ(&format!("{at}[{i}]"), want, got, out);
            }
        }
        (want, got) if want != got => out.push(format!("{at}: expected {want}, got {got}")),
        _ => {}
    }
}
