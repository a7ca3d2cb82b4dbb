//! DescribeConfigs: topic, broker and group configs with Kafka's names,
//! values, sources, synonyms, types and documentation.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::config::defs::{self, TOPIC};
use crate::config::group;
use crate::config::Source;
use crate::metadata::MetadataImage;
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

/// Kafka's ConfigResource types.
pub const TOPIC_RESOURCE: i8 = 2;
pub const BROKER_RESOURCE: i8 = 4;
pub const GROUP_RESOURCE: i8 = 32;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let image = broker.image();
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let refused = crate::server::authorize::config_refusal(
                broker,
                ctx,
                crate::security::acl::operation::DESCRIBE_CONFIGS,
                resource.resource_type,
                &resource.resource_name,
            );
            let configs = match resource.resource_type {
                _ if let Some(refused) = refused => Err(refused),
                TOPIC_RESOURCE => match image.topics.get(resource.resource_name.as_str()) {
                    Some(topic) => Ok(topic_configs(
                        broker,
                        &image,
                        &topic.configs,
                        request.include_synonyms,
                        request.include_documentation,
                    )),
                    None => Err(ApiError::new(
                        ResponseError::UnknownTopicOrPartition,
                        format!(
                            "Topic '{}' does not exist.",
                            resource.resource_name.as_str()
                        ),
                    )),
                },
                BROKER_RESOURCE => {
                    check_broker_name(broker, resource.resource_name.as_str()).map(|()| {
                        broker_configs(
                            broker,
                            &image,
                            request.include_synonyms,
                            request.include_documentation,
                            resource.configuration_keys.as_deref(),
                        )
                    })
                }
                GROUP_RESOURCE => Ok(group_configs(
                    broker,
                    &image,
                    resource.resource_name.as_str(),
                    request.include_synonyms,
                    request.include_documentation,
                )),
                other => Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    format!("Unsupported resource type {other}"),
                )),
            };
            match configs {
                Ok(mut configs) => {
                    if ctx.version < 3 {
                        configs.iter_mut().for_each(|c| {
                            c.config_type = 0;
                            c.documentation = None;
                        });
                    }
                    if let Some(keys) = &resource.configuration_keys {
                        configs.retain(|c| keys.iter().any(|k| k == &c.name));
                    }
                    result.configs = configs;
                }
                Err(e) => {
                    result.error_code = e.code();
                    result.error_message = e.message();
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// A broker resource is named by this broker's id, or "" for the cluster default.
pub fn check_broker_name(broker: &Broker, name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name == broker.node_id().to_string() {
        Ok(())
    } else {
        Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                broker.node_id()
            ),
        ))
    }
}

fn entry(
    name: &str,
    value: Option<String>,
    source: Source,
    read_only: bool,
    kind: defs::Kind,
    doc: &str,
    documentation: bool,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(str_bytes(name))
        .with_value(value.map(str_bytes))
        .with_read_only(read_only)
        .with_config_source(source.code())
        .with_config_type(kind.config_type())
        .with_documentation(documentation.then(|| str_bytes(doc)))
}

fn synonym(name: &str, value: String, source: Source) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)))
        .with_source(source.code())
}

/// Every topic config with its effective value.
pub fn topic_configs(
    broker: &Broker,
    image: &MetadataImage,
    overrides: &BTreeMap<String, String>,
    synonyms: bool,
    documentation: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let view = broker.config_view(image);
    TOPIC
        .iter()
        .map(|def| {
            let (value, source) = view.topic_value(def, overrides);
            let mut result = entry(
                def.name,
                Some(value),
                source,
                false,
                def.kind,
                def.doc,
                documentation,
            );
            if synonyms {
                if let Some(v) = overrides.get(def.name) {
                    result
                        .synonyms
                        .push(synonym(def.name, v.clone(), Source::Topic));
                }
                for (name, _) in def.synonyms {
                    if let Some((v, source)) = view.broker_value(name) {
                        result.synonyms.push(synonym(name, v, source));
                    }
                }
            }
            result
        })
        .collect()
}

/// A group's configs: its own value (source GROUP_CONFIG) or the broker's
/// `group.*` default it falls back to.
fn group_configs(
    broker: &Broker,
    image: &MetadataImage,
    group: &str,
    synonyms: bool,
    documentation: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let view = broker.config_view(image);
    let own = image.group_configs.get(group);
    group::GROUP
        .iter()
        .map(|def| {
            let (value, source) = view.group_value(def, own);
            let mut result = entry(
                def.name,
                Some(value.clone()),
                source,
                false,
                def.kind,
                def.doc,
                documentation,
            );
            if synonyms {
                if source == Source::Group {
                    result.synonyms.push(synonym(def.name, value, source));
                }
                if let Some((v, s)) = view.broker_value(def.broker_default) {
                    result.synonyms.push(synonym(def.broker_default, v, s));
                }
            }
            result
        })
        .collect()
}

/// Every broker config with its value; only dynamic ones are writable.
/// Kafka's configs that Weir does not act on are listed when set or asked
/// for by name.
fn broker_configs(
    broker: &Broker,
    image: &MetadataImage,
    synonyms: bool,
    documentation: bool,
    keys: Option<&[StrBytes]>,
) -> Vec<DescribeConfigsResourceResult> {
    let view = broker.config_view(image);
    let asked = |name: &str| keys.is_some_and(|keys| keys.iter().any(|k| k.as_str() == name));
    let kafka_only = defs::kafka_only_defs()
        .iter()
        .filter(|d| asked(d.name) || view.broker_value(d.name).is_some());
    defs::weir_broker_defs()
        .chain(kafka_only)
        .map(|def| {
            let found = view.broker_value(def.name);
            let source = found.as_ref().map(|(_, s)| *s).unwrap_or(Source::Default);
            let sensitive = crate::config::security::sensitive(def.name);
            let mut result = entry(
                def.name,
                found.clone().map(|(v, _)| v).filter(|_| !sensitive),
                source,
                !def.dynamic,
                def.kind,
                def.doc,
                documentation,
            )
            .with_is_sensitive(sensitive);
            if synonyms && !sensitive {
                if let Some(v) = image.cluster_configs.get(def.name) {
                    result.synonyms.push(synonym(
                        def.name,
                        v.clone(),
                        Source::DynamicBrokerDefault,
                    ));
                }
                if let Some(v) = broker.config.get_set(def.name) {
                    result
                        .synonyms
                        .push(synonym(def.name, v.to_string(), Source::StaticBroker));
                }
                if let Some(v) = def.default {
                    result
                        .synonyms
                        .push(synonym(def.name, v.to_string(), Source::Default));
                }
            }
            result
        })
        .collect()
}
