//! ConsumerGroupDescribe (KIP-848): epochs, assignor and each member's
//! subscription, current and target assignment.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};

use super::{str_bytes, topic_name};
use crate::group::assignor::TopicIdPartition;
use crate::metadata::MetadataImage;
use crate::security::acl::{operation, resource};
use crate::server::authorize::GROUP_OPERATIONS;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let image = broker.image();
    let groups = request
        .group_ids
        .into_iter()
        .map(|id| {
            let operations = if request.include_authorized_operations {
                ctx.operations(broker, resource::GROUP, &id, GROUP_OPERATIONS)
            } else {
                i32::MIN
            };
            let described = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(operations);
            if !ctx.may(broker, operation::DESCRIBE, resource::GROUP, &id) {
                let denied = kafka_protocol::error::ResponseError::GroupAuthorizationFailed;
                return described
                    .with_error_code(denied.code())
                    .with_error_message(crate::server::authorize::message(denied));
            }
            match broker.groups.consumer_describe(&id) {
                Err(e) => described
                    .with_error_code(e.code())
                    .with_error_message(e.message()),
                Ok(d) => described
                    .with_group_state(str_bytes(d.state))
                    .with_group_epoch(d.group_epoch)
                    .with_assignment_epoch(d.assignment_epoch)
                    .with_assignor_name(str_bytes(d.assignor))
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|m| {
                                Member::default()
                                    .with_member_id(str_bytes(m.member_id))
                                    .with_instance_id(m.instance_id.map(str_bytes))
                                    .with_rack_id(m.rack_id.map(str_bytes))
                                    .with_member_epoch(m.member_epoch)
                                    .with_client_id(str_bytes(m.client_id))
                                    .with_client_host(str_bytes(m.client_host))
                                    .with_subscribed_topic_names(
                                        m.subscribed_topics.iter().map(|t| topic_name(t)).collect(),
                                    )
                                    .with_assignment(assignment(&image, &m.assignment))
                                    .with_target_assignment(assignment(
                                        &image,
                                        &m.target_assignment,
                                    ))
                                    // KIP-1099: 0 classic, 1 consumer.
                                    .with_member_type(if m.classic { 0 } else { 1 })
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

fn assignment(image: &MetadataImage, partitions: &[TopicIdPartition]) -> Assignment {
    let mut topics: Vec<TopicPartitions> = Vec::new();
    for (topic_id, partition) in partitions {
        match topics.last_mut() {
            Some(t) if t.topic_id == *topic_id => t.partitions.push(*partition),
            _ => {
                let name = image.topic_names.get(topic_id).cloned().unwrap_or_default();
                topics.push(
                    TopicPartitions::default()
                        .with_topic_id(*topic_id)
                        .with_topic_name(topic_name(&name))
                        .with_partitions(vec![*partition]),
                )
            }
        }
    }
    Assignment::default().with_topic_partitions(topics)
}
