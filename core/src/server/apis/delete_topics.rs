//! DeleteTopics: by name (all versions) or by topic id (v6+).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};

use super::topic_name;
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = request
        .topic_names
        .iter()
        .map(|n| (Some(n.to_string()), uuid::Uuid::nil()))
        .collect();
    wanted.extend(
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id)),
    );
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let mut result = DeletableTopicResult::default().with_topic_id(id);
        let name = name.or_else(|| broker.image().topic_names.get(&id).cloned());
        use crate::security::acl::{operation, resource};
        let outcome = match &name {
            None => Err(ApiError::from(ResponseError::UnknownTopicId)),
            Some(name) if !ctx.may(broker, operation::DELETE, resource::TOPIC, name) => {
                Err(ApiError::from(ResponseError::TopicAuthorizationFailed))
            }
            Some(name) => {
                let config = broker.config.clone();
                broker
                    .change_metadata(broker.controller.delete_topic(&config, name))
                    .await
            }
        };
        result.name = name.as_deref().map(topic_name);
        match outcome {
            Ok(id) if ctx.version >= 6 => result.topic_id = id,
            Ok(_) => {}
            Err(e) => {
                result.error_code = e.code();
                if ctx.version >= 5 {
                    result.error_message = e.message();
                }
            }
        }
        if ctx.version < 6 {
            result.topic_id = uuid::Uuid::nil();
            result.name.get_or_insert_with(|| topic_name(""));
        }
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
