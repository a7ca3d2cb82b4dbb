//! A byte range of a segment file, as a fetch hands it out: the server sends it
//! to the socket with `sendfile` (no copy through the broker), or reads it into
//! memory where bytes are needed. The file handle keeps the data readable even
//! if the segment is deleted while the response is being written.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

#[derive(Debug, Clone, Default)]
pub struct FileSlice {
    file: Option<Arc<File>>,
    position: u64,
    len: usize,
}

impl FileSlice {
    pub fn new(file: Arc<File>, position: u64, len: usize) -> FileSlice {
        FileSlice {
            file: (len > 0).then_some(file),
            position,
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The open file and the offset the range starts at (for `sendfile`).
    pub fn file(&self) -> Option<(&File, u64)> {
        self.file.as_deref().map(|f| (f, self.position))
    }

    /// The bytes of the range, read into memory.
    pub fn read(&self) -> io::Result<Bytes> {
        let Some(file) = &self.file else {
            return Ok(Bytes::new());
        };
        let mut buf = vec![0u8; self.len];
        file.read_exact_at(&mut buf, self.position)?;
        Ok(Bytes::from(buf))
    }
}
