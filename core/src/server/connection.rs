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
//!
//! What a connection costs is bounded: a frame's memory grows as its bytes
//! arrive (not from its announced size), every frame waits for its size in
//! `queued.max.request.bytes` (shared by all connections, held until the
//! request is handled), a frame that stops arriving halfway is dropped after
//! `weir.request.read.timeout.ms`, and the write buffer exists only while
//! responses are being written.
//!
//! On an `SSL` listener the TLS handshake comes first (within
//! `HANDSHAKE_TIMEOUT`), and the client certificate gives the connection
//! its principal. On a `SASL_*` listener `authentication` sees every frame
//! first, and SASL gives the principal. Fetched records then go through rustls from a buffer
//! (read from the segment file in `TLS_FILE_CHUNK`s) instead of `sendfile`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::os::fd::AsRawFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use tokio::io::{AsyncWrite, Interest, WriteHalf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tracing::{debug, info, warn};

use super::authentication::{Authentication, Verdict};
use super::broker::Broker;
use super::dispatch::{self, Outcome, Session};
use super::response::{Part, Response};
use super::ListenerInfo;
use crate::security::principal::ANONYMOUS;

/// Responses are gathered up to this many bytes before a write.
const WRITE_BUFFER: usize = 64 * 1024;
/// Frames read ahead of the one being handled.
const PIPELINE_DEPTH: usize = 4;
/// Frames up to this size get their whole buffer at once (no regrowth on the
/// hot path); larger ones grow by this much as their bytes arrive.
const EAGER_FRAME: usize = 8 << 20;
/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Fetched records go through TLS in pieces of this size.
const TLS_FILE_CHUNK: usize = 256 << 10;

/// The bytes of a request, and its share of `queued.max.request.bytes`.
struct Frame {
    bytes: Bytes,
    _memory: Option<OwnedSemaphorePermit>,
}

/// What reading frames is bounded by.
#[derive(Clone)]
pub struct ReadLimits {
    pub max_frame: usize,
    pub idle: Duration,
    pub stalled: Duration,
    /// `queued.max.request.bytes` as permits (and their number), None
    /// when unbounded.
    pub memory: Option<(Arc<Semaphore>, usize)>,
}

impl ReadLimits {
    pub fn new(config: &crate::config::BrokerConfig) -> ReadLimits {
        ReadLimits {
            max_frame: config.socket_request_max_bytes(),
            idle: Duration::from_millis(config.connections_max_idle_ms()),
            stalled: Duration::from_millis(config.request_read_timeout_ms()),
            memory: config.queued_max_request_bytes().map(|bytes| {
                let permits = bytes.clamp(1, u32::MAX as usize);
                (Arc::new(Semaphore::new(permits)), permits)
            }),
        }
    }
}

pub async fn serve(
    broker: Arc<Broker>,
    on: dispatch::Listener,
    stream: TcpStream,
    limits: ReadLimits,
    _slot: super::connection_quotas::Slot,
    listener: Arc<ListenerInfo>,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "unknown".into());
    let _ = stream.set_nodelay(true);
    if on == dispatch::Listener::Clients {
        broker.ready_for_clients().await;
    }
    let mut session = Session {
        // Kafka shows a client's host as "/<ip>" (DescribeGroups).
        client_host: stream
            .peer_addr()
            .map(|a| format!("/{}", a.ip()))
            .unwrap_or_default(),
        listener: listener.name.clone(),
        principal: ANONYMOUS.to_string(),
        trusted: false,
        decisions: Default::default(),
    };
    let outcome = match &listener.tls {
        None => {
            let (reader, writer) = stream.into_split();
            let auth = listener.sasl.clone().map(Authentication::new);
            run(
                broker,
                on,
                reader,
                Writer::Plain(writer),
                session,
                auth,
                limits,
            )
            .await
        }
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return info!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return info!(%peer, "TLS handshake timed out"),
                };
            match tls.principal(stream.get_ref().1) {
                Ok(principal) => session.principal = principal,
                Err(reason) => return warn!(%peer, %reason, "closing a TLS connection"),
            }
            debug!(%peer, principal = %session.principal, "TLS connection");
            let (reader, writer) = tokio::io::split(stream);
            let auth = listener.sasl.clone().map(Authentication::new);
            run(
                broker,
                on,
                reader,
                Writer::Tls(writer),
                session,
                auth,
                limits,
            )
            .await
        }
    };
    match outcome {
        Ok(()) => debug!(%peer, "connection closed by client"),
        Err(reason) => info!(%peer, %reason, "closing connection"),
    }
}

