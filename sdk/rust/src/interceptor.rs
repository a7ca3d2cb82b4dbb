//! The `produce-interceptor` world: implement `ProduceInterceptor`, then
//! `weir_plugin::export_produce_interceptor!(YourType);`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "produce-interceptor",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_produce_interceptor_bindings",
        default_bindings_module: "weir_plugin::interceptor::bindings",
    });
}

pub use crate::batch::{Batch, Record};
use crate::batch::{HEADER_WORDS, RECORD_WORDS};
use crate::partitioner::bindings::weir::plugin::types::{PackedRecords, Rewritten};

/// What happens to a batch.
pub enum Verdict {
    /// Append it unchanged.
    Accept,
    /// Append these records instead (changed or fewer).
    Rewrite(Rewrite),
    /// Refuse the batch: the producer gets POLICY_VIOLATION with this message.
    Reject(String),
    /// Refuse the batch, naming the records refused (their index in
    /// `Batch::records()`) and why: the producer gets POLICY_VIOLATION with
    /// this message and a KIP-467 error for each record named.
    RejectRecords(String, Vec<(usize, String)>),
}

/// Sees every batch produced to a bound topic before it is appended.
pub trait ProduceInterceptor {
    fn intercept(batch: &Batch) -> Verdict;
}

/// The records a rewrite keeps, each naming the input record it replaces
/// (its index in `Batch::records()`), in increasing order.
#[derive(Default)]
pub struct Rewrite {
    data: Vec<u8>,
    /// `packed-records.records`, `.timestamps` and `.headers` as they grow.
    records: Vec<u32>,
    timestamps: Vec<i64>,
    headers: Vec<u32>,
    sources: Vec<u32>,
}

impl Rewrite {
    pub fn new() -> Rewrite {
        Rewrite::default()
    }

    /// Appends `bytes` to the data: their offset and length (u32::MAX
    /// for a null).
    fn put(&mut self, bytes: Option<&[u8]>) -> (u32, u32) {
        let offset = self.data.len() as u32;
        match bytes {
            Some(b) => {
                self.data.extend_from_slice(b);
                (offset, b.len() as u32)
            }
            None => (offset, u32::MAX),
        }
    }

    /// Keeps input record `source` with this key, value and headers.
    pub fn push<'h>(
        &mut self,
        source: usize,
        record: &Record<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl IntoIterator<Item = (&'h [u8], Option<&'h [u8]>)>,
    ) {
        let (key_offset, key_len) = self.put(key);
        let (value_offset, value_len) = self.put(value);
        let headers_start = (self.headers.len() / HEADER_WORDS) as u32;
        for (name, value) in headers {
            let (name_offset, name_len) = self.put(Some(name));
            let (value_offset, value_len) = self.put(value);
            self.headers
                .extend_from_slice(&[name_offset, name_len, value_offset, value_len]);
        }
        let headers_count = (self.headers.len() / HEADER_WORDS) as u32 - headers_start;
        self.records.extend_from_slice(&[
            key_offset,
            key_len,
            value_offset,
            value_len,
            headers_start,
            headers_count,
        ]);
        debug_assert_eq!(
            self.records.len(),
            (self.timestamps.len() + 1) * RECORD_WORDS
        );
        self.timestamps.push(record.timestamp());
        self.sources.push(source as u32);
    }

    pub(crate) fn into_wit(self) -> Rewritten {
        Rewritten {
            records: PackedRecords {
                data: self.data,
                records: self.records,
                timestamps: self.timestamps,
                headers: self.headers,
            },
            sources: self.sources,
        }
    }

    /// Keeps input record `source` as it is.
    pub fn keep(&mut self, source: usize, record: &Record<'_>) {
        let headers: Vec<_> = record.headers().map(|h| (h.name(), h.value())).collect();
        self.push(source, record, record.key(), record.value(), headers);
    }
}

#[doc(hidden)]
pub struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: ProduceInterceptor> bindings::Guest for Adapter<T> {
    fn intercept(
        batch: crate::partitioner::bindings::weir::plugin::types::RecordBatch,
    ) -> bindings::Verdict {
        match T::intercept(&Batch::new(batch)) {
            Verdict::Accept => bindings::Verdict::Accept,
            Verdict::Reject(message) => bindings::Verdict::Reject(message),
            Verdict::RejectRecords(message, records) => {
                for (index, reason) in &records {
                    crate::host::reject_record(*index, reason);
                }
                bindings::Verdict::Reject(message)
            }
            Verdict::Rewrite(r) => bindings::Verdict::Rewrite(r.into_wit()),
        }
    }
}

/// Exports `$t` (a `ProduceInterceptor`) as the component's
/// `produce-interceptor` world.
#[macro_export]
macro_rules! export_produce_interceptor {
    ($t:ty) => {
        type __WeirProduceInterceptorExport = $crate::interceptor::Adapter<$t>;
        $crate::interceptor::bindings::export_produce_interceptor_bindings!(
            __WeirProduceInterceptorExport
        );
    };
}
