//! The batch a plugin call's `host.field` and `host.encode` read, and how
//! the topic's records are decoded (`partition::typed`).
//!
//! As with the caller (caller.rs), the request handler names the topic's
//! codecs once around the synchronous part that calls plugins, and each
//! partitioner or interceptor call names its batch around the call; the
//! host functions find both here. A plugin call never leaves its thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::bindings::types::RecordBatch;
use crate::partition::typed::{Codecs, Source, TypedBatch};
use crate::partition::validation::Field;

thread_local! {
    static CODECS: RefCell<Option<Arc<Codecs>>> = const { RefCell::new(None) };
    static BATCH: RefCell<Option<TypedBatch<Shared>>> = const { RefCell::new(None) };
}

/// The batch as the plugin was given it (not copied).
pub(super) struct Shared(pub Rc<RecordBatch>);

impl Source for Shared {
    fn len(&self) -> usize {
        self.0.records.timestamps.len()
    }

    fn payload(&self, index: usize, field: Field) -> Option<&[u8]> {
        let words = self.0.records.records.get(index * 6..index * 6 + 6)?;
        let (offset, len) = match field {
            Field::Key => (words[0], words[1]),
            Field::Value => (words[2], words[3]),
        };
        if len == u32::MAX {
            return None;
        }
        self.0
            .records
            .data
            .get(offset as usize..)?
            .get(..len as usize)
    }
}

/// Runs `f` with `codecs` as how the plugins it calls decode records.
pub fn scope<R>(codecs: Option<Arc<Codecs>>, f: impl FnOnce() -> R) -> R {
    super::caller::scoped(&CODECS, codecs, f)
}

/// Runs a plugin call over `batch`, whose fields `host.field` reads.
pub(super) fn with_batch<R>(batch: Rc<RecordBatch>, f: impl FnOnce() -> R) -> R {
    // Shared, not made per call: most calls are on topics without codecs.
    static NONE: std::sync::LazyLock<Arc<Codecs>> = std::sync::LazyLock::new(Arc::default);
    let codecs = CODECS
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| NONE.clone());
    super::caller::scoped(&BATCH, Some(TypedBatch::new(codecs, Shared(batch))), f)
}

/// Runs `f` on the current batch, taken out while it runs: a plugin
/// called from `f` (the serializer decoding it) sees no batch, rather than
/// this one borrowed twice.
fn on_batch<R>(f: impl FnOnce(&mut TypedBatch<Shared>) -> R) -> Option<R> {
    let mut batch = BATCH.with(|b| b.borrow_mut().take())?;
    let result = f(&mut batch);
    BATCH.with(|b| *b.borrow_mut() = Some(batch));
    Some(result)
}

pub(super) fn field(index: u32, field: Field, path: &str) -> Option<String> {
    on_batch(|b| b.field(index as usize, field, path)).flatten()
}

pub(super) fn encode(field: Field, items: Vec<(u32, String)>) -> Vec<Result<Vec<u8>, String>> {
    let items: Vec<(usize, String)> = items.into_iter().map(|(i, j)| (i as usize, j)).collect();
    on_batch(|b| b.encode(field, &items)).unwrap_or_else(|| {
        vec![Err("typed access is only for partitioners and interceptors".into()); items.len()]
    })
}
