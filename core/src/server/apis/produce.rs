//! Produce: validates and appends each partition's record batches as leader.
//! acks=0 gets no response (and, as in Kafka, a failed acks=0 request closes
//! the connection so the client notices); acks=1 is answered once the
//! batches are appended; acks=all once every in-sync replica holds them
//! (the high watermark passed them), waited for after the appends, outside
//! every partition's lock, up to the request's timeout.

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use std::sync::Arc;

use super::str_bytes;
use crate::config::defs::topic_def;
use crate::log::AppendInfo;
use crate::metadata::MetadataImage;
use std::borrow::Cow;

use crate::partition::dead_letter::{self, DeadLetter};
use crate::partition::interceptor;
use crate::partition::partitioner::{self, Mode, OnError, Placement};
use crate::partition::validation;
use crate::partition::{AppendOrigin, Partition, PendingCommit};
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;
use std::time::Duration;

/// `Err` closes the connection (a failed acks=0 request).
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ProduceRequest,
) -> Result<Option<ProduceResponse>, String> {
    let timeout = Duration::from_millis(request.timeout_ms.max(0) as u64);
    let acks = request.acks;
    let (response, waits) = append_all(broker, ctx, request)?;
    let Some(mut response) = response else {
        return Ok(None);
    };
    if acks == -1 && !waits.is_empty() {
        let deadline = tokio::time::Instant::now() + timeout;
        for ((t, p), commits) in waits {
            for commit in commits {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let waited = commit.wait(left).await;
                if let Err(e) = waited {
                    let answer = &mut response.responses[t].partition_responses[p];
                    answer.error_code = e.code();
                    answer.base_offset = -1;
                    if ctx.version >= 8 {
                        answer.error_message = e.message();
                    }
                    break;
                }
            }
        }
    }
    Ok(Some(response))
}

/// Why this principal may not write to the topic, if it may not: WRITE on
/// its transactional id (when the request has one) and on the topic, as
/// Kafka checks them. Checked before the topic is looked up, so that an
/// unauthorized client cannot tell which topics exist.
fn refused(
    broker: &Broker,
    ctx: &RequestContext,
    transactional_id: Option<&str>,
    topic: Option<&str>,
) -> Option<ApiError> {
    use crate::security::acl::{operation, resource};
    if let Some(id) = transactional_id {
        if !ctx.may(broker, operation::WRITE, resource::TRANSACTIONAL_ID, id) {
            let error = ResponseError::TransactionalIdAuthorizationFailed;
            return Some(ApiError::new(
                error,
                "Transactional Id authorization failed.",
            ));
        }
    }
    let topic = topic?;
    (!ctx.may(broker, operation::WRITE, resource::TOPIC, topic)).then(|| {
        ApiError::new(
            ResponseError::TopicAuthorizationFailed,
            format!(
                "Topic authorization failed: {} may not write to {topic}.",
                ctx.session.principal
            ),
        )
    })
}

/// Each partition's commits to wait for, by (topic, partition) index.
type Waits = Vec<((usize, usize), Vec<PendingCommit>)>;

