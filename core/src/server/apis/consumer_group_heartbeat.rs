//! ConsumerGroupHeartbeat (KIP-848): the one request of the next-generation
//! consumer protocol: join (epoch 0), heartbeat, leave (epoch -1 or -2). The
//! answer carries the member's epoch and, when it changed, its assignment.

use std::collections::BTreeSet;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::str_bytes;
use crate::group::consumer::Heartbeat;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let response = ConsumerGroupHeartbeatResponse::default();
    // librdkafka sends an empty regex when it subscribes by name.
    if request
        .subscribed_topic_regex
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        return response
            .with_error_code(kafka_protocol::error::ResponseError::InvalidRequest.code())
            .with_error_message(Some(str_bytes(
                "Regular expression subscriptions are not supported yet.",
            )));
    }
    let heartbeat = Heartbeat {
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: request.instance_id.map(|s| s.to_string()),
        rack_id: request.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topics: request
            .subscribed_topic_names
            .map(|names| names.iter().map(|n| n.to_string()).collect()),
        server_assignor: request.server_assignor.map(|s| s.to_string()),
        owned: request.topic_partitions.map(|tps| {
            tps.iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
                .collect::<BTreeSet<_>>()
        }),
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: ctx.session.client_host.clone(),
        version: ctx.version,
    };
    let image = broker.image();
    let lookup = |name: &str| crate::view::topic_shape(&image, name);
    match broker
        .groups
        .consumer_heartbeat(&request.group_id, heartbeat, &lookup)
    {
        Err(e) => response
            .with_error_code(e.code())
            .with_error_message(e.message()),
        Ok(answer) => response
            .with_member_id(Some(str_bytes(answer.member_id)))
            .with_member_epoch(answer.member_epoch)
            .with_heartbeat_interval_ms(answer.heartbeat_interval_ms)
            .with_assignment(answer.assignment.map(|set| {
                let mut topics: Vec<TopicPartitions> = Vec::new();
                for (topic_id, partition) in set {
                    match topics.last_mut() {
                        Some(t) if t.topic_id == topic_id => t.partitions.push(partition),
                        _ => topics.push(
                            TopicPartitions::default()
                                .with_topic_id(topic_id)
                                .with_partitions(vec![partition]),
                        ),
                    }
                }
                Assignment::default().with_topic_partitions(topics)
            })),
    }
}
