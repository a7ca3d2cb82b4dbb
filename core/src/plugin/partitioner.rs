//! Partitioner plugins: components exporting the `partitioner` world,
//! called once per batch through the `partition::Partitioner` trait. Each
//! call gets a fresh instance from the pre-linked component (a few µs with
//! the pooling allocator), its own memory cap and CPU deadline, so a trap or
//! a runaway call costs that call only.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};

use super::engine::{PluginEngine, EPOCH_TICK};
use super::{HostState, PluginMetrics};
use crate::config::plugins::PluginSpec;
use crate::partition::partitioner::{self as seam, PackedRecords, PluginFailure};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "partitioner",
    });
}

use bindings::weir::plugin::host::{self, Level};
use bindings::weir::plugin::types::{self, HeaderRef, RecordBatch, RecordRef};
use bindings::{Partitioner, PartitionerPre};

pub struct WasmPartitioner {
    name: String,
    engine: Arc<PluginEngine>,
    pre: PartitionerPre<HostState>,
    spec: Arc<PluginSpec>,
    config: Arc<std::collections::BTreeMap<String, String>>,
    pub metrics: Arc<PluginMetrics>,
}

impl WasmPartitioner {
    /// Compiles (or loads from the cache) and links the component; fails if
    /// it does not export the `partitioner` world or imports anything else.
    pub fn load(engine: &Arc<PluginEngine>, spec: &PluginSpec) -> anyhow::Result<WasmPartitioner> {
        let bytes = std::fs::read(&spec.path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", spec.path.display()))?;
        let component = engine.load(&bytes)?;
        let mut linker: Linker<HostState> = Linker::new(&engine.engine);
        Partitioner::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)?;
        let pre = PartitionerPre::new(instance_pre).map_err(anyhow::Error::from)?;
        Ok(WasmPartitioner {
            name: spec.name.clone(),
            engine: engine.clone(),
            pre,
            config: Arc::new(spec.config_strings()),
            spec: Arc::new(spec.clone()),
            metrics: Arc::default(),
        })
    }

    fn limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size((self.spec.memory_mb as usize) << 20)
            .instances(4)
            .trap_on_grow_failure(true)
            .build()
    }

    fn call(&self, batch: &RecordBatch) -> Result<Result<Vec<u32>, String>, String> {
        let state = HostState::new(&self.name, self.config.clone(), self.limits());
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (self.spec.timeout_ms as u128 / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("cannot instantiate: {e:#}"))?;
        instance
            .call_partition(&mut store, batch)
            .map_err(|e| describe_trap(&e, self.spec.timeout_ms))
    }
}

/// A trap, said plainly (a timeout names the deadline).
fn describe_trap(e: &wasmtime::Error, timeout_ms: u64) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => format!("ran past its {timeout_ms} ms deadline"),
        Some(trap) => format!("trapped: {trap}"),
        None => format!("{e:#}"),
    }
}

impl seam::Partitioner for WasmPartitioner {
    fn name(&self) -> &str {
        &self.name
    }

    fn partition(
        &self,
        topic: &str,
        partition: i32,
        partition_count: u32,
        records: &PackedRecords,
    ) -> Result<Vec<u32>, PluginFailure> {
        let started = Instant::now();
        let batch = RecordBatch {
            topic: topic.to_string(),
            partition,
            partition_count,
            data: records.data.clone(),
            records: records
                .records
                .iter()
                .map(|r| RecordRef {
                    key_offset: r.key_offset,
                    key_len: r.key_len,
                    value_offset: r.value_offset,
                    value_len: r.value_len,
                    headers_start: r.headers_start,
                    headers_count: r.headers_count,
                    timestamp: r.timestamp,
                })
                .collect(),
            headers: records
                .headers
                .iter()
                .map(|h| HeaderRef {
                    name_offset: h.name_offset,
                    name_len: h.name_len,
                    value_offset: h.value_offset,
                    value_len: h.value_len,
                })
                .collect(),
        };
        // The sync WASI bindings drive their async core with `block_on`,
        // which tokio refuses on a worker thread: leave the worker first
        // (as any blocking call in a handler should).
        let call = || self.call(&batch);
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(call)
        } else {
            call()
        };
        let outcome = match result {
            Ok(Ok(partitions)) => Ok(partitions),
            Ok(Err(message)) => Err(PluginFailure::Refused(message)),
            Err(failure) => Err(PluginFailure::Failed(failure)),
        };
        self.metrics.record(
            records.records.len(),
            started.elapsed(),
            outcome.as_ref().err(),
        );
        if let Err(e) = &outcome {
            tracing::warn!(plugin = %self.name, error = ?e, "partitioner call failed");
        }
        outcome
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = self.plugin.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn now_ms(&mut self) -> i64 {
        crate::log::now_ms()
    }
}

impl types::Host for HostState {}
