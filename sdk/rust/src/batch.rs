//! A friendly view of the packed `record-batch`: records and headers as
//! slices of one buffer, without copies.

use crate::partitioner::bindings::weir::plugin::types::{HeaderRef, RecordBatch, RecordRef};

/// The records of one produce batch.
pub struct Batch {
    inner: RecordBatch,
}

impl Batch {
    #[doc(hidden)]
    pub fn new(inner: RecordBatch) -> Batch {
        Batch { inner }
    }

    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    /// The partition the producer addressed.
    pub fn partition(&self) -> i32 {
        self.inner.partition
    }

    pub fn partition_count(&self) -> u32 {
        self.inner.partition_count
    }

    pub fn len(&self) -> usize {
        self.inner.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.records.is_empty()
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.inner
            .records
            .iter()
            .map(move |r| Record { batch: self, r })
    }

    fn slice(&self, offset: u32, len: i32) -> Option<&[u8]> {
        (len >= 0).then(|| &self.inner.data[offset as usize..offset as usize + len as usize])
    }
}

/// One record of a `Batch`.
pub struct Record<'a> {
    batch: &'a Batch,
    r: &'a RecordRef,
}

impl<'a> Record<'a> {
    /// None for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.batch.slice(self.r.key_offset, self.r.key_len)
    }

    /// None for a null value (a tombstone).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.batch.slice(self.r.value_offset, self.r.value_len)
    }

    /// Milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.r.timestamp
    }

    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> {
        let start = self.r.headers_start as usize;
        let end = start + self.r.headers_count as usize;
        let batch = self.batch;
        batch.inner.headers[start..end]
            .iter()
            .map(move |h| Header { batch, h })
    }

    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<Header<'a>> {
        self.headers().find(|h| h.name() == name.as_bytes())
    }
}

/// One header of a `Record`.
pub struct Header<'a> {
    batch: &'a Batch,
    h: &'a HeaderRef,
}

impl<'a> Header<'a> {
    pub fn name(&self) -> &'a [u8] {
        self.batch
            .slice(self.h.name_offset, self.h.name_len as i32)
            .unwrap_or_default()
    }

    /// None for a null value.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.batch.slice(self.h.value_offset, self.h.value_len)
    }
}
