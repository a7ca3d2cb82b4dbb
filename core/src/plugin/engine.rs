//! The one wasmtime `Engine` of the broker: component model on, epoch
//! interruption for CPU deadlines (a ticker thread advances the epoch every
//! millisecond), the pooling allocator for cheap instantiation, and an
//! on-disk cache of compiled components keyed by content hash, wasmtime
//! version and engine settings, so a restart loads instead of compiling.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the resolution of CPU deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The hex sha256 of a component: its cache key and, in `weir plugin list`
/// and the metadata log, its identity.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct PluginEngine {
    pub engine: Engine,
    cache_dir: PathBuf,
}

impl PluginEngine {
    pub fn new(cache_dir: &Path) -> anyhow::Result<Arc<PluginEngine>> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(256)
            .total_core_instances(512)
            .total_memories(256)
            .total_tables(256)
            .max_memory_size(1 << 30)
            // A dropped instance's memory goes back to the kernel: calls
            // run on warm instances (sandbox.rs), so instantiation is rare,
            // and memory kept resident per slot only grew RSS with reloads.
            // Tables are small: resetting them in place is cheaper.
            .linear_memory_keep_resident(0)
            .table_keep_resident(64 << 10);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            // No component-model async: a store without its bookkeeping
            // costs less than half as much per call (../shared/TOOLCHAINS.md).
            .concurrency_support(false)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("creating {}", cache_dir.display()))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Arc::new(PluginEngine {
            engine,
            cache_dir: cache_dir.to_path_buf(),
        }))
    }

    /// Compiles `bytes` into a component, or loads the compiled artifact this
    /// broker cached for the same bytes and engine.
    pub fn load(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        let mut settings = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut settings);
        let hex = content_hash(bytes);
        // The compatibility hash covers the wasmtime version and settings.
        let path = self
            .cache_dir
            .join(format!("{hex}-{:016x}.cwasm", settings.finish()));
        if path.exists() {
            // SAFETY: the file is one this broker wrote from its own
            // `precompile_component` output, for this wasmtime and config.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "recompiling a cached plugin")
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &compiled)?;
        std::fs::rename(&tmp, &path)?;
        // SAFETY: as above: the bytes were just produced by this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(anyhow::Error::from)
    }
}
