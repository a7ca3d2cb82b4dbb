//! SASL/OAUTHBEARER (RFC 7628) as Kafka's broker validates it: the client
//! sends a JWT; its signature is checked against the keys of a JWKS file
//! (`sasl.oauthbearer.jwks.endpoint.url`, a path or `file://` URL, re-read
//! when it changes), its expiry, not-before, audience and issuer against
//! the `sasl.oauthbearer.*` configs, and its subject claim names the
//! principal. With no JWKS configured, unsigned tokens (`alg: none`) are
//! taken as they are — Kafka's unsecured validator, for tests only.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

use super::Step;

/// How a listener checks bearer tokens.
pub struct Validator {
    jwks: Option<Jwks>,
    audience: Vec<String>,
    issuer: Option<String>,
    subject_claim: String,
    skew_seconds: u64,
}

/// The JWKS file and the keys last read from it.
struct Jwks {
    path: PathBuf,
    loaded: Mutex<Option<(SystemTime, JwkSet)>>,
}

impl Validator {
    pub fn from_config(
        config: &crate::config::BrokerConfig,
        listener: &str,
    ) -> Result<Validator, String> {
        let get = |key: &str| config.listener_get(listener, key).filter(|v| !v.is_empty());
        let jwks = get("sasl.oauthbearer.jwks.endpoint.url").map(|url| {
            let path = url.strip_prefix("file://").unwrap_or(&url);
            Jwks {
                path: PathBuf::from(path),
                loaded: Mutex::new(None),
            }
        });
        if let Some(url) = get("sasl.oauthbearer.jwks.endpoint.url") {
            if url.starts_with("http://") || url.starts_with("https://") {
                return Err(format!("sasl.oauthbearer.jwks.endpoint.url {url}: only files (a path or file://) are supported; fetch the JWKS into a file"));
            }
        }
        let validator = Validator {
            jwks,
            audience: get("sasl.oauthbearer.expected.audience")
                .map(|a| crate::config::defs::split_list(&a))
                .unwrap_or_default(),
            issuer: get("sasl.oauthbearer.expected.issuer"),
            subject_claim: get("sasl.oauthbearer.sub.claim.name").unwrap_or_else(|| "sub".into()),
            skew_seconds: get("sasl.oauthbearer.clock.skew.seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(30),
        };
        if let Some(jwks) = &validator.jwks {
            jwks.keys()
                .map_err(|e| format!("sasl.oauthbearer.jwks.endpoint.url: {e}"))?;
        }
        Ok(validator)
    }

    /// A validator taking unsigned tokens, as with no JWKS configured.
    #[cfg(test)]
    pub fn unsecured() -> Validator {
        Validator {
            jwks: None,
            audience: Vec::new(),
            issuer: None,
            subject_claim: "sub".into(),
            skew_seconds: 30,
        }
    }

    /// Whether tokens are taken unsigned (no JWKS configured).
    pub fn is_unsecured(&self) -> bool {
        self.jwks.is_none()
    }

    /// Checks the client's one message: `n,[a=authzid],\x01auth=Bearer <jwt>\x01…\x01`.
    pub fn authenticate(&self, input: &[u8]) -> Step {
        match self.check(input) {
            Ok((principal, expires_at_ms)) => Step::Done {
                principal,
                answer: Vec::new(),
                expires_at_ms: Some(expires_at_ms),
            },
            Err(reason) => Step::Failed(format!("Authentication failed: {reason}")),
        }
    }

    fn check(&self, input: &[u8]) -> Result<(String, i64), String> {
        let (authzid, token) = parse(input)?;
        let claims = match &self.jwks {
            Some(jwks) => self.verified_claims(jwks, token)?,
            None => self.unsecured_claims(token)?,
        };
        let subject = claims
            .get(&self.subject_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("the token has no {} claim", self.subject_claim))?;
        if authzid.is_some_and(|a| a != subject) {
            return Err("the authorization id differs from the token's subject".into());
        }
        let expires = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or("the token has no exp claim")?;
        Ok((format!("User:{subject}"), (expires * 1000.0) as i64))
    }

    /// The claims of a token signed by a key of the JWKS, after the
    /// standard checks (signature, exp, nbf, aud, iss).
    fn verified_claims(&self, jwks: &Jwks, token: &str) -> Result<Map<String, Value>, String> {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("invalid token: {e}"))?;
        let keys = jwks.keys()?;
        let jwk = match &header.kid {
            Some(kid) => keys
                .find(kid)
                .ok_or_else(|| format!("no key {kid} in the JWKS"))?,
            None if keys.keys.len() == 1 => &keys.keys[0],
            None => return Err("the token names no key (kid) and the JWKS has several".into()),
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key: {e}"))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.skew_seconds;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if self.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| format!("invalid token: {e}"))
    }

    /// An unsigned token's claims (`alg: none`), with its expiry checked.
    fn unsecured_claims(&self, token: &str) -> Result<Map<String, Value>, String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
            return Err("the token is not a JWT".into());
        };
        let json = |part: &str| -> Result<Map<String, Value>, String> {
            let bytes = BASE64URL
                .decode(part.trim_end_matches('='))
                .map_err(|_| "the token is not base64url")?;
            serde_json::from_slice(&bytes).map_err(|_| "the token is not JSON".into())
        };
        if json(header)?.get("alg").and_then(Value::as_str) != Some("none") {
            return Err("only unsigned tokens (alg none) are accepted without a JWKS".into());
        }
        let claims = json(payload)?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or("the token has no exp claim")?;
        if exp + (self.skew_seconds as f64) < now {
            return Err("the token has expired".into());
        }
        Ok(claims)
    }
}

