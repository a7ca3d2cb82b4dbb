//! The part of a JAAS config line (`sasl.jaas.config`) a broker reads:
//! `<LoginModule> required key="value" …;` — the options, in order.

/// The options of one login module entry. Values may be quoted (with `\"`
/// and `\\` escapes) or bare.
pub fn options(config: &str) -> Result<Vec<(String, String)>, String> {
    let config = config.trim().trim_end_matches(';').trim();
    let mut words = config.splitn(3, char::is_whitespace);
    let _module = words
        .next()
        .filter(|m| !m.is_empty())
        .ok_or("no login module named")?;
    match words.next() {
        Some("required" | "requisite" | "sufficient" | "optional") => {}
        other => {
            return Err(format!(
                "expected a control flag (required) after the login module, found {other:?}"
            ))
        }
    }
    let mut rest = words.next().unwrap_or("").trim_start();
    let mut options = Vec::new();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, found {rest:?}"))?;
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("invalid option name {key:?}"));
        }
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().map(|(_, c)| c).ok_or("unfinished escape")?),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated quoted value of {key}"))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        options.push((key.to_string(), value));
        rest = remaining.trim_start();
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_plain_login_module() {
        let line = r#"org.apache.kafka.common.security.plain.PlainLoginModule required
            username="admin" password="admin-secret"
            user_admin="admin-secret" user_alice="a \"quoted\" one" unquoted=yes;"#;
        let options = options(line).unwrap();
        assert_eq!(options[0], ("username".into(), "admin".into()));
        assert_eq!(options[3], ("user_alice".into(), "a \"quoted\" one".into()));
        assert_eq!(options[4], ("unquoted".into(), "yes".into()));
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            "",
            "Module",
            "Module maybe a=b;",
            "Module required a=\"b;",
            "Module required =x;",
        ] {
            assert!(options(bad).is_err(), "{bad}");
        }
    }
}
