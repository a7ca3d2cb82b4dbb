//! CreateTopics: validated by the controller (names, partitions, replication
//! factor, assignments, configs), created unless `validate_only`.

use std::collections::HashMap;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::describe_configs::topic_configs;
use crate::metadata::NewTopic;
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;
use crate::server::plugin_bindings;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for topic in &request.topics {
        *seen.entry(topic.name.to_string()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    // CREATE on the cluster, or on each topic (Kafka's rule).
    use crate::security::acl::{operation, resource};
    let may_create_any = ctx.may_on_cluster(broker, operation::CREATE);
    for topic in request.topics {
        let name = topic.name.to_string();
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if !may_create_any && !ctx.may(broker, operation::CREATE, resource::TOPIC, &name) {
            let denied = ResponseError::TopicAuthorizationFailed;
            result.error_code = denied.code();
            if ctx.version >= 1 {
                result.error_message = crate::server::authorize::message(denied);
            }
            results.push(result);
            continue;
        }
        if seen[&name] > 1 {
            let e = ApiError::new(
                ResponseError::InvalidRequest,
                format!("Duplicate topic name {name} in the request."),
            );
            result.error_code = e.code();
            if ctx.version >= 1 {
                result.error_message = e.message();
            }
            results.push(result);
            continue;
        }
        let new_topic = NewTopic {
            name: name.clone(),
            num_partitions: topic.num_partitions,
            replication_factor: topic.replication_factor,
            assignments: assignments(&topic),
            configs: topic
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect(),
        };
        let config = broker.config.clone();
        let created = if let Err(e) = plugin_bindings::check(broker, &new_topic.configs) {
            Err(e)
        } else if request.validate_only {
            broker
                .controller
                .create_topic(&config, &new_topic, true)
                .await
        } else {
            broker
                .change_metadata(broker.controller.create_topic(&config, &new_topic, false))
                .await
        };
        match created {
            Ok(created) if ctx.version >= 5 => {
                if ctx.version >= 7 {
                    result.topic_id = created.id;
                }
                result.num_partitions = created.partitions.len() as i32;
                result.replication_factor = created
                    .partitions
                    .first()
                    .map(|p| p.replicas.len() as i16)
                    .unwrap_or(-1);
                {
                    let image = broker.image();
                    let configs = topic_configs(broker, &image, &created.configs, false, false)
                        .into_iter()
                        .map(|c| {
                            CreatableTopicConfigs::default()
                                .with_name(c.name)
                                .with_value(c.value)
                                .with_read_only(c.read_only)
                                .with_config_source(c.config_source)
                                .with_is_sensitive(c.is_sensitive)
                        })
                        .collect();
                    result.configs = Some(configs);
                }
            }
            Ok(_) => {}
            Err(e) => {
                result.error_code = e.code();
                result.error_message = e.message();
            }
        }
        if ctx.version < 1 {
            result.error_message = None;
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// Explicit assignments ordered by partition index.
fn assignments(
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Vec<Vec<i32>> {
    let mut list: Vec<_> = topic
        .assignments
        .iter()
        .map(|a| {
            (
                a.partition_index,
                a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>(),
            )
        })
        .collect();
    list.sort_by_key(|(index, _)| *index);
    list.into_iter().map(|(_, replicas)| replicas).collect()
}
