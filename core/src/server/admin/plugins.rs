//! Plugins in a running broker: loading them at start-up (weir.toml entries
//! and versions deployed since, whichever is newer), and the admin API
//! behind `weir plugin`:
//!
//! - `GET /v1/plugins`: name, kind, content hash, the topics bound to each,
//!   their counters, and in a cluster the version each broker runs;
//! - `PUT /v1/plugins/{name}[?kind=K]` with the component as the body:
//!   deploy (replace, or add with a kind). The artifact is stored beside the
//!   metadata log and the deployment recorded there, so it outlives a restart;
//!   in a cluster the record carries the artifact, committed through the
//!   active controller, and every broker loads it (`plugin_follower`);
//! - `DELETE /v1/plugins/{name}[?force=true]`: refuses while topics are
//!   bound to it, unless forced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::plugins::{PluginSpec, KINDS};
use crate::config::BrokerConfig;
use crate::metadata::command::{Artifact, Command, DeployedPlugin};
use crate::metadata::image::MetadataImage;
use crate::plugin::engine::content_hash;
use crate::plugin::PluginRegistry;
use crate::server::Broker;

use super::auth::Admin;

type Failure = (StatusCode, String);

/// `weir.plugin.max.bytes` caps an upload as it streams in: a larger one is
/// refused (413) once the cap is passed, or before a byte is read when its
/// Content-Length says so.
pub fn routes(config: &crate::config::BrokerConfig) -> Router<Arc<Broker>> {
    let cap = usize::try_from(config.number("weir.plugin.max.bytes")).unwrap_or(usize::MAX);
    Router::new().route("/v1/plugins", get(list)).route(
        "/v1/plugins/{name}",
        get(show)
            .put(deploy)
            .delete(remove)
            .layer(DefaultBodyLimit::max(cap)),
    )
}

/// The largest component a cluster deployment carries in its metadata log.
const MAX_CLUSTER_ARTIFACT: usize = 64 << 20;

/// Where deployed components are stored, by content hash.
pub(crate) fn artifacts(config: &BrokerConfig) -> PathBuf {
    config.metadata_log_dir().join("__plugins")
}

/// Loads the weir.toml plugins, or the version deployed later where there
/// is one, then the plugins that were only ever deployed.
pub fn load_at_start(
    registry: &PluginRegistry,
    config: &BrokerConfig,
    image: &MetadataImage,
) -> anyhow::Result<()> {
    let dir = artifacts(config);
    for spec in &config.plugins {
        match image.plugins.get(&spec.name) {
            Some(deployed) if deployed.deployed_at_ms > modified_ms(&spec.path) => {
                let bytes = artifact_of(deployed, &dir)?;
                registry.deploy(spec.clone(), &bytes)?;
                registry.watch(spec);
            }
            _ => registry.load_file(spec)?,
        }
    }
    for deployed in image.plugins.values() {
        if config.plugins.iter().any(|s| s.name == deployed.name) {
            continue;
        }
        let path = dir.join(format!("{}.wasm", deployed.sha256));
        let bytes = artifact_of(deployed, &dir)?;
        registry.deploy(spec_of(deployed, path), &bytes)?;
    }
    Ok(())
}

/// A deployment's component: carried in the record (a cluster), else the
/// file stored beside the metadata log.
fn artifact_of(deployed: &DeployedPlugin, dir: &Path) -> anyhow::Result<Vec<u8>> {
    if !deployed.artifact.is_empty() {
        return Ok(deployed.artifact.0.to_vec());
    }
    let path = dir.join(format!("{}.wasm", deployed.sha256));
    std::fs::read(&path)
        .map_err(|e| anyhow::anyhow!("plugin {}: reading {}: {e}", deployed.name, path.display()))
}

fn modified_ms(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn spec_of(deployed: &DeployedPlugin, path: PathBuf) -> PluginSpec {
    PluginSpec {
        path,
        timeout_ms: deployed.timeout_ms,
        memory_mb: deployed.memory_mb,
        max_output_bytes: deployed.max_output_bytes,
        config: deployed
            .config
            .iter()
            .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
            .collect(),
        ..PluginSpec::deployed(&deployed.name, &deployed.kind)
    }
}

/// The broker config that binds `name` (`weir.authorizer` or
/// `weir.authenticator`), if one does.
fn broker_binding(broker: &Broker, name: &str) -> Option<&'static str> {
    if broker
        .authorizer_plugin
        .as_ref()
        .is_some_and(|b| b.name == name)
    {
        return Some("weir.authorizer");
    }
    let authenticator = broker.config.get("weir.authenticator").unwrap_or_default();
    (authenticator.trim() == name).then_some("weir.authenticator")
}

/// `(topic, config)` pairs binding `name`.
fn bindings(image: &MetadataImage, name: &str) -> Vec<(String, &'static str)> {
    let mut bound = Vec::new();
    for topic in image.topics.values() {
        for &(config, _) in
            &crate::config::plugins::BINDINGS[..crate::config::plugins::TOPIC_BINDINGS]
        {
            let value = topic.configs.get(config).map_or("", String::as_str);
            if crate::config::defs::split_list(value)
                .iter()
                .any(|n| n == name)
            {
                bound.push((topic.name.clone(), config));
            }
        }
    }
    bound
}

fn describe(broker: &Broker, image: &MetadataImage, name: &str) -> Option<Value> {
    let entry = broker.plugins.get(name)?;
    let bound: Vec<Value> = bindings(image, name)
        .into_iter()
        .map(|(topic, config)| json!({"topic": topic, "config": config}))
        .collect();
    let mut described = json!({
        "name": name,
        "kind": entry.spec.kind,
        "sha256": entry.sha256,
        "deployed": image.plugins.contains_key(name),
        "timeout_ms": entry.spec.timeout_ms,
        "memory_mb": entry.spec.memory_mb,
        "bindings": bound,
        "metrics": broker.plugins.metrics(name).map(|m| m.to_json()),
    });
    if broker.in_cluster() {
        // Each broker's version, as it reported it (keys are broker ids).
        described["brokers"] = json!(image.plugin_versions.get(name).cloned().unwrap_or_default());
    }
    Some(described)
}

