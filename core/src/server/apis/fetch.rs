//! Fetch: hands out stored batches as they are on disk, from each requested
//! offset, within the per-partition and per-request byte limits (a whole first
//! batch even when it is larger, as KIP-74 asks). The request waits, up to
//! `max_wait_ms`, until `min_bytes` are available. Topics with fetch
//! interceptors are passed through them last (`fetch_intercept`). Fetch sessions (KIP-227)
//! are not offered: every response is a full one with session id 0.
//!
//! A consumer's fetch is held, up to `max_wait_ms`, while a partition it
//! reads has a new leader whose high watermark is below the one its
//! predecessor may have shown (`Partition::read` says it is unsettled): a
//! client caches the high watermark of every answer, so answering at once
//! would move its watermark and lag back. After `max_wait_ms` it is
//! answered as Kafka answers, with the lower one.
//!
//! A fetch that names a replica id is a follower's: it reads up to the log
//! end rather than the high watermark, reports how far the follower has
//! got (which moves the high watermark), answers a diverging epoch when the
//! follower's log parted from this one, and never passes fetch interceptors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;
use crate::server::response::FetchedRange;

const READ_COMMITTED: i8 = 1;

/// The response, with an empty `records` placeholder in each partition listed
/// in the ranges: the connection sends those ranges straight from the files.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: FetchRequest,
) -> (FetchResponse, Vec<FetchedRange>) {
    if request.session_id != 0 {
        let response =
            FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
        return (response, Vec::new());
    }
    // A follower's fetch needs CLUSTER_ACTION: it reads every record.
    if replica_id(ctx, &request).is_some()
        && !ctx.may_on_cluster(broker, crate::security::acl::operation::CLUSTER_ACTION)
    {
        let denied = ResponseError::ClusterAuthorizationFailed;
        return (
            FetchResponse::default().with_error_code(denied.code()),
            Vec::new(),
        );
    }
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let changed = Arc::new(Notify::new());
    loop {
        let (response, ranges, when) = read_all(broker, ctx, &request, &changed);
        let bytes: usize = ranges.iter().map(|(_, _, r)| r.len()).sum();
        let now = Instant::now();
        let enough = bytes >= request.min_bytes.max(1) as usize;
        let ready = match when {
            Answer::Now => true,
            Answer::WhenEnough => enough,
            Answer::Settled => false,
        };
        if ready || now >= deadline {
            let (mut response, mut ranges) = (response, ranges);
            if replica_id(ctx, &request).is_none() {
                super::fetch_intercept::apply(broker, ctx, &mut response, &mut ranges);
            }
            return (response, ranges);
        }
        let _ = tokio::time::timeout(deadline - now, changed.notified()).await;
    }
}

/// When a read's answer may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// At once: a partition failed, a follower diverged, or a consumer is
    /// sent to another replica.
    Now,
    /// Once `min_bytes` are there (or at `max_wait_ms`).
    WhenEnough,
    /// Once every new leader's high watermark has settled (or at `max_wait_ms`).
    Settled,
}

