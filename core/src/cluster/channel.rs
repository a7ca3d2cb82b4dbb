//! A broker's channel to other brokers' Kafka listeners, for what only the
//! active controller may do: admin requests a client sent to this broker are
//! forwarded there whole (as Kafka's brokers forward them), and the broker's
//! own registration and producer-id blocks are asked for with Kafka's
//! BrokerRegistration and AllocateProducerIds requests.
//!
//! Requests from a peer carry a client id starting with `PEER_PREFIX`; a
//! broker never forwards those again, so a stale view of who leads cannot
//! bounce a request between brokers: it is answered NOT_CONTROLLER instead.
//!
//! One request is Weir's own, framed as Kafka's: `SUBMIT_KEY` (no Kafka API
//! key) carries metadata commands a broker asks the active controller to
//! commit (plugin deployments and which version each broker runs), as
//! JSON; the answer is the correlation id, an error code and a message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Marks a request sent by another broker of the cluster.
pub const PEER_PREFIX: &str = "weir-peer:";

/// The API key of Weir's submit request (`WE` + 1: no Kafka API's).
pub const SUBMIT_KEY: i16 = i16::from_be_bytes([b'W', 1]);

/// A round trip takes at most this long (a controller's commit waits at
/// most 15 s).
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest response a peer may send back.
const MAX_RESPONSE: usize = 100 << 20;

#[derive(Default)]
pub struct Channel {
    /// One connection per broker, one request at a time on each; a broker
    /// that does not answer holds up only the requests to it.
    connections: std::sync::Mutex<HashMap<(String, u16), Slot>>,
}

/// A broker's connection, while no request is under way on it.
type Slot = Arc<Mutex<Option<TcpStream>>>;

/// Whether a request came from another broker of the cluster.
pub fn is_peer(frame: &[u8]) -> bool {
    client_id(frame).is_some_and(|id| id.starts_with(PEER_PREFIX.as_bytes()))
}

/// The node id of the peer broker that sent a request frame, if one did.
pub fn peer_node(frame: &[u8]) -> Option<i32> {
    let id = client_id(frame)?.strip_prefix(PEER_PREFIX.as_bytes())?;
    std::str::from_utf8(id.strip_prefix(b"broker-")?)
        .ok()?
        .parse()
        .ok()
}

/// The client id of a request frame (after the size), if it has one.
fn client_id(frame: &[u8]) -> Option<&[u8]> {
    let len = i16::from_be_bytes(frame.get(8..10)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    frame.get(10..10 + len)
}

/// The client a forwarded request speaks for: its principal and address.
/// A forwarding broker marks the request `weir-peer:as:<principal in
/// base64url>,<host>,<the client's own id>`, as Kafka's Envelope carries the
/// principal to the controller, which authorizes it.
pub fn forwarded_for(frame: &[u8]) -> Option<(String, String)> {
    use base64::Engine;
    let id = client_id(frame)?.strip_prefix(PEER_PREFIX.as_bytes())?;
    let id = std::str::from_utf8(id.strip_prefix(FORWARDED_MARK.as_bytes())?).ok()?;
    let mut parts = id.splitn(3, ',');
    let principal = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts.next()?)
        .ok()?;
    let host = parts.next()?;
    Some((String::from_utf8(principal).ok()?, host.to_string()))
}

/// After `PEER_PREFIX`: a client's request forwarded on its behalf.
const FORWARDED_MARK: &str = "as:";

impl Channel {
    /// Sends a client's request frame to `broker` (marked as coming from a
    /// peer, on behalf of the client's principal and host) and returns the
    /// response frame, correlation id unchanged.
    pub async fn forward(
        &self,
        broker: (&str, u16),
        frame: &[u8],
        (principal, host): (&str, &str),
    ) -> std::io::Result<Bytes> {
        use base64::Engine;
        let id = client_id(frame).unwrap_or_default();
        let rest = &frame[8 + 2 + id.len()..];
        let principal = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(principal);
        let mark = format!("{PEER_PREFIX}{FORWARDED_MARK}{principal},{host},");
        let marked_len = mark.len() + id.len();
        let marked_len = i16::try_from(marked_len)
            .map_err(|_| std::io::Error::other("the client id is too long to forward"))?;
        let mut marked = BytesMut::with_capacity(frame.len() + mark.len());
        marked.put_slice(&frame[..8]);
        marked.put_i16(marked_len);
        marked.put_slice(mark.as_bytes());
        marked.put_slice(id);
        marked.put_slice(rest);
        self.round_trip(broker, &marked).await
    }

    /// Sends one request of type `R` at `version` and decodes the answer.
    pub async fn call<R: Request + Encodable>(
        &self,
        broker: (&str, u16),
        node_id: i32,
        version: i16,
        request: &R,
    ) -> std::io::Result<R::Response>
    where
        R::Response: Decodable,
    {
        let frame = encode_request(node_id, version, request)?;
        let response = self.round_trip(broker, &frame).await?;
        decode_response::<R>(response, version)
    }

