//! The plugin hot paths without the network: what a call into a sandboxed
//! component costs (instantiation included), per batch and per record, next
//! to the same logic compiled natively; what loading and swapping a
//! component costs; and whether 1,000 swaps leak memory. Prints numbers;
//! needs the standard plugins built (tests/run.sh builds them):
//!   cargo bench -p weir --bench plugins

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{median, NativeMurmur2};
use weir::config::plugins::PluginSpec;
use weir::partition::interceptor::{Interceptor, Target, Verdict};
use weir::partition::partitioner::{HeaderRef, PackedRecords, Partitioner, RecordRef};
use weir::plugin::engine::PluginEngine;
use weir::plugin::partitioner::WasmPartitioner;
use weir::plugin::sandbox::Sandbox;
use weir::plugin::PluginRegistry;

fn wasm(name: &str) -> (PathBuf, Vec<u8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build the plugins first: tests/run.sh)",
            path.display()
        )
    });
    (path, bytes)
}

/// `count` records with 16-byte keys, 1 KiB JSON values and one header.
fn records(count: usize) -> PackedRecords {
    records_of(count, 1024)
}

/// `count` records with 16-byte keys, JSON values of about `value_len`
/// bytes and one header.
fn records_of(count: usize, value_len: usize) -> PackedRecords {
    let mut packed = PackedRecords::default();
    for i in 0..count {
        let key = format!("customer-{i:07}");
        let value = format!(
            "{{\"id\":{i},\"ssn\":\"123-45-6789\",\"pad\":\"{}\"}}",
            "x".repeat(value_len.saturating_sub(34))
        );
        let key_offset = packed.data.len() as u32;
        packed.data.extend_from_slice(key.as_bytes());
        let value_offset = packed.data.len() as u32;
        packed.data.extend_from_slice(value.as_bytes());
        let name_offset = packed.data.len() as u32;
        packed.data.extend_from_slice(b"tenantacme");
        packed.headers.push(HeaderRef {
            name_offset,
            name_len: 6,
            value_offset: name_offset + 6,
            value_len: 4,
        });
        packed.records.push(RecordRef {
            key_offset,
            key_len: key.len() as i32,
            value_offset,
            value_len: value.len() as i32,
            headers_start: i as u32,
            headers_count: 1,
            timestamp: 0,
        });
    }
    packed
}

fn partitioner_costs(wasm_p: &Arc<dyn Partitioner>) {
    for value_len in [100, 1024] {
        println!(
            "\npartitioner call (murmur2), {value_len}-byte values, median of 200 calls on a warm instance:"
        );
        println!("| records/batch | WASM per batch | WASM per record | native per record | WASM over native per record |");
        println!("|---|---|---|---|---|");
        let one = median(200, || {
            wasm_p
                .partition("t", 0, 12, records_of(1, value_len))
                .unwrap();
        });
        for count in [1usize, 100, 1000] {
            let batch = records_of(count, value_len);
            let w = median(200, || {
                wasm_p.partition("t", 0, 12, batch.clone()).unwrap();
            });
            let n = median(200, || {
                NativeMurmur2.partition("t", 0, 12, batch.clone()).unwrap();
            });
            let clone = median(200, || {
                std::hint::black_box(batch.clone());
            });
            let per = |d: Duration| d.saturating_sub(clone).as_nanos() as f64 / count as f64;
            let over = (w.saturating_sub(one).as_nanos() as f64 / count.max(2) as f64)
                - (n.saturating_sub(clone).as_nanos() as f64 / count as f64);
            println!(
                "| {count} | {:.1} µs | {:.1} ns | {:.1} ns | {} |",
                w.as_nanos() as f64 / 1e3,
                per(w),
                per(n),
                if count == 1 {
                    "—".to_string()
                } else {
                    format!("{over:.1} ns")
                }
            );
        }
        println!(
            "(a 1-record call is the fixed cost of a call: {:.1} µs)",
            one.as_nanos() as f64 / 1e3
        );
    }
}

