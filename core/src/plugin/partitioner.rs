//! Partitioner plugins: components exporting the `partitioner` world,
//! called once per batch through the `partition::Partitioner` trait.

use std::rc::Rc;

use super::bindings::partitioner::{Partitioner, PartitionerPre};
use super::bindings::to_batch;
use super::sandbox::{Instances, Loaded, Sandbox};
use super::HostState;
use crate::partition::partitioner::{self as seam, PackedRecords, PluginFailure};

pub struct WasmPartitioner {
    pub sandbox: Sandbox,
    pre: PartitionerPre<HostState>,
    instances: Instances<Partitioner>,
}

impl WasmPartitioner {
    /// Fails if the component does not export the `partitioner` world or
    /// imports anything beyond `host` and WASI.
    pub fn new(loaded: Loaded) -> anyhow::Result<WasmPartitioner> {
        let pre = PartitionerPre::new(loaded.instantiate_pre()?).map_err(anyhow::Error::from)?;
        Ok(WasmPartitioner {
            sandbox: loaded.sandbox,
            pre,
            instances: Instances::default(),
        })
    }

    /// Instantiates one instance and keeps it warm (see `Sandbox::warm_up`).
    pub fn warm_up(&self) -> anyhow::Result<()> {
        self.sandbox
            .warm_up(&self.instances, |store| self.pre.instantiate(store))
    }
}

impl seam::Partitioner for WasmPartitioner {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn answered_badly(&self, why: &str) {
        self.sandbox.answered_badly(why);
    }

    fn partition(
        &self,
        topic: &str,
        partition: i32,
        partition_count: u32,
        records: PackedRecords,
    ) -> Result<Vec<u32>, PluginFailure> {
        let count = records.records.len();
        let batch = Rc::new(to_batch(topic, partition, partition_count, records));
        super::typed::with_batch(batch.clone(), || {
            self.sandbox.run(
                &self.instances,
                count,
                |store| self.pre.instantiate(store),
                |instance, store| instance.call_partition(store, &batch),
            )
        })
    }
}
