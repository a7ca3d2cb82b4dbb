//! The controller listener: Raft messages between controller quorum
//! members, committed metadata for brokers that are not members, and Kafka
//! requests from other brokers (registration, heartbeats, forwarded admin
//! requests), all over TCP on one port.
//!
//! A quorum connection opens with a hello frame: `WEIR`, its purpose (`R`:
//! Raft messages, `M`: metadata catch-up), the sender's node id and the
//! cluster id. A receiver whose cluster id differs logs it and closes the
//! connection, so a node of another cluster can never vote, append or read
//! here. On a Raft connection each frame is then one raft-rs `Message` (its
//! protobuf), one way; on a catch-up connection each request frame is an
//! index and each answer frame what was committed after it. A frame is
//! `length (u32 BE) · payload`. A connection that does not start with a
//! hello is a Kafka client's (the bytes where `WEIR` would be are a Kafka
//! request's API key and version, and no API key is `WE`): it is handed to
//! the broker's request handling.
//!
//! Sending never waits on the network: each peer has a bounded queue and a
//! task that connects (backing off from 50 ms to 2 s between attempts),
//! says hello and writes what is queued. A message that cannot be queued or
//! written is dropped: Raft resends what matters.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest frame taken. Raft batches entries up to `max_size_per_msg`
/// (1 MiB), but one entry is sent whole, and a plugin deployment carries
/// its component (up to 64 MiB, as base64); a snapshot holds every deployed
/// component.
const MAX_FRAME: usize = 512 << 20;
const QUEUE: usize = 1024;

/// The first bytes of a hello's payload.
const MAGIC: &[u8; 4] = b"WEIR";

/// What a quorum connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Raft messages between voters.
    Raft,
    /// Committed metadata for a broker that is not a voter.
    Catchup,
}

/// Who a connection is from, and what for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub cluster_id: String,
    pub node_id: u64,
    pub purpose: Purpose,
}

impl Hello {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(match self.purpose {
            Purpose::Raft => b'R',
            Purpose::Catchup => b'M',
        });
        out.extend_from_slice(&self.node_id.to_be_bytes());
        out.extend_from_slice(self.cluster_id.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Hello> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let purpose = match rest.first()? {
            b'R' => Purpose::Raft,
            b'M' => Purpose::Catchup,
            _ => return None,
        };
        let node_id = u64::from_be_bytes(rest.get(1..9)?.try_into().ok()?);
        let cluster_id = std::str::from_utf8(&rest[9..]).ok()?.to_string();
        Some(Hello {
            cluster_id,
            node_id,
            purpose,
        })
    }
}

/// Answers a catch-up request: the encoded answer to "what was committed
/// after this index".
pub type Catchup = Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync>;

/// What arrives for the quorum member from its peers.
pub enum Inbound {
    Message(Message),
    /// A peer's Raft connection to this member closed.
    Gone(u64),
}

/// Who handles what arrives on the controller listener.
#[derive(Clone)]
pub struct Services {
    pub raft: mpsc::Sender<Inbound>,
    pub catchup: Catchup,
    /// Kafka requests' connections; `None`: they are closed.
    pub kafka: Option<mpsc::Sender<TcpStream>>,
}

/// A hello is an id and a cluster id: never more than this.
const MAX_HELLO: usize = 1024;

pub async fn read_frame<R: AsyncReadExt + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    let len = r.read_u32().await? as usize;
    if len > max {
        return Err(std::io::Error::other(format!("a {len}-byte frame")));
    }
    let mut buf = vec![0; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

pub async fn write_frame<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    payload: &[u8],
) -> std::io::Result<()> {
    w.write_u32(payload.len() as u32).await?;
    w.write_all(payload).await
}

/// Sends messages to the other members.
pub struct Outbox {
    peers: HashMap<u64, mpsc::Sender<Message>>,
}

impl Outbox {
    /// One sending task per peer (`id → address`), as `me` of `cluster_id`.
    pub fn start(cluster_id: &str, me: u64, peers: &HashMap<u64, SocketAddr>) -> Outbox {
        let hello = Hello {
            cluster_id: cluster_id.to_string(),
            node_id: me,
            purpose: Purpose::Raft,
        }
        .encode();
        let peers = peers
            .iter()
            .filter(|(id, _)| **id != me)
            .map(|(id, addr)| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(send_to(*addr, hello.clone(), rx));
                (*id, tx)
            })
            .collect();
        Outbox { peers }
    }

    /// Queues `message` for its addressee; drops it when the queue is full.
    pub fn send(&self, message: Message) {
        if let Some(peer) = self.peers.get(&message.to) {
            let _ = peer.try_send(message);
        }
    }
}

