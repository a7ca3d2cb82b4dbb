//! One client connection: Kafka's framing (a 4-byte size, then the request),
//! requests handled one at a time in arrival order (as Kafka does, so appends
//! and responses keep their order), responses written back with their size.
//!
//! Reading is pipelined with handling: a reader task pulls the next frames off
//! the socket (a few, bounded) while the current request is handled, so the
//! copy out of the socket and the append to the log run on different cores.
//!
//! A frame larger than `socket.request.max.bytes` closes the connection before
//! anything is allocated for it; so does a request that cannot be decoded.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::os::fd::AsRawFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};

use tokio::io::Interest;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::broker::Broker;
use super::dispatch::{self, Outcome};
use super::response::{Part, Response};

const WRITE_BUFFER: usize = 64 * 1024;
/// Frames read ahead of the one being handled.
const PIPELINE_DEPTH: usize = 4;

pub async fn serve(broker: Arc<Broker>, stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "unknown".into());
    let _ = stream.set_nodelay(true);
    // Kafka shows a client's host as "/<ip>" (DescribeGroups).
    let client_host = stream
        .peer_addr()
        .map(|a| format!("/{}", a.ip()))
        .unwrap_or_default();
    match run(broker, stream, client_host).await {
        Ok(()) => debug!(%peer, "connection closed by client"),
        Err(reason) => info!(%peer, %reason, "closing connection"),
    }
}

/// Aborts the reader task when the connection ends, however it ends.
struct AbortOnDrop(JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(broker: Arc<Broker>, stream: TcpStream, client_host: String) -> Result<(), String> {
    let (reader, writer) = stream.into_split();
    let (frames_tx, mut frames) = mpsc::channel(PIPELINE_DEPTH);
    let max_frame = broker.config.socket_request_max_bytes();
    let idle = Duration::from_millis(broker.config.connections_max_idle_ms());
    let mut reader_task = AbortOnDrop(tokio::spawn(read_frames(
        reader, max_frame, idle, frames_tx,
    )));
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, writer);
    while let Some(frame) = frames.recv().await {
        match dispatch::handle(&broker, &client_host, frame).await {
            Outcome::Respond(response) => {
                write_response(&mut writer, response)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                warn!(%reason, "closing connection after a bad request");
                return Err(reason);
            }
        }
        // Responses to requests already read are written before flushing.
        if frames.is_empty() {
            writer.flush().await.map_err(|e| e.to_string())?;
        }
    }
    // The reader stopped: end of stream, or the reason it gave up.
    (&mut reader_task.0).await.map_err(|e| e.to_string())?
}

/// Writes the size and the parts of a response: bytes through the buffer,
/// file ranges (fetched records) with `sendfile`, after flushing the buffer.
async fn write_response(
    writer: &mut BufWriter<OwnedWriteHalf>,
    response: Response,
) -> std::io::Result<()> {
    writer
        .write_all(&(response.len as i32).to_be_bytes())
        .await?;
    for part in response.parts {
        match part {
            Part::Bytes(bytes) => writer.write_all(&bytes).await?,
            Part::File(range) => {
                writer.flush().await?;
                if let Some((file, position)) = range.file() {
                    send_file(writer.get_ref().as_ref(), file, position, range.len()).await?;
                }
            }
        }
    }
    Ok(())
}

/// `sendfile(2)` from `file` to the socket: page cache to socket, no copy
/// through the broker. Waits for the socket whenever it is full.
async fn send_file(
    socket: &TcpStream,
    file: &File,
    mut position: u64,
    mut len: usize,
) -> std::io::Result<()> {
    while len > 0 {
        socket.writable().await?;
        let sent = socket.try_io(Interest::WRITABLE, || {
            let mut offset = position as libc::off_t;
            // SAFETY: both descriptors are open for the duration of the call;
            // the kernel writes only to `offset`.
            let n =
                unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut offset, len) };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "segment file ended before the fetched range",
                ))
            }
            Ok(n) => {
                position += n as u64;
                len -= n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads frames until the client closes the connection (Ok) or a frame is
/// refused, the socket fails or the connection idles out (Err).
async fn read_frames(
    mut reader: impl AsyncRead + Unpin,
    max_frame: usize,
    idle: Duration,
    frames: mpsc::Sender<Bytes>,
) -> Result<(), String> {
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
        let size = size as usize;
        // Read straight into uninitialized capacity: no zero-filling pass.
        let mut frame = BytesMut::with_capacity(size);
        let mut body = (&mut reader).take(size as u64);
        while frame.len() < size {
            if body.read_buf(&mut frame).await.map_err(|e| e.to_string())? == 0 {
                return Err("connection closed in the middle of a request".into());
            }
        }
        if frames.send(frame.freeze()).await.is_err() {
            return Ok(()); // the handler side has ended the connection
        }
    }
}
