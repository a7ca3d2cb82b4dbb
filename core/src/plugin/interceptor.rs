//! Interceptor plugins: components exporting the `produce-interceptor` or
//! the `fetch-interceptor` world, called once per batch through the
//! `partition::interceptor::Interceptor` trait.

use super::bindings::fetch_interceptor::{self, FetchInterceptorPre};
use super::bindings::produce_interceptor::{self, ProduceInterceptorPre};
use super::bindings::{from_rewritten, to_batch};
use super::sandbox::{Loaded, Sandbox};
use super::HostState;
use crate::partition::interceptor::{self as seam, Target};
use crate::partition::partitioner::{PackedRecords, PluginFailure};

enum Pre {
    Produce(ProduceInterceptorPre<HostState>),
    Fetch(FetchInterceptorPre<HostState>),
}

pub struct WasmInterceptor {
    pub sandbox: Sandbox,
    pre: Pre,
}

impl WasmInterceptor {
    /// Fails unless the component exports the world of its kind and imports
    /// nothing beyond `host` and WASI.
    pub fn produce(loaded: Loaded) -> anyhow::Result<WasmInterceptor> {
        let pre = loaded.instantiate_pre()?;
        let pre = ProduceInterceptorPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(WasmInterceptor {
            sandbox: loaded.sandbox,
            pre: Pre::Produce(pre),
        })
    }

    pub fn fetch(loaded: Loaded) -> anyhow::Result<WasmInterceptor> {
        let pre = loaded.instantiate_pre()?;
        let pre = FetchInterceptorPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(WasmInterceptor {
            sandbox: loaded.sandbox,
            pre: Pre::Fetch(pre),
        })
    }
}

impl seam::Interceptor for WasmInterceptor {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn intercept(
        &self,
        target: &Target,
        records: PackedRecords,
    ) -> Result<seam::Verdict, PluginFailure> {
        let count = records.records.len();
        let batch = to_batch(
            target.topic,
            target.partition,
            target.partition_count,
            records,
        );
        let max_output = self.sandbox.max_output_bytes();
        self.sandbox.run(count, |store| {
            let verdict = match &self.pre {
                Pre::Produce(pre) => {
                    let instance = pre.instantiate(&mut *store)?;
                    match instance.call_intercept(&mut *store, &batch)? {
                        produce_interceptor::Verdict::Accept => seam::Verdict::Accept,
                        produce_interceptor::Verdict::Reject(m) => seam::Verdict::Reject(m),
                        produce_interceptor::Verdict::Rewrite(r) => from_rewritten(r),
                    }
                }
                Pre::Fetch(pre) => {
                    let instance = pre.instantiate(&mut *store)?;
                    match instance.call_intercept(&mut *store, target.client_id, &batch)? {
                        fetch_interceptor::Verdict::Accept => seam::Verdict::Accept,
                        fetch_interceptor::Verdict::Rewrite(r) => from_rewritten(r),
                    }
                }
            };
            if let seam::Verdict::Rewrite { records, .. } = &verdict {
                if records.data.len() as u64 > max_output {
                    return Err(wasmtime::Error::msg(format!(
                        "answered {} bytes of records, over its max-output-bytes of {max_output}",
                        records.data.len()
                    )));
                }
            }
            Ok(Ok(verdict))
        })
    }
}
