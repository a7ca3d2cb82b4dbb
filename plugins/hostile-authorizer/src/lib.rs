//! A test fixture, not a plugin to deploy: an authorizer that misbehaves
//! as its `behaviour` config value says, so the tests can prove that
//! authorization fails closed (tests/e2e/test_auth_plugins.py).
//!
//! - `loop`: never returns; `trap`: panics; `short`: answers one decision
//!   fewer than it was asked for; `allow`: allows everything (the
//!   well-behaved version it is swapped with);
//! - `caller`: allows an action only when `host.caller()` names the same
//!   client as its argument (proving the broker passes it).

use weir_plugin::auth::{Action, Authorizer, Client, Decision};
use weir_plugin::host;

struct Hostile;

impl Authorizer for Hostile {
    fn authorize(client: &Client, _action: &Action) -> Decision {
        match host::config("behaviour").unwrap_or_default().as_str() {
            "allow" => Decision::Allow,
            "caller" => match host::caller() {
                Some(c) if c.principal == client.principal && c.address == client.address => {
                    Decision::Allow
                }
                _ => Decision::Deny,
            },
            "loop" => loop {
                core::hint::black_box(client.principal.len());
            },
            _ => panic!("a hostile authorizer panics"),
        }
    }

    fn authorize_all(client: &Client, actions: &[Action]) -> Vec<Decision> {
        let mut decisions: Vec<Decision> =
            actions.iter().map(|a| Self::authorize(client, a)).collect();
        if host::config("behaviour").as_deref() == Some("short") {
            decisions.pop();
        }
        decisions
    }
}

weir_plugin::export_authorizer!(Hostile);