async fn send_to(addr: SocketAddr, hello: Vec<u8>, mut queue: mpsc::Receiver<Message>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(_) => {
                // Meanwhile, what was queued is stale: drop it.
                while queue.try_recv().is_ok() {}
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                if queue.is_closed() {
                    return;
                }
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let _ = stream.set_nodelay(true);
        let mut w = BufWriter::new(stream);
        if write_frame(&mut w, &hello).await.is_err() || w.flush().await.is_err() {
            continue;
        }
        loop {
            let Some(message) = queue.recv().await else {
                return;
            };
            let Ok(bytes) = message.write_to_bytes() else {
                continue;
            };
            if write_frame(&mut w, &bytes).await.is_err() {
                break;
            }
            // Write what else is queued, then flush once.
            let mut failed = false;
            while let Ok(more) = queue.try_recv() {
                if let Ok(bytes) = more.write_to_bytes() {
                    if write_frame(&mut w, &bytes).await.is_err() {
                        failed = true;
                        break;
                    }
                }
            }
            if failed || w.flush().await.is_err() {
                break;
            }
        }
        tracing::debug!(%addr, "quorum connection lost; reconnecting");
    }
}

/// Accepts connections on the controller listener and hands each to its
/// service. Quorum connections from another cluster, or whose messages
/// claim another sender than their hello, are closed.
///
/// The connections' tasks belong to this one: when it is stopped (the
/// member stops), they stop too, and no answer comes from a stopped member.
pub async fn serve(listener: TcpListener, cluster_id: String, services: Services) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (cluster_id, services) = (cluster_id.clone(), services.clone());
        connections.spawn(async move {
            if let Err(why) = accept(stream, &cluster_id, services).await {
                tracing::warn!(%peer, "controller listener connection refused: {why}");
            }
        });
    }
}

/// How long a new connection may take to send its first bytes.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept(stream: TcpStream, cluster_id: &str, services: Services) -> Result<(), String> {
    let mut first = [0u8; 8];
    let peeked = tokio::time::timeout(FIRST_BYTES_TIMEOUT, async {
        loop {
            let n = stream.peek(&mut first).await?;
            if n == first.len() || n == 0 {
                return Ok::<usize, std::io::Error>(n);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .map_err(|_| "no request in time".to_string())?
    .map_err(|e| e.to_string())?;
    if peeked < first.len() {
        return Ok(());
    }
    if &first[4..] != MAGIC {
        return match services.kafka {
            Some(kafka) => kafka
                .send(stream)
                .await
                .map_err(|_| "the broker has stopped".to_string()),
            None => Err("a Kafka request on a quorum-only listener".into()),
        };
    }
    let mut r = BufReader::new(stream);
    let hello = read_frame(&mut r, MAX_HELLO)
        .await
        .map_err(|e| e.to_string())?;
    let hello = Hello::decode(&hello).ok_or("an unreadable hello")?;
    if hello.cluster_id != cluster_id {
        return Err(format!(
            "node {} is of cluster {:?}, not {cluster_id:?}",
            hello.node_id, hello.cluster_id
        ));
    }
    match hello.purpose {
        Purpose::Raft => receive(r, hello.node_id, services.raft).await,
        Purpose::Catchup => answer_catchups(r, services.catchup).await,
    }
}

async fn receive(
    mut r: BufReader<TcpStream>,
    sender: u64,
    inbox: mpsc::Sender<Inbound>,
) -> Result<(), String> {
    loop {
        let Ok(frame) = read_frame(&mut r, MAX_FRAME).await else {
            let _ = inbox.send(Inbound::Gone(sender)).await;
            return Ok(());
        };
        let message = Message::parse_from_bytes(&frame).map_err(|e| e.to_string())?;
        if message.from != sender {
            return Err(format!(
                "node {sender} sent a message as node {}",
                message.from
            ));
        }
        if inbox.send(Inbound::Message(message)).await.is_err() {
            return Ok(());
        }
    }
}

/// Each request is an index (u64 BE); each answer what `catchup` gives.
async fn answer_catchups(mut r: BufReader<TcpStream>, catchup: Catchup) -> Result<(), String> {
    loop {
        let Ok(frame) = read_frame(&mut r, 8).await else {
            return Ok(());
        };
        let after = u64::from_be_bytes(
            frame
                .as_slice()
                .try_into()
                .map_err(|_| "a catch-up request is an index")?,
        );
        let answer = catchup(after).await;
        let w = r.get_mut();
        if write_frame(w, &answer).await.is_err() || w.flush().await.is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_round_trip() {
        for purpose in [Purpose::Raft, Purpose::Catchup] {
            let hello = Hello {
                cluster_id: "abc-123".into(),
                node_id: 7,
                purpose,
            };
            assert_eq!(Hello::decode(&hello.encode()), Some(hello));
        }
        assert_eq!(Hello::decode(&[1, 2]), None);
        assert_eq!(Hello::decode(b"WEIRX12345678"), None);
        // A Kafka request never looks like a hello: no API key is "WE".
        assert!(
            kafka_protocol::messages::ApiKey::try_from(i16::from_be_bytes([b'W', b'E'])).is_err()
        );
    }
}
