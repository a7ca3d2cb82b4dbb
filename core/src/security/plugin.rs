//! The seams where plugins decide who a client is (an authenticator, bound
//! with `weir.authenticator`) and what it may do (an authorizer, bound with
//! `weir.authorizer`), and the client every plugin call is made for.
//!
//! The plugin layer implements these traits; the server asks through them,
//! and treats any failure as a refusal: authentication and authorization
//! fail closed.

use crate::partition::partitioner::PluginFailure;

/// The client a plugin call is made for (the WIT's `client`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub principal: String,
    /// The client's IP address, without Kafka's leading '/'.
    pub address: String,
    pub client_id: Option<String>,
    pub listener: String,
}

/// Credentials a client presented through SASL.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `PLAIN` or `OAUTHBEARER`.
    pub mechanism: &'static str,
    pub authorization_id: String,
    /// PLAIN's user name; empty for OAUTHBEARER.
    pub username: String,
    /// PLAIN's password or OAUTHBEARER's token.
    pub secret: Vec<u8>,
}

/// An authenticator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    Accept {
        principal: String,
        lifetime_ms: Option<i64>,
    },
    Refuse(String),
    /// The broker checks the credentials as it would without the plugin.
    Defer,
}

pub trait Authenticator: Send + Sync {
    fn name(&self) -> &str;
    fn authenticate(
        &self,
        caller: &Caller,
        credentials: &Credentials,
    ) -> Result<Authentication, PluginFailure>;
}

/// One thing a principal asks to do: an operation (Kafka's `AclOperation`
/// code) on a resource (`ResourceType` code and name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Action {
    pub operation: i8,
    pub resource_type: i8,
    pub name: String,
}

/// An authorizer's answer for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    Deny,
    /// Let the ACLs decide.
    Defer,
}

pub trait Authorizer: Send + Sync {
    fn name(&self) -> &str;
    /// One decision per action, in order.
    fn authorize(
        &self,
        caller: &Caller,
        actions: &[Action],
    ) -> Result<Vec<Decision>, PluginFailure>;
}

/// Checks a principal an authenticator named: `Type:name` (a bare name is a
/// `User`), printable, at most 1 KiB.
pub fn checked_principal(principal: &str) -> Result<String, String> {
    if principal.is_empty() || principal.len() > 1024 {
        return Err(format!(
            "a principal of {} bytes (1 to 1024)",
            principal.len()
        ));
    }
    if principal.chars().any(char::is_control) {
        return Err("a principal with control characters".into());
    }
    Ok(match principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => principal.to_string(),
        Some(_) => {
            return Err(format!(
                "the principal {principal:?} has an empty type or name"
            ))
        }
        None => format!("User:{principal}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_typed_and_bounded() {
        assert_eq!(checked_principal("alice").unwrap(), "User:alice");
        assert_eq!(checked_principal("User:bob").unwrap(), "User:bob");
        assert_eq!(checked_principal("Group:ops").unwrap(), "Group:ops");
        for bad in ["", "User:", ":x", "a\nb", &"x".repeat(1025)] {
            assert!(checked_principal(bad).is_err(), "{bad:?}");
        }
    }
}