/// What making an instance costs (a plugin's first call, and any call
/// after a failure): a fresh store and `InstancePre::instantiate` from the
/// pooling allocator, and dropping it when the warm set is full.
fn instantiate_cost(cache: &std::path::Path, spec: &PluginSpec, bytes: &[u8]) {
    let engine = PluginEngine::new(cache).unwrap();
    let loaded = Sandbox::load(&engine, spec, bytes, Default::default()).unwrap();
    let plugin = WasmPartitioner::new(loaded).unwrap();
    let t = median(1000, || plugin.warm_up().unwrap());
    println!(
        "\ninstantiate murmur2 from the cached component (fresh store, pooling allocator), median of 1000: {:.1} µs",
        t.as_nanos() as f64 / 1e3
    );
}

fn interceptor_costs(registry: &PluginRegistry) {
    println!("\ninterceptor call on 1,000 records of 1 KiB, median of 100 calls:");
    let target = Target {
        topic: "t",
        partition: 0,
        partition_count: 1,
        client_id: None,
    };
    let batch = records(1000);
    for (name, kind) in [
        ("stamp", "produce-interceptor"),
        ("redact", "produce-interceptor"),
        ("filter", "fetch-interceptor"),
    ] {
        let plugin: Arc<dyn Interceptor> = registry.interceptor(name, kind).unwrap();
        let t = median(100, || {
            let verdict = plugin.intercept(&target, batch.clone()).unwrap();
            assert!(matches!(verdict, Verdict::Rewrite { .. } | Verdict::Accept));
        });
        println!(
            "  {name:7} {:8.1} µs per batch, {:6.1} ns per record",
            t.as_nanos() as f64 / 1e3,
            t.as_nanos() as f64 / 1000.0
        );
    }
}

const ROW: &str = r#"{"type":"record","name":"Row","fields":[{"name":"id","type":"long"},{"name":"ssn","type":"string"},{"name":"pad","type":"string"}]}"#;

