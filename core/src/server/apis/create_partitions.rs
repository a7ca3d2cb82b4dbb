//! CreatePartitions: adds partitions to existing topics.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use crate::server::broker::Broker;

pub async fn handle(broker: &Broker, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        let assignments: Vec<Vec<i32>> = topic
            .assignments
            .unwrap_or_default()
            .iter()
            .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
            .collect();
        let outcome = if request.validate_only {
            broker
                .controller
                .create_partitions(&name, topic.count, assignments, true)
                .await
        } else {
            broker
                .change_metadata(broker.controller.create_partitions(
                    &name,
                    topic.count,
                    assignments,
                    false,
                ))
                .await
        };
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name);
        if let Err(e) = outcome {
            result.error_code = e.code();
            result.error_message = e.message();
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}
