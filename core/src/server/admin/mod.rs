//! The admin HTTP endpoint (`weir.admin.listener`): Prometheus metrics, the
//! plugin API that `weir plugin list|deploy|remove` talks to, and the
//! cluster status `weir cluster status` prints. It is a
//! separate listener from the Kafka ones, bound to loopback by default,
//! plain HTTP or HTTPS (`listener`); its mutating calls need a token or a
//! client certificate (`auth`).

pub mod auth;
pub mod bindings;
pub mod cluster;
pub mod listener;
pub mod plugins;

use std::sync::Arc;

use super::Broker;
use anyhow::Context;
use auth::AdminAuth;
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Router};
use listener::{AdminPeer, AdminSocket};

/// The bound admin listener and who may change the broker through it.
pub struct AdminListener {
    socket: AdminSocket,
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
    let (address, https) = listener::parse(&address);
    let tls = if https {
        let tls = crate::security::tls::TlsListener::from_config(&broker.config, "ADMIN").context(
            "weir.admin.listener is https: its TLS (listener.name.admin.ssl.*, or ssl.*)",
        )?;
        Some(Arc::new(tls))
    } else {
        None
    };
    let socket = AdminSocket::bind(address, tls).await?;
    tracing::info!(address = %socket.local_addr(), https, "admin endpoint listening");
    Ok(Some(AdminListener { socket, auth }))
}

/// Serves admin requests until the broker stops.
pub fn spawn(broker: Arc<Broker>, listener: AdminListener) {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .merge(plugins::routes(&broker.config))
        .merge(bindings::routes())
        .merge(cluster::routes())
        .layer(Extension(listener.auth))
        .layer(Extension(broker.clone()))
        .with_state(broker);
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<AdminPeer>();
        if let Err(e) = axum::serve(listener.socket, service).await {
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
