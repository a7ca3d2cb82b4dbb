//! A friendly view of the packed `record-batch`: records and headers as
//! slices of one buffer, without copies.

use crate::partitioner::bindings::weir::plugin::types::RecordBatch;

/// Words per record and per header in the WIT's `packed-records`.
pub(crate) const RECORD_WORDS: usize = 6;
pub(crate) const HEADER_WORDS: usize = 4;

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
        self.inner.records.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.inner
            .records
            .records
            .chunks_exact(RECORD_WORDS)
            .zip(&self.inner.records.timestamps)
            .enumerate()
            .map(move |(index, (words, timestamp))| Record {
                batch: self,
                index,
                words,
                timestamp: *timestamp,
            })
    }

    /// The slice of `data` at `offset`, or None for a null (length
    /// 0xffffffff).
    fn slice(&self, offset: u32, len: u32) -> Option<&[u8]> {
        (len != u32::MAX).then(|| &self.inner.records.data[offset as usize..][..len as usize])
    }
}

/// One record of a `Batch`.
pub struct Record<'a> {
    batch: &'a Batch,
    index: usize,
    /// The record's six words of `packed-records.records`.
    words: &'a [u32],
    timestamp: i64,
}

impl<'a> Record<'a> {
    /// None for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.batch.slice(self.words[0], self.words[1])
    }

    /// None for a null value (a tombstone).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.batch.slice(self.words[2], self.words[3])
    }

    /// Its place in the batch.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Typed access (`host::field`): the field at `path` of this record's
    /// key or value as JSON text, decoded by the topic's serializer.
    pub fn field(&self, part: crate::host::Part, path: &str) -> Option<String> {
        crate::host::field(self.index, part, path)
    }

    /// Milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> {
        let start = self.words[4] as usize * HEADER_WORDS;
        let end = start + self.words[5] as usize * HEADER_WORDS;
        let batch = self.batch;
        batch.inner.records.headers[start..end]
            .chunks_exact(HEADER_WORDS)
            .map(move |words| Header { batch, words })
    }

    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<Header<'a>> {
        self.headers().find(|h| h.name() == name.as_bytes())
    }
}

/// One header of a `Record`.
pub struct Header<'a> {
    batch: &'a Batch,
    /// The header's four words of `packed-records.headers`.
    words: &'a [u32],
}

impl<'a> Header<'a> {
    pub fn name(&self) -> &'a [u8] {
        self.batch
            .slice(self.words[0], self.words[1])
            .unwrap_or_default()
    }

    /// None for a null value.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.batch.slice(self.words[2], self.words[3])
    }
}
