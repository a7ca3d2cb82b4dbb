//! A SASL connection's side of authentication, as Kafka's
//! `SaslServerAuthenticator` answers it: until authenticated, only
//! ApiVersions, SaslHandshake and SaslAuthenticate (or, after a v0
//! handshake, raw SASL tokens) are taken, and anything else closes the
//! connection. A failed authentication is answered with
//! SASL_AUTHENTICATION_FAILED and its reason, then the connection closes.
//!
//! With `connections.max.reauth.ms` (KIP-368) a session lasts that long, or
//! until its token expires if sooner; SaslAuthenticate tells the client,
//! which re-authenticates with a new SaslHandshake on the same connection
//! (as the same principal). A request after the session ended closes the
//! connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use tracing::{debug, info};

use super::broker::Broker;
use super::dispatch::Session;
use super::response::Response;
use crate::protocol::error::ResponseError;
use crate::security::plugin::{Authentication as Answer, Caller};
use crate::security::sasl::{Exchange, Mechanism, SaslListener, Step};

/// What to do with a frame on a SASL connection.
pub enum Verdict {
    /// Handle it as any request.
    Dispatch,
    Respond(Response),
    /// Respond; the connection's principal is now this one.
    Authenticated(Response, String),
    /// Respond, wait this long (so the client reads the answer before the
    /// connection ends, as Kafka's `connection.failed.authentication.delay.ms`
    /// does), then close the connection for this reason.
    RespondAndClose(Response, Duration, String),
    Close(String),
}

pub struct Authentication {
    listener: Arc<SaslListener>,
    state: State,
    /// The principal once authenticated, and when its session ends.
    session: Option<(String, Option<Instant>)>,
}

enum State {
    /// Waiting for SaslHandshake (at first, or to re-authenticate).
    Handshake,
    /// SaslHandshake chose a mechanism: its exchange runs in SaslAuthenticate
    /// requests, or in raw tokens after a v0 handshake.
    Exchanging {
        mechanism: Mechanism,
        exchange: Box<Exchange>,
        raw: bool,
    },
}

impl Authentication {
    pub fn new(listener: Arc<SaslListener>) -> Authentication {
        Authentication {
            listener,
            state: State::Handshake,
            session: None,
        }
    }

    pub fn on_frame(&mut self, broker: &Broker, session: &Session, frame: &Bytes) -> Verdict {
        if let State::Exchanging { raw: true, .. } = self.state {
            return self.raw_token(broker, session, frame);
        }
        let (key, version) = {
            let mut peek = &frame[..frame.len().min(4)];
            if peek.len() < 4 {
                return Verdict::Close("a frame shorter than a request header".into());
            }
            (peek.get_i16(), peek.get_i16())
        };
        match ApiKey::try_from(key) {
            Ok(ApiKey::ApiVersions) => Verdict::Dispatch,
            Ok(ApiKey::SaslHandshake) => self.handshake(frame, version),
            Ok(ApiKey::SaslAuthenticate) => self.authenticate(broker, session, frame, version),
            _ => match &self.session {
                Some((_, Some(ends))) if Instant::now() >= *ends => Verdict::Close(
                    "the SASL session expired without re-authentication (connections.max.reauth.ms)"
                        .into(),
                ),
                Some(_) => Verdict::Dispatch,
                None => Verdict::Close(format!(
                    "unexpected Kafka request of type {key} during SASL handshake"
                )),
            },
        }
    }

    fn handshake(&mut self, frame: &Bytes, version: i16) -> Verdict {
        let (correlation_id, request) =
            match decode::<SaslHandshakeRequest>(frame, ApiKey::SaslHandshake, version) {
                Ok((header, request)) => (header.correlation_id, request),
                Err(reason) => return Verdict::Close(reason),
            };
        let mut response = SaslHandshakeResponse::default().with_mechanisms(
            self.listener
                .mechanism_names()
                .into_iter()
                .map(StrBytes::from_static_str)
                .collect(),
        );
        let respond = |response: SaslHandshakeResponse| {
            encode(
                correlation_id,
                ApiKey::SaslHandshake,
                version,
                ResponseKind::SaslHandshake(response),
            )
        };
        if matches!(self.state, State::Exchanging { .. }) {
            response.error_code = ResponseError::IllegalSaslState.code();
            return close_after(
                respond(response),
                Duration::ZERO,
                "SaslHandshake in the middle of an exchange",
            );
        }
        let offered =
            Mechanism::parse(&request.mechanism).filter(|m| self.listener.mechanisms.contains(m));
        let Some(mechanism) = offered else {
            response.error_code = ResponseError::UnsupportedSaslMechanism.code();
            let reason = format!(
                "SASL mechanism {} is not enabled",
                request.mechanism.as_str()
            );
            return close_after(respond(response), Duration::ZERO, &reason);
        };
        self.state = State::Exchanging {
            mechanism,
            exchange: Box::new(Exchange::start(mechanism)),
            raw: version == 0,
        };
        match respond(response) {
            Ok(response) => Verdict::Respond(response),
            Err(reason) => Verdict::Close(reason),
        }
    }

