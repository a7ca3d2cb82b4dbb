//! A Confluent-compatible schema registry inside the broker
//! (`schema.registry.listener`): subjects, versions, schemas by id,
//! references, compatibility levels and modes, for Avro, Protobuf and JSON
//! Schema, kept in the compacted `_schemas` topic so they outlive restarts
//! and replicate with the cluster. confluent-kafka's `SchemaRegistryClient`
//! and serializers work against it unchanged.
//!
//! Every change is a record appended to `_schemas` by the leader of its one
//! partition and applied once committed; the state is only ever what the
//! topic says (`state`). Reads catch up with the local replica first, so a
//! broker holding a replica serves what was committed; a broker holding
//! none reads the leader's (`remote`).

pub mod api;
pub mod avro;
pub mod compatibility;
pub mod json_schema;
pub mod protobuf;
pub mod records;
pub mod registry;
mod remote;
pub mod state;

pub use registry::{RegistryError, SchemaInfo, SchemaRegistry};

use std::sync::Arc;

use anyhow::Context;

use crate::server::Broker;

/// Makes the registry (schema validation reads it), and serves it on
/// `schema.registry.listener` when that is set.
pub async fn start(broker: &Arc<Broker>) -> anyhow::Result<Arc<SchemaRegistry>> {
    let registry = broker
        .schema_registry
        .get_or_init(|| Arc::new(SchemaRegistry::new(Arc::downgrade(broker))))
        .clone();
    let address = broker
        .config
        .get("schema.registry.listener")
        .unwrap_or_default();
    if address.is_empty() {
        return Ok(registry);
    }
    let address = address
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let socket = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("schema.registry.listener {address}"))?;
    tracing::info!(address = %socket.local_addr()?, "schema registry listening");
    // A broker without a replica of `_schemas` reads its leader's first.
    let router = api::routes()
        .layer(axum::middleware::from_fn_with_state(
            registry.clone(),
            |axum::extract::State(registry): axum::extract::State<Arc<SchemaRegistry>>,
             request: axum::extract::Request,
             next: axum::middleware::Next| async move {
                registry.catch_up_remote().await;
                next.run(request).await
            },
        ))
        .with_state(registry.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(socket, router).await {
            tracing::warn!(error = %e, "schema registry stopped");
        }
    });
    Ok(registry)
}
