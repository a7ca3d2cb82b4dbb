//! SASL/PLAIN (RFC 4616) as Kafka's broker checks it: the users and
//! passwords are the `user_<name>="<password>"` options of the listener's
//! JAAS config (`sasl.jaas.config`, `jaas`).

use std::collections::HashMap;

use super::Step;
use crate::security::constant_time_eq;

/// The parts of a PLAIN message, `authzid NUL user NUL password`, checked
/// as Kafka checks them; or why it is refused.
pub fn parse(input: &[u8]) -> Result<(&str, &str, &[u8]), String> {
    let mut parts = input.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid SASL/PLAIN message: expected 3 fields separated by NUL".into());
    };
    let (Ok(authzid), Ok(user)) = (std::str::from_utf8(authzid), std::str::from_utf8(user)) else {
        return Err("Invalid SASL/PLAIN message: names must be UTF-8".into());
    };
    if user.is_empty() {
        return Err("Authentication failed: username not specified".into());
    }
    if !authzid.is_empty() && authzid != user {
        return Err(
            "Authentication failed: Client requested an authorization id that is different from username".into(),
        );
    }
    Ok((authzid, user, password))
}

/// Checks one PLAIN message against the JAAS users.
pub fn authenticate(input: &[u8], users: &HashMap<String, String>) -> Step {
    let (_, user, password) = match parse(input) {
        Ok(parts) => parts,
        Err(reason) => return Step::Failed(reason),
    };
    // Compare against something of the same shape whether or not the user
    // exists, so timing does not tell which names are known.
    let expected = users.get(user);
    let stored = expected.map_or(&b"\0no such user\0"[..], |p| p.as_bytes());
    if constant_time_eq(stored, password) && expected.is_some() {
        Step::Done {
            principal: format!("User:{user}"),
            answer: Vec::new(),
            expires_at_ms: None,
        }
    } else {
        Step::Failed("Authentication failed: Invalid username or password".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> HashMap<String, String> {
        [("alice".to_string(), "alice-secret".to_string())].into()
    }

    #[test]
    fn right_and_wrong_passwords() {
        assert!(matches!(
            authenticate(b"\0alice\0alice-secret", &users()),
            Step::Done { .. }
        ));
        assert!(matches!(
            authenticate(b"alice\0alice\0alice-secret", &users()),
            Step::Done { .. }
        ));
        for bad in [
            &b"\0alice\0guess"[..],
            b"\0bob\0alice-secret",
            b"bob\0alice\0alice-secret",
            b"\0\0",
            b"alice-secret",
            b"\0alice\0alice-secret\0",
            b"",
        ] {
            assert!(
                matches!(authenticate(bad, &users()), Step::Failed(_)),
                "{bad:?}"
            );
        }
    }
}
