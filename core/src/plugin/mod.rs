//! The plugin host: WebAssembly components (described by the WIT package in
//! `wit/`) loaded into the broker with wasmtime, sandboxed (no files,
//! sockets or environment; only the `host` interface), each call bounded by
//! a CPU deadline and a memory cap. Plugins are reached only through the
//! traits of the layers that need a decision (`partition::Partitioner`).

pub mod bindings;
pub mod engine;
pub mod interceptor;
pub mod partitioner;
pub mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use wasmtime::StoreLimits;

use crate::config::plugins::PluginSpec;
use crate::partition::interceptor::ProduceInterceptor;
use crate::partition::partitioner::{Partitioner, PluginFailure};
use engine::PluginEngine;

/// What every plugin instance's store holds. Guests whose runtime imports
/// WASI (Rust's std on wasip2, Python, JavaScript) get a WASI without
/// capabilities: no preopened directories, no environment, no arguments,
/// no sockets or name lookups, stdio discarded.
pub struct HostState {
    plugin: String,
    config: Arc<BTreeMap<String, String>>,
    limits: StoreLimits,
    wasi: wasmtime_wasi::WasiCtx,
    table: wasmtime::component::ResourceTable,
}

impl HostState {
    fn new(plugin: &str, config: Arc<BTreeMap<String, String>>, limits: StoreLimits) -> HostState {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            plugin: plugin.to_string(),
            config,
            limits,
            wasi,
            table: wasmtime::component::ResourceTable::new(),
        }
    }
}

impl wasmtime_wasi::WasiView for HostState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Counters of one plugin's calls.
#[derive(Debug, Default)]
pub struct PluginMetrics {
    pub calls: AtomicU64,
    pub records: AtomicU64,
    /// The plugin answered with an error.
    pub refusals: AtomicU64,
    /// Traps, timeouts, memory exhaustion and invalid answers.
    pub failures: AtomicU64,
    pub call_nanos: AtomicU64,
}

impl PluginMetrics {
    fn record(&self, records: usize, took: Duration, failure: Option<&PluginFailure>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.call_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        match failure {
            Some(PluginFailure::Refused(_)) => self.refusals.fetch_add(1, Ordering::Relaxed),
            Some(PluginFailure::Failed(_)) => self.failures.fetch_add(1, Ordering::Relaxed),
            None => 0,
        };
    }
}

/// The plugins of this broker, by name.
#[derive(Default)]
pub struct PluginRegistry {
    partitioners: HashMap<String, Arc<partitioner::WasmPartitioner>>,
    produce_interceptors: HashMap<String, Arc<interceptor::WasmProduceInterceptor>>,
}

impl PluginRegistry {
    /// Loads every `[[plugins]]` entry; any that cannot load stops the start.
    pub fn load(specs: &[PluginSpec], cache_dir: &Path) -> anyhow::Result<PluginRegistry> {
        let mut registry = PluginRegistry::default();
        if specs.is_empty() {
            return Ok(registry);
        }
        let engine = PluginEngine::new(cache_dir)?;
        for spec in specs {
            let started = std::time::Instant::now();
            let context = || format!("plugin {} ({})", spec.name, spec.path.display());
            match spec.kind.as_str() {
                "partitioner" => {
                    let loaded =
                        partitioner::WasmPartitioner::load(&engine, spec).with_context(context)?;
                    registry
                        .partitioners
                        .insert(spec.name.clone(), Arc::new(loaded));
                }
                "produce-interceptor" => {
                    let loaded = interceptor::WasmProduceInterceptor::load(&engine, spec)
                        .with_context(context)?;
                    registry
                        .produce_interceptors
                        .insert(spec.name.clone(), Arc::new(loaded));
                }
                other => anyhow::bail!("{}: unknown plugin kind {other}", context()),
            }
            tracing::info!(plugin = %spec.name, kind = %spec.kind, took_ms = started.elapsed().as_millis() as u64, "plugin loaded");
        }
        Ok(registry)
    }

    pub fn partitioner(&self, name: &str) -> Option<Arc<dyn Partitioner>> {
        self.partitioners
            .get(name)
            .map(|p| p.clone() as Arc<dyn Partitioner>)
    }

    pub fn produce_interceptor(&self, name: &str) -> Option<Arc<dyn ProduceInterceptor>> {
        self.produce_interceptors
            .get(name)
            .map(|p| p.clone() as Arc<dyn ProduceInterceptor>)
    }

    pub fn metrics(&self, name: &str) -> Option<Arc<PluginMetrics>> {
        self.partitioners
            .get(name)
            .map(|p| p.sandbox.metrics.clone())
            .or_else(|| {
                self.produce_interceptors
                    .get(name)
                    .map(|p| p.sandbox.metrics.clone())
            })
    }
}
