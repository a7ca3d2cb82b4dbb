//! The same partitioner in every language `weir plugin new` makes, and
//! natively, in one run: each language's template (murmur2 of the key, as
//! the Java client) is created and built with `weir plugin new|build` as a
//! user would, then loaded and called with the broker's own host code.
//! Prints one table: build time, load (compile, and from the cache),
//! instantiation, and the cost of a call per batch and per record.
//!   cargo bench -p weir --bench languages [-- LANG...]
//! Needs each language's toolchain (tests/run.sh installs them).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use weir::config::plugins::PluginSpec;
mod common;

use common::{median, NativeMurmur2};
use weir::partition::partitioner::{PackedRecords, Partitioner};
use weir::plugin::engine::PluginEngine;
use weir::plugin::native::NativePlugin;
use weir::plugin::partitioner::WasmPartitioner;
use weir::plugin::sandbox::Sandbox;

const LANGS: &[&str] = &["rust", "c", "zig", "python", "javascript", "assemblyscript"];
const RECORDS: usize = 1000;

/// `count` records with 16-byte keys and 100-byte values.
fn records(count: usize) -> PackedRecords {
    let mut packed = PackedRecords::default();
    for i in 0..count {
        let key = format!("customer-{i:07}");
        packed.push_record(Some(key.as_bytes()), Some(&[b'x'; 100]), [], 0);
    }
    packed
}

fn weir(dir: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("plugin")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("running weir");
    assert!(status.success(), "weir plugin {args:?} failed");
}

/// (per batch, per record) of `p` on a 1-record and a RECORDS-record batch:
/// per record is the difference, so the fixed cost of a call is left out.
fn call_costs(p: &dyn Partitioner) -> (Duration, Duration, f64) {
    let (one, many) = (records(1), records(RECORDS));
    let t1 = median(300, || {
        p.partition("t", 0, 12, one.clone()).unwrap();
    });
    let tn = median(300, || {
        p.partition("t", 0, 12, many.clone()).unwrap();
    });
    let clone = median(300, || {
        std::hint::black_box(many.clone());
    });
    let per_record = tn.saturating_sub(t1).saturating_sub(clone).as_nanos() as f64 / RECORDS as f64;
    (t1, tn, per_record)
}

/// The C native example (examples/native/c, the same murmur2), built with
/// the system C compiler and loaded with dlopen.
fn native_c(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = dir.join("murmur2_native.so");
    let started = Instant::now();
    let status = Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-I"])
        .arg(root.join("sdk/c"))
        .arg(root.join("examples/native/c/murmur2_native.c"))
        .arg("-o")
        .arg(&lib)
        .status()
        .expect("running cc");
    assert!(status.success());
    let build = started.elapsed();
    let spec = PluginSpec::deployed("native", "partitioner");
    let started = Instant::now();
    let plugin = NativePlugin::load(&lib, &spec, Default::default()).unwrap();
    let load = started.elapsed();
    let (t1, tn, per) = call_costs(&plugin);
    println!(
        "| C, native (dlopen) | {:.1} s | {:.1} KB | — | {:.2} ms | — | {:.2} µs | {:.1} µs | {per:.1} ns |",
        build.as_secs_f64(),
        std::fs::metadata(&lib).map_or(0, |m| m.len()) as f64 / 1e3,
        load.as_secs_f64() * 1e3,
        t1.as_secs_f64() * 1e6,
        tn.as_secs_f64() * 1e6,
    );
}

fn main() {
    let work = tempfile::tempdir().expect("tempdir");
    println!("the same murmur2 partitioner, {RECORDS}-record batches of 16-byte keys and 100-byte values, medians of 300 calls on a warm instance:\n");
    println!("| language | build (weir plugin build) | component | compile on load | load from cache | instantiate | 1-record call | {RECORDS}-record call | per record |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let (t1, tn, per) = call_costs(&NativeMurmur2);
    println!(
        "| native Rust | — | — | — | — | — | {:.2} µs | {:.1} µs | {per:.1} ns |",
        t1.as_secs_f64() * 1e6,
        tn.as_secs_f64() * 1e6
    );
    native_c(work.path());
    // Languages named on the command line, or all (cargo adds `--bench`).
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for lang in LANGS
        .iter()
        .filter(|l| wanted.is_empty() || wanted.iter().any(|w| w == *l))
    {
        let name = format!("{lang}-murmur2");
        weir(
            work.path(),
            &["new", "--lang", lang, "--kind", "partitioner", &name],
        );
        let project = work.path().join(&name);
        let started = Instant::now();
        weir(&project, &["build"]);
        let build = started.elapsed();
        let artifact = std::fs::read_dir(project.join("target"))
            .unwrap()
            .chain(
                std::fs::read_dir(project.join("target/wasm32-wasip2/release"))
                    .into_iter()
                    .flatten(),
            )
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|e| e == "wasm")
                    && !p.to_string_lossy().ends_with(".core.wasm")
            })
            .expect("a built component");
        let bytes = std::fs::read(&artifact).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let engine = PluginEngine::new(cache.path()).unwrap();
        let spec = PluginSpec::deployed(&name, "partitioner");
        let load = |engine: &std::sync::Arc<PluginEngine>| {
            let started = Instant::now();
            let loaded = Sandbox::load(engine, &spec, &bytes, Default::default()).unwrap();
            let plugin = WasmPartitioner::new(loaded).unwrap();
            (plugin, started.elapsed())
        };
        let (_, compile) = load(&engine);
        let (plugin, cached) = load(&engine);
        let instantiate = median(300, || plugin.warm_up().unwrap());
        let (t1, tn, per) = call_costs(&plugin);
        println!(
            "| {lang} | {:.1} s | {:.1} KB | {:.0} ms | {:.2} ms | {:.1} µs | {:.2} µs | {:.1} µs | {per:.1} ns |",
            build.as_secs_f64(),
            bytes.len() as f64 / 1e3,
            compile.as_secs_f64() * 1e3,
            cached.as_secs_f64() * 1e3,
            instantiate.as_secs_f64() * 1e6,
            t1.as_secs_f64() * 1e6,
            tn.as_secs_f64() * 1e6,
        );
    }
}
