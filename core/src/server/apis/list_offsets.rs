//! ListOffsets: earliest, latest, by timestamp and max timestamp (KIP-734).
//! A new leader whose high watermark has not caught up answers "latest"
//! with OFFSET_NOT_AVAILABLE (KIP-207), LEADER_NOT_AVAILABLE before v5,
//! as Kafka does; clients retry.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::fetch::check_epoch;
use crate::partition::OffsetSpec;
use crate::protocol::error::{ApiError, ResponseError};
use crate::security::acl::{operation, resource};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let image = broker.image();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            // A view's offsets are its topic's.
            let name = crate::view::topic_of(&image, &topic.name);
            let denied = !ctx.may(broker, operation::DESCRIBE, resource::TOPIC, &name);
            let partitions = topic
                .partitions
                .iter()
                .map(|wanted| {
                    let mut response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(wanted.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1);
                    let partition = (!denied)
                        .then(|| broker.replicas.get_by_name(&name, wanted.partition_index))
                        .flatten();
                    let result = match partition {
                        None if denied => {
                            Err(ApiError::from(ResponseError::TopicAuthorizationFailed))
                        }
                        None => Err(ApiError::from(ResponseError::UnknownTopicOrPartition)),
                        Some(p) => check_epoch(wanted.current_leader_epoch, p.leader_epoch())
                            .and_then(|()| {
                                p.list_offset(OffsetSpec::from_timestamp(wanted.timestamp))
                            })
                            .map(|found| (found, p.leader_epoch())),
                    };
                    match result {
                        Ok((found, epoch)) => {
                            if ctx.version >= 4 {
                                response.leader_epoch = epoch;
                            }
                            if let Some((offset, timestamp)) = found {
                                response.offset = offset;
                                response.timestamp = timestamp;
                            }
                        }
                        Err(e)
                            if e.error == ResponseError::OffsetNotAvailable && ctx.version < 5 =>
                        {
                            response.error_code = ResponseError::LeaderNotAvailable.code()
                        }
                        Err(e) => response.error_code = e.code(),
                    }
                    response
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
