//! One loaded component and how a call into it runs: a fresh instance per
//! call from the pre-linked component (a few µs with the pooling
//! allocator), its own memory cap and CPU deadline, so a trap or a runaway
//! call costs that call only. Counted in the plugin's metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};

use super::engine::{PluginEngine, EPOCH_TICK};
use super::metrics::PluginMetrics;
use super::HostState;
use crate::config::plugins::PluginSpec;
use crate::partition::partitioner::PluginFailure;

pub struct Sandbox {
    pub name: String,
    engine: Arc<PluginEngine>,
    spec: PluginSpec,
    config: Arc<BTreeMap<String, String>>,
    pub metrics: Arc<PluginMetrics>,
}

/// A compiled component with its linker, before it is checked against the
/// world of its kind.
pub struct Loaded {
    pub sandbox: Sandbox,
    component: Component,
    linker: Linker<HostState>,
}

impl Loaded {
    pub fn instantiate_pre(&self) -> anyhow::Result<wasmtime::component::InstancePre<HostState>> {
        self.linker
            .instantiate_pre(&self.component)
            .map_err(anyhow::Error::from)
    }
}

impl Sandbox {
    /// Compiles (or loads from the cache) the component `bytes`, with a
    /// linker offering only `host` (and a WASI without capabilities).
    pub fn load(
        engine: &Arc<PluginEngine>,
        spec: &PluginSpec,
        bytes: &[u8],
        metrics: Arc<PluginMetrics>,
    ) -> anyhow::Result<Loaded> {
        let component = engine.load(bytes)?;
        let mut linker: Linker<HostState> = Linker::new(&engine.engine);
        super::bindings::host::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        super::bindings::types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        let sandbox = Sandbox {
            name: spec.name.clone(),
            engine: engine.clone(),
            config: Arc::new(spec.config_strings()),
            spec: spec.clone(),
            metrics,
        };
        Ok(Loaded {
            sandbox,
            component,
            linker,
        })
    }

    pub fn max_output_bytes(&self) -> u64 {
        self.spec.max_output_bytes
    }

    fn limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size((self.spec.memory_mb as usize) << 20)
            .instances(4)
            .trap_on_grow_failure(true)
            .build()
    }

    /// Runs `call` in a fresh store with the plugin's limits. `Ok(Err)` is
    /// the plugin's own refusal; `Err` a trap, timeout or instantiation failure.
    pub fn run<T>(
        &self,
        records: usize,
        call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, PluginFailure> {
        let started = Instant::now();
        let attempt = || {
            let state = HostState::new(&self.name, self.config.clone(), self.limits());
            let mut store = Store::new(&self.engine.engine, state);
            store.limiter(|s| &mut s.limits);
            let ticks = (self.spec.timeout_ms as u128 / EPOCH_TICK.as_millis()).max(1) as u64;
            store.set_epoch_deadline(ticks);
            call(&mut store)
        };
        // The sync WASI bindings drive their async core with `block_on`,
        // which tokio refuses on a worker thread: leave the worker first
        // (as any blocking call in a handler should).
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(attempt)
        } else {
            attempt()
        };
        let outcome = match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(PluginFailure::Refused(message)),
            Err(e) => Err(PluginFailure::Failed(describe_trap(
                &e,
                self.spec.timeout_ms,
            ))),
        };
        self.metrics
            .record(records, started.elapsed(), outcome.as_ref().err());
        if let Err(e) = &outcome {
            tracing::warn!(plugin = %self.name, error = ?e, "plugin call failed");
        }
        outcome
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
