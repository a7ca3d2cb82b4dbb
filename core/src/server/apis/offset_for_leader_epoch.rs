//! OffsetForLeaderEpoch (KIP-101/320): for each partition, the largest
//! leader epoch at or below the one asked for, and the offset where the
//! next epoch began (the log end for the current one), from the leader's
//! epoch cache. Consumers use it after a leadership change to detect that
//! the log they read was truncated (librdkafka, the Java client).

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::fetch::check_epoch;
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;

pub fn handle(
    broker: &Broker,
    ctx: &crate::server::dispatch::RequestContext,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    use crate::security::acl::{operation, resource};
    // A follower needs CLUSTER_ACTION; a consumer, DESCRIBE on each topic.
    let follower = request.replica_id.0 >= 0;
    let cluster_denied = follower && !ctx.may_on_cluster(broker, operation::CLUSTER_ACTION);
    let image = broker.image();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            // A view's epochs are its topic's.
            let name = crate::view::topic_of(&image, &topic.topic).into_owned();
            let denied = if cluster_denied {
                Some(ResponseError::ClusterAuthorizationFailed)
            } else if !follower && !ctx.may(broker, operation::DESCRIBE, resource::TOPIC, &name) {
                Some(ResponseError::TopicAuthorizationFailed)
            } else {
                None
            };
            let partitions = topic
                .partitions
                .iter()
                .map(|wanted| {
                    let answer = EpochEndOffset::default()
                        .with_partition(wanted.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    if let Some(denied) = denied {
                        return answer.with_error_code(denied.code());
                    }
                    let found = broker
                        .replicas
                        .get_by_name(name.as_str(), wanted.partition)
                        .ok_or_else(|| {
                            broker
                                .replicas
                                .offline_error(name.as_str(), wanted.partition)
                                .unwrap_or_else(|| ResponseError::UnknownTopicOrPartition.into())
                        })
                        .and_then(|p| {
                            check_epoch(wanted.current_leader_epoch, p.leader_epoch())?;
                            p.end_offset_for_epoch(wanted.leader_epoch)
                        });
                    match found {
                        Ok((epoch, end_offset)) => {
                            answer.with_leader_epoch(epoch).with_end_offset(end_offset)
                        }
                        Err(ApiError { error, .. }) => answer.with_error_code(error.code()),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
