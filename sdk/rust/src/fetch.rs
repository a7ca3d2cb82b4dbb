//! The `fetch-interceptor` world: implement `FetchInterceptor`, then
//! `weir_plugin::export_fetch_interceptor!(YourType);`. What a consumer
//! reads passes through it; records keep their offsets, and what is stored
//! never changes.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "fetch-interceptor",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_fetch_interceptor_bindings",
        default_bindings_module: "weir_plugin::fetch::bindings",
    });
}

pub use crate::batch::{Batch, Record};
pub use crate::interceptor::Rewrite;

/// What the consumer receives of a batch.
pub enum Verdict {
    /// The records as stored.
    Accept,
    /// These records instead (changed or fewer; dropped ones leave gaps).
    Rewrite(Rewrite),
}

/// Sees every batch a consumer reads from a bound topic.
pub trait FetchInterceptor {
    /// `client_id` is the reading client's `client.id`, when it sent one.
    fn intercept(client_id: Option<&str>, batch: &Batch) -> Verdict;
}

#[doc(hidden)]
pub struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: FetchInterceptor> bindings::Guest for Adapter<T> {
    fn intercept(
        client_id: Option<String>,
        batch: crate::partitioner::bindings::weir::plugin::types::RecordBatch,
    ) -> bindings::Verdict {
        match T::intercept(client_id.as_deref(), &Batch::new(batch)) {
            Verdict::Accept => bindings::Verdict::Accept,
            Verdict::Rewrite(r) => bindings::Verdict::Rewrite(r.into_wit()),
        }
    }
}

/// Exports `$t` (a `FetchInterceptor`) as the component's
/// `fetch-interceptor` world.
#[macro_export]
macro_rules! export_fetch_interceptor {
    ($t:ty) => {
        type __WeirFetchInterceptorExport = $crate::fetch::Adapter<$t>;
        $crate::fetch::bindings::export_fetch_interceptor_bindings!(__WeirFetchInterceptorExport);
    };
}
