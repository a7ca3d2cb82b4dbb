//! A test fixture, not a plugin to deploy: an authenticator that
//! misbehaves as its `behaviour` config value says, so the tests can prove
//! that authentication fails closed (tests/e2e/test_auth_plugins.py).
//!
//! - `loop`: never returns; `trap`: panics; `bad-principal`: accepts
//!   everyone as a principal with a newline in it.

use weir_plugin::auth::{Authenticated, Authenticator, Client, Credentials, Outcome};
use weir_plugin::host;

struct Hostile;

impl Authenticator for Hostile {
    fn authenticate(client: &Client, _credentials: &Credentials) -> Outcome {
        match host::config("behaviour").unwrap_or_default().as_str() {
            "loop" => loop {
                core::hint::black_box(client.principal.len());
            },
            "bad-principal" => Outcome::Accept(Authenticated {
                principal: "User:evil\nUser:admin".into(),
                lifetime_ms: None,
            }),
            _ => panic!("a hostile authenticator panics"),
        }
    }
}

weir_plugin::export_authenticator!(Hostile);