/// On the controller listener (where brokers heartbeat): the broker that
/// heartbeats on a connection, told when the connection ends, however it
/// ends (a crashed broker's connections close at once; `heartbeats` fences
/// it soon after). Client connections never carry one.
struct HeartbeatConnection {
    broker: Arc<Broker>,
    node: Option<i32>,
}

impl HeartbeatConnection {
    fn note(&mut self, frame: &[u8]) {
        let api = frame.get(..2).map(|k| i16::from_be_bytes([k[0], k[1]]));
        if self.node.is_none()
            && api == Some(kafka_protocol::messages::ApiKey::BrokerHeartbeat as i16)
        {
            self.node = crate::cluster::channel::peer_node(frame);
        }
    }
}

impl Drop for HeartbeatConnection {
    fn drop(&mut self) {
        if let Some(node) = self.node {
            self.broker.liveness.connection_closed(node);
        }
    }
}

/// Aborts the reader task when the connection ends, however it ends.
struct AbortOnDrop(JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(
    broker: Arc<Broker>,
    on: dispatch::Listener,
    reader: impl AsyncRead + Unpin + Send + 'static,
    writer: Writer,
    session: Session,
    mut auth: Option<Authentication>,
    limits: ReadLimits,
) -> Result<(), String> {
    let mut session = Arc::new(session);
    let (frames_tx, mut frames) = mpsc::channel(PIPELINE_DEPTH);
    let mut reader_task = AbortOnDrop(tokio::spawn(read_frames(reader, limits, frames_tx)));
    let mut out = Output {
        socket: writer,
        buf: Vec::new(),
    };
    let mut heartbeats = (on == dispatch::Listener::Controller).then(|| HeartbeatConnection {
        broker: broker.clone(),
        node: None,
    });
    while let Some(frame) = frames.recv().await {
        let Frame { bytes, _memory } = frame;
        if let Some(heartbeats) = heartbeats.as_mut() {
            heartbeats.note(&bytes);
        }
        let verdict = match auth.as_mut() {
            Some(auth) => auth.on_frame(&broker, &session, &bytes),
            None => Verdict::Dispatch,
        };
        let outcome = match verdict {
            Verdict::Dispatch => dispatch::handle(&broker, on, &session, bytes).await,
            Verdict::Respond(response) => Outcome::Respond(response),
            Verdict::Authenticated(response, principal) => {
                session = Arc::new(Session {
                    principal,
                    ..Session::clone(&session)
                });
                Outcome::Respond(response)
            }
            Verdict::RespondAndClose(response, delay, reason) => {
                write_response(&mut out, response)
                    .await
                    .map_err(|e| e.to_string())?;
                out.flush().await.map_err(|e| e.to_string())?;
                tokio::time::sleep(delay).await;
                return Err(reason);
            }
            Verdict::Close(reason) => return Err(reason),
        };
        drop(_memory);
        match outcome {
            Outcome::Respond(response) => {
                let mute = response.mute;
                write_response(&mut out, response)
                    .await
                    .map_err(|e| e.to_string())?;
                if !mute.is_zero() {
                    // Over its quota: the answer goes now, then the
                    // connection reads nothing more for a while (KIP-219).
                    out.flush().await.map_err(|e| e.to_string())?;
                    tokio::time::sleep(mute).await;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                warn!(%reason, "closing connection after a bad request");
                return Err(reason);
            }
        }
        // Responses to requests already read are written before flushing;
        // an idle connection keeps no write buffer.
        if frames.is_empty() {
            out.flush().await.map_err(|e| e.to_string())?;
            out.buf = Vec::new();
        }
    }
    // The reader stopped: end of stream, or the reason it gave up.
    (&mut reader_task.0).await.map_err(|e| e.to_string())?
}

/// A connection's write half: the socket itself, or TLS over it.
enum Writer {
    Plain(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

impl Writer {
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Writer::Plain(socket) => socket.write_all(bytes).await,
            Writer::Tls(tls) => write_and_flush(tls, bytes).await,
        }
    }
}

/// TLS records are only sure to be on the socket after a flush.
async fn write_and_flush(tls: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    tls.write_all(bytes).await?;
    tls.flush().await
}

/// The socket's write half and the bytes gathered for it.
struct Output {
    socket: Writer,
    buf: Vec<u8>,
}

impl Output {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.buf.len() + bytes.len() > WRITE_BUFFER {
            self.flush().await?;
        }
        if bytes.len() >= WRITE_BUFFER {
            return self.socket.write_all(bytes).await;
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(WRITE_BUFFER);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.socket.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Writes the size and the parts of a response: bytes through the buffer,
/// file ranges (fetched records) with `sendfile`, after flushing the buffer.
async fn write_response(out: &mut Output, response: Response) -> std::io::Result<()> {
    out.write(&(response.len as i32).to_be_bytes()).await?;
    for part in response.parts {
        match part {
            Part::Bytes(bytes) => out.write(&bytes).await?,
            Part::File(range) => {
                out.flush().await?;
                if let Some((file, position)) = range.file() {
                    match &mut out.socket {
                        Writer::Plain(socket) => {
                            send_file(socket.as_ref(), file, position, range.len()).await?
                        }
                        Writer::Tls(tls) => copy_file(tls, file, position, range.len()).await?,
                    }
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

/// Copies a file range through TLS, a chunk at a time (the chunks come
/// from the page cache, as `sendfile`'s would).
async fn copy_file(
    tls: &mut (impl AsyncWrite + Unpin),
    file: &File,
    mut position: u64,
    mut len: usize,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut chunk = vec![0u8; len.min(TLS_FILE_CHUNK)];
    while len > 0 {
        let want = len.min(chunk.len());
        let n = file.read_at(&mut chunk[..want], position)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "segment file ended before the fetched range",
            ));
        }
        tls.write_all(&chunk[..n]).await?;
        position += n as u64;
        len -= n;
    }
    tls.flush().await
}

/// Reads frames until the client closes the connection (Ok) or a frame is
/// refused, the socket fails, a frame stalls or the connection idles out (Err).
async fn read_frames(
    mut reader: impl AsyncRead + Unpin,
    limits: ReadLimits,
    frames: mpsc::Sender<Frame>,
) -> Result<(), String> {
    loop {
        let size = match tokio::time::timeout(limits.idle, reader.read_i32()).await {
            Err(_) => {
                return Err(format!(
                    "idle for more than {} ms (connections.max.idle.ms)",
                    limits.idle.as_millis()
                ))
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(size)) => size,
        };
        if size < 0 || size as usize > limits.max_frame {
            return Err(format!(
                "request frame of {size} bytes is larger than socket.request.max.bytes ({})",
                limits.max_frame
            ));
        }
        let size = size as usize;
        let memory = match &limits.memory {
            // A frame above the whole bound waits for all of it.
            Some((pool, capacity)) => Some(
                pool.clone()
                    .acquire_many_owned(size.clamp(1, *capacity) as u32)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let bytes = read_body(&mut reader, size, limits.stalled).await?;
        let frame = Frame {
            bytes,
            _memory: memory,
        };
        if frames.send(frame).await.is_err() {
            return Ok(()); // the handler side has ended the connection
        }
    }
}

/// Reads a frame's `size` bytes. Memory follows the bytes that arrive (a
/// large announced size reserves nothing up front), and a frame that makes
/// no progress for `stalled` is given up.
async fn read_body(
    reader: &mut (impl AsyncRead + Unpin),
    size: usize,
    stalled: Duration,
) -> Result<Bytes, String> {
    // Read straight into uninitialized capacity: no zero-filling pass.
    let mut frame = BytesMut::with_capacity(size.min(EAGER_FRAME));
    let mut body = reader.take(size as u64);
    while frame.len() < size {
        if frame.len() == frame.capacity() {
            frame.reserve((size - frame.len()).min(EAGER_FRAME));
        }
        match tokio::time::timeout(stalled, body.read_buf(&mut frame)).await {
            Err(_) => {
                return Err(format!(
                "request stalled after {} of {size} bytes for {} ms (weir.request.read.timeout.ms)",
                frame.len(),
                stalled.as_millis()
            ))
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(0)) => return Err("connection closed in the middle of a request".into()),
            Ok(Ok(_)) => {}
        }
    }
    Ok(frame.freeze())
}
