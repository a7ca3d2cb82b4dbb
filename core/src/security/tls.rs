//! TLS on `SSL` listeners, configured with Kafka's names (each may be
//! given per listener as `listener.name.<name>.ssl.…`, which wins):
//!
//! - the broker's key and certificate chain, PEM (`ssl.keystore.type=PEM`):
//!   one file holding both (`ssl.keystore.location`), or inline
//!   (`ssl.keystore.key`, `ssl.keystore.certificate.chain`);
//! - the CAs client certificates are checked against, PEM
//!   (`ssl.truststore.location` or inline `ssl.truststore.certificates`);
//! - `ssl.client.auth`: `required` (a client without a certificate the
//!   truststore vouches for fails the handshake), `requested` (a client may
//!   go without one, and is `User:ANONYMOUS`), `none`;
//! - `ssl.enabled.protocols` (TLSv1.2, TLSv1.3).
//!
//! A keystore file is read again when it changes (looked at, at most once a
//! second, when a client connects): a renewed certificate is served from
//! the next handshake on, without a restart. A file that does not load
//! (half written, a key that does not match) leaves the last good one in
//! use, and is logged.
//!
//! rustls with the aws-lc-rs provider (post-quantum key exchange offered) does the work; the principal of a
//! connection comes from its client certificate (`principal.rs`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use super::principal::{self, MappingRules};
use crate::config::BrokerConfig;

/// How one TLS listener accepts connections.
pub struct TlsListener {
    pub config: Arc<ServerConfig>,
    rules: MappingRules,
}

impl TlsListener {
    /// From the `ssl.*` configs of listener `name`.
    pub fn from_config(config: &BrokerConfig, name: &str) -> anyhow::Result<TlsListener> {
        let get = |key: &str| config.listener_get(name, key).filter(|v| !v.is_empty());
        let context = |what: &str| format!("listener {name}: {what}");
        for key in ["ssl.keystore.type", "ssl.truststore.type"] {
            if let Some(kind) = get(key).filter(|k| !k.eq_ignore_ascii_case("PEM")) {
                bail!("listener {name}: {key}={kind} is not supported; use PEM (convert a JKS or PKCS12 store with keytool or openssl)");
            }
        }
        if get("ssl.key.password").is_some() {
            bail!("listener {name}: encrypted private keys (ssl.key.password) are not supported; store the key unencrypted with mode 0600 (openssl pkcs8 -nocrypt)");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let keystore =
            Keystore::load(&get, provider.clone()).with_context(|| context("the keystore"))?;
        let versions = protocols(&get("ssl.enabled.protocols").unwrap_or_default())
            .with_context(|| context("ssl.enabled.protocols"))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .with_context(|| context("ssl.enabled.protocols"))?;
        let client_auth = get("ssl.client.auth").unwrap_or_else(|| "none".into());
        let builder = match client_auth.to_ascii_lowercase().as_str() {
            "none" => builder.with_no_client_auth(),
            how @ ("required" | "requested") => {
                let roots = truststore(&get).with_context(|| context("the truststore"))?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = if how == "requested" {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                builder.with_client_cert_verifier(verifier.build()?)
            }
            other => bail!("listener {name}: ssl.client.auth={other}: required, requested or none"),
        };
        let server = builder.with_cert_resolver(Arc::new(keystore));
        let rules = MappingRules::parse(
            &get("ssl.principal.mapping.rules").unwrap_or_else(|| "DEFAULT".into()),
        )
        .map_err(|e| anyhow::anyhow!("listener {name}: ssl.principal.mapping.rules: {e}"))?;
        Ok(TlsListener {
            config: Arc::new(server),
            rules,
        })
    }

    /// The principal of a connection after its handshake: from its client
    /// certificate's subject through the mapping rules, or ANONYMOUS. An
    /// error when no rule maps the subject (Kafka refuses the connection).
    pub fn principal(&self, connection: &ServerConnection) -> Result<String, String> {
        let Some(cert) = connection.peer_certificates().and_then(|c| c.first()) else {
            return Ok(principal::ANONYMOUS.into());
        };
        let dn = principal::subject_dn(cert)?;
        self.rules
            .apply(&dn)
            .map(|name| format!("User:{name}"))
            .ok_or_else(|| format!("no ssl.principal.mapping.rules rule maps {dn:?}"))
    }
}

type Get<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The PEM text of an inline value, or of the file a location names.
fn pem(get: &Get, inline: &str, location: &str) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some(text) = get(inline) {
        return Ok(Some(text.into_bytes()));
    }
    match get(location) {
        Some(path) => std::fs::read(&path)
            .map(Some)
            .with_context(|| format!("reading {path} ({location})")),
        None => Ok(None),
    }
}

/// The broker's certificate and key, and the file they come from (when
/// they are not inline), re-read when it changes.
#[derive(Debug)]
struct Keystore {
    location: Option<PathBuf>,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// When the file was last looked at, and its modification time then.
    checked: Mutex<(Instant, Option<SystemTime>)>,
}

/// How often a handshake may look at the keystore file.
const RECHECK: Duration = Duration::from_secs(1);

impl Keystore {
    fn load(get: &Get, provider: Arc<CryptoProvider>) -> anyhow::Result<Keystore> {
        let inline =
            get("ssl.keystore.certificate.chain").is_some() || get("ssl.keystore.key").is_some();
        let location = (!inline)
            .then(|| get("ssl.keystore.location"))
            .flatten()
            .map(PathBuf::from);
        let modified = location.as_deref().and_then(modified);
        let (chain, key) = keystore(get)?;
        let certified = CertifiedKey::from_der(chain, key, &provider)
            .context("the key does not match the certificate")?;
        Ok(Keystore {
            location,
            provider,
            current: RwLock::new(Arc::new(certified)),
            checked: Mutex::new((Instant::now(), modified)),
        })
    }