async fn list(State(broker): State<Arc<Broker>>) -> Json<Value> {
    let image = broker.image();
    let all: Vec<Value> = broker
        .plugins
        .list()
        .iter()
        .filter_map(|e| describe(&broker, &image, &e.spec.name))
        .collect();
    Json(Value::Array(all))
}

async fn show(
    State(broker): State<Arc<Broker>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, Failure> {
    describe(&broker, &broker.image(), &name)
        .map(Json)
        .ok_or((StatusCode::NOT_FOUND, format!("no plugin named {name}")))
}

#[derive(Deserialize)]
struct DeployQuery {
    kind: Option<String>,
}

/// The caller is authenticated (`Admin`) before a byte of the body is read.
async fn deploy(
    State(broker): State<Arc<Broker>>,
    admin: Admin,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<DeployQuery>,
    body: Bytes,
) -> Result<Json<Value>, Failure> {
    crate::plugin::name::check(&name).map_err(|why| (StatusCode::BAD_REQUEST, why))?;
    let spec = match (broker.plugins.get(&name), query.kind) {
        (Some(entry), Some(kind)) if kind != entry.spec.kind => {
            return Err((
                StatusCode::CONFLICT,
                format!(
                    "plugin {name} is a {}, not a {kind}; remove it first",
                    entry.spec.kind
                ),
            ))
        }
        (Some(entry), _) => entry.spec.clone(),
        (None, Some(kind)) if KINDS.contains(&kind.as_str()) => PluginSpec::deployed(&name, &kind),
        (None, kind) => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "plugin {name} is new: name its kind ({}), not {kind:?}",
                    KINDS.join(", ")
                ),
            ))
        }
    };
    if broker.in_cluster() && body.len() > MAX_CLUSTER_ARTIFACT {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a cluster deployment carries at most {} MiB",
                MAX_CLUSTER_ARTIFACT >> 20
            ),
        ));
    }
    let b = broker.clone();
    let result = tokio::task::spawn_blocking(move || deploy_blocking(&b, spec, &body)).await;
    match result {
        Ok(Ok((answer, record))) => {
            broker
                .submit_anywhere(vec![record])
                .await
                .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
            tracing::info!(plugin = %name, by = %admin.principal, sha256 = answer["sha256"].as_str().unwrap_or_default(), "plugin deployed");
            Ok(Json(answer))
        }
        Ok(Err(e)) => Err((StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"))),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Stores the artifact and loads and swaps it in; returns the answer and
/// the metadata record of the deployment, which the caller commits (a
/// component that does not load is never recorded).
fn deploy_blocking(
    broker: &Broker,
    mut spec: PluginSpec,
    bytes: &[u8],
) -> anyhow::Result<(Value, Command)> {
    let sha256 = content_hash(bytes);
    let dir = artifacts(&broker.config);
    let artifact = dir.join(format!("{sha256}.wasm"));
    if spec.path.as_os_str().is_empty() {
        spec.path = artifact.clone();
    }
    // Validated and loaded first: a refused upload leaves nothing on disk.
    let (_, took) = broker.plugins.deploy(spec.clone(), bytes)?;
    if !artifact.exists() {
        std::fs::create_dir_all(&dir)?;
        let tmp = artifact.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &artifact)?;
    }
    let record = Command::DeployPlugin(DeployedPlugin {
        name: spec.name.clone(),
        kind: spec.kind.clone(),
        sha256: sha256.clone(),
        timeout_ms: spec.timeout_ms,
        memory_mb: spec.memory_mb,
        max_output_bytes: spec.max_output_bytes,
        config: spec.config_strings(),
        deployed_at_ms: crate::log::now_ms(),
        artifact: if broker.in_cluster() {
            Artifact(bytes.into())
        } else {
            Artifact::default()
        },
    });
    let answer = json!({
        "name": spec.name,
        "kind": spec.kind,
        "sha256": sha256,
        "load_ms": took.as_secs_f64() * 1e3,
    });
    Ok((answer, record))
}

#[derive(Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

async fn remove(
    State(broker): State<Arc<Broker>>,
    admin: Admin,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<RemoveQuery>,
) -> Result<Json<Value>, Failure> {
    let image = broker.image();
    if broker.plugins.get(&name).is_none() {
        return Err((StatusCode::NOT_FOUND, format!("no plugin named {name}")));
    }
    let bound = bindings(&image, &name);
    if !bound.is_empty() && !query.force {
        let list: Vec<String> = bound.iter().map(|(t, c)| format!("{c} of {t}")).collect();
        return Err((
            StatusCode::CONFLICT,
            format!(
                "plugin {name} is bound ({}); unbind it first or force",
                list.join(", ")
            ),
        ));
    }
    if let Some(config) = broker_binding(&broker, &name).filter(|_| !query.force) {
        return Err((
            StatusCode::CONFLICT,
            format!("plugin {name} is this broker's {config}: without it every client would be refused; force to remove it anyway"),
        ));
    }
    broker.plugins.remove(&name);
    tracing::info!(plugin = %name, by = %admin.principal, forced = query.force, "plugin removed");
    if image.plugins.contains_key(&name) {
        broker
            .submit_anywhere(vec![Command::RemovePlugin { name: name.clone() }])
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    }
    Ok(Json(json!({"removed": name, "was_bound": bound.len()})))
}
