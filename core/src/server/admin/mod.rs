//! The admin HTTP endpoint (`weir.admin.listener`): Prometheus metrics, the
//! plugin API that `weir plugin list|deploy|remove` talks to, and the
//! cluster status `weir cluster status` prints. It is a
//! separate listener from the Kafka ones, bound to loopback by default.

pub mod cluster;
pub mod plugins;

use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use super::Broker;

/// Binds the admin listener, if one is configured.
pub async fn bind(broker: &Broker) -> anyhow::Result<Option<TcpListener>> {
    let address = broker.config.get("weir.admin.listener").unwrap_or_default();
    if address.is_empty() {
        return Ok(None);
    }
    let socket = TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address} (weir.admin.listener)"))?;
    tracing::info!(address = %socket.local_addr()?, "admin endpoint listening");
    Ok(Some(socket))
}

/// Serves admin requests until the broker stops.
pub fn spawn(broker: Arc<Broker>, listener: TcpListener) {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .merge(plugins::routes(&broker.config))
        .merge(cluster::routes())
        .with_state(broker);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
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
