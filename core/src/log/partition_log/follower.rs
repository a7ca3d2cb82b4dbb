//! Appending as a follower: batches fetched from the leader are stored as
//! they are, with the offsets and leader epochs the leader gave them. Only
//! their structure and CRCs are checked: what to accept was the leader's
//! decision.

use std::io::IoSlice;

use super::{AppendError, AppendInfo, PartitionLog};
use crate::log::batch::{self, BatchHeader, Batches};
use crate::log::segment::now_ms;

impl PartitionLog {
    /// Appends the whole batches at the start of `bytes` (a fetch may end
    /// part way through one, which the next fetch brings whole). Batches the
    /// log already holds are skipped; the first new one must not start
    /// below the log end (compacted logs may leave gaps above it).
    /// `on_batch` sees each appended batch's header.
    pub fn append_as_follower(
        &mut self,
        bytes: &[u8],
        mut on_batch: impl FnMut(&BatchHeader),
    ) -> Result<AppendInfo, AppendError> {
        let bytes = &bytes[..batch::whole_batches_len(bytes)];
        let mut batches: Vec<(usize, BatchHeader)> = Vec::new();
        let mut start = None;
        for found in Batches::new(bytes) {
            let (position, header) = found.map_err(AppendError::Corrupt)?;
            if header.last_offset() < self.next_offset {
                continue;
            }
            let expected = batches
                .last()
                .map(|(_, h)| h.next_offset())
                .unwrap_or(self.next_offset);
            if header.base_offset < expected {
                return Err(AppendError::InvalidRecord(format!(
                    "the leader sent offset {} where {expected} or later was due",
                    header.base_offset
                )));
            }
            let first = *start.get_or_insert(position);
            batches.push((position - first, header));
        }
        let (Some(first), Some((_, last))) = (start, batches.last()) else {
            return Ok(AppendInfo {
                base_offset: self.next_offset,
                last_offset: self.next_offset - 1,
                log_append_time: -1,
                records: 0,
                duplicate: false,
                leader_epoch: self.latest_epoch().map_or(-1, |(e, _)| e),
            });
        };
        let base_offset = batches[0].1.base_offset;
        let next = last.next_offset();
        let bytes = &bytes[first..];
        self.maybe_roll(bytes.len(), now_ms())
            .map_err(|e| self.append_failed("roll a new segment", e))?;
        if !self.config.null {
            if let Err(e) = self
                .active_mut()
                .append(&mut [IoSlice::new(bytes)], &batches)
            {
                return Err(self.append_failed("append", e));
            }
        }
        let records: i64 = batches.iter().map(|(_, h)| h.records_count as i64).sum();
        for (_, header) in &batches {
            self.epochs
                .assign(header.partition_leader_epoch, header.base_offset);
            on_batch(header);
        }
        self.next_offset = next;
        self.count_unflushed(records)?;
        Ok(AppendInfo {
            base_offset,
            last_offset: next - 1,
            log_append_time: -1,
            records,
            duplicate: false,
            leader_epoch: last.partition_leader_epoch,
        })
    }

    /// Empties the log and starts it again at `offset` (a follower whose
    /// log end is below the leader's log start).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> std::io::Result<()> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        for base in bases {
            if let Some(segment) = self.segments.remove(&base) {
                segment.delete()?;
            }
        }
        let segment =
            crate::log::segment::LogSegment::open(&self.dir, offset, self.config.segment_sizes())?;
        self.segments.insert(offset, segment);
        self.next_offset = offset;
        self.log_start_offset = offset;
        self.recovery_point = offset;
        self.first_dirty_offset = offset;
        self.epochs.truncate_from_end(i64::MIN);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::log::batch::tests::make_batch;
    use crate::log::{LogConfig, PartitionLog};
    use kafka_protocol::records::Compression;

    fn log(dir: &std::path::Path) -> PartitionLog {
        let config = LogConfig {
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        };
        PartitionLog::open(dir, config, 0, 0, true).unwrap()
    }

    #[test]
    fn a_follower_keeps_the_leaders_offsets_and_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let mut leader = log(&dir.path().join("leader"));
        leader
            .append(&make_batch(3, 1_000, Compression::None), 2)
            .unwrap();
        leader
            .append(&make_batch(2, 1_000, Compression::None), 5)
            .unwrap();
        let fetched = leader.read(0, 1 << 20, i64::MAX, true).unwrap();
        let bytes = fetched.records.read().unwrap();

        let mut follower = log(&dir.path().join("follower"));
        let info = follower.append_as_follower(&bytes, |_| {}).unwrap();
        assert_eq!(
            (info.base_offset, info.last_offset, info.records),
            (0, 4, 5)
        );
        assert_eq!(follower.log_end_offset(), 5);
        assert_eq!(follower.epochs().entries(), &[(2, 0), (5, 3)]);
        // The same bytes again (a retried fetch) add nothing.
        assert_eq!(
            follower.append_as_follower(&bytes, |_| {}).unwrap().records,
            0
        );
        // A cut-off tail is left for the next fetch.
        let half = &bytes[..bytes.len() - 4];
        follower.truncate_to(3).unwrap();
        assert_eq!(follower.epochs().entries(), &[(2, 0)]);
        assert_eq!(
            follower.append_as_follower(half, |_| {}).unwrap().records,
            0
        );
        assert_eq!(follower.log_end_offset(), 3);
        let stored = follower.read(0, 1 << 20, i64::MAX, true).unwrap();
        assert_eq!(
            stored.records.read().unwrap(),
            bytes[..stored.records.len()]
        );
    }

    #[test]
    fn a_follower_refuses_offsets_below_its_end_and_damaged_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut follower = log(dir.path());
        let mut batch = make_batch(3, 1_000, Compression::None);
        follower.append_as_follower(&batch, |_| {}).unwrap();
        let last = batch.len() - 1;
        batch[last] ^= 0xff;
        crate::log::batch::assign(&mut batch, 3, 0, None);
        assert!(follower.append_as_follower(&batch, |_| {}).is_err());
        assert_eq!(follower.log_end_offset(), 3);
    }
}