/// The same rows as `records_of`, as Confluent-framed Avro of `ROW`
/// (schema id 1).
fn avro_records(count: usize, value_len: usize) -> PackedRecords {
    fn long(n: i64, out: &mut Vec<u8>) {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    let mut packed = PackedRecords::default();
    for i in 0..count {
        let mut value = vec![0, 0, 0, 0, 1];
        long(i as i64, &mut value);
        for s in [
            "123-45-6789".to_string(),
            "x".repeat(value_len.saturating_sub(34)),
        ] {
            long(s.len() as i64, &mut value);
            value.extend_from_slice(s.as_bytes());
        }
        packed.push_record(None, Some(&value), std::iter::empty(), 0);
    }
    packed
}

/// Typed access: json-field reading a field of JSON values (no
/// serializer), of Avro values through the `avro` serializer, redact
/// re-encoding every Avro value, and a view converting Avro to JSON.
fn typed_access_costs(registry: &PluginRegistry) {
    use weir::partition::typed::Codecs;
    use weir::schema_registry::SchemaRegistry;
    println!("\ntyped access on 1,000 records of 1 KiB, median of 100 calls:");
    let codecs = Arc::new(Codecs {
        registry: Some(Arc::new(SchemaRegistry::with_schemas(&[(
            "t-value", 1, "AVRO", ROW,
        )]))),
        key: None,
        value: registry.serializer("avro"),
    });
    let (json, avro) = (records(1000), avro_records(1000, 1024));
    let partitioner = registry.partitioner("json-field").unwrap();
    let report = |what: &str, t: Duration| {
        println!(
            "  {what:44} {:8.1} µs per batch, {:6.1} ns per record",
            t.as_nanos() as f64 / 1e3,
            t.as_nanos() as f64 / 1000.0
        )
    };
    let t = median(100, || {
        partitioner.partition("t", 0, 8, json.clone()).unwrap();
    });
    report("json-field, JSON values (read as JSON)", t);
    let t = median(100, || {
        weir::plugin::typed::scope(Some(codecs.clone()), || {
            partitioner.partition("t", 0, 8, avro.clone()).unwrap()
        });
    });
    report("json-field, Avro values (avro serializer)", t);
    let redact = registry
        .interceptor("redact", "produce-interceptor")
        .unwrap();
    let target = Target {
        topic: "t",
        partition: 0,
        partition_count: 1,
        client_id: None,
    };
    let t = median(100, || {
        let verdict = weir::plugin::typed::scope(Some(codecs.clone()), || {
            redact.intercept(&target, avro.clone()).unwrap()
        });
        assert!(matches!(verdict, Verdict::Rewrite { .. }));
    });
    report("redact, Avro values (decode, mask, encode)", t);
    let view = weir::view::ToJson::new(codecs.clone());
    let t = median(100, || {
        let verdict = view.intercept(&target, avro.clone()).unwrap();
        assert!(matches!(verdict, Verdict::Rewrite { .. }));
    });
    report("the ~json view, Avro values to JSON", t);
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let cache = tempfile::tempdir().expect("tempdir");
    let registry = PluginRegistry::new(cache.path());
    let spec = |name: &str, file: &str, kind: &str, config: &[(&str, &str)]| {
        let mut spec = PluginSpec::deployed(name, kind);
        spec.path = wasm(file).0;
        spec.config = config
            .iter()
            .map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string())))
            .collect();
        spec
    };
    let (_, murmur) = wasm("murmur2.wasm");
    let (_, stamp) = wasm("header_stamp.wasm");
    let murmur_spec = spec("murmur2", "murmur2.wasm", "partitioner", &[]);
    let (_, compiled) = registry.deploy(murmur_spec.clone(), &murmur).unwrap();
    let (_, cached) = registry.deploy(murmur_spec.clone(), &murmur).unwrap();
    println!(
        "load murmur2.wasm: compile {:.1} ms; a swap from the compiled cache {:.2} ms",
        compiled.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3
    );
    registry
        .deploy(
            spec(
                "stamp",
                "header_stamp.wasm",
                "produce-interceptor",
                &[("headers", "a=1")],
            ),
            &stamp,
        )
        .unwrap();
    registry
        .deploy(
            spec(
                "redact",
                "redact.wasm",
                "produce-interceptor",
                &[("fields", "ssn")],
            ),
            &wasm("redact.wasm").1,
        )
        .unwrap();
    registry
        .deploy(
            spec(
                "filter",
                "filter.wasm",
                "fetch-interceptor",
                &[("header", "tenant"), ("equals", "acme")],
            ),
            &wasm("filter.wasm").1,
        )
        .unwrap();

    instantiate_cost(cache.path(), &murmur_spec, &murmur);
    partitioner_costs(&registry.partitioner("murmur2").unwrap());
    interceptor_costs(&registry);
    for (name, file, kind, config) in [
        (
            "json-field",
            "json_field.wasm",
            "partitioner",
            &[("field", "id")][..],
        ),
        ("avro", "avro.wasm", "serializer", &[][..]),
    ] {
        registry
            .deploy(spec(name, file, kind, config), &wasm(file).1)
            .unwrap();
    }
    typed_access_costs(&registry);

    // 1,000 swaps between two components, calls in between.
    let stamp_spec = spec(
        "swap",
        "header_stamp.wasm",
        "produce-interceptor",
        &[("headers", "a=1")],
    );
    let redact_spec = spec(
        "swap",
        "redact.wasm",
        "produce-interceptor",
        &[("fields", "ssn")],
    );
    let redact = wasm("redact.wasm").1;
    let target = Target {
        topic: "t",
        partition: 0,
        partition_count: 1,
        client_id: None,
    };
    registry.deploy(stamp_spec.clone(), &stamp).unwrap();
    registry.deploy(redact_spec.clone(), &redact).unwrap();
    let before = rss_mib();
    let mut swaps = Vec::with_capacity(1000);
    for i in 0..1000 {
        let (spec, bytes) = if i % 2 == 0 {
            (&stamp_spec, &stamp)
        } else {
            (&redact_spec, &redact)
        };
        swaps.push(registry.deploy(spec.clone(), bytes).unwrap().1);
        let plugin = registry.interceptor("swap", "produce-interceptor").unwrap();
        plugin.intercept(&target, records(10)).unwrap();
    }
    swaps.sort();
    println!(
        "\n1,000 hot swaps (cached components): median {:.2} ms, p99 {:.2} ms, max {:.2} ms; RSS {before:.0} MiB before, {:.0} MiB after",
        swaps[500].as_secs_f64() * 1e3,
        swaps[990].as_secs_f64() * 1e3,
        swaps[999].as_secs_f64() * 1e3,
        rss_mib()
    );
}
