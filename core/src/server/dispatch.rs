//! Request dispatch: decodes the header and body with `kafka-protocol`, routes
//! to the handler of each API, and encodes the response with the header
//! version the API and version call for.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, FetchResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use tracing::debug;

use super::apis;
use super::broker::Broker;
use super::quotas::Kind;
use super::response::{self, FetchedRange, Response};
use crate::protocol::error::ResponseError;
use crate::protocol::is_supported;
use std::time::Duration;

pub enum Outcome {
    /// The encoded response header and body.
    Respond(Response),
    /// acks=0 produce: the client expects nothing back.
    NoResponse,
    /// The request could not be decoded: Kafka closes such connections.
    Close(String),
}

/// The fields of a request header a handler may need.
pub struct RequestContext {
    pub version: i16,
    pub client_id: Option<String>,
    pub session: Arc<Session>,
}

/// Who is on a connection: where it comes from, the listener it came in
/// on, and its principal.
#[derive(Debug, Clone)]
pub struct Session {
    /// The client's address as Kafka shows it: "/127.0.0.1".
    pub client_host: String,
    /// The listener's name (PLAINTEXT, SSL, CONTROLLER, …): Metadata and
    /// FindCoordinator answer with brokers' endpoints on the same listener.
    pub listener: String,
    /// `User:ANONYMOUS` unless a client certificate or SASL says otherwise.
    pub principal: String,
    /// A peer broker's own request on the controller listener: allowed
    /// whatever the ACLs say.
    pub trusted: bool,
    /// The authorizer plugin's recent answers for this session.
    pub decisions: super::authorize::DecisionCache,
}

impl RequestContext {
    /// The client this request is made for, as plugins see it
    /// (`host.caller()`).
    pub fn caller(&self) -> Arc<crate::security::plugin::Caller> {
        Arc::new(self.session.caller(self.client_id.clone()))
    }
}

impl Session {
    /// This connection's client, as plugins see it, with the client id a
    /// request gave.
    pub fn caller(&self, client_id: Option<String>) -> crate::security::plugin::Caller {
        crate::security::plugin::Caller {
            principal: self.principal.clone(),
            address: self.host().to_string(),
            client_id,
            listener: self.listener.clone(),
        }
    }

    /// The client's address as ACLs name hosts (no leading '/').
    pub fn host(&self) -> &str {
        self.client_host.trim_start_matches('/')
    }
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// A listener for clients (`listeners`).
    Clients,
    /// The controller listener: other brokers' requests to the controller,
    /// ApiVersions and DescribeQuorum; nothing else.
    Controller,
}

