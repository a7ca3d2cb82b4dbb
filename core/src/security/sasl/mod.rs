//! SASL on `SASL_PLAINTEXT` and `SASL_SSL` listeners, with Kafka's config
//! names: the mechanisms a listener offers (`sasl.enabled.mechanisms`) and
//! what each checks credentials against — PLAIN the JAAS config's users
//! (`plain`, `jaas`), SCRAM the salted credentials in the metadata log
//! (`scram`), OAUTHBEARER signed JWTs (`oauthbearer`). The connection's
//! side of the exchange (SaslHandshake, SaslAuthenticate, re-authentication)
//! is `server::authentication`.

pub mod jaas;
pub mod oauthbearer;
pub mod plain;
pub mod scram;

use std::collections::HashMap;

use crate::config::BrokerConfig;
use crate::metadata::command::ScramCredential;

/// A SASL mechanism Weir offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Scram(scram::Hash),
    OAuthBearer,
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "SCRAM-SHA-256" => Some(Mechanism::Scram(scram::Hash::Sha256)),
            "SCRAM-SHA-512" => Some(Mechanism::Scram(scram::Hash::Sha512)),
            "OAUTHBEARER" => Some(Mechanism::OAuthBearer),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(hash) => hash.mechanism(),
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// What one step of an exchange gives.
#[derive(Debug)]
pub enum Step {
    /// Send this to the client and wait for its next message.
    Challenge(Vec<u8>),
    /// Authenticated: the principal, the last bytes for the client, and
    /// when the credential expires (a token's `exp`), if it does.
    Done {
        principal: String,
        answer: Vec<u8>,
        expires_at_ms: Option<i64>,
    },
    /// Refused, and why (sent to the client as SaslAuthenticate's message).
    Failed(String),
}

/// A SASL listener's settings.
pub struct SaslListener {
    pub mechanisms: Vec<Mechanism>,
    /// PLAIN's users and passwords.
    plain_users: HashMap<String, String>,
    oauth: Option<oauthbearer::Validator>,
    /// `connections.max.reauth.ms`: 0 for sessions that never expire.
    pub reauth_ms: i64,
    /// `connection.failed.authentication.delay.ms`.
    pub failure_delay: std::time::Duration,
    /// The authenticator plugin (`weir.authenticator`) and the mechanisms
    /// whose credentials it checks (`weir.authenticator.mechanisms`).
    pub authenticator: Option<(String, Vec<Mechanism>)>,
}

impl SaslListener {
    pub fn from_config(config: &BrokerConfig, listener: &str) -> Result<SaslListener, String> {
        let get = |key: &str| config.listener_get(listener, key).unwrap_or_default();
        let mut mechanisms = Vec::new();
        for name in crate::config::defs::split_list(&get("sasl.enabled.mechanisms")) {
            match Mechanism::parse(&name) {
                Some(m) if !mechanisms.contains(&m) => mechanisms.push(m),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "listener {listener}: SASL mechanism {name} is not supported (sasl.enabled.mechanisms takes PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER)"
                    ))
                }
            }
        }
        if mechanisms.is_empty() {
            return Err(format!(
                "listener {listener}: sasl.enabled.mechanisms names no mechanism"
            ));
        }
        let authenticator = authenticator_binding(config, &mechanisms, listener)?;
        let plain_by_plugin = authenticator
            .as_ref()
            .is_some_and(|(_, m)| m.contains(&Mechanism::Plain));
        let mut plain_users = HashMap::new();
        let jaas_plain = jaas_config(config, listener, Mechanism::Plain);
        if mechanisms.contains(&Mechanism::Plain) && !(plain_by_plugin && jaas_plain.is_empty()) {
            let options = jaas::options(&jaas_plain).map_err(|e| {
                format!("listener {listener}: PLAIN needs its users in listener.name.{}.plain.sasl.jaas.config (user_<name>=\"<password>\"): {e}", listener.to_ascii_lowercase())
            })?;
            for (key, value) in options {
                if let Some(user) = key.strip_prefix("user_") {
                    plain_users.insert(user.to_string(), value);
                }
            }
        }
        let oauth = if mechanisms.contains(&Mechanism::OAuthBearer) {
            let validator = oauthbearer::Validator::from_config(config, listener)
                .map_err(|e| format!("listener {listener}: {e}"))?;
            if validator.is_unsecured() {
                tracing::warn!(%listener, "OAUTHBEARER takes unsigned tokens: set sasl.oauthbearer.jwks.endpoint.url outside tests");
            }
            Some(validator)
        } else {
            None
        };
        Ok(SaslListener {
            mechanisms,
            plain_users,
            oauth,
            reauth_ms: config.number("connections.max.reauth.ms").max(0),
            failure_delay: std::time::Duration::from_millis(
                config
                    .number("connection.failed.authentication.delay.ms")
                    .max(0) as u64,
            ),
            authenticator,
        })
    }

    /// The authenticator plugin to ask about credentials of `mechanism`,
    /// if one is bound for it.
    pub fn authenticator_for(&self, mechanism: Mechanism) -> Option<&str> {
        self.authenticator
            .as_ref()
            .filter(|(_, mechanisms)| mechanisms.contains(&mechanism))
            .map(|(name, _)| name.as_str())
    }

    /// The mechanism's names, as SaslHandshake lists them.
    pub fn mechanism_names(&self) -> Vec<&'static str> {
        self.mechanisms.iter().map(|m| m.name()).collect()
    }
}