impl Jwks {
    /// The key set, re-read when the file changed (key rotation).
    fn keys(&self) -> Result<JwkSet, String> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, keys)) = loaded.as_ref() {
            if *at == modified {
                return Ok(keys.clone());
            }
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let keys: JwkSet = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a JWKS: {e}", self.path.display()))?;
        *loaded = Some((modified, keys.clone()));
        Ok(keys)
    }
}

/// The client's message, `n,[a=authzid],\x01auth=Bearer <jwt>\x01…\x01`:
/// its authorization id (if any) and its token.
pub fn parse(input: &[u8]) -> Result<(Option<&str>, &str), String> {
    let text = std::str::from_utf8(input).map_err(|_| "the message is not UTF-8")?;
    let (gs2, rest) = text
        .split_once('\x01')
        .ok_or("invalid OAUTHBEARER message")?;
    let authzid = match gs2.strip_prefix("n,").and_then(|g| g.strip_suffix(',')) {
        Some("") => None,
        Some(a) => Some(a.strip_prefix("a=").ok_or("invalid GS2 header")?),
        None => return Err("invalid GS2 header".into()),
    };
    let token = rest
        .split('\x01')
        .find_map(|kv| kv.strip_prefix("auth="))
        .and_then(|auth| {
            auth.strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("no bearer token in the message")?;
    Ok((authzid, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsecured() -> Validator {
        Validator::unsecured()
    }

    fn token(claims: &str) -> String {
        format!(
            "{}.{}.",
            BASE64URL.encode(r#"{"alg":"none"}"#),
            BASE64URL.encode(claims)
        )
    }

    fn message(token: &str) -> Vec<u8> {
        format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
    }

    #[test]
    fn unsecured_tokens_name_their_subject_until_they_expire() {
        let exp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60;
        let good = token(&format!(r#"{{"sub":"alice","exp":{exp}}}"#));
        match unsecured().authenticate(&message(&good)) {
            Step::Done {
                principal,
                expires_at_ms,
                ..
            } => {
                assert_eq!(principal, "User:alice");
                assert_eq!(expires_at_ms, Some(exp as i64 * 1000));
            }
            _ => panic!("a valid token failed"),
        }
        let expired = token(r#"{"sub":"alice","exp":1000}"#);
        let no_subject = token(&format!(r#"{{"exp":{exp}}}"#));
        for bad in [
            message(&expired),
            message(&no_subject),
            message("not-a-jwt"),
            b"n,,\x01\x01".to_vec(),
            b"garbage".to_vec(),
            format!("n,a=bob,\x01auth=Bearer {good}\x01\x01").into_bytes(),
        ] {
            assert!(matches!(unsecured().authenticate(&bad), Step::Failed(_)));
        }
    }
}
