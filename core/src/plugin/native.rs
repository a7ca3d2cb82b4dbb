//! Native plugins: shared libraries (a C `.so`, a Rust cdylib) loaded with
//! dlopen behind the same `Partitioner` and `Interceptor` traits as the
//! WASM ones, for trusted hot code. The C ABI is `sdk/c/weir_native.h`.
//!
//! There is no sandbox: a native plugin runs in the broker's process, so
//! one is loaded only when `weir.plugin.native.enabled` says so. What does
//! apply: each call is timed and one that ran past its `timeout-ms` counts
//! as a failure (it cannot be stopped; its answer is discarded and the
//! topic's on-error policy applies), answers are checked like WASM ones,
//! and the same metrics are kept.

use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use libloading::Library;

use super::bindings::{from_wit, to_wit, types};
use super::metrics::PluginMetrics;
use crate::config::plugins::PluginSpec;
use crate::partition::interceptor::{self as seam, Target};
use crate::partition::partitioner::{self as partitioner_seam, PackedRecords, PluginFailure};

/// The ABI version this broker speaks (`WEIR_NATIVE_ABI`).
const ABI: u32 = 1;
const ACCEPT: i32 = 0;
const REWRITE: i32 = 1;
const REJECT: i32 = 2;

#[repr(C)]
struct Records {
    data: *const u8,
    data_len: usize,
    records: *const u32,
    records_len: usize,
    timestamps: *const i64,
    count: usize,
    headers: *const u32,
    headers_len: usize,
}

#[repr(C)]
struct Batch {
    topic: *const u8,
    topic_len: usize,
    partition: i32,
    partition_count: u32,
    client_id: *const u8,
    client_id_len: usize,
    records: Records,
}

#[repr(C)]
struct Rewrite {
    data: *mut u8,
    data_len: usize,
    records: *mut u32,
    records_len: usize,
    timestamps: *mut i64,
    count: usize,
    headers: *mut u32,
    headers_len: usize,
    sources: *mut u32,
}

type PartitionFn = unsafe extern "C" fn(*const Batch, *mut u32, *mut c_char, usize) -> i32;
type InterceptFn = unsafe extern "C" fn(*const Batch, *mut Rewrite, *mut c_char, usize) -> i32;
type FreeRewriteFn = unsafe extern "C" fn(*mut Rewrite);
type ConfigureFn = unsafe extern "C" fn(*const *const c_char, *const *const c_char, usize);

enum Entry {
    Partition(PartitionFn),
    Intercept(InterceptFn, FreeRewriteFn),
}

pub struct NativePlugin {
    name: String,
    kind: String,
    timeout: Duration,
    metrics: Arc<PluginMetrics>,
    entry: Entry,
    /// Last, so the functions above are dropped before the library is
    /// unloaded.
    _library: Library,
}

