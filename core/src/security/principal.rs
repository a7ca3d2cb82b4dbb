//! Principals from TLS client certificates, as Kafka's default principal
//! builder makes them: the certificate subject as an RFC 2253 distinguished
//! name (most specific part first: `CN=alice,OU=eng,O=acme,C=US`), then
//! `ssl.principal.mapping.rules`, a comma-separated list of
//! `RULE:pattern/replacement/[L|U]` and `DEFAULT`. The first rule whose
//! pattern matches the whole name makes the principal's name (`$1` refers to
//! a group; `L`/`U` lower- or upper-case it); `DEFAULT` keeps the name as it
//! is. A connection without a client certificate is `User:ANONYMOUS`.

use regex::Regex;
use x509_parser::prelude::{FromDer, X509Certificate};

pub const ANONYMOUS: &str = "User:ANONYMOUS";

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        replacement: String,
        case: Option<char>,
    },
}

/// `ssl.principal.mapping.rules`, parsed.
#[derive(Debug, Clone)]
pub struct MappingRules(Vec<Rule>);

impl MappingRules {
    pub fn parse(text: &str) -> Result<MappingRules, String> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                let (pattern, after) = until_slash(after)
                    .ok_or_else(|| format!("rule {rest:?} has no /replacement/"))?;
                let (replacement, after) =
                    until_slash(after).ok_or_else(|| format!("rule {rest:?} has no closing /"))?;
                let (case, after) = match after.chars().next() {
                    Some(c @ ('L' | 'U')) => (Some(c), &after[1..]),
                    _ => (None, after),
                };
                let pattern = Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("rule pattern {pattern:?}: {e}"))?;
                rules.push(Rule::Replace {
                    pattern,
                    replacement: java_replacement(&replacement),
                    case,
                });
                rest = after;
            } else {
                return Err(format!(
                    "{rest:?} is neither DEFAULT nor RULE:pattern/replacement/"
                ));
            }
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
            } else if !rest.is_empty() {
                return Err(format!("expected a comma before {rest:?}"));
            }
        }
        if rules.is_empty() {
            return Err("no rules".into());
        }
        Ok(MappingRules(rules))
    }

    /// The principal name for distinguished name `dn`; None when no rule
    /// applies (Kafka refuses the connection then).
    pub fn apply(&self, dn: &str) -> Option<String> {
        self.0.iter().find_map(|rule| match rule {
            Rule::Default => Some(dn.to_string()),
            Rule::Replace {
                pattern,
                replacement,
                case,
            } => pattern.is_match(dn).then(|| {
                let name = pattern.replace(dn, replacement.as_str()).into_owned();
                match case {
                    Some('L') => name.to_lowercase(),
                    Some('U') => name.to_uppercase(),
                    _ => name,
                }
            }),
        })
    }
}

/// The text up to the next unescaped `/` (with `\/` unescaped), and what
/// follows that slash.
fn until_slash(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if text[i + 1..].starts_with('/') => {
                out.push('/');
                chars.next();
            }
            '/' => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// Java's `$1` group references as the regex crate's `${1}` (so `$1x` is
/// group 1 followed by x, as in Java).
fn java_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            let mut group = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                group.push(*d);
                chars.next();
            }
            out.push_str(&format!("${{{group}}}"));
        } else if c == '$' {
            out.push_str("$$");
        } else {
            out.push(c);
        }
    }
    out
}

/// The subject of a DER certificate as an RFC 2253 distinguished name, as
/// Java's `X500Principal.getName()` writes it.
pub fn subject_dn(der: &[u8]) -> Result<String, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
    let rdns: Vec<String> = cert
        .subject()
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let key = short_name(&attr.attr_type().to_id_string());
                    let value = attr.as_str().unwrap_or("");
                    format!("{key}={}", escape(value))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    // Most specific first.
    Ok(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

fn short_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        other => return other.to_string(),
    }
    .to_string()
}

/// RFC 2253 escaping of an attribute value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i + 1 == value.chars().count());
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || edge_space
            || (i == 0 && c == '#')
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_documented_rules_map_as_kafka_maps_them() {
        let rules = MappingRules::parse(
            r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
        )
        .unwrap();
        assert_eq!(
            rules
                .apply("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .as_deref(),
            Some("serviceuser")
        );
        assert_eq!(
            rules
                .apply("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .as_deref(),
            Some("adminuser@admin")
        );
        assert_eq!(
            rules.apply("OU=x,CN=Mixed.Case").as_deref(),
            Some("mixed.case")
        );
        assert_eq!(rules.apply("O=nobody").as_deref(), Some("O=nobody"));
    }

    #[test]
    fn escaped_slashes_upper_case_and_no_match() {
        let rules = MappingRules::parse(r"RULE:^CN=([^,]*)\/x$/$1-svc/U").unwrap();
        assert_eq!(rules.apply("CN=a/x").as_deref(), Some("A-SVC"));
        assert_eq!(rules.apply("CN=a"), None, "no rule, no DEFAULT: refused");
        assert!(MappingRules::parse("RULE:oops").is_err());
        assert!(MappingRules::parse("DEFAULT RULE:a/b/").is_err());
        assert!(MappingRules::parse("RULE:(/x/").is_err());
    }

    #[test]
    fn values_are_escaped_as_rfc_2253_says() {
        assert_eq!(escape("a,b+c"), r"a\,b\+c");
        assert_eq!(escape(" lead"), r"\ lead");
        assert_eq!(escape("#x"), r"\#x");
        assert_eq!(escape("plain"), "plain");
    }
}
