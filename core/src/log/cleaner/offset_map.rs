//! The cleaner's map from record key to the latest record for it: keys are
//! held as 128-bit hashes (xxh3), as Kafka holds them as MD5 digests, so
//! its memory is a fixed 40 bytes per key whatever the key's size.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_128;

/// The latest record of one key, and how many records the key has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    pub offset: i64,
    pub timestamp: i64,
    /// Records with this key in the range being cleaned.
    pub count: u32,
    /// Of those, how many the rewrite has passed so far.
    pub seen: u32,
}

#[derive(Default)]
pub struct OffsetMap {
    keys: HashMap<u128, Latest>,
}

impl OffsetMap {
    /// Records `key` at `offset` (offsets arrive in increasing order).
    pub fn put(&mut self, key: &[u8], offset: i64, timestamp: i64) {
        let entry = self.keys.entry(xxh3_128(key)).or_insert(Latest {
            offset,
            timestamp,
            count: 0,
            seen: 0,
        });
        entry.offset = offset;
        entry.timestamp = timestamp;
        entry.count += 1;
    }

    /// The latest record of `key`, counting one more record of it seen.
    pub fn pass(&mut self, key: &[u8]) -> Option<Latest> {
        let entry = self.keys.get_mut(&xxh3_128(key))?;
        let before = *entry;
        entry.seen += 1;
        Some(before)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_and_counts() {
        let mut map = OffsetMap::default();
        map.put(b"a", 0, 10);
        map.put(b"b", 1, 11);
        map.put(b"a", 2, 12);
        assert_eq!(map.len(), 2);
        let a = map.pass(b"a").unwrap();
        assert_eq!((a.offset, a.timestamp, a.count, a.seen), (2, 12, 2, 0));
        assert_eq!(map.pass(b"a").unwrap().seen, 1);
        assert!(map.pass(b"c").is_none());
    }
}
