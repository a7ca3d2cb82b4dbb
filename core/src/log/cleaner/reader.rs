//! Reading a closed segment batch by batch through its open file handle, in
//! large reads, without the partition lock (closed segments do not change;
//! a deleted one stays readable through the handle).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::log::batch::{BatchHeader, HEADER_SIZE};

const CHUNK: usize = 1 << 20;

pub struct BatchReader<'a> {
    file: &'a File,
    /// The file offset of `buf[0]`.
    buf_at: u64,
    buf: Vec<u8>,
    /// The next batch's position in `buf`.
    at: usize,
    end: u64,
}

impl<'a> BatchReader<'a> {
    pub fn new(file: &'a File, size: u64) -> Self {
        BatchReader {
            file,
            buf_at: 0,
            buf: Vec::new(),
            at: 0,
            end: size,
        }
    }

    /// The next whole batch: its header and bytes; None at the end (or at
    /// a batch that does not fit the file, which recovery already cut).
    pub fn next_batch(&mut self) -> io::Result<Option<(BatchHeader, &[u8])>> {
        if !self.fill(HEADER_SIZE)? {
            return Ok(None);
        }
        let header = BatchHeader::parse(&self.buf[self.at..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if !self.fill(header.size)? {
            return Ok(None);
        }
        let start = self.at;
        self.at += header.size;
        Ok(Some((header, &self.buf[start..start + header.size])))
    }

    /// Makes `len` bytes from `at` available; false past the end.
    fn fill(&mut self, len: usize) -> io::Result<bool> {
        let position = self.buf_at + self.at as u64;
        if position + len as u64 > self.end {
            return Ok(false);
        }
        if self.at + len <= self.buf.len() {
            return Ok(true);
        }
        let want = (len.max(CHUNK) as u64).min(self.end - position) as usize;
        self.buf.resize(want, 0);
        self.file.read_exact_at(&mut self.buf, position)?;
        self.buf_at = position;
        self.at = 0;
        Ok(true)
    }
}
