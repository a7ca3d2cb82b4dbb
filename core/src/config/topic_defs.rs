//! The topic configs Weir knows (CreateTopics, AlterConfigs, DescribeConfigs
//! on a topic), with Kafka's names, types and ranges, and the broker configs
//! that are each one's synonyms (its default), in Kafka's order.

use super::defs::{
    Kind, TopicDef, CLEANUP, COMPRESSION, IMAX, MAX, ON_ERROR, PARTITIONER_MODES,
    SUBJECT_STRATEGIES, TIMESTAMP_TYPE,
};

macro_rules! topic {
    ($name:literal, $kind:expr, [$($syn:literal $(* $f:literal)?),*], $doc:literal) => {
        TopicDef { name: $name, kind: $kind, synonyms: &[$(($syn, 1 $(* $f)?)),*], doc: $doc }
    };
}

pub static TOPIC: &[TopicDef] = &[
    topic!(
        "weir.retention.policy",
        Kind::String,
        [],
        "The retention-policy plugin deciding how many of the oldest closed segments may be deleted; empty: retention.ms and retention.bytes."
    ),
    topic!(
        "weir.compaction.policy",
        Kind::String,
        [],
        "The compaction-policy plugin deciding which records the log cleaner keeps; empty: the latest per key, tombstones until delete.retention.ms after their first clean."
    ),
    topic!(
        "weir.partitioner",
        Kind::String,
        [],
        "The partitioner plugin (a [[plugins]] name) that places this topic's records; empty: none."
    ),
    topic!(
        "weir.partitioner.mode",
        Kind::Enum(PARTITIONER_MODES),
        ["weir.partitioner.mode"],
        "route: append each record where the partitioner puts it; verify: refuse records addressed elsewhere."
    ),
    topic!(
        "weir.interceptors.produce",
        Kind::List,
        [],
        "Produce interceptor plugins applied, in order, to every batch before it is appended."
    ),
    topic!(
        "weir.interceptors.fetch",
        Kind::List,
        [],
        "Fetch interceptor plugins applied, in order, to every batch a consumer reads (offsets preserved)."
    ),
    topic!(
        "weir.plugin.on-error",
        Kind::Enum(ON_ERROR),
        ["weir.plugin.on-error"],
        "When a plugin fails: reject the batch (POLICY_VIOLATION, naming the plugin), skip the plugin, or dead-letter the batch's records (fetch: as reject)."
    ),
    topic!(
        "weir.plugin.dead-letter.topic",
        Kind::String,
        [],
        "Where on-error=dead-letter sends the records a plugin failed on; empty: <topic>.dead-letter (it must exist)."
    ),
    topic!(
        "weir.value.schema.validation",
        Kind::Bool,
        [],
        "Check each produced value's schema-registry framing, that its schema id is registered under the subject the strategy names and, with weir.value.serializer, that it decodes with that schema; refuse invalid records with INVALID_RECORD."
    ),
    topic!(
        "weir.key.schema.validation",
        Kind::Bool,
        [],
        "weir.value.schema.validation for keys."
    ),
    topic!(
        "weir.value.serializer",
        Kind::String,
        [],
        "The serializer plugin that checks values against their schema when weir.value.schema.validation is on (empty: framing and schema ids only), decodes them for plugins' typed access (host.field) and converts them for the topic's JSON view (<topic>~json)."
    ),
    topic!(
        "weir.key.serializer",
        Kind::String,
        [],
        "The serializer plugin that checks keys against their schema when weir.key.schema.validation is on, decodes them for typed access and converts them for the topic's JSON view."
    ),
    topic!(
        "weir.value.subject.name.strategy",
        Kind::Enum(SUBJECT_STRATEGIES),
        [],
        "The subject a value's schema must be registered under: TopicNameStrategy (<topic>-value), RecordNameStrategy (the record's name), TopicRecordNameStrategy (<topic>-<record name>)."
    ),
    topic!(
        "weir.key.subject.name.strategy",
        Kind::Enum(SUBJECT_STRATEGIES),
        [],
        "weir.value.subject.name.strategy for keys (TopicNameStrategy: <topic>-key)."
    ),
    topic!(
        "cleanup.policy",
        Kind::EnumList(CLEANUP),
        ["log.cleanup.policy"],
        "delete and/or compact."
    ),
    topic!(
        "compression.type",
        Kind::Enum(COMPRESSION),
        ["compression.type"],
        "Final compression; 'producer' keeps the producer's codec."
    ),
    topic!(
        "delete.retention.ms",
        Kind::Long(0, MAX),
        ["log.cleaner.delete.retention.ms"],
        "How long tombstones are kept after the clean that first kept them."
    ),
    topic!(
        "file.delete.delay.ms",
        Kind::Long(0, MAX),
        ["log.segment.delete.delay.ms"],
        "Delay before deleted segment files are removed."
    ),
    topic!(
        "flush.messages",
        Kind::Long(1, MAX),
        ["log.flush.interval.messages"],
        "fsync after this many messages."
    ),
    topic!(
        "flush.ms",
        Kind::Long(0, MAX),
        ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        "fsync after this long."
    ),
    topic!(
        "index.interval.bytes",
        Kind::Int(0, IMAX),
        ["log.index.interval.bytes"],
        "Bytes between offset index entries."
    ),
    topic!(
        "max.compaction.lag.ms",
        Kind::Long(1, MAX),
        ["log.cleaner.max.compaction.lag.ms"],
        "Maximum age before compaction."
    ),
    topic!(
        "max.message.bytes",
        Kind::Int(0, IMAX),
        ["message.max.bytes"],
        "Largest record batch accepted."
    ),
    topic!(
        "message.timestamp.type",
        Kind::Enum(TIMESTAMP_TYPE),
        ["log.message.timestamp.type"],
        "CreateTime or LogAppendTime."
    ),
    topic!(
        "message.timestamp.before.max.ms",
        Kind::Long(0, MAX),
        ["log.message.timestamp.before.max.ms"],
        "How far in the past a timestamp may be."
    ),
    topic!(
        "message.timestamp.after.max.ms",
        Kind::Long(0, MAX),
        ["log.message.timestamp.after.max.ms"],
        "How far in the future a timestamp may be."
    ),
    topic!(
        "min.cleanable.dirty.ratio",
        Kind::Double(0.0, 1.0),
        ["log.cleaner.min.cleanable.ratio"],
        "Dirty ratio that triggers compaction."
    ),
    topic!(
        "min.compaction.lag.ms",
        Kind::Long(0, MAX),
        ["log.cleaner.min.compaction.lag.ms"],
        "Minimum age before compaction."
    ),
    topic!(
        "min.insync.replicas",
        Kind::Int(1, IMAX),
        ["min.insync.replicas"],
        "Replicas that must hold a batch for acks=all."
    ),
    topic!(
        "preallocate",
        Kind::Bool,
        ["log.preallocate"],
        "Preallocate segment files."
    ),
    topic!(
        "retention.bytes",
        Kind::Long(-1, MAX),
        ["log.retention.bytes"],
        "Retention size per partition."
    ),
    topic!(
        "retention.ms",
        Kind::Long(-1, MAX),
        [
            "log.retention.ms",
            "log.retention.minutes" * 60000,
            "log.retention.hours" * 3600000
        ],
        "Retention time."
    ),
    topic!(
        "segment.bytes",
        Kind::Int(14, IMAX),
        ["log.segment.bytes"],
        "Segment size before rolling."
    ),
    topic!(
        "segment.index.bytes",
        Kind::Int(4, IMAX),
        ["log.index.size.max.bytes"],
        "Largest offset index file."
    ),
    topic!(
        "segment.jitter.ms",
        Kind::Long(0, MAX),
        ["log.roll.jitter.ms", "log.roll.jitter.hours" * 3600000],
        "Jitter subtracted from the roll time."
    ),
    topic!(
        "segment.ms",
        Kind::Long(1, MAX),
        ["log.roll.ms", "log.roll.hours" * 3600000],
        "Segment age before rolling."
    ),
    topic!(
        "unclean.leader.election.enable",
        Kind::Bool,
        ["unclean.leader.election.enable"],
        "Allow a leader from outside the ISR."
    ),
];

pub fn topic_def(name: &str) -> Option<&'static TopicDef> {
    TOPIC.iter().find(|d| d.name == name)
}
