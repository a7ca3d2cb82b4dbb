//! The network side: listeners, connections, request framing and dispatch to
//! the API handlers. Nothing below this module knows about sockets.

pub mod admin;
pub mod apis;
pub mod broker;
pub mod connection;
pub mod dispatch;
pub mod response;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use broker::Broker;

/// Binds every listener; fails with the address when one cannot be bound.
pub async fn bind(broker: &Broker) -> anyhow::Result<Vec<TcpListener>> {
    let mut bound = Vec::new();
    for listener in broker.config.listeners() {
        let address = format!("{}:{}", listener.host, listener.port);
        let socket = TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address} (listeners)"))?;
        info!(address = %socket.local_addr()?, "listening");
        bound.push(socket);
    }
    Ok(bound)
}

/// Accepts connections until `shutdown` completes, then stops every
/// connection (at its next await point, never inside an append).
pub async fn serve(
    broker: Arc<Broker>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    let mut accepts = JoinSet::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    for listener in listeners {
        let tx = tx.clone();
        accepts.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if tx.send(stream).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => warn!(error = %e, "accept failed"),
                }
            }
        });
    }
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(stream) = rx.recv() => {
                connections.spawn(connection::serve(broker.clone(), stream));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    accepts.abort_all();
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    info!("stopped accepting requests");
}