/// `weir.authenticator` and the mechanisms it answers for, of those the
/// listener offers.
fn authenticator_binding(
    config: &BrokerConfig,
    offered: &[Mechanism],
    listener: &str,
) -> Result<Option<(String, Vec<Mechanism>)>, String> {
    let name = config.get("weir.authenticator").unwrap_or_default();
    if name.trim().is_empty() {
        return Ok(None);
    }
    let mut mechanisms = Vec::new();
    for m in crate::config::defs::split_list(
        &config
            .get("weir.authenticator.mechanisms")
            .unwrap_or_default(),
    ) {
        match Mechanism::parse(&m) {
            Some(m @ (Mechanism::Plain | Mechanism::OAuthBearer)) => {
                if offered.contains(&m) {
                    mechanisms.push(m)
                }
            }
            _ => {
                return Err(format!(
                "listener {listener}: weir.authenticator.mechanisms takes PLAIN and OAUTHBEARER, not {m}"
            ))
            }
        }
    }
    Ok(Some((name.trim().to_string(), mechanisms)))
}

/// What a client presented in the one message of PLAIN or OAUTHBEARER,
/// for an authenticator plugin; or why the message is refused.
pub fn credentials(
    mechanism: Mechanism,
    input: &[u8],
) -> Result<crate::security::plugin::Credentials, String> {
    use crate::security::plugin::Credentials;
    match mechanism {
        Mechanism::Plain => {
            let (authzid, user, password) = plain::parse(input)?;
            Ok(Credentials {
                mechanism: "PLAIN",
                authorization_id: authzid.to_string(),
                username: user.to_string(),
                secret: password.to_vec(),
            })
        }
        Mechanism::OAuthBearer => {
            let (authzid, token) =
                oauthbearer::parse(input).map_err(|e| format!("Authentication failed: {e}"))?;
            Ok(Credentials {
                mechanism: "OAUTHBEARER",
                authorization_id: authzid.unwrap_or_default().to_string(),
                username: String::new(),
                secret: token.as_bytes().to_vec(),
            })
        }
        Mechanism::Scram(_) => Err("SCRAM credentials are checked by the broker".into()),
    }
}

/// The JAAS line for a mechanism on a listener: Kafka's
/// `listener.name.<listener>.<mechanism>.sasl.jaas.config`, else
/// `sasl.jaas.config`.
fn jaas_config(config: &BrokerConfig, listener: &str, mechanism: Mechanism) -> String {
    let key = format!(
        "listener.name.{}.{}.sasl.jaas.config",
        listener.to_ascii_lowercase(),
        mechanism.name().to_ascii_lowercase()
    );
    config
        .get_set(&key)
        .map(str::to_string)
        .or_else(|| config.listener_get(listener, "sasl.jaas.config"))
        .unwrap_or_default()
}

/// One authentication on a connection, from SaslHandshake to the end of
/// SaslAuthenticate.
pub enum Exchange {
    Plain,
    Scram(scram::Exchange),
    OAuthBearer,
}

impl Exchange {
    pub fn start(mechanism: Mechanism) -> Exchange {
        match mechanism {
            Mechanism::Plain => Exchange::Plain,
            Mechanism::Scram(hash) => Exchange::Scram(scram::Exchange::new(hash)),
            Mechanism::OAuthBearer => Exchange::OAuthBearer,
        }
    }

    /// The client's next message. `scram` finds a user's SCRAM credential
    /// for the mechanism of this exchange.
    pub fn step(
        &mut self,
        listener: &SaslListener,
        input: &[u8],
        scram: &dyn Fn(&str) -> Option<ScramCredential>,
    ) -> Step {
        match self {
            Exchange::Plain => plain::authenticate(input, &listener.plain_users),
            Exchange::Scram(exchange) => exchange.step(input, scram),
            Exchange::OAuthBearer => match &listener.oauth {
                Some(validator) => validator.authenticate(input),
                None => Step::Failed("OAUTHBEARER is not enabled".into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn listener() -> SaslListener {
        SaslListener {
            mechanisms: vec![
                Mechanism::Plain,
                Mechanism::Scram(scram::Hash::Sha256),
                Mechanism::Scram(scram::Hash::Sha512),
                Mechanism::OAuthBearer,
            ],
            plain_users: [("alice".to_string(), "secret".to_string())].into(),
            oauth: Some(oauthbearer::Validator::unsecured()),
            reauth_ms: 0,
            failure_delay: std::time::Duration::ZERO,
            authenticator: None,
        }
    }

    /// Starts of messages each mechanism parses further than random bytes.
    const PREFIXES: &[&[u8]] = &[
        b"",
        b"n,,n=alice,r=",
        b"n,,\x01auth=Bearer ",
        b"\0alice\0",
        b"c=biws,r=",
    ];

    proptest! {
        /// The SASL fuzzer: any messages, in any number, to any mechanism,
        /// end in a challenge or a refusal, never a panic, and never
        /// authenticate without the credentials.
        #[test]
        fn malformed_exchanges_never_panic_or_authenticate(
            mechanism in 0..4usize,
            messages in proptest::collection::vec((0..PREFIXES.len(), proptest::collection::vec(any::<u8>(), 0..300)), 1..4),
        ) {
            let listener = listener();
            let salt = b"salt";
            let hash = scram::Hash::Sha256;
            let credential = hash.credential(salt, &hash.salted_password(b"secret", salt, 4096), 4096);
            let lookup = |user: &str| (user == "alice").then(|| credential.clone());
            let mut exchange = Exchange::start(listener.mechanisms[mechanism]);
            for (prefix, bytes) in messages {
                let mut message = PREFIXES[prefix].to_vec();
                message.extend_from_slice(&bytes);
                match exchange.step(&listener, &message, &lookup) {
                    Step::Challenge(_) => {}
                    Step::Failed(_) => break,
                    Step::Done { .. } => prop_assert!(false, "authenticated from random input"),
                }
            }
        }
    }
}
