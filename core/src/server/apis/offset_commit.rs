//! OffsetCommit: a consumer's position for each partition, written to
//! `__consumer_offsets`, and in a cluster held by every in-sync replica,
//! before the answer (`offsets.commit.timeout.ms`; errors mapped as Kafka's
//! coordinator maps them).

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::group::{MemberRef, OffsetCommit};
use crate::protocol::error::ResponseError;
use crate::security::acl::{operation, resource};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let image = broker.image();
    let member = MemberRef {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        generation: request.generation_id_or_member_epoch,
    };
    // Partitions of unknown topics, or of topics the principal may not
    // read, are answered without being committed.
    let group_denied = !ctx.may(broker, operation::READ, resource::GROUP, &request.group_id);
    let mut commits = Vec::new();
    let mut known = Vec::new();
    for topic in &request.topics {
        // A view's offsets are committed under the view's name, checked
        // against its topic.
        let base = crate::view::topic_of(&image, &topic.name);
        let readable = ctx.may(broker, operation::READ, resource::TOPIC, &base);
        let exists = image
            .topics
            .get(base.as_ref())
            .map(|t| t.partitions.len() as i32);
        for p in &topic.partitions {
            let ok = match exists {
                _ if group_denied => Err(ResponseError::GroupAuthorizationFailed),
                _ if !readable => Err(ResponseError::TopicAuthorizationFailed),
                Some(n) if p.partition_index >= 0 && p.partition_index < n => Ok(()),
                _ => Err(ResponseError::UnknownTopicOrPartition),
            };
            let commit = ok.is_ok();
            known.push(ok);
            if commit {
                commits.push(OffsetCommit {
                    topic: topic.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if ctx.version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                });
            }
        }
    }
    let outcome = if request.group_id.is_empty() {
        Err(ResponseError::InvalidGroupId)
    } else if commits.is_empty() && !known.is_empty() {
        Ok((Vec::new(), None))
    } else {
        broker
            .groups
            .commit_offsets(&request.group_id, &member, commits)
    };
    let mut results = match outcome {
        Ok((results, None)) => results.into_iter(),
        Ok((results, Some(pending))) => {
            let timeout = broker.config.number("offsets.commit.timeout.ms").max(1) as u64;
            let waited = pending
                .wait(std::time::Duration::from_millis(timeout))
                .await;
            match waited.map_err(|e| coordinator_error(e.error)) {
                Ok(()) => results.into_iter(),
                Err(code) => results
                    .into_iter()
                    .map(|r| r.and(Err(code)))
                    .collect::<Vec<_>>()
                    .into_iter(),
            }
        }
        Err(e) => vec![Err(e); known.len()].into_iter(),
    };
    let mut known = known.into_iter();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let error = match known.next() {
                        Some(Ok(())) => results.next().and_then(Result::err),
                        Some(Err(e)) => Some(e),
                        None => Some(ResponseError::UnknownTopicOrPartition),
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(error.map_or(0, |e| e.code()))
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// How Kafka's coordinator answers a write of `__consumer_offsets` that
/// failed: the client looks for the coordinator again, or retries.
fn coordinator_error(error: ResponseError) -> ResponseError {
    match error {
        ResponseError::NotLeaderOrFollower | ResponseError::KafkaStorageError => {
            ResponseError::NotCoordinator
        }
        _ => ResponseError::CoordinatorNotAvailable,
    }
}
