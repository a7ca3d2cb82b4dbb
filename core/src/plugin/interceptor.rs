//! Interceptor plugins: components exporting the `produce-interceptor` or
//! the `fetch-interceptor` world, called once per batch through the
//! `partition::interceptor::Interceptor` trait.

use std::rc::Rc;

use super::bindings::fetch_interceptor::{self, FetchInterceptor, FetchInterceptorPre};
use super::bindings::produce_interceptor::{self, ProduceInterceptor, ProduceInterceptorPre};
use super::bindings::{from_rewritten, to_batch};
use super::sandbox::{Instances, Loaded, Sandbox};
use super::HostState;
use crate::partition::interceptor::{self as seam, Target};
use crate::partition::partitioner::{PackedRecords, PluginFailure};

enum Pre {
    Produce(ProduceInterceptorPre<HostState>),
    Fetch(FetchInterceptorPre<HostState>),
}

enum Instance {
    Produce(ProduceInterceptor),
    Fetch(FetchInterceptor),
}

pub struct WasmInterceptor {
    pub sandbox: Sandbox,
    pre: Pre,
    instances: Instances<Instance>,
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
            instances: Instances::default(),
        })
    }

    pub fn fetch(loaded: Loaded) -> anyhow::Result<WasmInterceptor> {
        let pre = loaded.instantiate_pre()?;
        let pre = FetchInterceptorPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(WasmInterceptor {
            sandbox: loaded.sandbox,
            pre: Pre::Fetch(pre),
            instances: Instances::default(),
        })
    }

    /// Instantiates one instance and keeps it warm (see `Sandbox::warm_up`).
    pub fn warm_up(&self) -> anyhow::Result<()> {
        self.sandbox
            .warm_up(&self.instances, |store| self.instantiate(store))
    }

    fn instantiate(&self, store: &mut wasmtime::Store<HostState>) -> wasmtime::Result<Instance> {
        match &self.pre {
            Pre::Produce(pre) => pre.instantiate(store).map(Instance::Produce),
            Pre::Fetch(pre) => pre.instantiate(store).map(Instance::Fetch),
        }
    }
}

impl seam::Interceptor for WasmInterceptor {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn answered_badly(&self, why: &str) {
        self.sandbox.answered_badly(why);
    }

    fn intercept(
        &self,
        target: &Target,
        records: PackedRecords,
    ) -> Result<seam::Verdict, PluginFailure> {
        let count = records.records.len();
        let batch = Rc::new(to_batch(
            target.topic,
            target.partition,
            target.partition_count,
            records,
        ));
        let max_output = self.sandbox.max_output_bytes();
        let instantiate = |store: &mut wasmtime::Store<HostState>| self.instantiate(store);
        let run = || {
            self.sandbox
                .run(&self.instances, count, instantiate, |instance, store| {
                    let verdict = match instance {
                        Instance::Produce(instance) => {
                            store.data_mut().rejected.clear();
                            match instance.call_intercept(&mut *store, &batch)? {
                                produce_interceptor::Verdict::Accept => seam::Verdict::Accept,
                                produce_interceptor::Verdict::Reject(message) => {
                                    let records = std::mem::take(&mut store.data_mut().rejected);
                                    seam::Verdict::Reject { message, records }
                                }
                                produce_interceptor::Verdict::Rewrite(r) => rewrite(r)?,
                            }
                        }
                        Instance::Fetch(instance) => {
                            match instance.call_intercept(&mut *store, target.client_id, &batch)? {
                                fetch_interceptor::Verdict::Accept => seam::Verdict::Accept,
                                fetch_interceptor::Verdict::Rewrite(r) => rewrite(r)?,
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
        };
        let verdict = super::typed::with_batch(batch.clone(), run);
        if let Ok(seam::Verdict::Reject { message, records }) = &verdict {
            self.sandbox.rejected(target.topic, message, records.len());
        }
        verdict
    }
}

/// A rewrite in the broker's types, or an error naming a malformed answer.
fn rewrite(r: super::bindings::Rewritten) -> wasmtime::Result<seam::Verdict> {
    from_rewritten(r).ok_or_else(|| {
        wasmtime::Error::msg(
            "answered a rewrite whose index arrays do not have the shape of packed-records",
        )
    })
}
