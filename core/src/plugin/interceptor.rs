//! Produce-interceptor plugins: components exporting the
//! `produce-interceptor` world, called once per batch through the
//! `partition::interceptor::ProduceInterceptor` trait.

use std::sync::Arc;

use super::bindings::produce_interceptor::{ProduceInterceptor, ProduceInterceptorPre, Verdict};
use super::bindings::{from_wit, to_batch};
use super::engine::PluginEngine;
use super::sandbox::Sandbox;
use super::HostState;
use crate::config::plugins::PluginSpec;
use crate::partition::interceptor::{self as seam};
use crate::partition::partitioner::{PackedRecords, PluginFailure};

pub struct WasmProduceInterceptor {
    pub sandbox: Sandbox,
    pre: ProduceInterceptorPre<HostState>,
}

impl WasmProduceInterceptor {
    pub fn load(engine: &Arc<PluginEngine>, spec: &PluginSpec) -> anyhow::Result<Self> {
        let (sandbox, component, linker) = Sandbox::load(engine, spec)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)?;
        let pre = ProduceInterceptorPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(WasmProduceInterceptor { sandbox, pre })
    }
}

impl seam::ProduceInterceptor for WasmProduceInterceptor {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn intercept(
        &self,
        topic: &str,
        partition: i32,
        partition_count: u32,
        records: PackedRecords,
    ) -> Result<seam::Verdict, PluginFailure> {
        let count = records.records.len();
        let batch = to_batch(topic, partition, partition_count, records);
        self.sandbox.run(count, |store| {
            let instance: ProduceInterceptor = self.pre.instantiate(&mut *store)?;
            Ok(Ok(match instance.call_intercept(&mut *store, &batch)? {
                Verdict::Accept => seam::Verdict::Accept,
                Verdict::Reject(message) => seam::Verdict::Reject(message),
                Verdict::Rewrite(r) => seam::Verdict::Rewrite {
                    records: from_wit(r.data, r.records, r.headers),
                    sources: r.sources,
                },
            }))
        })
    }
}
