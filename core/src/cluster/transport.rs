//! Raft messages between controller quorum members, over TCP.
//!
//! A connection opens with a hello frame naming the cluster id and the
//! sender's node id; a receiver whose cluster id differs logs it and closes
//! the connection, so a node of another cluster can never vote or append
//! here. Then each frame is one raft-rs `Message` (its protobuf). A frame
//! is `length (u32 BE) · payload`.
//!
//! Sending never waits on the network: each peer has a bounded queue and a
//! task that connects (backing off from 50 ms to 2 s between attempts),
//! says hello and writes what is queued. A message that cannot be queued or
//! written is dropped: Raft resends what matters.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest frame taken: Raft messages are bounded by
/// `max_size_per_msg` (1 MiB) plus headers.
const MAX_FRAME: usize = 8 << 20;
const QUEUE: usize = 1024;

/// Who a connection is from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hello {
    cluster_id: String,
    node_id: u64,
}

impl Hello {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.node_id.to_be_bytes());
        out.extend_from_slice(self.cluster_id.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Hello> {
        let node_id = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let cluster_id = std::str::from_utf8(&bytes[8..]).ok()?.to_string();
        Some(Hello {
            cluster_id,
            node_id,
        })
    }
}

/// A hello is an id and a cluster id: never more than this.
const MAX_HELLO: usize = 1024;

async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R, max: usize) -> std::io::Result<Vec<u8>> {
    let len = r.read_u32().await? as usize;
    if len > max {
        return Err(std::io::Error::other(format!("a {len}-byte frame")));
    }
    let mut buf = vec![0; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
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

/// Accepts members' connections and hands their messages to `inbox`.
/// Connections from another cluster, or whose messages claim another
/// sender than their hello, are closed.
pub async fn serve(listener: TcpListener, cluster_id: String, inbox: mpsc::Sender<Message>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (cluster_id, inbox) = (cluster_id.clone(), inbox.clone());
        tokio::spawn(async move {
            if let Err(why) = receive(stream, &cluster_id, inbox).await {
                tracing::warn!(%peer, "quorum connection refused: {why}");
            }
        });
    }
}

async fn receive(
    stream: TcpStream,
    cluster_id: &str,
    inbox: mpsc::Sender<Message>,
) -> Result<(), String> {
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
    loop {
        let Ok(frame) = read_frame(&mut r, MAX_FRAME).await else {
            return Ok(());
        };
        let message = Message::parse_from_bytes(&frame).map_err(|e| e.to_string())?;
        if message.from != hello.node_id {
            return Err(format!(
                "node {} sent a message as node {}",
                hello.node_id, message.from
            ));
        }
        if inbox.send(message).await.is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_round_trip() {
        let hello = Hello {
            cluster_id: "abc-123".into(),
            node_id: 7,
        };
        assert_eq!(Hello::decode(&hello.encode()), Some(hello));
        assert_eq!(Hello::decode(&[1, 2]), None);
    }
}