pub async fn handle(
    broker: &Broker,
    on: Listener,
    session: &Arc<Session>,
    mut frame: Bytes,
) -> Outcome {
    if frame.len() < 8 {
        return Outcome::Close(format!(
            "request of {} bytes is shorter than a request header",
            frame.len()
        ));
    }
    // What a Produce counts against its client's quota: the whole request.
    let request_bytes = frame.len();
    let (key, version, correlation_id) = {
        let mut peek = &frame[..8];
        (peek.get_i16(), peek.get_i16(), peek.get_i32())
    };
    // Brokers submit to the active controller on its controller listener
    // only: on a client listener the key is unknown, so no Kafka client can
    // forge a broker's plugin change there.
    if key == crate::cluster::channel::SUBMIT_KEY
        && on == Listener::Controller
        && crate::cluster::channel::is_peer(&frame)
    {
        let commands = crate::cluster::channel::submitted_commands(&frame).unwrap_or_default();
        let (code, message) = broker.handle_submitted(commands).await;
        let answer = crate::cluster::channel::encode_submitted(correlation_id, code, &message);
        return Outcome::Respond(Response::from_bytes(answer));
    }
    let Ok(api) = ApiKey::try_from(key) else {
        debug!(key, "unknown API key");
        return unsupported(correlation_id);
    };
    if api == ApiKey::ApiVersions && !is_supported(api, version) {
        // Kafka answers an unknown ApiVersions version with a v0 response
        // listing what it supports, so the client can pick a version.
        return encode(
            correlation_id,
            ApiKey::ApiVersions,
            0,
            apis::api_versions::unsupported_version(),
        );
    }
    let from_peer = crate::cluster::channel::is_peer(&frame);
    if on == Listener::Controller
        && !(from_peer || matches!(api, ApiKey::ApiVersions | ApiKey::DescribeQuorum))
    {
        debug!(?api, "a client request on the controller listener");
        return unsupported(correlation_id);
    }
    let internal = from_peer && is_internal(api, version);
    if !(is_supported(api, version) || internal) {
        debug!(?api, version, "unsupported API version");
        return unsupported(correlation_id);
    }
    // A peer's request on the controller listener is trusted, unless it
    // forwards a client's: then it is that client's.
    let session = match (on, from_peer) {
        (Listener::Controller, true) => Arc::new(peer_session(session, &frame)),
        _ => session.clone(),
    };
    if let Some(response) = broker.forward(api, &frame, &session).await {
        return Outcome::Respond(Response::from_bytes(response));
    }
    let header = match RequestHeader::decode(&mut frame, api.request_header_version(version)) {
        Ok(header) => header,
        Err(e) => {
            return Outcome::Close(format!(
                "undecodable {api:?} v{version} request header: {e}"
            ))
        }
    };
    let request = match RequestKind::decode(api, &mut frame, version) {
        Ok(request) => request,
        Err(e) => return Outcome::Close(format!("undecodable {api:?} v{version} request: {e}")),
    };
    let context = RequestContext {
        version,
        client_id: header.client_id.map(|c| c.to_string()),
        session,
    };
    // A follower's Fetch names its replica; quotas leave those alone.
    let follower_fetch = match &request {
        RequestKind::Fetch(r) if version >= 15 => r.replica_state.replica_id.0 >= 0,
        RequestKind::Fetch(r) => r.replica_id.0 >= 0,
        _ => false,
    };
    let started = std::time::Instant::now();
    // Handler time is measured only when some client's is bounded.
    let timed = broker.quotas.any_request() && !session_exempt(&context, follower_fetch);
    let handling = async {
        match super::authorize::refuse_whole(broker, &context, &request) {
            Some(refused) => Ok(Some(Reply::Kind(refused))),
            None => route(broker, &context, request).await,
        }
    };
    let (reply, busy) = if timed {
        let mut timed = super::quotas::Busy::new(handling);
        let reply = (&mut timed).await;
        (reply, Some(timed.busy))
    } else {
        (handling.await, None)
    };
    super::request_metrics::record(api, started.elapsed());
    let throttle = |kind, amount| throttle(broker, &context, kind, amount);
    let request_mute = match busy {
        Some(busy) => throttle(Kind::Request, busy.as_secs_f64() * 1e3),
        None => Duration::ZERO,
    };
    match reply {
        Ok(Some(Reply::Kind(mut response))) => {
            let errors = super::request_metrics::response_errors(&response);
            super::request_metrics::record_errors(api, errors);
            let bytes_mute = match &response {
                ResponseKind::Produce(_) => throttle(Kind::Produce, request_bytes as f64),
                _ => Duration::ZERO,
            };
            // As Kafka: the longer of the two throttles, in every response
            // that has the field.
            let mute = bytes_mute.max(request_mute);
            if !mute.is_zero() {
                super::quotas::set_throttle_time(&mut response, mute.as_millis() as i32);
            }
            with_mute(encode(correlation_id, api, version, response), mute)
        }
        Ok(Some(Reply::Fetch(mut response, ranges))) => {
            super::request_metrics::record_errors(
                api,
                super::request_metrics::fetch_errors(&response),
            );
            // Consumers' fetches count against their quota; followers' do not.
            let mute = if !follower_fetch {
                let bytes: usize = ranges.iter().map(|(_, _, r)| r.len()).sum();
                throttle(Kind::Fetch, bytes as f64).max(request_mute)
            } else {
                Duration::ZERO
            };
            response.throttle_time_ms = mute.as_millis() as i32;
            match response::encode_fetch(correlation_id, version, response, ranges) {
                Ok(response) => with_mute(Outcome::Respond(response), mute),
                Err(reason) => Outcome::Close(reason),
            }
        }
        Ok(None) => {
            // acks=0: nothing to answer, but the connection is muted all the same.
            let mute = throttle(Kind::Produce, request_bytes as f64).max(request_mute);
            tokio::time::sleep(mute).await;
            Outcome::NoResponse
        }
        Err(reason) => Outcome::Close(reason),
    }
}

