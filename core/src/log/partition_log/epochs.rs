//! The leader epoch cache (Kafka's `LeaderEpochFileCache`): for each leader
//! epoch, the first offset written in it, ascending, kept in the partition's
//! `leader-epoch-checkpoint`. It answers `end_offset_for(epoch)`, the offset
//! where a later epoch began, which is how a follower finds where its log
//! and the leader's diverge (KIP-101/279) and how OffsetForLeaderEpoch
//! answers consumers (KIP-320).

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::log::checkpoint;

const EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
pub const UNDEFINED: (i32, i64) = (-1, -1);

#[derive(Debug)]
pub struct EpochCache {
    path: PathBuf,
    /// (epoch, first offset written in it), both strictly ascending.
    entries: Vec<(i32, i64)>,
}

impl EpochCache {
    /// Reads the checkpoint in `dir` (none or unreadable: empty).
    pub fn load(dir: &Path) -> EpochCache {
        let path = dir.join(EPOCH_CHECKPOINT);
        let entries = checkpoint::read_epochs(&path).unwrap_or_default();
        EpochCache { path, entries }
    }

    pub fn latest(&self) -> Option<(i32, i64)> {
        self.entries.last().copied()
    }

    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// Records that `epoch` began at `start_offset`, if it is newer than the
    /// latest known epoch.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) {
        if epoch < 0 || self.latest().is_some_and(|(e, _)| e >= epoch) {
            return;
        }
        self.entries.push((epoch, start_offset));
        self.write();
    }

    /// Forgets the epochs that began at or after `end_offset` (the log was
    /// truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        let before = self.entries.len();
        self.entries.retain(|(_, start)| *start < end_offset);
        if self.entries.len() != before {
            self.write();
        }
    }

    /// The log now starts at `start_offset`: epochs wholly before it go, and
    /// the one covering it starts there.
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let covering = self
            .entries
            .iter()
            .rposition(|(_, start)| *start <= start_offset);
        let Some(covering) = covering else { return };
        if covering == 0 && self.entries[0].1 == start_offset {
            return;
        }
        self.entries.drain(..covering);
        self.entries[0].1 = start_offset;
        self.write();
    }

    /// Kafka's `endOffsetFor`: the largest epoch at or below `epoch` and the
    /// offset where the next epoch began (the log end for the latest epoch);
    /// `UNDEFINED` when `epoch` is newer than every epoch known here. An
    /// epoch older than all known answers itself and the first epoch's start.
    pub fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> (i32, i64) {
        if epoch < 0 {
            return UNDEFINED;
        }
        if self.latest().is_some_and(|(e, _)| e == epoch) {
            return (epoch, log_end_offset);
        }
        let Some(higher) = self.entries.iter().position(|(e, _)| *e > epoch) else {
            return UNDEFINED;
        };
        let end = self.entries[higher].1;
        match higher.checked_sub(1) {
            Some(floor) => (self.entries[floor].0, end),
            None => (epoch, end),
        }
    }

    /// Drops what the log no longer holds after it was opened.
    pub fn clamp_to_log(&mut self, log_end_offset: i64) {
        self.truncate_from_end(log_end_offset);
    }

    fn write(&self) {
        if let Err(e) = checkpoint::write_epochs(&self.path, &self.entries) {
            warn!(path = %self.path.display(), error = %e, "could not write leader epoch checkpoint");
        }
    }
}

/// Where a follower must cut its log, given the diverging epoch a leader
/// answered (`leader_epoch`, `leader_end`) and its own cache, log end and
/// high watermark (Kafka's `getOffsetTruncationState`). When the follower
/// does not know the leader's epoch, the cut is to the end of its own
/// floor epoch; its next fetch, with an older last epoch, narrows it down.
pub fn truncation_offset(
    local: &EpochCache,
    log_end_offset: i64,
    high_watermark: i64,
    (leader_epoch, leader_end): (i32, i64),
) -> i64 {
    if leader_end < 0 {
        return high_watermark.min(log_end_offset);
    }
    match local.end_offset_for(leader_epoch, log_end_offset) {
        (-1, _) => leader_end.min(log_end_offset),
        (epoch, end) if epoch == leader_epoch => leader_end.min(end),
        (_, end) => end.min(log_end_offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, EpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EpochCache::load(dir.path());
        for (e, o) in entries {
            cache.assign(*e, *o);
        }
        (dir, cache)
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let (_d, c) = cache(&[(1, 0), (3, 10), (5, 20)]);
        assert_eq!(c.end_offset_for(5, 30), (5, 30), "latest: the log end");
        assert_eq!(c.end_offset_for(3, 30), (3, 20));
        assert_eq!(c.end_offset_for(4, 30), (3, 20), "unknown: the floor epoch");
        assert_eq!(c.end_offset_for(0, 30), (0, 0), "older than all");
        assert_eq!(c.end_offset_for(6, 30), UNDEFINED, "newer than all");
        assert_eq!(c.end_offset_for(-1, 30), UNDEFINED);
    }

    #[test]
    fn truncation_keeps_the_checkpoint_in_step() {
        let (dir, mut c) = cache(&[(1, 0), (3, 10), (5, 20)]);
        c.assign(4, 25);
        assert_eq!(
            c.entries(),
            &[(1, 0), (3, 10), (5, 20)],
            "older epoch ignored"
        );
        c.truncate_from_end(20);
        c.truncate_from_start(12);
        assert_eq!(c.entries(), &[(3, 12)]);
        assert_eq!(EpochCache::load(dir.path()).entries(), &[(3, 12)]);
    }

    #[test]
    fn followers_cut_where_the_logs_diverge() {
        // Follower wrote epoch 2 up to 15 that the leader never saw; the
        // leader's epoch 2 ended at 12.
        let (_d, c) = cache(&[(1, 0), (2, 10)]);
        assert_eq!(truncation_offset(&c, 15, 8, (2, 12)), 12);
        // The leader knows only epoch 1 (up to 10) below ours.
        assert_eq!(truncation_offset(&c, 15, 8, (1, 10)), 10);
        // The leader's floor epoch is one we never had: cut to ours, go on.
        let (_d, c) = cache(&[(1, 0), (3, 10)]);
        assert_eq!(truncation_offset(&c, 15, 8, (2, 12)), 10);
        // The leader has nothing: fall back to the high watermark.
        assert_eq!(truncation_offset(&c, 15, 8, UNDEFINED), 8);
    }
}
