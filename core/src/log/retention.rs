//! Retention (`cleanup.policy=delete`): how many of a partition's oldest
//! closed segments may be deleted. The decision is a `RetentionPolicy` —
//! natively Kafka's `retention.ms` and `retention.bytes`, or a plugin bound
//! with `weir.retention.policy`; the mechanism stays the log's: only closed
//! segments wholly below the high watermark, whole, oldest first, deleted
//! so that a crash at any point leaves a consistent log
//! (`PartitionLog::delete_oldest_segments`).

/// One closed segment, as a retention policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub base_offset: i64,
    /// The last offset the segment spans (the next segment's base - 1).
    pub last_offset: i64,
    pub size: u64,
    /// The largest record timestamp in it, or the file's modification time
    /// when no record carries one.
    pub max_timestamp: i64,
}

/// What a retention decision is made from.
#[derive(Debug, Clone)]
pub struct RetentionInput<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    /// Bytes in every segment, the active one included.
    pub size: u64,
    /// The closed segments wholly below the high watermark, oldest first:
    /// the ones that may be deleted.
    pub segments: &'a [SegmentInfo],
    /// The lowest offset committed for this partition by the consumer
    /// groups reading the topic (a group with none for it counts as 0);
    /// None when no group reads it.
    pub committed: Option<i64>,
    pub now_ms: i64,
    /// `retention.ms` (-1: no limit)
    pub retention_ms: i64,
    /// `retention.bytes` (-1: no limit)
    pub retention_bytes: i64,
}

/// Decides how many of the oldest closed segments may go.
pub trait RetentionPolicy: Send + Sync {
    fn name(&self) -> &str;
    /// How many of `input.segments`, from the oldest, may be deleted; an
    /// error makes the broker fall back to Kafka's rules.
    fn deletable(&self, input: &RetentionInput) -> Result<usize, String>;
}

/// Kafka's rules: a segment goes when its newest record is older than
/// `retention.ms`, or while the partition is over `retention.bytes`
/// without it.
pub struct KafkaRetention;

impl RetentionPolicy for KafkaRetention {
    fn name(&self) -> &str {
        "native"
    }

    fn deletable(&self, input: &RetentionInput) -> Result<usize, String> {
        Ok(by_time(input).max(by_size(input)))
    }
}

/// The oldest segments whose newest record is older than `retention.ms`.
pub fn by_time(input: &RetentionInput) -> usize {
    if input.retention_ms < 0 {
        return 0;
    }
    let horizon = input.now_ms.saturating_sub(input.retention_ms);
    input
        .segments
        .iter()
        .take_while(|s| s.max_timestamp < horizon)
        .count()
}

/// The oldest segments that can go with the partition still holding at
/// least `retention.bytes`.
pub fn by_size(input: &RetentionInput) -> usize {
    if input.retention_bytes < 0 {
        return 0;
    }
    let mut over = input.size as i64 - input.retention_bytes;
    input
        .segments
        .iter()
        .take_while(|s| {
            over -= s.size as i64;
            over >= 0
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(segments: &[SegmentInfo]) -> RetentionInput<'_> {
        RetentionInput {
            topic: "t",
            partition: 0,
            log_start_offset: 0,
            log_end_offset: 400,
            high_watermark: 400,
            size: segments.iter().map(|s| s.size).sum::<u64>() + 100,
            segments,
            committed: None,
            now_ms: 10_000,
            retention_ms: -1,
            retention_bytes: -1,
        }
    }

    fn segments() -> Vec<SegmentInfo> {
        (0..3)
            .map(|i| SegmentInfo {
                base_offset: i * 100,
                last_offset: i * 100 + 99,
                size: 100,
                max_timestamp: 1_000 * (i + 1),
            })
            .collect()
    }

    #[test]
    fn time_deletes_the_oldest_run_of_expired_segments() {
        let segments = segments();
        let mut i = input(&segments);
        assert_eq!(KafkaRetention.deletable(&i), Ok(0));
        i.retention_ms = 8_500; // horizon 1,500: only the first is older
        assert_eq!(KafkaRetention.deletable(&i), Ok(1));
        i.retention_ms = 0;
        assert_eq!(KafkaRetention.deletable(&i), Ok(3));
    }

    #[test]
    fn size_keeps_at_least_retention_bytes() {
        let segments = segments();
        let mut i = input(&segments); // 400 bytes in all
        i.retention_bytes = 250;
        assert_eq!(KafkaRetention.deletable(&i), Ok(1)); // 300 left; 200 would be under
        i.retention_bytes = 100;
        assert_eq!(KafkaRetention.deletable(&i), Ok(3));
        i.retention_bytes = 1_000;
        assert_eq!(KafkaRetention.deletable(&i), Ok(0));
    }
}