/// Requests no quota applies to: a peer's own, and a follower's fetch.
fn session_exempt(ctx: &RequestContext, follower_fetch: bool) -> bool {
    ctx.session.trusted || follower_fetch
}

/// How long a request over its client quota mutes its connection.
fn throttle(broker: &Broker, ctx: &RequestContext, kind: Kind, amount: f64) -> Duration {
    // No quota set (the usual case): no clock read, no lookup.
    if ctx.session.trusted || !broker.quotas.any() {
        return Duration::ZERO;
    }
    let client_id = ctx.client_id.as_deref().unwrap_or("");
    let now = crate::log::now_ms().max(0) as u64;
    broker
        .quotas
        .record(kind, &ctx.session.principal, client_id, amount, now)
}

fn with_mute(outcome: Outcome, mute: Duration) -> Outcome {
    match outcome {
        Outcome::Respond(mut response) => {
            response.mute = mute;
            Outcome::Respond(response)
        }
        other => other,
    }
}

/// Who a peer's request on the controller listener speaks for: the client
/// whose request it forwarded, or (trusted) the peer itself.
fn peer_session(connection: &Session, frame: &[u8]) -> Session {
    match crate::cluster::channel::forwarded_for(frame) {
        Some((principal, host)) => Session {
            client_host: format!("/{host}"),
            principal,
            trusted: false,
            ..connection.clone()
        },
        None => Session {
            trusted: true,
            ..connection.clone()
        },
    }
}

/// The requests brokers of a cluster send each other (not advertised to
/// clients), and the versions Weir sends.
fn is_internal(api: ApiKey, version: i16) -> bool {
    matches!(
        (api, version),
        (ApiKey::BrokerRegistration, 0)
            | (ApiKey::BrokerHeartbeat, 0)
            | (ApiKey::AllocateProducerIds, 0)
            | (ApiKey::AlterPartition, 2)
    )
}

/// What a handler answers: a response to encode, or a Fetch response with
/// file ranges to splice in.
enum Reply {
    Kind(ResponseKind),
    Fetch(FetchResponse, Vec<FetchedRange>),
}

