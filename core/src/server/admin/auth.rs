//! Who may change the broker through the admin endpoint. Every mutating
//! call (deploying, replacing or removing a plugin) must carry
//! `Authorization: Bearer <token>` with a token listed in the token file,
//! `weir.admin.tokens.file` (default `admin.tokens` beside the metadata
//! log): one `PRINCIPAL TOKEN` pair per line, `#` comments. When that
//! default file does not exist the broker writes one at start-up with a
//! random token for `User:admin`, readable by its owner only, where `weir
//! plugin` finds it when run beside the broker. The file is read again
//! when it changes, so tokens are added or revoked without a restart.
//! Reads (metrics, plugin lists, cluster status) need no token. On an
//! https admin listener that asks for client certificates
//! (`listener.name.admin.ssl.client.auth`), a certificate's principal
//! stands for a token.
//! `weir.admin.authentication=none` turns the check off.
//!
//! Tokens are compared by their SHA-256 digests in constant time, so
//! neither a token's bytes nor its length leak through timing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::config::BrokerConfig;

/// The principal the generated token belongs to.
pub const DEFAULT_PRINCIPAL: &str = "User:admin";
/// The token file's name, when `weir.admin.tokens.file` is not set.
pub const DEFAULT_FILE: &str = "admin.tokens";

/// The admin endpoint's tokens, as last read from their file.
pub struct AdminAuth {
    /// None: `weir.admin.authentication=none`.
    file: Option<PathBuf>,
    tokens: Mutex<Tokens>,
}

#[derive(Default)]
struct Tokens {
    modified: Option<SystemTime>,
    entries: Vec<(String, [u8; 32])>,
}

impl AdminAuth {
    /// From the broker's config: the token file, written with a fresh
    /// token when it is the default one and missing.
    pub fn from_config(config: &BrokerConfig) -> anyhow::Result<AdminAuth> {
        if config.get("weir.admin.authentication").as_deref() == Some("none") {
            tracing::warn!(
                "weir.admin.authentication=none: anyone who can reach the admin endpoint may deploy and remove plugins"
            );
            return Ok(AdminAuth {
                file: None,
                tokens: Mutex::default(),
            });
        }
        let configured = config
            .get("weir.admin.tokens.file")
            .filter(|f| !f.is_empty());
        let file = match configured {
            Some(file) => PathBuf::from(file),
            None => {
                let file = config.metadata_log_dir().join(DEFAULT_FILE);
                if !file.exists() {
                    generate(&file)?;
                    tracing::info!(file = %file.display(), principal = DEFAULT_PRINCIPAL,
                        "wrote an admin token; `weir plugin` run here finds it");
                }
                file
            }
        };
        let auth = AdminAuth {
            file: Some(file),
            tokens: Mutex::default(),
        };
        auth.current()?;
        Ok(auth)
    }

    /// The principal whose token `presented` is; None when no token matches.
    pub fn principal(&self, presented: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let tokens = match self.current() {
            Ok(tokens) => tokens,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the admin token file; refusing");
                return None;
            }
        };
        // Every entry is compared, whichever matches.
        let mut found = None;
        for (principal, token) in &tokens {
            if crate::security::constant_time_eq(token, &digest) && found.is_none() {
                found = Some(principal.clone());
            }
        }
        found
    }

    fn required(&self) -> bool {
        self.file.is_some()
    }

    /// The tokens, read again when the file changed.
    fn current(&self) -> anyhow::Result<Vec<(String, [u8; 32])>> {
        let Some(file) = &self.file else {
            return Ok(Vec::new());
        };
        let modified = std::fs::metadata(file)
            .and_then(|m| m.modified())
            .with_context(|| format!("admin token file {}", file.display()))?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.modified != Some(modified) {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            tokens.entries = parse(&text).with_context(|| format!("in {}", file.display()))?;
            tokens.modified = Some(modified);
        }
        Ok(tokens.entries.clone())
    }
}

/// `PRINCIPAL TOKEN` lines, with their tokens' digests.
fn parse(text: &str) -> anyhow::Result<Vec<(String, [u8; 32])>> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(principal), Some(token), None) = (words.next(), words.next(), words.next())
        else {
            anyhow::bail!("line {}: expected `PRINCIPAL TOKEN`", n + 1);
        };
        if !principal.contains(':') {
            anyhow::bail!(
                "line {}: a principal is TYPE:NAME, such as User:alice",
                n + 1
            );
        }
        if token.len() < 16 {
            anyhow::bail!("line {}: a token must be at least 16 characters", n + 1);
        }
        entries.push((
            principal.to_string(),
            Sha256::digest(token.as_bytes()).into(),
        ));
    }
    Ok(entries)
}

