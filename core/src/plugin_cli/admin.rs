//! `weir plugin list|deploy|remove`: the admin endpoint's plugin API from
//! the command line, with the admin token the broker asks for: from
//! `WEIR_ADMIN_TOKEN`, else the first token of `--token-file`
//! (`WEIR_ADMIN_TOKEN_FILE`), else of `./weir-data/admin.tokens` (the
//! file a broker started here with its default config writes). An
//! `https://` endpoint is checked against the CA certificates in
//! `WEIR_ADMIN_CA` (a PEM file); `WEIR_ADMIN_CERT` (a PEM file with a
//! certificate chain and its key) is shown to one that asks for a client
//! certificate, and stands for a token.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the admin endpoint is and the token to show it.
pub struct Endpoint {
    pub url: String,
    pub token: Option<String>,
}

impl Endpoint {
    /// `admin` as given (`http://host:port`, or `host:port` as
    /// `weir.admin.listener` writes it) and the token found.
    pub fn resolve(admin: &str, token_file: Option<&Path>) -> anyhow::Result<Endpoint> {
        let token = match std::env::var("WEIR_ADMIN_TOKEN") {
            Ok(token) if !token.trim().is_empty() => Some(token.trim().to_string()),
            _ => match token_file {
                Some(file) => Some(first_token(file)?),
                None => {
                    let default = PathBuf::from("weir-data").join("admin.tokens");
                    default
                        .exists()
                        .then(|| first_token(&default))
                        .transpose()?
                }
            },
        };
        Ok(Endpoint {
            url: base_url(admin),
            token,
        })
    }
}

/// `host:port` becomes `http://host:port`; no trailing slash.
pub fn base_url(admin: &str) -> String {
    let admin = admin.trim().trim_end_matches('/');
    if admin.contains("://") {
        admin.to_string()
    } else {
        format!("http://{admin}")
    }
}

/// The token of a token file's first `PRINCIPAL TOKEN` line (or its only word).
fn first_token(file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the admin token file {}", file.display()))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .with_context(|| format!("no token in {}", file.display()))
}

/// A call to the admin endpoint.
pub enum Call {
    List,
    Deploy {
        name: String,
        bytes: Vec<u8>,
        kind: Option<String>,
    },
    Bind {
        name: String,
        topic: String,
        mode: Option<String>,
    },
    Unbind {
        name: String,
        topic: String,
    },
    Remove {
        name: String,
        force: bool,
    },
}

/// Makes the call and prints the endpoint's JSON answer.
pub fn run(admin: &Endpoint, call: Call) -> anyhow::Result<()> {
    let base = admin.url.as_str();
    let bearer = admin.token.as_ref().map(|t| format!("Bearer {t}"));

    let agent = agent()?;
    let (url, response) = match call {
        Call::List => {
            let url = format!("{base}/v1/plugins");
            (url.clone(), agent.get(&url).call())
        }
        Call::Deploy { name, bytes, kind } => {
            let mut url = format!("{base}/v1/plugins/{name}");
            if let Some(kind) = kind {
                url.push_str(&format!("?kind={kind}"));
            }
            (
                url.clone(),
                // The endpoint refuses a caller before it reads a byte of
                // the upload: wait for its go-ahead, so a refusal is read
                // as an answer, not as a connection broken mid-upload.
                authorized(agent.put(&url), &bearer)
                    .header("Expect", "100-continue")
                    .send(&bytes[..]),
            )
        }
        Call::Bind { name, topic, mode } => {
            let mut url = format!("{base}/v1/plugins/{name}/bindings/{topic}");
            if let Some(mode) = mode {
                url.push_str(&format!("?mode={mode}"));
            }
            (
                url.clone(),
                authorized(agent.put(&url), &bearer).send_empty(),
            )
        }
        Call::Unbind { name, topic } => {
            let url = format!("{base}/v1/plugins/{name}/bindings/{topic}");
            (url.clone(), authorized(agent.delete(&url), &bearer).call())
        }
        Call::Remove { name, force } => {
            let url = format!("{base}/v1/plugins/{name}?force={force}");
            (url.clone(), authorized(agent.delete(&url), &bearer).call())
        }
    };
    let mut response = response.with_context(|| {
        if url.starts_with("https://") && std::env::var_os("WEIR_ADMIN_CA").is_none() {
            format!("cannot reach {url} (--admin): an https endpoint's certificate is checked against the CAs in WEIR_ADMIN_CA, which is not set")
        } else {
            format!("cannot reach {url} (--admin)")
        }
    })?;
    let status = response.status();
    let body = response.body_mut().read_to_string()?;
    if status == 401 && admin.token.is_none() {
        anyhow::bail!(
            "{status}: {body}\n(no token found: set WEIR_ADMIN_TOKEN, or --token-file to the broker's admin.tokens)"
        );
    }
    if !status.is_success() {
        anyhow::bail!("{status}: {body}");
    }
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{body}"),
    }
    Ok(())
}

/// An HTTP agent for the admin endpoint: statuses are answers, not
/// errors; https as `tls_config` says.
pub fn agent() -> anyhow::Result<ureq::Agent> {
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls_config()?)
        .build()
        .into())
}

/// TLS for an https endpoint: rustls on aws-lc-rs (as the broker), the
/// CAs of `WEIR_ADMIN_CA` (else the platform's usual web roots are not
/// trusted: an admin endpoint's certificate comes from your own CA), and
/// the client certificate of `WEIR_ADMIN_CERT`.
fn tls_config() -> anyhow::Result<ureq::tls::TlsConfig> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let read = |var: &str| -> anyhow::Result<Option<Vec<u8>>> {
        match std::env::var(var) {
            Ok(path) if !path.trim().is_empty() => std::fs::read(path.trim())
                .map(Some)
                .with_context(|| format!("reading {var}={path}")),
            _ => Ok(None),
        }
    };
    let pems = |bytes: &[u8], var: &str| -> anyhow::Result<Vec<Certificate<'static>>> {
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(bytes)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading the certificates of {var}"))?;
        if certs.is_empty() {
            anyhow::bail!("{var} holds no PEM certificate");
        }
        Ok(certs)
    };
    let mut config = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ));
    let roots = match read("WEIR_ADMIN_CA")? {
        Some(ca) => pems(&ca, "WEIR_ADMIN_CA")?,
        None => Vec::new(),
    };
    config = config.root_certs(RootCerts::new_with_certs(&roots));
    if let Some(both) = read("WEIR_ADMIN_CERT")? {
        let chain = pems(&both, "WEIR_ADMIN_CERT")?;
        let key = PrivateKey::from_pem(&both).context("WEIR_ADMIN_CERT holds no private key")?;
        config = config.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(config.build())
}

fn authorized<B>(
    request: ureq::RequestBuilder<B>,
    bearer: &Option<String>,
) -> ureq::RequestBuilder<B> {
    match bearer {
        Some(b) => request.header("Authorization", b),
        None => request,
    }
}
