//! DeleteRecords: moves a partition's log start offset forward.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;

pub fn handle(
    broker: &Broker,
    ctx: &crate::server::dispatch::RequestContext,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    use crate::security::acl::{operation, resource};
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let allowed = ctx.may(broker, operation::DELETE, resource::TOPIC, &topic.name);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let mut result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    match broker.replicas.get_by_name(&topic.name, p.partition_index) {
                        _ if !allowed => {
                            result.error_code = ResponseError::TopicAuthorizationFailed.code()
                        }
                        None => result.error_code = ResponseError::UnknownTopicOrPartition.code(),
                        Some(partition) => match partition.delete_records(p.offset) {
                            Ok(low) => result.low_watermark = low,
                            Err(e) => result.error_code = e.code(),
                        },
                    }
                    result
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
