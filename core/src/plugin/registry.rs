//! The plugins of this broker, by name, and how they change while it runs.
//!
//! Each name maps to an `Arc` of its loaded version. A call takes the `Arc`
//! when its batch starts, so replacing a plugin is one swap under a write
//! lock: calls in flight finish on the old version (dropped when the last
//! one ends), the next batch gets the new one. Compiling happens before the
//! swap, outside the lock; a component that fails to load or does not
//! export its kind's world never replaces a working one. Counters are kept
//! per name, across versions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use super::auth::{WasmAuthenticator, WasmAuthorizer};
use super::engine::{content_hash, PluginEngine};
use super::interceptor::WasmInterceptor;
use super::metrics::PluginMetrics;
use super::partitioner::WasmPartitioner;
use super::policy::{WasmCompactionPolicy, WasmRetentionPolicy};
use super::sandbox::Sandbox;
use super::serializer::WasmSerializer;
use crate::config::plugins::PluginSpec;
use crate::log::cleaner::policy::CompactionPolicy;
use crate::log::retention::RetentionPolicy;
use crate::partition::interceptor::Interceptor;
use crate::partition::partitioner::Partitioner;
use crate::partition::validation::Serializer;
use crate::security::plugin::{Authenticator, Authorizer};

/// One loaded version of a plugin.
pub struct Entry {
    pub spec: PluginSpec,
    /// Hex sha256 of the component's bytes.
    pub sha256: String,
    plugin: Plugin,
}

enum Plugin {
    Partitioner(Arc<dyn Partitioner>),
    Interceptor(Arc<dyn Interceptor>),
    Retention(Arc<dyn RetentionPolicy>),
    Compaction(Arc<dyn CompactionPolicy>),
    Authenticator(Arc<dyn Authenticator>),
    Authorizer(Arc<dyn Authorizer>),
    Serializer(Arc<dyn Serializer>),
}

/// What a `[[plugins]]` file looked like when last checked.
#[derive(Clone, PartialEq)]
struct FileState {
    modified: Option<SystemTime>,
    len: u64,
}

pub struct PluginRegistry {
    cache_dir: PathBuf,
    engine: OnceLock<Arc<PluginEngine>>,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    metrics: Mutex<HashMap<String, Arc<PluginMetrics>>>,
    /// weir.toml plugins whose files are watched: name → last seen state.
    watched: Mutex<HashMap<String, FileState>>,
    /// Whether shared libraries may be loaded (weir.plugin.native.enabled).
    /// Where native libraries may be loaded from (`weir.plugin.native.dir`),
    /// when native plugins are enabled.
    native_dir: Mutex<Option<PathBuf>>,
}

impl PluginRegistry {
    pub fn new(cache_dir: &Path) -> PluginRegistry {
        PluginRegistry {
            cache_dir: cache_dir.to_path_buf(),
            engine: OnceLock::new(),
            entries: RwLock::default(),
            metrics: Mutex::default(),
            watched: Mutex::default(),
            native_dir: Default::default(),
        }
    }