    fn authenticate(
        &mut self,
        broker: &Broker,
        session: &Session,
        frame: &Bytes,
        version: i16,
    ) -> Verdict {
        let (header, request) =
            match decode::<SaslAuthenticateRequest>(frame, ApiKey::SaslAuthenticate, version) {
                Ok(decoded) => decoded,
                Err(reason) => return Verdict::Close(reason),
            };
        let correlation_id = header.correlation_id;
        let client_id = header.client_id.as_ref().map(|c| c.to_string());
        let respond = |response: SaslAuthenticateResponse| {
            encode(
                correlation_id,
                ApiKey::SaslAuthenticate,
                version,
                ResponseKind::SaslAuthenticate(response),
            )
        };
        let State::Exchanging { raw: false, .. } = self.state else {
            let response = SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code())
                .with_error_message(Some(StrBytes::from_static_str(
                    "SaslAuthenticate before SaslHandshake",
                )));
            return close_after(
                respond(response),
                Duration::ZERO,
                "SaslAuthenticate before SaslHandshake",
            );
        };
        match self.step(broker, session, client_id, &request.auth_bytes) {
            Step::Challenge(challenge) => {
                match respond(SaslAuthenticateResponse::default().with_auth_bytes(challenge.into()))
                {
                    Ok(response) => Verdict::Respond(response),
                    Err(reason) => Verdict::Close(reason),
                }
            }
            Step::Done {
                principal,
                answer,
                expires_at_ms,
            } => {
                if let Some(reason) = self.changes_principal(&principal) {
                    return self.failed(respond, reason);
                }
                let lifetime = self.session_lifetime(expires_at_ms);
                let response = SaslAuthenticateResponse::default()
                    .with_auth_bytes(answer.into())
                    .with_session_lifetime_ms(lifetime.map_or(0, |l| l.as_millis() as i64));
                self.finish(principal.clone(), lifetime);
                match respond(response) {
                    Ok(response) => Verdict::Authenticated(response, principal),
                    Err(reason) => Verdict::Close(reason),
                }
            }
            Step::Failed(reason) => self.failed(respond, reason),
        }
    }

    /// A raw token after a v0 SaslHandshake: the frame is the token, and
    /// the answer is the server's token, both without Kafka headers.
    fn raw_token(&mut self, broker: &Broker, session: &Session, frame: &Bytes) -> Verdict {
        match self.step(broker, session, None, frame) {
            Step::Challenge(challenge) => Verdict::Respond(Response::from_bytes(challenge.into())),
            Step::Done {
                principal,
                answer,
                expires_at_ms,
            } => {
                if let Some(reason) = self.changes_principal(&principal) {
                    return Verdict::Close(reason);
                }
                let lifetime = self.session_lifetime(expires_at_ms);
                self.finish(principal.clone(), lifetime);
                Verdict::Authenticated(Response::from_bytes(answer.into()), principal)
            }
            Step::Failed(reason) => {
                info!(%reason, "SASL authentication failed");
                Verdict::Close(format!("SASL authentication failed: {reason}"))
            }
        }
    }

    fn step(
        &mut self,
        broker: &Broker,
        session: &Session,
        client_id: Option<String>,
        input: &[u8],
    ) -> Step {
        let State::Exchanging {
            mechanism,
            exchange,
            ..
        } = &mut self.state
        else {
            return Step::Failed("no SASL exchange is under way".into());
        };
        if let Some(plugin) = self.listener.authenticator_for(*mechanism) {
            let caller = session.caller(client_id);
            if let Some(step) = ask_plugin(broker, plugin, *mechanism, &caller, input) {
                return step;
            }
        }
        let image = broker.controller.image();
        let mechanism_name = mechanism.name();
        let lookup = |user: &str| {
            image
                .scram
                .get(user)
                .and_then(|credentials| credentials.get(mechanism_name))
                .cloned()
        };
        exchange.step(&self.listener, input, &lookup)
    }

    /// Re-authentication must keep the principal (as Kafka requires).
    fn changes_principal(&self, principal: &str) -> Option<String> {
        match &self.session {
            Some((before, _)) if before != principal => Some(format!(
                "re-authentication may not change the principal ({before} to {principal})"
            )),
            _ => None,
        }
    }

    /// How long the session lasts: `connections.max.reauth.ms`, or less
    /// when the credential expires sooner; None when sessions do not expire.
    fn session_lifetime(&self, expires_at_ms: Option<i64>) -> Option<Duration> {
        if self.listener.reauth_ms <= 0 {
            return None;
        }
        let mut lifetime = self.listener.reauth_ms;
        if let Some(expires) = expires_at_ms {
            lifetime = lifetime.min(expires - crate::log::segment::now_ms()).max(0);
        }
        Some(Duration::from_millis(lifetime as u64))
    }

    fn finish(&mut self, principal: String, lifetime: Option<Duration>) {
        debug!(%principal, ?lifetime, "SASL authenticated");
        self.session = Some((principal, lifetime.map(|l| Instant::now() + l)));
        self.state = State::Handshake;
    }

    fn failed(
        &mut self,
        respond: impl Fn(SaslAuthenticateResponse) -> Result<Response, String>,
        reason: String,
    ) -> Verdict {
        info!(%reason, "SASL authentication failed");
        let response = SaslAuthenticateResponse::default()
            .with_error_code(ResponseError::SaslAuthenticationFailed.code())
            .with_error_message(Some(StrBytes::from_string(reason.clone())));
        close_after(
            respond(response),
            self.listener.failure_delay,
            &format!("SASL authentication failed: {reason}"),
        )
    }
}

