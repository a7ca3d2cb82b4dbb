//! ElectLeaders (KIP-460): moves leadership back to each partition's
//! preferred replica (the first), or elects a leader for partitions that
//! have none, from outside the ISR if need be (unclean). Forwarded to the
//! active controller; every partition when none are named.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};

use super::{str_bytes, topic_name};
use crate::metadata::election::ElectionType;
use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;

pub async fn handle(broker: &Broker, request: ElectLeadersRequest) -> ElectLeadersResponse {
    let kind = match request.election_type {
        0 => ElectionType::Preferred,
        1 => ElectionType::Unclean,
        _ => {
            return ElectLeadersResponse::default()
                .with_error_code(ResponseError::InvalidRequest.code())
        }
    };
    let partitions = request.topic_partitions.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.topic.to_string();
                t.partitions.into_iter().map(move |p| (name.clone(), p))
            })
            .collect()
    });
    let outcomes = match broker
        .change_metadata(broker.controller.elect_leaders(kind, partitions))
        .await
    {
        Ok(outcomes) => outcomes,
        Err(e) => return ElectLeadersResponse::default().with_error_code(e.code()),
    };
    let mut results: Vec<ReplicaElectionResult> = Vec::new();
    for ((topic, partition), outcome) in outcomes {
        let mut result = PartitionResult::default().with_partition_id(partition);
        if let Err(error) = outcome {
            result.error_code = error.code();
            result.error_message = Some(str_bytes(match error {
                ResponseError::ElectionNotNeeded => {
                    "Leader election not needed for topic partition."
                }
                ResponseError::PreferredLeaderNotAvailable => {
                    "The preferred leader is not live or not in the ISR."
                }
                ResponseError::EligibleLeadersNotAvailable => {
                    "No live replica can lead this partition."
                }
                _ => "This server does not host this topic-partition.",
            }));
        }
        match results.iter_mut().find(|r| r.topic.as_str() == topic) {
            Some(r) => r.partition_result.push(result),
            None => results.push(
                ReplicaElectionResult::default()
                    .with_topic(topic_name(&topic))
                    .with_partition_result(vec![result]),
            ),
        }
    }
    ElectLeadersResponse::default().with_replica_election_results(results)
}
