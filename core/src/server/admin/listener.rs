//! The admin endpoint's socket: plain HTTP, or HTTPS when
//! `weir.admin.listener` says `https://host:port` — TLS configured as a
//! Kafka listener named ADMIN is (`listener.name.admin.ssl.*`, falling back
//! to `ssl.*`), client certificates included (`ssl.client.auth`). Each
//! connection comes with its peer: its address and, when it showed a
//! client certificate, the principal that certificate maps to
//! (`ssl.principal.mapping.rules`), which authenticates its admin calls
//! as a token does.
//!
//! TLS handshakes run in tasks of their own, so a slow or silent client
//! holds up no one else's connection.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::security::principal::ANONYMOUS;
use crate::security::tls::TlsListener;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is on an admin connection.
#[derive(Debug, Clone)]
pub struct AdminPeer {
    pub address: SocketAddr,
    /// The principal of its client certificate, if it showed one.
    pub principal: Option<String>,
}

/// A plain or TLS stream.
pub trait Stream: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Stream for T {}

type Accepted = (Pin<Box<dyn Stream>>, AdminPeer);

pub struct AdminSocket {
    local: SocketAddr,
    accepted: mpsc::Receiver<Accepted>,
}

/// `weir.admin.listener`'s address, and whether it asks for TLS.
pub fn parse(listener: &str) -> (&str, bool) {
    let listener = listener.trim();
    match listener.strip_prefix("https://") {
        Some(address) => (address.trim_end_matches('/'), true),
        None => (
            listener
                .strip_prefix("http://")
                .unwrap_or(listener)
                .trim_end_matches('/'),
            false,
        ),
    }
}

impl AdminSocket {
    pub async fn bind(address: &str, tls: Option<Arc<TlsListener>>) -> anyhow::Result<AdminSocket> {
        let tcp = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (weir.admin.listener)"))?;
        let local = tcp.local_addr()?;
        let (sender, accepted) = mpsc::channel(64);
        tokio::spawn(accept(tcp, tls, sender));
        Ok(AdminSocket { local, accepted })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

async fn accept(tcp: TcpListener, tls: Option<Arc<TlsListener>>, sender: mpsc::Sender<Accepted>) {
    loop {
        let (stream, address) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "admin endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(tls) = tls.clone() else {
            let peer = AdminPeer {
                address,
                principal: None,
            };
            if sender.send((Box::pin(stream), peer)).await.is_err() {
                return;
            }
            continue;
        };
        let sender = sender.clone();
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        return tracing::info!(%address, error = %e, "admin TLS handshake failed")
                    }
                    Err(_) => return tracing::info!(%address, "admin TLS handshake timed out"),
                };
            let principal = match tls.principal(stream.get_ref().1) {
                Ok(p) if p == ANONYMOUS => None,
                Ok(p) => Some(p),
                Err(reason) => {
                    return tracing::warn!(%address, %reason, "closing an admin TLS connection")
                }
            };
            let _ = sender
                .send((Box::pin(stream), AdminPeer { address, principal }))
                .await;
        });
    }
}

impl Listener for AdminSocket {
    type Io = Pin<Box<dyn Stream>>;
    type Addr = AdminPeer;

    async fn accept(&mut self) -> Accepted {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<AdminPeer> {
        Ok(AdminPeer {
            address: self.local,
            principal: None,
        })
    }
}

impl Connected<IncomingStream<'_, AdminSocket>> for AdminPeer {
    fn connect_info(stream: IncomingStream<'_, AdminSocket>) -> Self {
        stream.remote_addr().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_says_whether_it_wants_tls() {
        assert_eq!(parse("127.0.0.1:9644"), ("127.0.0.1:9644", false));
        assert_eq!(parse("http://127.0.0.1:9644/"), ("127.0.0.1:9644", false));
        assert_eq!(parse("https://127.0.0.1:9644"), ("127.0.0.1:9644", true));
    }
}