/// Asks the authenticator plugin about a PLAIN or OAUTHBEARER message:
/// its step, or None when it defers to the broker's own check. Any failure
/// of the plugin refuses the client.
fn ask_plugin(
    broker: &Broker,
    plugin: &str,
    mechanism: Mechanism,
    caller: &Caller,
    input: &[u8],
) -> Option<Step> {
    let credentials = match crate::security::sasl::credentials(mechanism, input) {
        Ok(credentials) => credentials,
        Err(reason) => return Some(Step::Failed(reason)),
    };
    let answer = match broker.plugins.authenticator(plugin) {
        Some(authenticator) => authenticator
            .authenticate(caller, &credentials)
            .map_err(|e| e.to_string()),
        None => Err(format!("the authenticator plugin {plugin} is not loaded")),
    };
    match answer {
        Ok(Answer::Accept {
            principal,
            lifetime_ms,
        }) => Some(Step::Done {
            principal,
            answer: Vec::new(),
            expires_at_ms: lifetime_ms.map(|l| crate::log::segment::now_ms().saturating_add(l)),
        }),
        Ok(Answer::Refuse(reason)) => {
            Some(Step::Failed(format!("Authentication failed: {reason}")))
        }
        Ok(Answer::Defer) => None,
        Err(why) => {
            tracing::warn!(%plugin, error = %why, "authentication fails closed: refused");
            Some(Step::Failed(
                "Authentication failed: the authenticator could not check the credentials".into(),
            ))
        }
    }
}

fn close_after(response: Result<Response, String>, delay: Duration, reason: &str) -> Verdict {
    match response {
        Ok(response) => Verdict::RespondAndClose(response, delay, reason.to_string()),
        Err(e) => Verdict::Close(e),
    }
}

/// A SASL request's header and body.
fn decode<R: Decodable>(
    frame: &Bytes,
    api: ApiKey,
    version: i16,
) -> Result<(RequestHeader, R), String> {
    if !crate::protocol::is_supported(api, version) {
        return Err(format!("{api:?} v{version} is not supported"));
    }
    let mut body = frame.clone();
    let header = RequestHeader::decode(&mut body, api.request_header_version(version))
        .map_err(|e| format!("undecodable {api:?} v{version} request header: {e}"))?;
    let request = R::decode(&mut body, version)
        .map_err(|e| format!("undecodable {api:?} v{version} request: {e}"))?;
    Ok((header, request))
}

fn encode(
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    response: ResponseKind,
) -> Result<Response, String> {
    super::dispatch::encode_response(correlation_id, api, version, response)
}
