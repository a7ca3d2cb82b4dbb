//! Write Weir plugins in Rust.
//!
//! A plugin is a WebAssembly component exporting one world of the
//! `weir:plugin` WIT package (`wit/weir-plugin.wit`, which documents every
//! type and function). This crate generates the bindings and adds a small
//! layer over the packed batch the broker passes: an iterator of records
//! with `key()`, `value()` and `headers()`.
//!
//! A partitioner:
//!
//! ```ignore
//! use weir_plugin::partitioner::{Batch, Partitioner};
//!
//! struct ByKeyLength;
//!
//! impl Partitioner for ByKeyLength {
//!     fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
//!         Ok(batch.records().map(|r| r.key().map_or(0, |k| k.len() as u32) % batch.partition_count()).collect())
//!     }
//! }
//!
//! weir_plugin::export_partitioner!(ByKeyLength);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm`
//! in `target/wasm32-wasip2/release/` is the component to name in a
//! `[[plugins]]` entry of weir.toml.

pub mod auth;
pub mod fetch;
pub mod hash;
pub mod interceptor;
pub mod partitioner;
pub mod policy;
pub mod serializer;

mod batch;
pub use batch::{Batch, Header, Record};

/// What the broker offers every plugin.
pub mod host {
    pub use crate::partitioner::bindings::weir::plugin::host::Level;

    /// Writes to the broker's log, tagged with the plugin's name.
    pub fn log(level: Level, message: &str) {
        crate::partitioner::bindings::weir::plugin::host::log(level, message)
    }

    /// A value from the plugin's `config` table in weir.toml.
    pub fn config(key: &str) -> Option<String> {
        crate::partitioner::bindings::weir::plugin::host::config(key)
    }

    /// The broker's wall clock, in milliseconds since the Unix epoch.
    pub fn now_ms() -> i64 {
        crate::partitioner::bindings::weir::plugin::host::now_ms()
    }

    /// Names a record (its index in the batch) a produce interceptor is
    /// about to reject, and why; `Verdict::RejectRecords` calls this.
    pub fn reject_record(index: usize, reason: &str) {
        crate::partitioner::bindings::weir::plugin::host::reject_record(index as u32, reason)
    }

    /// The client this call is made for (its principal, address, client id
    /// and listener): the producer in a partitioner or produce
    /// interceptor, the consumer in a fetch interceptor. None in retention
    /// and compaction policies.
    pub fn caller() -> Option<crate::auth::Client> {
        crate::partitioner::bindings::weir::plugin::host::caller()
    }

    pub use crate::partitioner::bindings::weir::plugin::host::Part;

    /// Typed access: the field at `path` (`customer.id`, `items.0`; "" for
    /// the whole) of record `index`'s key or value, as JSON text (strings
    /// quoted), decoded by the topic's serializer plugin when it binds one
    /// (so Avro, Protobuf and JSON records read alike), else read as JSON.
    /// None when absent, null or undecodable. In partitioners and
    /// interceptors; `Record::field` is the same for a record in hand.
    pub fn field(index: usize, part: Part, path: &str) -> Option<String> {
        crate::partitioner::bindings::weir::plugin::host::field(index as u32, part, path)
    }

    /// Each (record index, JSON text) encoded back to the format of that
    /// record's key or value (the topic's serializer, the record's schema,
    /// framing included): the bytes to put in a `Rewrite`, or why the JSON
    /// does not fit.
    pub fn encode(part: Part, items: &[(usize, String)]) -> Vec<Result<Vec<u8>, String>> {
        let items: Vec<(u32, String)> = items.iter().map(|(i, j)| (*i as u32, j.clone())).collect();
        crate::partitioner::bindings::weir::plugin::host::encode(part, &items)
    }
}
