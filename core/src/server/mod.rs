//! The network side: listeners, connections, request framing and dispatch to
//! the API handlers. Nothing below this module knows about sockets.

pub mod admin;
pub mod alter_partition;
pub mod apis;
pub mod authentication;
pub mod authorize;
pub mod broker;
pub mod broker_metrics;
pub mod connection;
pub mod connection_quotas;
pub mod dispatch;
pub mod heartbeats;
pub mod membership;
pub mod offered_brokers;
pub mod plugin_bindings;
pub mod plugin_follower;
pub mod quotas;
pub mod request_metrics;
pub mod response;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use std::time::{Duration, Instant};

use connection_quotas::ConnectionQuotas;
use dispatch::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use broker::Broker;

use crate::security::sasl::SaslListener;
use crate::security::tls::TlsListener;

/// A listener's name, its TLS when its security protocol is SSL or
/// SASL_SSL, and its SASL settings when it is SASL_PLAINTEXT or SASL_SSL.
pub struct ListenerInfo {
    pub name: String,
    pub tls: Option<TlsListener>,
    pub sasl: Option<Arc<SaslListener>>,
}

/// A bound client listener.
pub struct BoundListener {
    socket: TcpListener,
    info: Arc<ListenerInfo>,
}

/// Binds every listener (reading the TLS keys of SSL ones first); fails
/// with the address when one cannot be bound.
pub async fn bind(broker: &Broker) -> anyhow::Result<Vec<BoundListener>> {
    let mut bound = Vec::new();
    for listener in broker.config.listeners() {
        let protocol = broker.config.listener_protocol(&listener.name);
        let tls = match protocol.as_deref() {
            Some("SSL" | "SASL_SSL") => {
                Some(TlsListener::from_config(&broker.config, &listener.name)?)
            }
            _ => None,
        };
        let sasl = match protocol.as_deref() {
            Some("SASL_PLAINTEXT" | "SASL_SSL") => Some(Arc::new(
                SaslListener::from_config(&broker.config, &listener.name)
                    .map_err(|e| anyhow::anyhow!(e))?,
            )),
            _ => None,
        };
        let address = format!("{}:{}", listener.host, listener.port);
        let socket = TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address} (listeners)"))?;
        info!(address = %socket.local_addr()?, listener = %listener.name,
            protocol = protocol.as_deref().unwrap_or("PLAINTEXT"), "listening");
        let info = Arc::new(ListenerInfo {
            name: listener.name,
            tls,
            sasl,
        });
        bound.push(BoundListener { socket, info });
    }
    Ok(bound)
}

/// Accepts connections until `shutdown` completes, then stops every
/// connection (at its next await point, never inside an append).
pub async fn serve(
    broker: Arc<Broker>,
    listeners: Vec<BoundListener>,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    let mut accepts = JoinSet::new();
    let quotas = ConnectionQuotas::new(&broker.config);
    let limits = connection::ReadLimits::new(&broker.config);
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    for listener in listeners {
        accepts.spawn(accept_loop(listener, quotas.clone(), tx.clone()));
    }
    // Kafka requests the controller listener accepted (other brokers').
    let mut from_brokers = broker.take_controller_connections();
    let controller = Arc::new(ListenerInfo {
        name: broker
            .cluster
            .as_ref()
            .and_then(|c| c.controller_listener.as_ref())
            .map_or_else(|| "CONTROLLER".into(), |l| l.name.clone()),
        tls: None,
        sasl: None,
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some((stream, slot, info)) = rx.recv() => {
                connections.spawn(connection::serve(broker.clone(), Listener::Clients, stream, limits.clone(), slot, info));
            }
            Some(stream) = next_stream(&mut from_brokers) => {
                let Ok(peer) = stream.peer_addr() else { continue };
                match quotas.acquire(peer.ip()) {
                    Ok(slot) => {
                        connections.spawn(connection::serve(broker.clone(), Listener::Controller, stream, limits.clone(), slot, controller.clone()));
                    }
                    Err(reason) => warn!(%peer, %reason, "closing a broker's connection"),
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    accepts.abort_all();
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    info!("stopped accepting requests");
}

/// The next connection from `streams`; pending forever without them.
async fn next_stream(streams: &mut Option<mpsc::Receiver<TcpStream>>) -> Option<TcpStream> {
    match streams {
        Some(streams) => streams.recv().await,
        None => std::future::pending().await,
    }
}

/// How long the acceptor pauses when the process is out of file
/// descriptors or memory: the error would come back at once otherwise.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);
/// At most one log line per kind of accept problem in this interval.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Accepts connections on one listener while the quotas allow, handing each
/// with its slot to `serve`. Out of descriptors (EMFILE, ENFILE) or memory,
/// it backs off instead of spinning, and logs once per interval; existing
/// connections are served meanwhile.
async fn accept_loop(
    listener: BoundListener,
    quotas: Arc<ConnectionQuotas>,
    tx: mpsc::Sender<(TcpStream, connection_quotas::Slot, Arc<ListenerInfo>)>,
) {
    let mut refused = Throttled::default();
    let mut failed = Throttled::default();
    loop {
        quotas.wait_for_slot().await;
        match listener.socket.accept().await {
            Ok((stream, peer)) => match quotas.acquire(peer.ip()) {
                Ok(slot) => {
                    if tx
                        .send((stream, slot, listener.info.clone()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(reason) => refused.log(
                    |n| warn!(%peer, %reason, refused_since_last = n, "closing new connection"),
                ),
            },
            Err(e) => {
                let exhausted = matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                );
                failed.log(|n| {
                    warn!(error = %e, failures_since_last = n, open = quotas.open(), "accept failed")
                });
                if exhausted {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
}

/// Logs the first event of each interval, counting the rest.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    since: u64,
}

impl Throttled {
    fn log(&mut self, log: impl FnOnce(u64)) {
        if self.last.is_none_or(|t| t.elapsed() >= ACCEPT_LOG_INTERVAL) {
            log(std::mem::take(&mut self.since));
            self.last = Some(Instant::now());
        } else {
            self.since += 1;
        }
    }
}
