//! OffsetFetch: a group's committed offsets (v8+: several groups in one
//! request). A partition without a commit answers offset -1.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};

use super::{str_bytes, topic_name};
use crate::group::records::OffsetValue;
use crate::group::CommittedOffsets;
use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

type Fetched = CommittedOffsets;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if ctx.version >= 8 {
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes))
                        .collect()
                });
                let found = fetch(broker, ctx, &g.group_id, topics);
                group_response(g.group_id, found)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let topics = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    let version = ctx.version;
    match fetch(broker, ctx, &request.group_id, topics) {
        Ok(found) => OffsetFetchResponse::default().with_topics(
            found
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(topic_name(&topic))
                        .with_partitions(
                            partitions
                                .into_iter()
                                .map(|(p, v)| {
                                    let (offset, epoch, metadata) = parts(v);
                                    let partition = OffsetFetchResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(offset)
                                        .with_metadata(Some(str_bytes(metadata)));
                                    if version >= 5 {
                                        partition.with_committed_leader_epoch(epoch)
                                    } else {
                                        partition
                                    }
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
        // v0-1 carry errors per partition only; the client retries.
        Err(e) if version >= 2 => OffsetFetchResponse::default().with_error_code(e.code()),
        Err(_) => OffsetFetchResponse::default(),
    }
}

/// The group's committed offsets: it needs DESCRIBE on the group, and
/// topics it may not DESCRIBE are left out.
fn fetch(
    broker: &Broker,
    ctx: &RequestContext,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Result<Fetched, ResponseError> {
    use crate::security::acl::{operation, resource};
    if group.is_empty() {
        return Err(ResponseError::InvalidGroupId);
    }
    if !ctx.may(broker, operation::DESCRIBE, resource::GROUP, group) {
        return Err(ResponseError::GroupAuthorizationFailed);
    }
    let mut found = broker.groups.fetch_offsets(group, topics)?;
    found.retain(|(topic, _)| ctx.may(broker, operation::DESCRIBE, resource::TOPIC, topic));
    Ok(found)
}

fn parts(value: Option<OffsetValue>) -> (i64, i32, String) {
    match value {
        Some(v) => (v.offset, v.leader_epoch, v.metadata),
        None => (-1, -1, String::new()),
    }
}

fn group_response(id: GroupId, found: Result<Fetched, ResponseError>) -> OffsetFetchResponseGroup {
    let group = OffsetFetchResponseGroup::default().with_group_id(id);
    match found {
        Err(e) => group.with_error_code(e.code()),
        Ok(found) => group.with_topics(
            found
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetFetchResponseTopics::default()
                        .with_name(topic_name(&topic))
                        .with_partitions(
                            partitions
                                .into_iter()
                                .map(|(p, v)| {
                                    let (offset, epoch, metadata) = parts(v);
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(offset)
                                        .with_committed_leader_epoch(epoch)
                                        .with_metadata(Some(str_bytes(metadata)))
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
    }
}
