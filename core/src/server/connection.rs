//! One client connection: Kafka's framing (a 4-byte size, then the request),
//! requests handled one at a time in arrival order (as Kafka does, so responses
//! keep their order), responses written back with their size prefix.
//!
//! A frame larger than `socket.request.max.bytes` closes the connection before
//! anything is allocated for it; so does a request that cannot be decoded.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::broker::Broker;
use super::dispatch::{self, Outcome};

const READ_BUFFER: usize = 64 * 1024;
const WRITE_BUFFER: usize = 64 * 1024;

pub async fn serve(broker: Arc<Broker>, stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "unknown".into());
    let _ = stream.set_nodelay(true);
    match run(broker, stream).await {
        Ok(()) => debug!(%peer, "connection closed by client"),
        Err(reason) => info!(%peer, %reason, "closing connection"),
    }
}

async fn run(broker: Arc<Broker>, stream: TcpStream) -> Result<(), String> {
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, writer);
    let max_frame = broker.config.socket_request_max_bytes();
    let idle = Duration::from_millis(broker.config.connections_max_idle_ms());
    let mut out = BytesMut::with_capacity(WRITE_BUFFER);
    loop {
        let size = match tokio::time::timeout(idle, reader.read_i32()).await {
            Err(_) => {
                return Err(format!(
                    "idle for more than {} ms (connections.max.idle.ms)",
                    idle.as_millis()
                ))
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(size)) => size,
        };
        if size < 0 || size as usize > max_frame {
            return Err(format!(
                "request frame of {size} bytes is larger than socket.request.max.bytes ({max_frame})"
            ));
        }
        let mut frame = BytesMut::zeroed(size as usize);
        reader
            .read_exact(&mut frame)
            .await
            .map_err(|e| e.to_string())?;
        match dispatch::handle(&broker, frame.freeze()).await {
            Outcome::Respond(body) => {
                out.clear();
                out.put_i32(body.len() as i32);
                writer.write_all(&out).await.map_err(|e| e.to_string())?;
                writer.write_all(&body).await.map_err(|e| e.to_string())?;
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                warn!(%reason, "closing connection after a bad request");
                return Err(reason);
            }
        }
        // Pipelined requests already buffered are handled before flushing.
        if reader.buffer().is_empty() {
            writer.flush().await.map_err(|e| e.to_string())?;
        }
    }
}
