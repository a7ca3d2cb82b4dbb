//! One loaded component and how a call into it runs: on a warm instance
//! kept from an earlier call when there is one (its memory already faulted
//! in, its runtime already initialised), else on a fresh one from the
//! pre-linked component (a few µs with the pooling allocator); always with
//! the plugin's memory cap and a CPU deadline for that call. An instance
//! that trapped, ran out of time or answered badly is dropped, never
//! reused, so a failure costs that call only. Counted in the plugin's
//! metrics.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};

use super::deadline::CallDeadline;
use super::engine::PluginEngine;
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

    /// Checks the component against its world (`pre`, a bindings' `…Pre::new`)
    /// and makes one warm instance (see `Sandbox::warm_up`): the sandbox,
    /// the pre-linked world and its instances, for a plugin kind's wrapper.
    pub fn warm<P, I>(
        self,
        pre: impl FnOnce(wasmtime::component::InstancePre<HostState>) -> wasmtime::Result<P>,
        instantiate: impl FnOnce(&P, &mut Store<HostState>) -> wasmtime::Result<I>,
    ) -> anyhow::Result<(Sandbox, P, Instances<I>)> {
        let pre = pre(self.instantiate_pre()?).map_err(anyhow::Error::from)?;
        let instances = Instances::default();
        self.sandbox
            .warm_up(&instances, |store| instantiate(&pre, store))?;
        Ok((self.sandbox, pre, instances))
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
            // Python and JavaScript runtimes are components of several core
            // instances (Rust, C and Zig have one or two).
            .instances(64)
            .trap_on_grow_failure(true)
            .build()
    }

    fn fresh_store(&self) -> Store<HostState> {
        let state = HostState::new(&self.name, self.config.clone(), self.limits());
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(|mut s| Ok(s.data_mut().deadline.check()));
        store
    }

    /// Runs `call` on a warm instance from `instances`, or on one that
    /// `instantiate` makes in a fresh store, under the plugin's deadline.
    /// `Ok(Err)` is the plugin's own refusal; `Err` a trap, timeout,
    /// instantiation failure or bad answer. The instance goes back to
    /// `instances` unless the call failed.
    pub fn run<I, T>(
        &self,
        instances: &Instances<I>,
        records: usize,
        instantiate: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<I>,
        call: impl FnOnce(&I, &mut Store<HostState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, PluginFailure> {
        let started = Instant::now();
        let attempt = || {
            let (mut store, instance) = match instances.take() {
                Some(warm) => warm,
                None => {
                    // Instantiation runs guest code (start functions): it
                    // is under the deadline too.
                    let mut store = self.fresh_store();
                    self.start_deadline(&mut store);
                    let instance = instantiate(&mut store)?;
                    (store, instance)
                }
            };
            self.start_deadline(&mut store);
            let result = call(&instance, &mut store);
            if result.is_ok() {
                instances.give_back(store, instance);
            }
            result
        };
        let result = off_the_worker(attempt);
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

impl Sandbox {
    /// Makes one instance ahead of the first call and keeps it warm: a new
    /// version proves it instantiates (start functions run, its memory fits
    /// the cap) before it is swapped in, and its first call is not slower.
    pub fn warm_up<I>(
        &self,
        instances: &Instances<I>,
        instantiate: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<I>,
    ) -> anyhow::Result<()> {
        let attempt = || {
            let mut store = self.fresh_store();
            self.start_deadline(&mut store);
            instantiate(&mut store).map(|instance| instances.give_back(store, instance))
        };
        let result = off_the_worker(attempt);
        result.map_err(|e| {
            anyhow::anyhow!(
                "plugin {} does not instantiate: {}",
                self.name,
                describe_trap(&e, self.spec.timeout_ms)
            )
        })
    }

    /// A call begins: its CPU deadline starts (deadline.rs).
    fn start_deadline(&self, store: &mut Store<HostState>) {
        store.data_mut().deadline = CallDeadline::new(Duration::from_millis(self.spec.timeout_ms));
        store.set_epoch_deadline(CallDeadline::FIRST_CHECK);
    }

    /// Counts (and logs, rate-limited) a batch the plugin rejected.
    pub fn rejected(&self, topic: &str, reason: &str, records: usize) {
        self.metrics
            .record_rejection(&self.name, topic, reason, records);
    }

    /// Counts an answer the broker found invalid (after the call itself
    /// was counted as a success) as a failure.
    pub fn answered_badly(&self, why: &str) {
        self.metrics.record_bad_answer();
        tracing::warn!(plugin = %self.name, error = %why, "plugin answered badly");
    }
}

/// How many idle instances of one plugin version are kept warm: enough for
/// the calls that run at once on a small broker; more concurrent calls
/// instantiate their own and the surplus is dropped afterwards.
const MAX_IDLE: usize = 4;

/// The warm instances of one plugin version, each in its own store. They
/// go when the version goes (a reload or removal drops them with it).
/// Guest state survives from one call to the next on the same instance,
/// but a plugin cannot rely on it: instances come and go.
pub struct Instances<I> {
    idle: Mutex<Vec<(Store<HostState>, I)>>,
}

impl<I> Default for Instances<I> {
    fn default() -> Self {
        Instances {
            idle: Mutex::new(Vec::new()),
        }
    }
}

impl<I> Instances<I> {
    fn take(&self) -> Option<(Store<HostState>, I)> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back(&self, store: Store<HostState>, instance: I) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((store, instance));
        }
    }

    /// How many instances are idle now (for tests and benchmarks).
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Runs guest code: the sync WASI bindings drive their async core with
/// `block_on`, which tokio refuses on a worker thread, so leave the worker
/// first (as any blocking call in a handler should).
fn off_the_worker<T>(f: impl FnOnce() -> T) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::task::block_in_place(f)
    } else {
        f()
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
