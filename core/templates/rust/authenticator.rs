//! {{name}}: an authenticator. It checks SASL/PLAIN passwords against its
//! own store — here the config values `user.<name>` (replace them with
//! your directory, or hashes) — and names the principal `User:<name>`.
//! Users it does not know, and other mechanisms, are left to the broker.

use weir_plugin::auth::{Authenticated, Authenticator, Client, Credentials, Outcome};
use weir_plugin::host;

struct Plugin;

impl Authenticator for Plugin {
    fn authenticate(_client: &Client, credentials: &Credentials) -> Outcome {
        if credentials.mechanism != "PLAIN" {
            return Outcome::Defer;
        }
        let Some(password) = host::config(&format!("user.{}", credentials.username)) else {
            return Outcome::Defer;
        };
        if password.as_bytes() == credentials.secret.as_slice() {
            Outcome::Accept(Authenticated {
                principal: format!("User:{}", credentials.username),
                lifetime_ms: None,
            })
        } else {
            Outcome::Refuse("Invalid username or password".into())
        }
    }
}

weir_plugin::export_authenticator!(Plugin);
