//! The admin HTTP endpoint (`weir.admin.listener`): Prometheus metrics, the
//! plugin API that `weir plugin list|deploy|remove` talks to, and the
//! cluster status `weir cluster status` prints. It is a
//! separate listener from the Kafka ones, bound to loopback by default;
//! its mutating calls need a token (`auth`).

pub mod auth;
pub mod cluster;
pub mod plugins;

use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Router};
use tokio::net::TcpListener;

use super::Broker;
use auth::AdminAuth;

/// The bound admin listener and who may change the broker through it.
pub struct AdminListener {
    socket: TcpListener,
    auth: Arc<AdminAuth>,
}

/// Binds the admin listener, if one is configured, and reads (or writes)
/// its token file.
pub async fn bind(broker: &Broker) -> anyhow::Result<Option<AdminListener>> {
    let address = broker.config.get("weir.admin.listener").unwrap_or_default();
    if address.is_empty() {
        return Ok(None);
    }
    let auth = Arc::new(AdminAuth::from_config(&broker.config)?);
    let socket = TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address} (weir.admin.listener)"))?;
    tracing::info!(address = %socket.local_addr()?, "admin endpoint listening");
    Ok(Some(AdminListener { socket, auth }))
}

/// Serves admin requests until the broker stops.
pub fn spawn(broker: Arc<Broker>, listener: AdminListener) {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .merge(plugins::routes(&broker.config))
        .merge(cluster::routes())
        .layer(Extension(listener.auth))
        .layer(Extension(broker.clone()))
        .with_state(broker);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener.socket, router).await {
            tracing::warn!(error = %e, "admin endpoint stopped");
        }
    });
}

/// Prometheus text: the plugins' counters and call-time histograms, the
/// storage health counters, request metrics, and replication and topic
/// metrics.
async fn metrics(State(broker): State<Arc<Broker>>) -> String {
    let mut out = String::new();
    broker.plugins.write_prometheus(&mut out);
    crate::log::metrics::write_prometheus(&mut out);
    crate::server::request_metrics::write_prometheus(&mut out);
    crate::server::broker_metrics::write_prometheus(&broker, &mut out);
    out
}