/// Whether `bytes` are a shared library rather than a WASM component.
pub fn is_native(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

impl NativePlugin {
    /// Loads the library at `path` as the plugin `spec` describes: its ABI
    /// version and kind must match, and it gets its config once.
    pub fn load(
        path: &Path,
        spec: &PluginSpec,
        metrics: Arc<PluginMetrics>,
    ) -> anyhow::Result<NativePlugin> {
        // SAFETY: loading runs the library's initialisers; the operator
        // enabled native plugins and chose this one (there is no sandbox).
        let library =
            unsafe { Library::new(path) }.with_context(|| format!("loading {}", path.display()))?;
        // SAFETY: each symbol is looked up with the type the ABI gives it.
        unsafe {
            let abi = library
                .get::<unsafe extern "C" fn() -> u32>(b"weir_native_abi")
                .context("not a Weir native plugin: no weir_native_abi")?;
            if abi() != ABI {
                bail!("speaks native ABI {}, this broker {ABI}", abi());
            }
            let kind =
                library.get::<unsafe extern "C" fn() -> *const c_char>(b"weir_native_kind")?;
            let kind = CStr::from_ptr(kind()).to_string_lossy().into_owned();
            if kind != spec.kind {
                bail!("is a native {kind}, declared as {}", spec.kind);
            }
            if let Ok(configure) = library.get::<ConfigureFn>(b"weir_native_configure") {
                let pairs: Vec<(CString, CString)> = spec
                    .config_strings()
                    .into_iter()
                    .filter_map(|(k, v)| Some((CString::new(k).ok()?, CString::new(v).ok()?)))
                    .collect();
                let keys: Vec<*const c_char> = pairs.iter().map(|(k, _)| k.as_ptr()).collect();
                let values: Vec<*const c_char> = pairs.iter().map(|(_, v)| v.as_ptr()).collect();
                configure(keys.as_ptr(), values.as_ptr(), pairs.len());
            }
            let entry = if kind == "partitioner" {
                Entry::Partition(*library.get::<PartitionFn>(b"weir_native_partition")?)
            } else {
                Entry::Intercept(
                    *library.get::<InterceptFn>(b"weir_native_intercept")?,
                    *library.get::<FreeRewriteFn>(b"weir_native_free_rewrite")?,
                )
            };
            Ok(NativePlugin {
                name: spec.name.clone(),
                kind,
                timeout: Duration::from_millis(spec.timeout_ms),
                metrics,
                entry,
                _library: library,
            })
        }
    }

    /// Runs `call` on the batch, timed and counted like a sandboxed call.
    fn run<T>(
        &self,
        topic: &str,
        partition: (i32, u32),
        client_id: Option<&str>,
        records: PackedRecords,
        call: impl FnOnce(&Batch, &mut [c_char]) -> Result<T, PluginFailure>,
    ) -> Result<T, PluginFailure> {
        let count = records.records.len();
        let flat = to_wit(records);
        let batch = Batch {
            topic: topic.as_ptr(),
            topic_len: topic.len(),
            partition: partition.0,
            partition_count: partition.1,
            client_id: client_id.map_or(std::ptr::null(), str::as_ptr),
            client_id_len: client_id.map_or(0, str::len),
            records: Records {
                data: flat.data.as_ptr(),
                data_len: flat.data.len(),
                records: flat.records.as_ptr(),
                records_len: flat.records.len(),
                timestamps: flat.timestamps.as_ptr(),
                count: flat.timestamps.len(),
                headers: flat.headers.as_ptr(),
                headers_len: flat.headers.len(),
            },
        };
        let mut error = vec![0 as c_char; 1024];
        let started = Instant::now();
        let mut outcome = call(&batch, &mut error);
        let took = started.elapsed();
        if took > self.timeout && outcome.is_ok() {
            outcome = Err(PluginFailure::Failed(format!(
                "ran past its {} ms deadline (a native plugin cannot be stopped; its answer was discarded)",
                self.timeout.as_millis()
            )));
        }
        self.metrics.record(count, took, outcome.as_ref().err());
        if let Err(e) = &outcome {
            tracing::warn!(plugin = %self.name, error = ?e, "plugin call failed");
        }
        outcome
    }
}

/// The plugin's message in `error` (NUL-terminated within it).
fn message(error: &[c_char]) -> String {
    let bytes: Vec<u8> = error
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl partitioner_seam::Partitioner for NativePlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn partition(
        &self,
        topic: &str,
        partition: i32,
        partition_count: u32,
        records: PackedRecords,
    ) -> Result<Vec<u32>, PluginFailure> {
        let Entry::Partition(partition_fn) = self.entry else {
            return Err(PluginFailure::Failed(format!(
                "{} is not a partitioner",
                self.kind
            )));
        };
        let count = records.records.len();
        self.run(
            topic,
            (partition, partition_count),
            None,
            records,
            |batch, error| {
                let mut out = vec![0u32; count];
                // SAFETY: the batch and buffers outlive the call; `out` has one
                // slot per record, `error` error.len() bytes.
                let code = unsafe {
                    partition_fn(batch, out.as_mut_ptr(), error.as_mut_ptr(), error.len() - 1)
                };
                match code {
                    0 => Ok(out),
                    _ => Err(PluginFailure::Refused(message(error))),
                }
            },
        )
    }

    fn answered_badly(&self, _why: &str) {
        self.metrics.record_bad_answer();
    }
}

impl seam::Interceptor for NativePlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn intercept(
        &self,
        target: &Target,
        records: PackedRecords,
    ) -> Result<seam::Verdict, PluginFailure> {
        let Entry::Intercept(intercept_fn, free_fn) = self.entry else {
            return Err(PluginFailure::Failed(format!(
                "{} is not an interceptor",
                self.kind
            )));
        };
        let fetch = self.kind == "fetch-interceptor";
        let partition = (target.partition, target.partition_count);
        self.run(
            target.topic,
            partition,
            target.client_id,
            records,
            |batch, error| {
                let mut out = std::mem::MaybeUninit::<Rewrite>::zeroed();
                // SAFETY: as for partition; `out` is filled by the plugin only
                // on REWRITE, and then handed back to it to free.
                let code = unsafe {
                    intercept_fn(batch, out.as_mut_ptr(), error.as_mut_ptr(), error.len() - 1)
                };
                match code {
                    ACCEPT => Ok(seam::Verdict::Accept),
                    REJECT if !fetch => {
                        let message = message(error);
                        self.metrics
                            .record_rejection(&self.name, target.topic, &message, 0);
                        Ok(seam::Verdict::Reject {
                            message,
                            records: Vec::new(),
                        })
                    }
                    REWRITE => {
                        let mut out = unsafe { out.assume_init() };
                        let verdict = unsafe { copy_rewrite(&out) };
                        unsafe { free_fn(&mut out) };
                        verdict.ok_or_else(|| {
                            PluginFailure::Failed(
                                "answered a rewrite whose index arrays do not line up".into(),
                            )
                        })
                    }
                    code if code < 0 => Err(PluginFailure::Failed(message(error))),
                    other => Err(PluginFailure::Failed(format!(
                        "answered {other}, which means nothing here"
                    ))),
                }
            },
        )
    }

    fn answered_badly(&self, _why: &str) {
        self.metrics.record_bad_answer();
    }
}

/// The plugin's rewrite, copied into the broker's types.
///
/// # Safety
/// Every pointer of `out` must be valid for its length (or null with 0).
unsafe fn copy_rewrite(out: &Rewrite) -> Option<seam::Verdict> {
    unsafe fn slice<T: Copy>(ptr: *const T, len: usize) -> Vec<T> {
        if ptr.is_null() || len == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(ptr, len).to_vec()
        }
    }
    let packed = types::PackedRecords {
        data: slice(out.data, out.data_len),
        records: slice(out.records, out.records_len),
        timestamps: slice(out.timestamps, out.count),
        headers: slice(out.headers, out.headers_len),
    };
    Some(seam::Verdict::Rewrite {
        records: from_wit(packed)?,
        sources: slice(out.sources, out.count),
    })
}
