//! OffsetDelete: removes a group's committed offsets for partitions of
//! topics it does not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::topic_name;
use crate::server::broker::Broker;

pub fn handle(
    broker: &Broker,
    ctx: &crate::server::dispatch::RequestContext,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    use crate::security::acl::{operation, resource};
    use kafka_protocol::error::ResponseError;
    if !ctx.may(
        broker,
        operation::DELETE,
        resource::GROUP,
        &request.group_id,
    ) {
        let denied = ResponseError::GroupAuthorizationFailed;
        return OffsetDeleteResponse::default().with_error_code(denied.code());
    }
    // Partitions of topics the principal may not read are refused, not deleted.
    let readable = |topic: &str| ctx.may(broker, operation::READ, resource::TOPIC, topic);
    let partitions = request
        .topics
        .iter()
        .filter(|t| readable(&t.name))
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let mut results = match broker.groups.delete_offsets(&request.group_id, partitions) {
        Ok(results) => results,
        Err(e) => return OffsetDeleteResponse::default().with_error_code(e.code()),
    };
    for t in request.topics.iter().filter(|t| !readable(&t.name)) {
        for p in &t.partitions {
            let denied = Err(ResponseError::TopicAuthorizationFailed);
            results.push((t.name.to_string(), p.partition_index, denied));
        }
    }
    let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
    for (topic, partition, result) in results {
        let response = OffsetDeleteResponsePartition::default()
            .with_partition_index(partition)
            .with_error_code(result.err().map_or(0, |e| e.code()));
        match topics.last_mut() {
            Some(t) if t.name.as_str() == topic => t.partitions.push(response),
            _ => topics.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(topic_name(&topic))
                    .with_partitions(vec![response]),
            ),
        }
    }
    OffsetDeleteResponse::default().with_topics(topics)
}