    /// Asks the active controller (`broker`) to commit `commands` (JSON);
    /// returns its error code (0: committed) and message.
    pub async fn submit(
        &self,
        broker: (&str, u16),
        node_id: i32,
        commands: &[u8],
    ) -> std::io::Result<(i16, String)> {
        let client_id = format!("{PEER_PREFIX}broker-{node_id}");
        let mut frame = BytesMut::with_capacity(12 + client_id.len() + commands.len());
        frame.put_i16(SUBMIT_KEY);
        frame.put_i16(0);
        frame.put_i32(1);
        frame.put_i16(client_id.len() as i16);
        frame.put_slice(client_id.as_bytes());
        frame.put_slice(commands);
        let answer = self.round_trip(broker, &frame).await?;
        let (code, message) = decode_submitted(&answer)
            .ok_or_else(|| std::io::Error::other("an unreadable answer to a submit"))?;
        Ok((code, message))
    }

    async fn round_trip(&self, broker: (&str, u16), frame: &[u8]) -> std::io::Result<Bytes> {
        let key = (broker.0.to_string(), broker.1);
        let slot = self
            .connections
            .lock()
            .expect("channel lock")
            .entry(key)
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        let stream = match slot.take() {
            Some(stream) => stream,
            None => tokio::time::timeout(ROUND_TRIP_TIMEOUT, TcpStream::connect(broker))
                .await
                .map_err(|_| std::io::Error::other("connect timed out"))??,
        };
        let mut stream = stream;
        let answer = tokio::time::timeout(ROUND_TRIP_TIMEOUT, exchange(&mut stream, frame))
            .await
            .map_err(|_| std::io::Error::other("the peer did not answer in time"))?;
        if answer.is_ok() {
            // Only a connection whose exchange completed is in step.
            *slot = Some(stream);
        }
        answer
    }
}

/// A request frame (without its size) of type `R` at `version`, from
/// broker `node_id` (marked as a peer's).
pub fn encode_request<R: Request + Encodable>(
    node_id: i32,
    version: i16,
    request: &R,
) -> std::io::Result<BytesMut> {
    let api = ApiKey::try_from(R::KEY).map_err(|_| std::io::Error::other("unknown API"))?;
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_string(format!(
            "{PEER_PREFIX}broker-{node_id}"
        ))));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .and_then(|_| request.encode(&mut buf, version))
        .map_err(std::io::Error::other)?;
    Ok(buf)
}

/// Decodes a response frame (without its size) to a request of type `R`.
pub fn decode_response<R: Request>(
    mut response: Bytes,
    version: i16,
) -> std::io::Result<R::Response>
where
    R::Response: Decodable,
{
    let api = ApiKey::try_from(R::KEY).map_err(|_| std::io::Error::other("unknown API"))?;
    ResponseHeader::decode(&mut response, api.response_header_version(version))
        .and_then(|_| R::Response::decode(&mut response, version))
        .map_err(std::io::Error::other)
}

/// A submit request's commands: what follows its header.
pub fn submitted_commands(frame: &[u8]) -> Option<&[u8]> {
    let id = client_id(frame)?;
    frame.get(10 + id.len()..)
}

/// The answer to a submit: correlation id, error code, message.
pub fn encode_submitted(correlation_id: i32, code: i16, message: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + message.len());
    out.put_i32(correlation_id);
    out.put_i16(code);
    let message = &message.as_bytes()[..message.len().min(i16::MAX as usize)];
    out.put_i16(message.len() as i16);
    out.put_slice(message);
    out.freeze()
}

fn decode_submitted(answer: &[u8]) -> Option<(i16, String)> {
    let code = i16::from_be_bytes(answer.get(4..6)?.try_into().ok()?);
    let len = usize::try_from(i16::from_be_bytes(answer.get(6..8)?.try_into().ok()?)).ok()?;
    let message = String::from_utf8_lossy(answer.get(8..8 + len)?).into_owned();
    Some((code, message))
}

/// Sends one request frame on `stream` and reads the response frame.
pub async fn exchange(stream: &mut TcpStream, frame: &[u8]) -> std::io::Result<Bytes> {
    stream.set_nodelay(true)?;
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(frame);
    stream.write_all(&out).await?;
    let len = stream.read_u32().await? as usize;
    if len > MAX_RESPONSE {
        return Err(std::io::Error::other(format!(
            "a {len}-byte response is too large"
        )));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_recognised_by_their_client_id() {
        let mut frame = vec![0, 19, 0, 7, 0, 0, 0, 1];
        frame.extend_from_slice(&(PEER_PREFIX.len() as i16 + 2).to_be_bytes());
        frame.extend_from_slice(PEER_PREFIX.as_bytes());
        frame.extend_from_slice(b"cl");
        assert!(is_peer(&frame));
        let plain = [0, 19, 0, 7, 0, 0, 0, 1, 0, 2, b'c', b'l'];
        assert!(!is_peer(&plain));
        assert!(!is_peer(&[0, 19, 0, 7, 0, 0, 0, 1, 0xff, 0xff]));
        assert!(!is_peer(&[0, 19]));
    }

    #[test]
    fn submit_answers_round_trip() {
        let answer = encode_submitted(1, 42, "not a plugin change");
        assert_eq!(
            decode_submitted(&answer),
            Some((42, "not a plugin change".to_string()))
        );
        assert!(kafka_protocol::messages::ApiKey::try_from(SUBMIT_KEY).is_err());
    }
}
