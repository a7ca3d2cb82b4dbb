//! AlterConfigs (replace every override of a resource) and
//! IncrementalAlterConfigs (SET / DELETE / APPEND / SUBTRACT per key), for
//! topics, for cluster-wide dynamic broker configs and for groups.

use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::describe_configs::{check_broker_name, BROKER_RESOURCE, GROUP_RESOURCE, TOPIC_RESOURCE};
use crate::config::defs::{self, split_list, Kind};
use crate::protocol::error::{ApiError, ResponseError};
use crate::security::acl::operation::ALTER_CONFIGS;
use crate::server::authorize::config_refusal;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

type Changes = Vec<(String, Option<String>)>;

async fn apply(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    changes: Changes,
    replace: bool,
    validate_only: bool,
) -> Result<(), ApiError> {
    match resource_type {
        TOPIC_RESOURCE => {
            crate::server::plugin_bindings::check(broker, &changes)?;
            broker
                .change_metadata(broker.controller.alter_topic_configs(
                    name,
                    &changes,
                    replace,
                    validate_only,
                ))
                .await
        }
        BROKER_RESOURCE => {
            check_broker_name(broker, name)?;
            broker
                .change_metadata(
                    broker
                        .controller
                        .alter_cluster_configs(&changes, validate_only),
                )
                .await
        }
        GROUP_RESOURCE => {
            let image = broker.image();
            let view = broker.config_view(&image);
            broker
                .change_metadata(broker.controller.alter_group_configs(
                    name,
                    &changes,
                    replace,
                    validate_only,
                    &view,
                ))
                .await
        }
        other => Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!("Unsupported resource type {other}"),
        )),
    }
}

pub async fn handle_legacy(
    broker: &Broker,
    ctx: &RequestContext,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let changes = resource
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.value.as_ref().map(StrBytes::to_string),
                )
            })
            .collect();
        let name = resource.resource_name.as_str();
        let outcome = match config_refusal(broker, ctx, ALTER_CONFIGS, resource.resource_type, name)
        {
            Some(refused) => Err(refused),
            None => {
                apply(
                    broker,
                    resource.resource_type,
                    name,
                    changes,
                    true,
                    request.validate_only,
                )
                .await
            }
        };
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err(e) = outcome {
            response.error_code = e.code();
            response.error_message = e.message();
        }
        responses.push(response);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn handle_incremental(
    broker: &Broker,
    ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.to_string();
        let refused = config_refusal(broker, ctx, ALTER_CONFIGS, resource.resource_type, &name);
        let changes = match refused {
            Some(refused) => Err(refused),
            None => incremental_changes(broker, resource.resource_type, &name, &resource.configs),
        };
        let outcome = match changes {
            Ok(changes) => {
                apply(
                    broker,
                    resource.resource_type,
                    &name,
                    changes,
                    false,
                    request.validate_only,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err(e) = outcome {
            response.error_code = e.code();
            response.error_message = e.message();
        }
        responses.push(response);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Turns incremental operations into plain set/delete changes, reading the
/// current value for APPEND and SUBTRACT (list configs only).
fn incremental_changes(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    configs: &[kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig],
) -> Result<Changes, ApiError> {
    let image = broker.image();
    let view = broker.config_view(&image);
    let mut changes = Vec::with_capacity(configs.len());
    for config in configs {
        let key = config.name.to_string();
        let value = config.value.as_ref().map(StrBytes::to_string);
        match config.config_operation {
            SET => changes.push((key, value)),
            DELETE => changes.push((key, None)),
            op @ (APPEND | SUBTRACT) => {
                let (kind, current) = match resource_type {
                    GROUP_RESOURCE => {
                        return Err(ApiError::new(
                            ResponseError::InvalidConfig,
                            format!("Config value append/subtract is not allowed for config {key} as it is not a list"),
                        ))
                    }
                    TOPIC_RESOURCE => {
                        let def = defs::topic_def(&key).ok_or_else(|| {
                            ApiError::new(
                                ResponseError::InvalidConfig,
                                format!("Unknown topic config name: {key}"),
                            )
                        })?;
                        let overrides = image
                            .topics
                            .get(name)
                            .map(|t| t.configs.clone())
                            .unwrap_or_default();
                        (def.kind, view.topic_value(def, &overrides).0)
                    }
                    _ => {
                        let def = defs::broker_def(&key).ok_or_else(|| {
                            ApiError::new(
                                ResponseError::InvalidConfig,
                                format!("Unknown broker config name: {key}"),
                            )
                        })?;
                        (
                            def.kind,
                            view.broker_value(&key).map(|(v, _)| v).unwrap_or_default(),
                        )
                    }
                };
                if !matches!(kind, Kind::List | Kind::EnumList(_)) {
                    return Err(ApiError::new(
                        ResponseError::InvalidConfig,
                        format!("Config value append/subtract is not allowed for config {key} as it is not a list"),
                    ));
                }
                let mut items = split_list(&current);
                for item in split_list(value.as_deref().unwrap_or("")) {
                    if op == APPEND && !items.contains(&item) {
                        items.push(item);
                    } else if op == SUBTRACT {
                        items.retain(|i| i != &item);
                    }
                }
                changes.push((key, Some(items.join(","))));
            }
            other => {
                return Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {other}"),
                ));
            }
        }
    }
    Ok(changes)
}
