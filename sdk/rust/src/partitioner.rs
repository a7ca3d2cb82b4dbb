//! The `partitioner` world: implement `Partitioner`, then
//! `weir_plugin::export_partitioner!(YourType);`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "partitioner",
        pub_export_macro: true,
        export_macro_name: "export_partitioner_bindings",
        default_bindings_module: "weir_plugin::partitioner::bindings",
    });
}

pub use crate::batch::Batch;

/// Chooses the partition of every record of a batch.
pub trait Partitioner {
    /// One partition per record of `batch`, in order, each below
    /// `batch.partition_count()`. An error refuses the whole batch.
    fn partition(batch: &Batch) -> Result<Vec<u32>, String>;
}

#[doc(hidden)]
pub struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: Partitioner> bindings::Guest for Adapter<T> {
    fn partition(batch: bindings::weir::plugin::types::RecordBatch) -> Result<Vec<u32>, String> {
        T::partition(&Batch::new(batch))
    }
}

/// Exports `$t` (a `Partitioner`) as the component's `partitioner` world.
#[macro_export]
macro_rules! export_partitioner {
    ($t:ty) => {
        type __WeirPartitionerExport = $crate::partitioner::Adapter<$t>;
        $crate::partitioner::bindings::export_partitioner_bindings!(__WeirPartitionerExport);
    };
}
