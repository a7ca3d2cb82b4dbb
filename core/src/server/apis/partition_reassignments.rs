//! AlterPartitionReassignments and ListPartitionReassignments (KIP-455):
//! moving a partition's replicas. The target replicas join the partition's
//! replica set and catch up as followers; once they are all in the ISR the
//! active controller completes the move (the leaving replicas go, and a
//! leaving leader hands over). A null replica list cancels a reassignment.
//! Both are forwarded to the active controller.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::{str_bytes, topic_name};
use crate::server::broker::Broker;

pub async fn alter(
    broker: &Broker,
    request: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let wanted: Vec<(String, i32, Option<Vec<i32>>)> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let target = p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect());
                (t.name.to_string(), p.partition_index, target)
            })
        })
        .collect();
    let outcomes = match broker
        .change_metadata(broker.controller.alter_reassignments(wanted.clone()))
        .await
    {
        Ok(outcomes) => outcomes,
        Err(e) => {
            return AlterPartitionReassignmentsResponse::default()
                .with_error_code(e.code())
                .with_error_message(e.message())
        }
    };
    let mut responses: Vec<ReassignableTopicResponse> = Vec::new();
    for ((topic, partition, _), outcome) in wanted.into_iter().zip(outcomes) {
        let mut answer = ReassignablePartitionResponse::default().with_partition_index(partition);
        if let Err((error, message)) = outcome {
            answer.error_code = error.code();
            answer.error_message = Some(str_bytes(message));
        }
        match responses.iter_mut().find(|r| r.name.as_str() == topic) {
            Some(r) => r.partitions.push(answer),
            None => responses.push(
                ReassignableTopicResponse::default()
                    .with_name(topic_name(&topic))
                    .with_partitions(vec![answer]),
            ),
        }
    }
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(request.allow_replication_factor_change)
        .with_responses(responses)
}

pub fn list(
    broker: &Broker,
    request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let image = broker.image();
    let wanted = |topic: &str, partition: i32| match &request.topics {
        None => true,
        Some(topics) => topics
            .iter()
            .any(|t| t.name.as_str() == topic && t.partition_indexes.contains(&partition)),
    };
    let ids = |v: &[i32]| v.iter().copied().map(BrokerId).collect::<Vec<_>>();
    let topics = image
        .topics
        .values()
        .filter_map(|t| {
            let partitions: Vec<OngoingPartitionReassignment> = t
                .partitions
                .iter()
                .enumerate()
                .filter(|(i, p)| {
                    (!p.adding_replicas.is_empty() || !p.removing_replicas.is_empty())
                        && wanted(&t.name, *i as i32)
                })
                .map(|(i, p)| {
                    OngoingPartitionReassignment::default()
                        .with_partition_index(i as i32)
                        .with_replicas(ids(&p.replicas))
                        .with_adding_replicas(ids(&p.adding_replicas))
                        .with_removing_replicas(ids(&p.removing_replicas))
                })
                .collect();
            (!partitions.is_empty()).then(|| {
                OngoingTopicReassignment::default()
                    .with_name(topic_name(&t.name))
                    .with_partitions(partitions)
            })
        })
        .collect();
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}
