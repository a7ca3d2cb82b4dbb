//! Storage: Kafka's on-disk layout. One directory per partition (`topic-N/`),
//! segments named by base offset (`.log`, `.index`, `.timeindex`), checkpoint
//! files per data directory, and recovery after an unclean shutdown.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod deleter;
pub mod file_slice;
pub mod index;
pub mod manager;
pub mod metrics;
pub mod partition_log;
pub mod records;
pub mod retention;
pub mod rewrite;
pub mod segment;
pub mod validate;
pub mod verify;

/// The controller quorum's log, in the metadata log dir (Kafka's name): it
/// sits beside partition directories but is not one.
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";

pub use file_slice::FileSlice;
pub use manager::LogManager;
pub use partition_log::{
    truncation_offset, AppendError, AppendInfo, EpochCache, PartitionLog, ReadError, ReadResult,
};
pub use segment::{now_ms, SegmentSizes};

/// The per-partition settings the log obeys, resolved from topic configs
/// (which fall back to broker defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`
    pub segment_bytes: u64,
    /// `segment.ms`
    pub segment_ms: i64,
    /// `segment.jitter.ms`
    pub segment_jitter_ms: i64,
    /// `index.interval.bytes`
    pub index_interval_bytes: usize,
    /// `segment.index.bytes`
    pub segment_index_bytes: usize,
    /// `flush.messages`
    pub flush_messages: i64,
    /// `flush.ms`
    pub flush_ms: i64,
    /// `max.message.bytes`
    pub max_message_bytes: usize,
    /// `message.timestamp.type` is LogAppendTime
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms`
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`
    pub timestamp_after_max_ms: i64,
    /// `compression.type`: the codec batches are stored with, or None for
    /// `producer` (kept as the producer sent them, the plain path).
    pub compression: Option<kafka_protocol::records::Compression>,
    /// `log.engine = "null"`: acknowledge and assign offsets, store nothing
    /// (to measure the protocol ceiling in benchmarks).
    pub null: bool,
    /// `cleanup.policy` holds `delete`: retention deletes old segments.
    pub delete: bool,
    /// `cleanup.policy` holds `compact`: the log cleaner compacts the log.
    pub compact: bool,
    /// `retention.ms` (-1: no limit)
    pub retention_ms: i64,
    /// `retention.bytes` (-1: no limit)
    pub retention_bytes: i64,
    /// `delete.retention.ms`: how long the cleaner keeps tombstones.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`
    pub max_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_jitter_ms: 0,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: i64::MAX,
            compression: None,
            null: false,
            delete: true,
            compact: false,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            delete_retention_ms: 24 * 3600 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

impl LogConfig {
    pub fn segment_sizes(&self) -> SegmentSizes {
        SegmentSizes {
            index_interval_bytes: self.index_interval_bytes,
            max_index_bytes: self.segment_index_bytes,
        }
    }
}

/// A topic name and partition number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// The partition's directory name, `topic-N`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Parses a `topic-N` directory name (topics may contain '-').
    pub fn from_dir_name(name: &str) -> Option<TopicPartition> {
        let (topic, partition) = name.rsplit_once('-')?;
        let partition = partition.parse().ok()?;
        (!topic.is_empty()).then(|| TopicPartition::new(topic, partition))
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
