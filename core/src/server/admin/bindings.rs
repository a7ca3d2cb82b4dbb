//! Binding a plugin to a topic from the admin endpoint (`weir plugin bind`
//! / `unbind`), so a user need not write an AdminClient script: the topic
//! config that binds the plugin's kind is set (an interceptor is appended
//! to the chain) through the same checks as AlterConfigs.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::defs::split_list;
use crate::config::plugins::{binding_of, BINDINGS, TOPIC_BINDINGS};
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::Broker;

use super::auth::Admin;

type Failure = (StatusCode, String);

pub fn routes() -> Router<Arc<Broker>> {
    Router::new().route(
        "/v1/plugins/{name}/bindings/{topic}",
        put(bind).delete(unbind),
    )
}

#[derive(Deserialize)]
struct BindQuery {
    /// A partitioner's `weir.partitioner.mode`: route or verify.
    mode: Option<String>,
}

async fn bind(
    State(broker): State<Arc<Broker>>,
    admin: Admin,
    UrlPath((name, topic)): UrlPath<(String, String)>,
    Query(query): Query<BindQuery>,
) -> Result<Json<Value>, Failure> {
    let config = topic_binding(&broker, &name)?;
    let mut chain = current(&broker, &topic, config)?;
    let mut changes = Vec::new();
    if config.starts_with("weir.interceptors.") {
        if !chain.contains(&name) {
            chain.push(name.clone());
        }
        changes.push((config.to_string(), Some(chain.join(","))));
    } else {
        changes.push((config.to_string(), Some(name.clone())));
    }
    match (query.mode, config) {
        (Some(mode), "weir.partitioner") => {
            changes.push(("weir.partitioner.mode".to_string(), Some(mode)))
        }
        (Some(_), _) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "--mode is a partitioner's (route or verify)".into(),
            ))
        }
        (None, _) => {}
    }
    crate::server::plugin_bindings::check(&broker, &changes).map_err(refused)?;
    broker
        .alter_topic_configs_anywhere(&topic, &changes)
        .await
        .map_err(refused)?;
    tracing::info!(plugin = %name, %topic, by = %admin.principal, "plugin bound");
    Ok(Json(answer(&topic, &changes)))
}

async fn unbind(
    State(broker): State<Arc<Broker>>,
    admin: Admin,
    UrlPath((name, topic)): UrlPath<(String, String)>,
) -> Result<Json<Value>, Failure> {
    let config = topic_binding(&broker, &name)?;
    let mut chain = current(&broker, &topic, config)?;
    if !chain.contains(&name) {
        return Err((
            StatusCode::NOT_FOUND,
            format!("{topic} is not bound to {name} ({config})"),
        ));
    }
    chain.retain(|n| n != &name);
    let value = (!chain.is_empty()).then(|| chain.join(","));
    let changes = vec![(config.to_string(), value)];
    broker
        .alter_topic_configs_anywhere(&topic, &changes)
        .await
        .map_err(refused)?;
    tracing::info!(plugin = %name, %topic, by = %admin.principal, "plugin unbound");
    Ok(Json(answer(&topic, &changes)))
}

/// The topic config binding the plugin's kind; a plugin of a broker-wide
/// kind (an authenticator, an authorizer) is bound in the broker's config.
fn topic_binding(broker: &Broker, name: &str) -> Result<&'static str, Failure> {
    let kind = broker
        .plugins
        .get(name)
        .map(|e| e.spec.kind.clone())
        .or_else(|| broker.image().plugins.get(name).map(|d| d.kind.clone()))
        .ok_or((StatusCode::NOT_FOUND, format!("no plugin named {name}")))?;
    match binding_of(&kind) {
        Some(config) if BINDINGS[..TOPIC_BINDINGS].iter().any(|(c, _)| *c == config) => Ok(config),
        Some(config) => Err((
            StatusCode::BAD_REQUEST,
            format!("{name} is an {kind}: it is bound to the broker with {config} in weir.toml, not to a topic"),
        )),
        None => Err((StatusCode::BAD_REQUEST, format!("{name} is a {kind}"))),
    }
}

/// The plugins `config` binds on `topic` now.
fn current(broker: &Broker, topic: &str, config: &str) -> Result<Vec<String>, Failure> {
    let image = broker.image();
    let found = image
        .topics
        .get(topic)
        .ok_or((StatusCode::NOT_FOUND, format!("no topic named {topic}")))?;
    Ok(split_list(
        found.configs.get(config).map_or("", String::as_str),
    ))
}

fn refused(e: ApiError) -> Failure {
    let status = match e.error {
        ResponseError::InvalidConfig | ResponseError::PolicyViolation => StatusCode::BAD_REQUEST,
        ResponseError::UnknownTopicOrPartition => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        format!("{:?}: {}", e.error, e.message.unwrap_or_default()),
    )
}

fn answer(topic: &str, changes: &[(String, Option<String>)]) -> Value {
    let configs: serde_json::Map<String, Value> = changes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
        .collect();
    json!({"topic": topic, "configs": configs})
}
