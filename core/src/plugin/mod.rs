//! The plugin host: WebAssembly components (described by the WIT package in
//! `wit/`) loaded into the broker with wasmtime, sandboxed (no files,
//! sockets or environment; only the `host` interface), each call bounded by
//! a CPU deadline and a memory cap. Plugins are reached only through the
//! traits of the layers that need a decision (`partition::Partitioner`,
//! `partition::interceptor::Interceptor`, `log::retention::RetentionPolicy`,
//! `log::cleaner::policy::CompactionPolicy`, `security::plugin::Authenticator`
//! and `Authorizer`); the registry swaps versions in
//! place while the broker runs.

pub mod auth;
pub mod bindings;
pub mod caller;
mod deadline;
pub mod engine;
pub mod interceptor;
pub mod metrics;
pub mod name;
pub mod native;
pub mod partitioner;
pub mod policy;
pub mod registry;
pub mod sandbox;
pub mod serializer;
pub mod typed;

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::StoreLimits;

pub use metrics::PluginMetrics;
pub use registry::PluginRegistry;

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
    /// Records the running call named with `host.reject-record`.
    rejected: Vec<(u32, String)>,
    /// The running call's CPU deadline.
    deadline: deadline::CallDeadline,
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
            rejected: Vec::new(),
            deadline: deadline::CallDeadline::new(std::time::Duration::ZERO),
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
