//! CreatePartitions: adds partitions to existing topics.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use crate::server::broker::Broker;

pub async fn handle(
    broker: &Broker,
    ctx: &crate::server::dispatch::RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    use crate::security::acl::{operation, resource};
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        if !ctx.may(broker, operation::ALTER, resource::TOPIC, &name) {
            let denied = kafka_protocol::error::ResponseError::TopicAuthorizationFailed;
            results.push(
                CreatePartitionsTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(denied.code())
                    .with_error_message(crate::server::authorize::message(denied)),
            );
            continue;
        }
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