fn append_all(
    broker: &Broker,
    ctx: &RequestContext,
    request: ProduceRequest,
) -> Result<(Option<ProduceResponse>, Waits), String> {
    let acks = request.acks;
    let mut waits = Vec::new();
    let image = broker.image();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut failed = None;
    let transactional_id = request.transactional_id.as_ref().map(|t| t.to_string());
    for topic in request.topic_data {
        let name = if ctx.version >= 13 {
            image.topic_names.get(&topic.topic_id).cloned()
        } else {
            Some(topic.name.to_string())
        };
        let unknown = if ctx.version >= 13 {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        // A view (`orders~json`) is read-only.
        let view = match &name {
            Some(n) => crate::view::by_name(&image, n),
            None => crate::view::by_id(&image, &topic.topic_id),
        }
        .map(|v| {
            ApiError::new(
                ResponseError::InvalidTopicException,
                format!(
                    "{} is a read-only view of {}: produce to {1}",
                    v.name(),
                    v.topic.name
                ),
            )
        });
        let denied = refused(broker, ctx, transactional_id.as_deref(), name.as_deref());
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let result = if !matches!(acks, -1..=1) {
                Err(ApiError::new(
                    ResponseError::InvalidRequiredAcks,
                    format!("acks must be -1, 0 or 1, not {acks}"),
                ))
            } else if let Some(e) = view.as_ref().or(denied.as_ref()) {
                Err(e.clone())
            } else {
                match name
                    .as_deref()
                    .and_then(|n| broker.replicas.get_by_name(n, data.index))
                {
                    None => Err(name
                        .as_deref()
                        .and_then(|n| broker.replicas.offline_error(n, data.index))
                        .unwrap_or_else(|| {
                            ApiError::new(
                                unknown,
                                "This server does not host this topic-partition.",
                            )
                        })),
                    Some(partition) => match data.records.as_deref() {
                        None | Some([]) => Err(ApiError::new(
                            ResponseError::InvalidRecord,
                            "produce request holds no records",
                        )),
                        Some(records) => {
                            let mut commits = Vec::new();
                            let appended = append(
                                broker,
                                ctx,
                                &image,
                                &partition,
                                records,
                                acks,
                                &mut commits,
                            );
                            if !commits.is_empty() {
                                waits.push(((responses.len(), partitions.len()), commits));
                            }
                            appended
                        }
                    },
                }
            };
            let mut response = PartitionProduceResponse::default().with_index(data.index);
            match result {
                Ok((info, log_start_offset)) => {
                    response.base_offset = info.base_offset;
                    response.log_append_time_ms = info.log_append_time;
                    if ctx.version >= 5 {
                        response.log_start_offset = log_start_offset;
                    }
                }
                Err(e) => {
                    failed.get_or_insert_with(|| e.to_string());
                    response.error_code = e.code();
                    response.base_offset = -1;
                    if ctx.version >= 8 {
                        response.error_message = e.message();
                        response.record_errors = e
                            .record_errors
                            .iter()
                            .map(|(index, reason)| {
                                BatchIndexAndErrorMessage::default()
                                    .with_batch_index(*index)
                                    .with_batch_index_error_message(Some(str_bytes(reason)))
                            })
                            .collect();
                    }
                }
            }
            partitions.push(response);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_topic_id(topic.topic_id)
                .with_partition_responses(partitions),
        );
    }
    if acks == 0 {
        return match failed {
            Some(reason) => Err(format!("acks=0 produce failed: {reason}")),
            None => Ok((None, waits)),
        };
    }
    Ok((
        Some(ProduceResponse::default().with_responses(responses)),
        waits,
    ))
}

/// Appends a partition's records, first asking the topic's partitioner (if
/// one is bound) where they belong. The addressed partition goes first: a
/// retried idempotent batch is recognised there, and then nothing is
/// appended anywhere. Where records moved, the addressed partition answers
/// offset -1, as documented for route mode.
fn append(
    broker: &Broker,
    ctx: &RequestContext,
    image: &MetadataImage,
    partition: &Arc<Partition>,
    records: &[u8],
    acks: i16,
    commits: &mut Vec<PendingCommit>,
) -> Result<(AppendInfo, i64), ApiError> {
    let addressed = partition.tp.partition;
    let topic = partition.tp.topic.as_str();
    let mut append_to = |p: &Arc<Partition>, bytes: &[u8], origin: AppendOrigin| {
        let appended = p.append_records(bytes, origin, acks)?;
        commits.extend(PendingCommit::of(p, &appended.0));
        Ok::<_, ApiError>(appended)
    };
    let Some(b) = bindings(broker, image, topic) else {
        return append_to(partition, records, AppendOrigin::Client);
    };
    // The plugins called from here on see this client (`host.caller()`);
    // a topic without plugins pays nothing for it.
    let codecs = b.codecs.clone();
    crate::plugin::caller::scope(ctx.caller(), || {
        crate::plugin::typed::scope(codecs, || {
            let mut dead = Vec::new();
            // What the producer sent is checked against its schemas first, so
            // KIP-467's record indexes are the producer's.
            let records = validate(broker, &b, topic, records, &mut dead)?;
            let records = match records {
                Cow::Borrowed(records) => {
                    intercept(broker, &b, topic, addressed, records, &mut dead)?
                }
                Cow::Owned(checked) => Cow::Owned(
                    intercept(broker, &b, topic, addressed, &checked, &mut dead)?.into_owned(),
                ),
            };
            let placement = place(broker, &b, topic, addressed, &records, &mut dead)?;
            // Dead letters first: if they cannot be kept, the request fails whole.
            if !dead.is_empty() {
                let target = dead_letter_partition(broker, image, &b, partition, &dead).inspect_err(
                |e| tracing::warn!(%topic, partition = addressed, error = %e, "dead letters refused"),
            )?;
                for letter in &dead {
                    let encoded = letter.encode(topic, addressed);
                    append_to(&target, &encoded, AppendOrigin::Rewritten)?;
                    count_dead_letter(broker, letter, &target);
                }
            }
            let Some(placement) = placement else {
                return match records {
                    Cow::Borrowed(records) => append_to(partition, records, AppendOrigin::Client),
                    Cow::Owned(rewritten) => {
                        append_to(partition, &rewritten, AppendOrigin::Rewritten)
                    }
                };
            };
            // Route mode writes only where this broker leads: check every chosen
            // partition before appending anything.
            for target in placement.keys().filter(|t| **t != addressed) {
                led_here(broker, image, topic, *target, "the partitioner chose")?;
            }
            let mut answer = None;
            if let Some(bytes) = placement.get(&addressed) {
                let (info, log_start) = append_to(partition, bytes, AppendOrigin::Rewritten)?;
                if info.duplicate {
                    return Ok((info, log_start));
                }
                answer = Some((info, log_start));
            }
            for (target, bytes) in placement.iter().filter(|(t, _)| **t != addressed) {
                let other = led_here(broker, image, topic, *target, "the partitioner chose")?;
                append_to(&other, bytes, AppendOrigin::Client)?;
            }
            let moved = placement.keys().any(|t| *t != addressed);
            let (mut info, log_start) = answer.unwrap_or_else(|| {
                let info = AppendInfo {
                    base_offset: -1,
                    last_offset: -1,
                    log_append_time: -1,
                    records: 0,
                    duplicate: false,
                    leader_epoch: -1,
                };
                (info, partition.log_start_offset())
            });
            if moved {
                info.base_offset = -1;
            }
            Ok((info, log_start))
        })
    })
}

