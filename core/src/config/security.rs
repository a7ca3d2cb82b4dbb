//! The security configs Weir acts on, with Kafka's names: TLS on `SSL`
//! listeners (`crate::security::tls`) and SASL on `SASL_*` ones
//! (`crate::security::sasl`). Each may also be given for one
//! listener as `listener.name.<name>.<config>` (`BrokerConfig::listener_get`).
//! Values that are secrets are never shown by DescribeConfigs (`sensitive`).

use super::defs::{broker, BrokerDef, Kind};

pub static SECURITY: &[BrokerDef] = &[
    broker!(
        "ssl.keystore.type",
        Kind::String,
        Some("PEM"),
        false,
        "The broker's key and certificate format: PEM (JKS and PKCS12 are refused with how to convert them)."
    ),
    broker!(
        "ssl.keystore.location",
        Kind::String,
        None,
        false,
        "A PEM file with the broker's private key and its certificate chain; read again when it changes, so a renewed certificate needs no restart."
    ),
    broker!(
        "ssl.keystore.key",
        Kind::String,
        None,
        false,
        "The broker's private key, PEM, inline (instead of ssl.keystore.location)."
    ),
    broker!(
        "ssl.keystore.certificate.chain",
        Kind::String,
        None,
        false,
        "The broker's certificate chain, PEM, inline (with ssl.keystore.key)."
    ),
    broker!(
        "ssl.key.password",
        Kind::String,
        None,
        false,
        "Refused when set: encrypted private keys are not supported (store the key unencrypted, mode 0600)."
    ),
    broker!(
        "ssl.truststore.type",
        Kind::String,
        Some("PEM"),
        false,
        "The format of the CAs client certificates are checked against: PEM."
    ),
    broker!(
        "ssl.truststore.location",
        Kind::String,
        None,
        false,
        "A PEM file of the CA certificates client certificates are checked against."
    ),
    broker!(
        "ssl.truststore.certificates",
        Kind::String,
        None,
        false,
        "The CA certificates, PEM, inline (instead of ssl.truststore.location)."
    ),
    broker!(
        "ssl.client.auth",
        Kind::Enum(&["required", "requested", "none"]),
        Some("none"),
        false,
        "Whether clients of SSL listeners present certificates: required, requested (a client without one is User:ANONYMOUS) or none."
    ),
    broker!(
        "ssl.enabled.protocols",
        Kind::EnumList(&["TLSv1.2", "TLSv1.3"]),
        Some("TLSv1.2,TLSv1.3"),
        false,
        "The TLS versions SSL listeners accept."
    ),
    broker!(
        "ssl.principal.mapping.rules",
        Kind::String,
        Some("DEFAULT"),
        false,
        "How a client certificate's subject (RFC 2253, e.g. CN=alice,OU=eng) becomes a principal's name: RULE:pattern/replacement/[L|U] and DEFAULT, comma-separated; the first whose pattern matches the whole subject decides."
    ),
    broker!(
        "authorizer.class.name",
        Kind::String,
        None,
        false,
        "Kafka's ACL authorizer (org.apache.kafka.metadata.authorizer.StandardAuthorizer, or kafka.security.authorizer.AclAuthorizer) turns ACLs on; empty: every request is allowed."
    ),
    broker!(
        "super.users",
        Kind::String,
        None,
        false,
        "Principals that may do anything, separated by semicolons: User:admin;User:ops."
    ),
    broker!(
        "allow.everyone.if.no.acl.found",
        Kind::Bool,
        Some("false"),
        false,
        "Whether a resource that no ACL names is open to everyone (otherwise only super users may touch it)."
    ),
    broker!(
        "weir.authorizer",
        Kind::String,
        None,
        false,
        "An authorizer plugin (its [[plugins]] name) asked before the ACLs: it allows, denies or defers each action (deferred actions go to the ACLs when authorizer.class.name turns them on, else are allowed). Super users are not asked about; any plugin failure denies."
    ),
    broker!(
        "weir.authorizer.cache.ms",
        Kind::Long(0, i64::MAX),
        Some("0"),
        false,
        "How long a connection keeps the authorizer plugin's answers (0: the plugin is asked every time). A cached answer outlives a change of the plugin's mind by at most this long."
    ),
    broker!(
        "weir.authenticator",
        Kind::String,
        None,
        false,
        "An authenticator plugin (its [[plugins]] name) that checks SASL credentials of the mechanisms in weir.authenticator.mechanisms and names the principal; its defer answers fall back to the broker's own check. Any plugin failure refuses the client."
    ),
    broker!(
        "weir.authenticator.mechanisms",
        Kind::EnumList(&["PLAIN", "OAUTHBEARER"]),
        Some("PLAIN"),
        false,
        "The SASL mechanisms whose credentials go to the weir.authenticator plugin."
    ),
    broker!(
        "quota.window.num",
        Kind::Int(2, i32::MAX as i64),
        Some("11"),
        false,
        "How many windows a client's byte rate is measured over (quotas)."
    ),
    broker!(
        "quota.window.size.seconds",
        Kind::Int(1, i32::MAX as i64),
        Some("1"),
        false,
        "How long each quota window lasts."
    ),
    broker!(
        "sasl.enabled.mechanisms",
        Kind::EnumList(&["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]),
        Some("SCRAM-SHA-256,SCRAM-SHA-512"),
        false,
        "The SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners offer: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (GSSAPI is not supported). Kafka's default, GSSAPI, would leave a listener unusable, so SCRAM is the default."
    ),
    broker!(
        "sasl.jaas.config",
        Kind::String,
        None,
        false,
        "A JAAS login module line. PLAIN's users are its user_<name>=\"<password>\" options, set per listener and mechanism as listener.name.<listener>.plain.sasl.jaas.config."
    ),
    broker!(
        "connections.max.reauth.ms",
        Kind::Long(0, i64::MAX),
        Some("0"),
        false,
        "When positive, a SASL session lasts at most this long (or until its token expires, if sooner): the client must re-authenticate (KIP-368) or its connection is closed at its next request."
    ),
    broker!(
        "connection.failed.authentication.delay.ms",
        Kind::Int(0, i32::MAX as i64),
        Some("100"),
        false,
        "How long a connection that failed to authenticate stays open after its answer, so that the client reads the answer (and a guessing client is slowed down)."
    ),
    broker!(
        "sasl.oauthbearer.jwks.endpoint.url",
        Kind::String,
        None,
        false,
        "The JWKS file (a path or file:// URL) whose keys sign OAUTHBEARER tokens; re-read when it changes. Empty: unsigned tokens are accepted (Kafka's unsecured validator, for tests only)."
    ),
    broker!(
        "sasl.oauthbearer.expected.audience",
        Kind::List,
        None,
        false,
        "Audiences an OAUTHBEARER token must name one of (its aud claim); empty: not checked."
    ),
    broker!(
        "sasl.oauthbearer.expected.issuer",
        Kind::String,
        None,
        false,
        "The issuer an OAUTHBEARER token must have (its iss claim); empty: not checked."
    ),
    broker!(
        "sasl.oauthbearer.sub.claim.name",
        Kind::String,
        Some("sub"),
        false,
        "The OAUTHBEARER token claim that names the principal."
    ),
    broker!(
        "sasl.oauthbearer.clock.skew.seconds",
        Kind::Int(0, i32::MAX as i64),
        Some("30"),
        false,
        "How far the broker's clock may differ from the token issuer's when checking exp and nbf."
    ),
];

/// Whether a config holds a secret: DescribeConfigs shows no value for it
/// (and says it is sensitive), as Kafka does for its PASSWORD configs.
pub fn sensitive(name: &str) -> bool {
    let name = without_listener_prefix(name);
    name.ends_with(".password")
        || name.ends_with(".secret")
        || matches!(name, "ssl.keystore.key" | "sasl.jaas.config")
}

/// `listener.name.<name>.ssl.…` → `ssl.…` (and the same for `sasl.`,
/// and for `<mechanism>.sasl.jaas.config`); other names unchanged.
pub fn without_listener_prefix(name: &str) -> &str {
    name.strip_prefix("listener.name.")
        .and_then(|rest| rest.split_once('.'))
        .map(|(_, config)| {
            let mechanisms = ["plain.", "scram-sha-256.", "scram-sha-512.", "oauthbearer."];
            mechanisms
                .iter()
                .find_map(|m| config.strip_prefix(m))
                .filter(|c| *c == "sasl.jaas.config")
                .unwrap_or(config)
        })
        .filter(|config| config.starts_with("ssl.") || config.starts_with("sasl."))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_known_with_or_without_a_listener_prefix() {
        assert!(sensitive("ssl.keystore.key"));
        assert!(sensitive("listener.name.client.ssl.keystore.key"));
        assert!(sensitive("ssl.truststore.password"));
        assert!(!sensitive("ssl.keystore.location"));
        assert_eq!(
            without_listener_prefix("listener.name.client.ssl.client.auth"),
            "ssl.client.auth"
        );
        assert_eq!(
            without_listener_prefix("listener.name.client.x"),
            "listener.name.client.x"
        );
        assert_eq!(
            without_listener_prefix("listener.name.sasl_ssl.plain.sasl.jaas.config"),
            "sasl.jaas.config"
        );
        assert!(sensitive(
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config"
        ));
    }
}
