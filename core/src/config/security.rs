//! The security configs Weir acts on, with Kafka's names: TLS on `SSL`
//! listeners (`crate::security::tls`). Each may also be given for one
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
        "A PEM file with the broker's private key and its certificate chain."
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
];

/// Whether a config holds a secret: DescribeConfigs shows no value for it
/// (and says it is sensitive), as Kafka does for its PASSWORD configs.
pub fn sensitive(name: &str) -> bool {
    let name = without_listener_prefix(name);
    name.ends_with(".password")
        || name.ends_with(".secret")
        || matches!(name, "ssl.keystore.key" | "sasl.jaas.config")
}

/// `listener.name.<name>.ssl.…` → `ssl.…` (and the same for `sasl.`);
/// other names unchanged.
pub fn without_listener_prefix(name: &str) -> &str {
    name.strip_prefix("listener.name.")
        .and_then(|rest| rest.split_once('.'))
        .map(|(_, config)| config)
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
    }
}