/// Reads every requested partition once. Returns the response, the record
/// ranges to splice into it, and when it may be answered. Each partition found is told to wake `changed` when it next
/// moves, before it is read, so no change is missed (a wake-up before the
/// wait leaves a permit).
fn read_all(
    broker: &Broker,
    ctx: &RequestContext,
    request: &FetchRequest,
    changed: &Arc<Notify>,
) -> (FetchResponse, Vec<FetchedRange>, Answer) {
    let image = broker.image();
    let replica = replica_id(ctx, request);
    let now = crate::log::now_ms();
    let mut budget = request.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut answer_now = false;
    let mut unsettled = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut ranges = Vec::new();
    for (topic_index, topic) in request.topics.iter().enumerate() {
        // A view (`orders~json`) reads its topic's partitions, with its
        // topic's ACLs; fetch_intercept converts what is read.
        let name = if ctx.version >= 13 {
            image.topic_names.get(&topic.topic_id).cloned().or_else(|| {
                crate::view::by_id(&image, &topic.topic_id).map(|v| v.topic.name.clone())
            })
        } else {
            Some(crate::view::topic_of(&image, &topic.topic).into_owned())
        };
        // A consumer needs READ on the topic (checked before it is looked
        // up, so that a denied one cannot tell whether it exists).
        let denied = replica.is_none()
            && name.as_deref().is_some_and(|n| {
                !ctx.may(
                    broker,
                    crate::security::acl::operation::READ,
                    crate::security::acl::resource::TOPIC,
                    n,
                )
            });
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for (partition_index, wanted) in topic.partitions.iter().enumerate() {
            let mut data = PartitionData::default()
                .with_partition_index(wanted.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1);
            if request.isolation_level != READ_COMMITTED {
                data.aborted_transactions = None;
            }
            let partition = name
                .as_deref()
                .filter(|_| !denied)
                .and_then(|n| broker.replicas.get_by_name(n, wanted.partition));
            if let Some(p) = &partition {
                p.wake_on_change(changed);
            }
            let offline = || {
                name.as_deref()
                    .and_then(|n| broker.replicas.offline_error(n, wanted.partition))
            };
            let result = match partition {
                None if denied => Err(ApiError::from(ResponseError::TopicAuthorizationFailed)),
                None if let Some(e) = offline() => Err(e),
                None if ctx.version >= 13 => Err(ApiError::from(ResponseError::UnknownTopicId)),
                None => Err(ApiError::from(ResponseError::UnknownTopicOrPartition)),
                Some(p) if let Some(replica) = replica => {
                    check_epoch(wanted.current_leader_epoch, p.leader_epoch()).and_then(|()| {
                        let max = (wanted.partition_max_bytes.max(0) as usize).min(budget);
                        let read = p
                            .read_for_replica(
                                replica,
                                wanted.fetch_offset,
                                wanted.last_fetched_epoch,
                                max,
                                now,
                            )
                            .inspect_err(|e| {
                                if e.error == ResponseError::OffsetOutOfRange {
                                    data.high_watermark = p.high_watermark();
                                    data.log_start_offset = p.log_start_offset();
                                }
                            })?;
                        if let Some((epoch, end_offset)) = read.diverging {
                            data.diverging_epoch.epoch = epoch;
                            data.diverging_epoch.end_offset = end_offset;
                            answer_now = true;
                        }
                        Ok(crate::partition::FetchedData {
                            records: read.records,
                            high_watermark: read.high_watermark,
                            log_start_offset: read.log_start_offset,
                            unsettled: false,
                        })
                    })
                }
                Some(p) => {
                    check_epoch(wanted.current_leader_epoch, p.leader_epoch()).and_then(|()| {
                        if let Some(replica) =
                            preferred_replica(broker, &image, ctx, request, &p, wanted.fetch_offset)
                        {
                            data.preferred_read_replica = BrokerId(replica);
                            answer_now = true; // as Kafka does
                            return Ok(crate::partition::FetchedData {
                                high_watermark: p.high_watermark(),
                                log_start_offset: p.log_start_offset(),
                                ..Default::default()
                            });
                        }
                        let max = (wanted.partition_max_bytes.max(0) as usize).min(budget);
                        // v11+ consumers may be sent to a follower (KIP-392).
                        p.read_as(wanted.fetch_offset, max, total == 0, ctx.version >= 11)
                            .inspect_err(|e| {
                                if e.error == ResponseError::OffsetOutOfRange {
                                    data.high_watermark = p.high_watermark();
                                    data.last_stable_offset = data.high_watermark;
                                    data.log_start_offset = p.log_start_offset();
                                }
                            })
                    })
                }
            };
            match result {
                Ok(fetched) => {
                    unsettled |= fetched.unsettled;
                    total += fetched.records.len();
                    budget = budget.saturating_sub(fetched.records.len());
                    data.high_watermark = fetched.high_watermark;
                    data.last_stable_offset = fetched.high_watermark;
                    data.log_start_offset = fetched.log_start_offset;
                    data.records = Some(Default::default());
                    if !fetched.records.is_empty() {
                        ranges.push((topic_index, partition_index, fetched.records));
                    }
                }
                Err(e) => {
                    answer_now = true;
                    data.error_code = e.code();
                    data.records = Some(Default::default());
                }
            }
            partitions.push(data);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions),
        );
    }
    if ctx.version < 5 {
        for p in topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            p.log_start_offset = -1;
        }
    }
    let when = if answer_now {
        Answer::Now
    } else if unsettled {
        Answer::Settled
    } else {
        Answer::WhenEnough
    };
    (
        FetchResponse::default().with_responses(topics),
        ranges,
        when,
    )
}

/// KIP-392, on the leader: the in-sync follower in the consumer's rack
/// (`client.rack`) it should read from instead, when
/// `replica.selector.class` is the rack-aware selector and the leader is
/// not in that rack itself.
fn preferred_replica(
    broker: &Broker,
    image: &crate::metadata::MetadataImage,
    ctx: &RequestContext,
    request: &FetchRequest,
    partition: &crate::partition::Partition,
    fetch_offset: i64,
) -> Option<i32> {
    const RACK_AWARE: &str = "org.apache.kafka.common.replica.RackAwareReplicaSelector";
    if ctx.version < 11 || request.rack_id.is_empty() || !partition.is_leader() {
        return None;
    }
    if broker.config.get("replica.selector.class").as_deref() != Some(RACK_AWARE) {
        return None;
    }
    let rack = |id: i32| image.brokers.get(&id).and_then(|b| b.rack.clone());
    let wanted = Some(request.rack_id.to_string());
    if rack(broker.node_id()) == wanted {
        return None;
    }
    partition
        .followers_holding(fetch_offset)
        .into_iter()
        .find(|id| rack(*id) == wanted && image.brokers.get(id).is_some_and(|b| b.is_live()))
}

/// The broker id of a follower's fetch (None: a consumer's).
fn replica_id(ctx: &RequestContext, request: &FetchRequest) -> Option<i32> {
    let id = if ctx.version >= 15 {
        request.replica_state.replica_id.0
    } else {
        request.replica_id.0
    };
    (id >= 0).then_some(id)
}

/// KIP-320: a client's view of the leader epoch must match ours.
pub fn check_epoch(requested: i32, current: i32) -> Result<(), ApiError> {
    match requested {
        -1 => Ok(()),
        e if e < current => Err(ApiError::from(ResponseError::FencedLeaderEpoch)),
        e if e > current => Err(ApiError::from(ResponseError::UnknownLeaderEpoch)),
        _ => Ok(()),
    }
}
