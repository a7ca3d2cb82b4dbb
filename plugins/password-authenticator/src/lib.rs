//! The standard password authenticator: checks SASL/PLAIN credentials
//! against password hashes in its config — Argon2 (`$argon2id$…`, PHC
//! strings) or bcrypt (`$2b$…`) — so the broker's config holds no
//! password, and names the principal `User:<name>`.
//!
//! Config: `user.<name>` = the hash of that user's password (e.g.
//! `user.alice = "$argon2id$v=19$m=19456,t=2,p=1$…"`); `unknown` = `refuse`
//! (default) or `defer`, for users it has no hash for (`defer` lets the
//! broker check them against its JAAS users).

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use weir_plugin::auth::{Authenticated, Authenticator, Client, Credentials, Outcome};
use weir_plugin::host;

struct Passwords;

impl Authenticator for Passwords {
    fn authenticate(_client: &Client, credentials: &Credentials) -> Outcome {
        if credentials.mechanism != "PLAIN" {
            return Outcome::Defer;
        }
        let user = &credentials.username;
        let Some(hash) = host::config(&format!("user.{user}")) else {
            return match host::config("unknown").as_deref() {
                Some("defer") => Outcome::Defer,
                _ => Outcome::Refuse("Invalid username or password".into()),
            };
        };
        match verify(&credentials.secret, hash.trim()) {
            Ok(true) => Outcome::Accept(Authenticated {
                principal: format!("User:{user}"),
                lifetime_ms: None,
            }),
            Ok(false) => Outcome::Refuse("Invalid username or password".into()),
            Err(why) => {
                host::log(
                    host::Level::Error,
                    &format!("the hash of user {user} is not usable: {why}"),
                );
                Outcome::Refuse("Invalid username or password".into())
            }
        }
    }
}

/// Whether `password` matches `hash` (Argon2 PHC string or bcrypt).
fn verify(password: &[u8], hash: &str) -> Result<bool, String> {
    if hash.starts_with("$argon2") {
        let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
        Ok(argon2::Argon2::default()
            .verify_password(password, &parsed)
            .is_ok())
    } else if hash.starts_with("$2") {
        bcrypt::verify(password, hash).map_err(|e| e.to_string())
    } else {
        Err("neither an Argon2 ($argon2…) nor a bcrypt ($2…) hash".into())
    }
}

weir_plugin::export_authenticator!(Passwords);