    /// The engine, made on first use (a broker without plugins has none).
    fn engine(&self) -> anyhow::Result<&Arc<PluginEngine>> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine);
        }
        let engine = PluginEngine::new(&self.cache_dir)?;
        Ok(self.engine.get_or_init(|| engine))
    }

    /// Loads a weir.toml plugin from its file, and watches the file.
    pub fn load_file(&self, spec: &PluginSpec) -> anyhow::Result<()> {
        let state = file_state(&spec.path);
        let bytes = std::fs::read(&spec.path)
            .with_context(|| format!("plugin {}: reading {}", spec.name, spec.path.display()))?;
        self.deploy_from(spec.clone(), &bytes, true)?;
        self.watched
            .lock()
            .unwrap()
            .insert(spec.name.clone(), state);
        Ok(())
    }

    /// Watches the file of a weir.toml plugin from now on.
    pub fn watch(&self, spec: &PluginSpec) {
        self.watched
            .lock()
            .unwrap()
            .insert(spec.name.clone(), file_state(&spec.path));
    }

    /// Compiles `bytes` as the plugin `spec` describes and makes it the
    /// version new calls use. Returns the content hash and how long the
    /// whole load took.
    ///
    /// A native library is never taken here (an upload or a cluster
    /// deployment): only `load_file` loads one, from the broker's own disk.
    pub fn deploy(&self, spec: PluginSpec, bytes: &[u8]) -> anyhow::Result<(String, Duration)> {
        self.deploy_from(spec, bytes, false)
    }

    fn deploy_from(
        &self,
        spec: PluginSpec,
        bytes: &[u8],
        from_disk: bool,
    ) -> anyhow::Result<(String, Duration)> {
        let started = Instant::now();
        let context = || format!("plugin {} ({})", spec.name, spec.kind);
        let metrics = self
            .metrics
            .lock()
            .unwrap()
            .entry(spec.name.clone())
            .or_default()
            .clone();
        if super::native::is_native(bytes) {
            if !from_disk {
                anyhow::bail!(
                    "{}: a native library is loaded only from weir.plugin.native.dir on the broker's own disk (a weir.toml [[plugins]] entry), never from an upload or a cluster deployment",
                    context()
                );
            }
            return self.deploy_native(spec, bytes, metrics, started);
        }
        let loaded =
            Sandbox::load(self.engine()?, &spec, bytes, metrics.clone()).with_context(context)?;
        let plugin = match spec.kind.as_str() {
            "partitioner" => {
                let plugin = WasmPartitioner::new(loaded)?;
                plugin.warm_up()?;
                Plugin::Partitioner(Arc::new(plugin))
            }
            "produce-interceptor" | "fetch-interceptor" => {
                let plugin = if spec.kind == "fetch-interceptor" {
                    WasmInterceptor::fetch(loaded)?
                } else {
                    WasmInterceptor::produce(loaded)?
                };
                plugin.warm_up()?;
                Plugin::Interceptor(Arc::new(plugin))
            }
            "retention-policy" => Plugin::Retention(Arc::new(WasmRetentionPolicy::new(loaded)?)),
            "compaction-policy" => Plugin::Compaction(Arc::new(WasmCompactionPolicy::new(loaded)?)),
            "authenticator" => Plugin::Authenticator(Arc::new(WasmAuthenticator::new(loaded)?)),
            "authorizer" => Plugin::Authorizer(Arc::new(WasmAuthorizer::new(loaded)?)),
            "serializer" => Plugin::Serializer(Arc::new(WasmSerializer::new(loaded)?)),
            other => anyhow::bail!("{}: unknown plugin kind {other}", context()),
        };
        Ok(self.install(spec, bytes, plugin, &metrics, started))
    }

    /// Lets `load_file` load shared libraries from `dir` (native plugins
    /// enabled and `weir.plugin.native.dir` set), or from nowhere.
    pub fn enable_native(&self, dir: Option<PathBuf>) {
        let dir = dir.map(|d| d.canonicalize().unwrap_or(d));
        *self.native_dir.lock().unwrap() = dir;
    }

    /// Loads a native plugin: the library is written to the cache under its
    /// content hash (so each version is its own file to dlopen) and loaded
    /// from there.
    fn deploy_native(
        &self,
        spec: PluginSpec,
        bytes: &[u8],
        metrics: Arc<PluginMetrics>,
        started: Instant,
    ) -> anyhow::Result<(String, Duration)> {
        let context = || format!("plugin {} ({}, native)", spec.name, spec.kind);
        let Some(allowed) = self.native_dir.lock().unwrap().clone() else {
            anyhow::bail!(
                "{}: native plugins run unsandboxed in the broker and are off (weir.plugin.native.enabled=false, or no weir.plugin.native.dir)",
                context()
            );
        };
        let path = spec
            .path
            .canonicalize()
            .unwrap_or_else(|_| spec.path.clone());
        if !path.starts_with(&allowed) {
            anyhow::bail!(
                "{}: {} is not inside weir.plugin.native.dir ({})",
                context(),
                spec.path.display(),
                allowed.display()
            );
        }
        let dir = self.cache_dir.join("native");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.so", content_hash(bytes)));
        if !path.exists() {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        let native = Arc::new(
            super::native::NativePlugin::load(&path, &spec, metrics.clone())
                .with_context(context)?,
        );
        let plugin = match spec.kind.as_str() {
            "partitioner" => Plugin::Partitioner(native),
            "produce-interceptor" | "fetch-interceptor" => Plugin::Interceptor(native),
            other => anyhow::bail!(
                "{}: native plugins are partitioners and interceptors, not {other}s",
                context()
            ),
        };
        Ok(self.install(spec, bytes, plugin, &metrics, started))
    }

    /// Makes `plugin` the version of its name that new calls use.
    fn install(
        &self,
        spec: PluginSpec,
        bytes: &[u8],
        plugin: Plugin,
        metrics: &PluginMetrics,
        started: Instant,
    ) -> (String, Duration) {
        let sha256 = content_hash(bytes);
        let entry = Arc::new(Entry {
            spec,
            sha256: sha256.clone(),
            plugin,
        });
        let name = entry.spec.name.clone();
        let old = self.entries.write().unwrap().insert(name.clone(), entry);
        let took = started.elapsed();
        if old.is_some() {
            metrics
                .reloads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::info!(plugin = %name, sha256 = %&sha256[..12], replaced = old.is_some(), took_ms = took.as_millis() as u64, "plugin loaded");
        (sha256, took)
    }

    /// Unloads a plugin (calls in flight finish); false if it was not loaded.
    pub fn remove(&self, name: &str) -> bool {
        self.watched.lock().unwrap().remove(name);
        self.entries.write().unwrap().remove(name).is_some()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries.read().unwrap().get(name).cloned()
    }

    /// Every loaded plugin, by name.
    pub fn list(&self) -> Vec<Arc<Entry>> {
        let mut all: Vec<_> = self.entries.read().unwrap().values().cloned().collect();
        all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        all
    }

    pub fn partitioner(&self, name: &str) -> Option<Arc<dyn Partitioner>> {
        match &self.get(name)?.plugin {
            Plugin::Partitioner(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The retention policy `name`, if one is loaded under that name.
    pub fn retention_policy(&self, name: &str) -> Option<Arc<dyn RetentionPolicy>> {
        match &self.get(name)?.plugin {
            Plugin::Retention(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The compaction policy `name`, if one is loaded under that name.
    pub fn compaction_policy(&self, name: &str) -> Option<Arc<dyn CompactionPolicy>> {
        match &self.get(name)?.plugin {
            Plugin::Compaction(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The authenticator `name`, if one is loaded under that name.
    pub fn authenticator(&self, name: &str) -> Option<Arc<dyn Authenticator>> {
        match &self.get(name)?.plugin {
            Plugin::Authenticator(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The authorizer `name`, if one is loaded under that name.
    pub fn authorizer(&self, name: &str) -> Option<Arc<dyn Authorizer>> {
        match &self.get(name)?.plugin {
            Plugin::Authorizer(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The serializer `name`, if one is loaded under that name.
    pub fn serializer(&self, name: &str) -> Option<Arc<dyn Serializer>> {
        match &self.get(name)?.plugin {
            Plugin::Serializer(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The interceptor `name`, if it is loaded with `kind`
    /// (`produce-interceptor` or `fetch-interceptor`).
    pub fn interceptor(&self, name: &str, kind: &str) -> Option<Arc<dyn Interceptor>> {
        let entry = self.get(name)?;
        match &entry.plugin {
            Plugin::Interceptor(i) if entry.spec.kind == kind => Some(i.clone()),
            _ => None,
        }
    }

    /// The counters of `name`, kept across its versions.
    pub fn metrics(&self, name: &str) -> Option<Arc<PluginMetrics>> {
        self.metrics.lock().unwrap().get(name).cloned()
    }

    /// Every plugin's counters in the Prometheus text format.
    pub fn write_prometheus(&self, out: &mut String) {
        out.push_str(super::metrics::PROMETHEUS_HEADER);
        let metrics = self.metrics.lock().unwrap();
        let mut names: Vec<_> = metrics.keys().collect();
        names.sort();
        for name in names {
            metrics[name].write_prometheus(name, out);
        }
    }

    /// Reloads every watched file that changed since it was last seen and
    /// now holds other bytes than the loaded version. A file that does not
    /// load (half written, or broken) leaves the old version in place and
    /// is tried again when it changes.
    pub fn reload_changed_files(&self) {
        let watched: Vec<(String, FileState)> = self
            .watched
            .lock()
            .unwrap()
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        for (name, seen) in watched {
            let Some(entry) = self.get(&name) else {
                continue;
            };
            let now = file_state(&entry.spec.path);
            if now == seen || now.modified.is_none() {
                continue;
            }
            self.watched.lock().unwrap().insert(name.clone(), now);
            let bytes = match std::fs::read(&entry.spec.path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(plugin = %name, error = %e, "cannot read the changed plugin file");
                    continue;
                }
            };
            if content_hash(&bytes) == entry.sha256 {
                continue;
            }
            if let Err(e) = self.deploy_from(entry.spec.clone(), &bytes, true) {
                tracing::warn!(plugin = %name, error = format!("{e:#}"), "the changed plugin file does not load; keeping the running version");
            }
        }
    }
}

fn file_state(path: &Path) -> FileState {
    match std::fs::metadata(path) {
        Ok(m) => FileState {
            modified: m.modified().ok(),
            len: m.len(),
        },
        Err(_) => FileState {
            modified: None,
            len: 0,
        },
    }
}