/// The topic's `weir.*` plugin settings.
struct Bindings {
    partitioner: String,
    mode: Mode,
    on_error: OnError,
    dead_letter_topic: String,
    produce_interceptors: Vec<String>,
    partition_count: u32,
    /// The keys and values to check against their schemas.
    validations: Vec<validation::Check>,
    /// How the plugins decode records (`host.field`).
    codecs: Option<Arc<crate::partition::typed::Codecs>>,
}

/// None for a topic with no plugin bound (the common case, checked first).
fn bindings(broker: &Broker, image: &MetadataImage, topic: &str) -> Option<Bindings> {
    let topic_image = image.topics.get(topic)?;
    let bound = |name: &str| topic_image.configs.get(name).is_some_and(|v| !v.is_empty());
    if !bound("weir.partitioner")
        && !bound("weir.interceptors.produce")
        && !bound("weir.value.schema.validation")
        && !bound("weir.key.schema.validation")
    {
        return None;
    }
    let view = broker.config_view(image);
    let codecs = crate::server::plugin_bindings::codecs(broker, &topic_image.configs);
    let value = |name: &str| {
        let def = topic_def(name).expect("a defined topic config");
        view.topic_value(def, &topic_image.configs).0
    };
    Some(Bindings {
        partitioner: value("weir.partitioner"),
        mode: if value("weir.partitioner.mode") == "verify" {
            Mode::Verify
        } else {
            Mode::Route
        },
        on_error: OnError::from_config(&value("weir.plugin.on-error")),
        dead_letter_topic: match value(dead_letter::TOPIC_CONFIG) {
            name if name.is_empty() => dead_letter::default_topic(topic),
            name => name,
        },
        produce_interceptors: crate::config::defs::split_list(&value("weir.interceptors.produce")),
        partition_count: topic_image.partitions.len() as u32,
        validations: [validation::Field::Key, validation::Field::Value]
            .into_iter()
            .filter_map(|field| {
                let name = |what: &str| match field {
                    validation::Field::Key => format!("weir.key.{what}"),
                    validation::Field::Value => format!("weir.value.{what}"),
                };
                if value(&name("schema.validation")) != "true" {
                    return None;
                }
                // The plugin as the codecs found it (None: not loaded).
                let serializer = Some(value(&name("serializer")))
                    .filter(|n| !n.is_empty())
                    .map(|n| {
                        (
                            n,
                            codecs.as_ref().and_then(|c| c.serializer(field).cloned()),
                        )
                    });
                Some(validation::Check {
                    field,
                    strategy: validation::Strategy::from_config(&value(&name(
                        "subject.name.strategy",
                    ))),
                    serializer,
                })
            })
            .collect(),
        codecs,
    })
}

/// The records, checked against their schemas when the topic asks.
fn validate<'a>(
    broker: &Broker,
    b: &Bindings,
    topic: &str,
    records: &'a [u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    if b.validations.is_empty() {
        return Ok(Cow::Borrowed(records));
    }
    let Some(registry) = broker.schema_registry.get() else {
        return Err(ApiError::new(
            ResponseError::InvalidRecord,
            "schema validation is on, and this broker has no schema registry",
        ));
    };
    validation::validate(&b.validations, registry, b.on_error, topic, records, dead)
}

