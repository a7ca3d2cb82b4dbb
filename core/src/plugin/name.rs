//! What a plugin may be called, checked everywhere a name enters (the
//! config's `[[plugins]]`, the admin endpoint, `weir plugin new`): a
//! lowercase letter or digit, then up to 63 lowercase letters, digits,
//! `.`, `_` or `-`, and no `..`. Names become file names and log fields,
//! so nothing else (separators, control or bidirectional characters,
//! very long names) gets in.

/// The longest name.
pub const MAX_LEN: usize = 64;

/// `Ok` for a valid plugin name, else why not.
pub fn check(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let first_ok = name.chars().next().is_some_and(allowed);
    let rest_ok = name
        .chars()
        .all(|c| allowed(c) || matches!(c, '.' | '_' | '-'));
    if name.len() > MAX_LEN || !first_ok || !rest_ok || name.contains("..") {
        return Err(format!(
            "{:?} is not a plugin name: use 1 to {MAX_LEN} lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, with no '..'",
            shown(name)
        ));
    }
    Ok(())
}

/// A refused name as it is shown back: at most 80 characters.
fn shown(name: &str) -> String {
    match name.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn plain_names_pass() {
        for name in [
            "redact",
            "json-field",
            "crc32",
            "a",
            "my_plugin.v2",
            "9lives",
        ] {
            assert!(check(name).is_ok(), "{name}");
        }
        assert!(check(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn what_an_attacker_tried_is_refused() {
        for name in [
            "",
            "..",
            "a..b",
            "../etc",
            "a/b",
            "line\nbreak",
            "nul\0",
            "rtl\u{202E}txt",
            "Upper",
            "-dash",
            ".hidden",
            "with space",
        ] {
            assert!(check(name).is_err(), "{name:?}");
        }
        let long = "a".repeat(5000);
        let refused = check(&long).unwrap_err();
        assert!(
            refused.len() < 300,
            "the message stays short: {}",
            refused.len()
        );
    }
}
