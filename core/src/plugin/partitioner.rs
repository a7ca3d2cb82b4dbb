//! Partitioner plugins: components exporting the `partitioner` world,
//! called once per batch through the `partition::Partitioner` trait.

use std::sync::Arc;

use super::bindings::partitioner::{Partitioner, PartitionerPre};
use super::bindings::to_batch;
use super::engine::PluginEngine;
use super::sandbox::Sandbox;
use super::HostState;
use crate::config::plugins::PluginSpec;
use crate::partition::partitioner::{self as seam, PackedRecords, PluginFailure};

pub struct WasmPartitioner {
    pub sandbox: Sandbox,
    pre: PartitionerPre<HostState>,
}

impl WasmPartitioner {
    /// Fails if the component does not export the `partitioner` world or
    /// imports anything beyond `host` and WASI.
    pub fn load(engine: &Arc<PluginEngine>, spec: &PluginSpec) -> anyhow::Result<WasmPartitioner> {
        let (sandbox, component, linker) = Sandbox::load(engine, spec)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)?;
        let pre = PartitionerPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(WasmPartitioner { sandbox, pre })
    }
}

impl seam::Partitioner for WasmPartitioner {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn partition(
        &self,
        topic: &str,
        partition: i32,
        partition_count: u32,
        records: PackedRecords,
    ) -> Result<Vec<u32>, PluginFailure> {
        let count = records.records.len();
        let batch = to_batch(topic, partition, partition_count, records);
        self.sandbox.run(count, |store| {
            let instance: Partitioner = self.pre.instantiate(&mut *store)?;
            instance.call_partition(&mut *store, &batch)
        })
    }
}