    /// Reads the file again if it changed since it was last read.
    fn refresh(&self) {
        let Some(location) = &self.location else {
            return;
        };
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if checked.0.elapsed() < RECHECK {
            return;
        }
        checked.0 = Instant::now();
        let now = modified(location);
        if now.is_none() || now == checked.1 {
            return;
        }
        checked.1 = now;
        let path = location.display().to_string();
        let get = |key: &str| (key == "ssl.keystore.location").then(|| path.clone());
        let loaded = keystore(&get).and_then(|(chain, key)| {
            CertifiedKey::from_der(chain, key, &self.provider)
                .context("the key does not match the certificate")
        });
        match loaded {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
                tracing::info!(keystore = %path, "TLS keystore changed: serving its certificate from now on");
            }
            Err(e) => {
                tracing::warn!(keystore = %path, error = format!("{e:#}"), "the changed TLS keystore does not load; keeping the previous certificate")
            }
        }
    }
}

impl ResolvesServerCert for Keystore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn keystore(get: &Get) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let (chain_pem, key_pem) = match get("ssl.keystore.certificate.chain") {
        Some(chain) => {
            let key = get("ssl.keystore.key")
                .context("ssl.keystore.certificate.chain needs ssl.keystore.key")?;
            (chain.into_bytes(), key.into_bytes())
        }
        None => {
            let both = pem(get, "ssl.keystore.key", "ssl.keystore.location")?
                .context("set ssl.keystore.location (a PEM file with the key and the certificate chain), or ssl.keystore.key and ssl.keystore.certificate.chain")?;
            (both.clone(), both)
        }
    };
    let chain = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("reading the certificate chain")?;
    if chain.is_empty() {
        bail!("no certificate in the certificate chain");
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .context("no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM)")?;
    Ok((chain, key))
}

fn truststore(get: &Get) -> anyhow::Result<RootCertStore> {
    let text = pem(
        get,
        "ssl.truststore.certificates",
        "ssl.truststore.location",
    )?
    .context(
        "ssl.client.auth needs the CAs: ssl.truststore.location or ssl.truststore.certificates",
    )?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&text) {
        roots.add(cert.context("reading a CA certificate")?)?;
    }
    if roots.is_empty() {
        bail!("no CA certificate");
    }
    Ok(roots)
}

fn protocols(list: &str) -> anyhow::Result<Vec<&'static rustls::SupportedProtocolVersion>> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    names
        .iter()
        .map(|name| match *name {
            "TLSv1.3" => Ok(&rustls::version::TLS13),
            "TLSv1.2" => Ok(&rustls::version::TLS12),
            other => bail!("{other} is not offered: TLSv1.2 and TLSv1.3 are"),
        })
        .collect()
}