/// The records after the topic's produce interceptors (unchanged, and not
/// copied, when it has none or none changed anything).
fn intercept<'a>(
    broker: &Broker,
    b: &Bindings,
    topic: &str,
    partition: i32,
    records: &'a [u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    if b.produce_interceptors.is_empty() {
        return Ok(Cow::Borrowed(records));
    }
    let mut chain = Vec::with_capacity(b.produce_interceptors.len());
    for name in &b.produce_interceptors {
        match broker.plugins.interceptor(name, "produce-interceptor") {
            Some(plugin) => chain.push(plugin),
            None if b.on_error == OnError::Skip => {}
            None => {
                return Err(ApiError::new(
                    ResponseError::PolicyViolation,
                    format!("produce interceptor {name} (weir.interceptors.produce of {topic}) is not loaded"),
                ))
            }
        }
    }
    let target = interceptor::Target {
        topic,
        partition,
        partition_count: b.partition_count,
        client_id: None,
    };
    interceptor::intercept(&chain, b.on_error, &target, records, dead)
}

/// Where the topic's partitioner puts these records, or None when the
/// topic has none (the batches are appended as sent).
fn place(
    broker: &Broker,
    b: &Bindings,
    topic: &str,
    partition: i32,
    records: &[u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Option<Placement>, ApiError> {
    if b.partitioner.is_empty() {
        return Ok(None);
    }
    let (name, mode, on_error) = (&b.partitioner, b.mode, b.on_error);
    let Some(plugin) = broker.plugins.partitioner(name) else {
        return match on_error {
            OnError::Skip => Ok(None),
            OnError::Reject | OnError::DeadLetter => Err(ApiError::new(
                ResponseError::PolicyViolation,
                format!("partitioner plugin {name} (weir.partitioner of {topic}) is not loaded"),
            )),
        };
    };
    partitioner::place(
        &*plugin,
        (mode, on_error),
        topic,
        partition,
        b.partition_count,
        records,
        dead,
    )
    .map(Some)
}

/// The partition of the topic's dead-letter topic that takes the records
/// plugins failed on: numbered like the one they were sent to, modulo its
/// partition count. Fails when that topic does not exist or is not hosted
/// here.
fn dead_letter_partition(
    broker: &Broker,
    image: &MetadataImage,
    b: &Bindings,
    partition: &Partition,
    dead: &[DeadLetter],
) -> Result<Arc<Partition>, ApiError> {
    let (topic, addressed) = (partition.tp.topic.as_str(), partition.tp.partition);
    let name = &b.dead_letter_topic;
    let why = |reason: String| {
        let failed = dead
            .iter()
            .map(|d| format!("plugin {} {}", d.plugin, d.error))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::new(
            ResponseError::PolicyViolation,
            format!("{failed}; {reason}"),
        )
    };
    let count = image
        .topics
        .get(name.as_str())
        .map_or(0, |t| t.partitions.len() as i32);
    if count == 0 || name == topic {
        return Err(why(format!(
            "its dead-letter topic {name} ({} of {topic}) does not exist",
            dead_letter::TOPIC_CONFIG
        )));
    }
    led_here(broker, image, name, addressed % count, "dead letters go to")
        .map_err(|e| why(e.message().map(|m| m.to_string()).unwrap_or_default()))
}

/// Partition `index` of `topic`, when this broker leads it. Records a
/// plugin sends to another partition (route mode, dead letters) are
/// appended here only: in a cluster, that partition's leader must be the
/// broker the producer wrote to. Otherwise POLICY_VIOLATION (not retriable:
/// a retry would land on the same broker), naming the leader.
fn led_here(
    broker: &Broker,
    image: &MetadataImage,
    topic: &str,
    index: i32,
    why: &str,
) -> Result<Arc<Partition>, ApiError> {
    match broker.replicas.get_by_name(topic, index) {
        Some(p) if p.is_leader() => Ok(p),
        _ => {
            let leader = image
                .topics
                .get(topic)
                .and_then(|t| t.partitions.get(index as usize))
                .map_or(-1, |p| p.leader);
            if leader == broker.node_id() {
                // Led here, but the partition is still being set up from
                // the metadata change that made it so: a retry will do.
                return Err(ApiError::new(
                    ResponseError::NotLeaderOrFollower,
                    format!("{why} partition {index} of {topic}: its leadership is still being taken up here"),
                ));
            }
            Err(ApiError::new(
                ResponseError::PolicyViolation,
                format!(
                    "{why} partition {index} of {topic}, led by broker {leader}, not by this broker ({}): records a plugin sends to another partition are written only where the broker the producer wrote to leads",
                    broker.node_id()
                ),
            ))
        }
    }
}

/// Counts a dead letter in its plugin's metrics and logs it.
fn count_dead_letter(broker: &Broker, letter: &DeadLetter, target: &Partition) {
    if let Some(metrics) = broker.plugins.metrics(&letter.plugin) {
        metrics
            .dead_letters
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    tracing::warn!(
        plugin = %letter.plugin, dead_letter_topic = %target.tp.topic,
        partition = target.tp.partition, records = letter.records.len(), error = %letter.error,
        "records sent to the dead-letter topic"
    );
}