/// Writes a token file with one random token for `User:admin`, mode 0600.
fn generate(file: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let token = random_token()?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("creating {}", file.display()))?;
    writeln!(
        out,
        "# Admin endpoint tokens: PRINCIPAL TOKEN per line (weir.admin.tokens.file).\n{DEFAULT_PRINCIPAL} {token}"
    )?;
    out.sync_all()?;
    Ok(())
}

/// 32 random bytes from the OS, as hex.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A mutating call's caller: a handler taking this answers 401 unless the
/// request carries a listed token.
pub struct Admin {
    pub principal: String,
}

impl<S: Sync> FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Admin, Response> {
        let Some(auth) = parts.extensions.get::<Arc<AdminAuth>>().cloned() else {
            return Err(
                (StatusCode::INTERNAL_SERVER_ERROR, "no admin authentication").into_response(),
            );
        };
        if !auth.required() {
            return Ok(Admin {
                principal: "User:ANONYMOUS".into(),
            });
        }
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let refuse = |why: &str| {
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!(
                    "{why}: this call needs an admin token (Authorization: Bearer TOKEN); `weir plugin` \
                    sends WEIR_ADMIN_TOKEN, or the first token of --token-file, or of \
                    ./weir-data/{DEFAULT_FILE}"
                ),
            )
                .into_response()
        };
        // A client certificate (an https admin listener with
        // ssl.client.auth) authenticates as a token does.
        let certified = parts
            .extensions
            .get::<axum::extract::ConnectInfo<super::listener::AdminPeer>>()
            .and_then(|peer| peer.0.principal.clone());
        let principal = match (presented, certified) {
            (Some(token), _) => match auth.principal(token) {
                Some(principal) => principal,
                None => return Err(refuse("unknown token")),
            },
            (None, Some(principal)) => principal,
            (None, None) => return Err(refuse("no token")),
        };
        // With ACLs on, managing plugins takes ALTER on the cluster (a
        // super user, or an ACL). Admin calls have no Kafka host: only
        // ACLs for any host (*) apply.
        let broker = parts.extensions.get::<Arc<crate::server::Broker>>();
        let allowed = broker.is_none_or(|b| {
            use crate::security::acl::{operation, resource, CLUSTER_NAME, WILDCARD};
            let caller = || crate::security::plugin::Caller {
                principal: principal.clone(),
                address: WILDCARD.to_string(),
                client_id: None,
                listener: "ADMIN".to_string(),
            };
            let alter_cluster = crate::security::plugin::Action {
                operation: operation::ALTER,
                resource_type: resource::CLUSTER,
                name: CLUSTER_NAME.to_string(),
            };
            crate::server::authorize::decide(b, caller, None, &[alter_cluster])[0]
        });
        if !allowed {
            return Err((
                StatusCode::FORBIDDEN,
                format!("{principal} may not manage plugins: that takes ALTER on the cluster (super.users, or an ACL on the cluster resource)"),
            )
                .into_response());
        }
        Ok(Admin { principal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_from_lines_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(
            &file,
            "# ops\nUser:alice aaaaaaaaaaaaaaaaaaaa\n\nUser:bob bbbbbbbbbbbbbbbbbbbb\n",
        )
        .unwrap();
        let auth = AdminAuth {
            file: Some(file.clone()),
            tokens: Mutex::default(),
        };
        assert_eq!(
            auth.principal("bbbbbbbbbbbbbbbbbbbb").as_deref(),
            Some("User:bob")
        );
        assert_eq!(
            auth.principal("aaaaaaaaaaaaaaaaaaaa").as_deref(),
            Some("User:alice")
        );
        assert_eq!(auth.principal("aaaaaaaaaaaaaaaaaaa"), None);
        assert_eq!(auth.principal(""), None);
        // Revoked by editing the file (a later modification time).
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, "User:bob bbbbbbbbbbbbbbbbbbbb\n").unwrap();
        assert_eq!(auth.principal("aaaaaaaaaaaaaaaaaaaa"), None);
        // A file that cannot be read refuses everyone.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(auth.principal("bbbbbbbbbbbbbbbbbbbb"), None);
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let err = parse("User:a aaaaaaaaaaaaaaaaaaaa\nalice aaaaaaaaaaaaaaaaaaaa\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(parse("User:a short\n").is_err());
        assert!(parse("User:a one two three\n").is_err());
    }

    #[test]
    fn the_generated_file_is_private_and_holds_one_admin_token() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("meta").join(DEFAULT_FILE);
        generate(&file).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let entries = parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, DEFAULT_PRINCIPAL);
        assert!(generate(&file).is_err(), "never overwritten");
    }
}