/// `Ok(None)`: no response is due; `Err`: close the connection.
async fn route(
    broker: &Broker,
    ctx: &RequestContext,
    request: RequestKind,
) -> Result<Option<Reply>, String> {
    Ok(Some(Reply::Kind(match request {
        RequestKind::ApiVersions(r) => {
            ResponseKind::ApiVersions(apis::api_versions::handle(ctx, r))
        }
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(apis::metadata::handle(broker, ctx, r).await)
        }
        RequestKind::Produce(r) => {
            let response = apis::produce::handle(broker, ctx, r).await?;
            return Ok(response.map(|r| Reply::Kind(ResponseKind::Produce(r))));
        }
        RequestKind::Fetch(r) => {
            let (response, ranges) = apis::fetch::handle(broker, ctx, r).await;
            return Ok(Some(Reply::Fetch(response, ranges)));
        }
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(apis::list_offsets::handle(broker, ctx, r))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(apis::create_topics::handle(broker, ctx, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(apis::delete_topics::handle(broker, ctx, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(apis::create_partitions::handle(broker, ctx, r).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(apis::delete_records::handle(broker, ctx, r))
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(apis::describe_configs::handle(broker, ctx, r))
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(apis::alter_configs::handle_legacy(broker, ctx, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            apis::alter_configs::handle_incremental(broker, ctx, r).await,
        ),
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(apis::find_coordinator::handle(broker, ctx, r).await)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(apis::init_producer_id::handle(broker, ctx, r).await)
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(apis::join_group::handle(broker, ctx, r).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(apis::sync_group::handle(broker, ctx, r).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(apis::heartbeat::handle(broker, r)),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(apis::leave_group::handle(broker, ctx, r))
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(apis::offset_commit::handle(broker, ctx, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(apis::offset_fetch::handle(broker, ctx, r))
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(apis::list_groups::handle(broker, ctx, r))
        }
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(apis::describe_groups::handle(broker, ctx, r))
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(apis::delete_groups::handle(broker, ctx, r))
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(apis::offset_delete::handle(broker, ctx, r))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            apis::consumer_group_heartbeat::handle(broker, ctx, r),
        ),
        RequestKind::ConsumerGroupDescribe(r) => ResponseKind::ConsumerGroupDescribe(
            apis::consumer_group_describe::handle(broker, ctx, r),
        ),
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(apis::describe_cluster::handle(broker, ctx, r))
        }
        RequestKind::DescribeQuorum(r) => {
            ResponseKind::DescribeQuorum(apis::describe_quorum::handle(broker, r))
        }
        RequestKind::BrokerRegistration(r) => {
            ResponseKind::BrokerRegistration(broker.handle_broker_registration(r).await)
        }
        RequestKind::BrokerHeartbeat(r) => {
            ResponseKind::BrokerHeartbeat(broker.handle_broker_heartbeat(r).await)
        }
        RequestKind::AlterPartitionReassignments(r) => ResponseKind::AlterPartitionReassignments(
            apis::partition_reassignments::alter(broker, r).await,
        ),
        RequestKind::ListPartitionReassignments(r) => {
            ResponseKind::ListPartitionReassignments(apis::partition_reassignments::list(broker, r))
        }
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(apis::elect_leaders::handle(broker, r).await)
        }
        RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(
            apis::offset_for_leader_epoch::handle(broker, ctx, r),
        ),
        RequestKind::AlterPartition(r) => {
            ResponseKind::AlterPartition(broker.handle_alter_partition(r).await)
        }
        RequestKind::AllocateProducerIds(r) => {
            ResponseKind::AllocateProducerIds(broker.handle_allocate_producer_ids(r).await)
        }
        // On a SASL listener these never get here (`authentication`): on
        // any other, as in Kafka, there is nothing to authenticate.
        RequestKind::SaslHandshake(_) => ResponseKind::SaslHandshake(
            kafka_protocol::messages::SaslHandshakeResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code()),
        ),
        RequestKind::SaslAuthenticate(_) => ResponseKind::SaslAuthenticate(
            kafka_protocol::messages::SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code())
                .with_error_message(Some(kafka_protocol::protocol::StrBytes::from_static_str(
                    "this listener does not use SASL",
                ))),
        ),
        RequestKind::DescribeUserScramCredentials(r) => ResponseKind::DescribeUserScramCredentials(
            apis::user_scram_credentials::describe(broker, r),
        ),
        RequestKind::AlterUserScramCredentials(r) => ResponseKind::AlterUserScramCredentials(
            apis::user_scram_credentials::alter(broker, r).await,
        ),
        RequestKind::DescribeClientQuotas(r) => {
            ResponseKind::DescribeClientQuotas(apis::client_quotas::describe(broker, r))
        }
        RequestKind::AlterClientQuotas(r) => {
            ResponseKind::AlterClientQuotas(apis::client_quotas::alter(broker, r).await)
        }
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(apis::acls::create(broker, r).await),
        RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(apis::acls::describe(broker, r)),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(apis::acls::delete(broker, r).await),
        _ => return Err("no handler for an API listed as supported".into()),
    })))
}

fn encode(correlation_id: i32, api: ApiKey, version: i16, response: ResponseKind) -> Outcome {
    match encode_response(correlation_id, api, version, response) {
        Ok(response) => Outcome::Respond(response),
        Err(reason) => Outcome::Close(reason),
    }
}

/// A response's header and body, encoded for `version`.
pub(super) fn encode_response(
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    response: ResponseKind,
) -> Result<Response, String> {
    let mut buf = BytesMut::new();
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    header
        .encode(&mut buf, api.response_header_version(version))
        .map_err(|e| format!("could not encode a response header: {e}"))?;
    response
        .encode(&mut buf, version)
        .map_err(|e| format!("could not encode the {api:?} v{version} response: {e}"))?;
    Ok(Response::from_bytes(buf.freeze()))
}

/// The answer to an unknown API key or version: the correlation id and
/// UNSUPPORTED_VERSION, the first field of every error-carrying response we
/// cannot otherwise encode.
fn unsupported(correlation_id: i32) -> Outcome {
    let mut buf = BytesMut::with_capacity(6);
    buf.put_i32(correlation_id);
    buf.put_i16(ResponseError::UnsupportedVersion.code());
    Outcome::Respond(Response::from_bytes(buf.freeze()))
}
