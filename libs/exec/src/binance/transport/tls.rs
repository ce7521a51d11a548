//! TLS for the transport: the trusted roots, the client configuration shared
//! by the HTTP client and the WebSocket clients, and error messages that say
//! what to do when a handshake fails.
//!
//! [`TlsConfig`] wraps a rustls [`ClientConfig`] on the `ring` crypto
//! provider (TLS 1.2 and 1.3). By default it trusts the Mozilla root
//! certificates bundled by `webpki-roots` (no operating-system certificate
//! store is read), which is what Binance's `https://` and `wss://` endpoints
//! need. A private endpoint or a test server with its own certificate
//! authority is trusted with [`TlsConfig::with_extra_roots_pem`] (Mozilla
//! roots plus yours) or [`TlsConfig::only_roots_pem`] (yours only).
//!
//! [`connect_ws`] opens a `ws://` or `wss://` WebSocket with a given (or the
//! default) configuration; the market, user-data and WebSocket-API clients
//! all connect through it, so no client depends on a process-wide rustls
//! provider being installed.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::Connector;

use super::market::Ws;

/// Why a [`TlsConfig`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The PEM text could not be read.
    #[error("cannot read the PEM certificates: {0}; pass PEM text with `-----BEGIN CERTIFICATE-----` blocks")]
    Pem(String),
    /// The PEM text holds no certificate.
    #[error("the PEM text holds no `-----BEGIN CERTIFICATE-----` block; pass the root (CA) certificate of the server")]
    NoCertificate,
    /// A certificate is not usable as a trust anchor.
    #[error("certificate {index} of the PEM text cannot be trusted as a root: {detail}; pass the CA certificate, not a key or a request")]
    BadRoot {
        /// 0-based position in the PEM text.
        index: usize,
        /// rustls' reason.
        detail: String,
    },
    /// The PEM file could not be read.
    #[error("cannot read the root certificate file {path}: {source}; check the path")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The TLS client settings of the transport: which roots are trusted. Cheap
/// to clone (the configuration is shared).
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    extra_roots: usize,
    mozilla_roots: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("mozilla_roots", &self.mozilla_roots)
            .field("extra_roots", &self.extra_roots)
            .finish_non_exhaustive()
    }
}

impl Default for TlsConfig {
    /// The same as [`TlsConfig::webpki_roots`].
    fn default() -> Self {
        Self::webpki_roots()
    }
}

fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The ring provider implements TLS 1.2 and 1.3 (both features are built),
    // so the safe default versions are always available: this cannot fail.
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3");
    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
}

fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<usize, TlsSetupError> {
    let mut added = 0;
    for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| TlsSetupError::Pem(e.to_string()))?;
        roots.add(cert).map_err(|e| TlsSetupError::BadRoot {
            index,
            detail: e.to_string(),
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(TlsSetupError::NoCertificate);
    }
    Ok(added)
}

impl TlsConfig {
    /// Trusts the bundled Mozilla roots (`webpki-roots`): what Binance's
    /// production, testnet and demo endpoints need. Built once per process.
    pub fn webpki_roots() -> Self {
        static DEFAULT: OnceLock<TlsConfig> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Self {
                config: client_config(mozilla_roots()),
                extra_roots: 0,
                mozilla_roots: true,
            })
            .clone()
    }

    /// Trusts the Mozilla roots and every certificate in `pem` (one or more
    /// `-----BEGIN CERTIFICATE-----` blocks): for a private endpoint or a
    /// proxy with its own certificate authority.
    pub fn with_extra_roots_pem(pem: &[u8]) -> Result<Self, TlsSetupError> {
        let mut roots = mozilla_roots();
        let extra_roots = add_pem_roots(&mut roots, pem)?;
        Ok(Self {
            config: client_config(roots),
            extra_roots,
            mozilla_roots: true,
        })
    }

    /// Trusts only the certificates in `pem` (e.g. a test server's own CA).
    pub fn only_roots_pem(pem: &[u8]) -> Result<Self, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        let extra_roots = add_pem_roots(&mut roots, pem)?;
        Ok(Self {
            config: client_config(roots),
            extra_roots,
            mozilla_roots: false,
        })
    }

    /// [`TlsConfig::with_extra_roots_pem`] with the PEM read from `path`.
    pub fn with_extra_roots_file(path: impl AsRef<Path>) -> Result<Self, TlsSetupError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| TlsSetupError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::with_extra_roots_pem(&pem)
    }

    /// Uses a rustls configuration built elsewhere (client certificates,
    /// pinned keys, another provider).
    pub fn from_client_config(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            extra_roots: 0,
            mozilla_roots: false,
        }
    }

    /// The rustls client configuration.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// Roots added from PEM on top of (or instead of) the Mozilla roots.
    pub fn extra_roots(&self) -> usize {
        self.extra_roots
    }

    /// The connector handed to `tokio-tungstenite` for `wss://`.
    pub fn ws_connector(&self) -> Connector {
        Connector::Rustls(self.client_config())
    }
}

/// What to do about a failed TLS handshake with `host` (`what` names the
/// endpoint in the message). Nothing was sent to the server.
pub fn describe_handshake_error(what: &str, host: &str, e: &std::io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return format!(
            "{what}: TLS handshake failed: {e}; check that the server speaks TLS on this port \
             (https:// or wss://) and that the network path is open; nothing was sent"
        );
    };
    let advice = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                "the server's certificate is not signed by a trusted root ({c:?}); for a private \
                 endpoint or a test server trust its CA with TlsConfig::with_extra_roots_pem"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server's certificate is not valid for the name {host:?}; connect with \
                     the host name the certificate was issued for"
                )
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => format!(
                "the server's certificate is outside its validity period ({c:?}); check the \
                 system clock, or renew the server's certificate"
            ),
            other => format!("the server's certificate was refused: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the server refused the handshake (alert {alert:?}); check the host name and that \
             the server accepts TLS 1.2 or 1.3"
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server did not answer in TLS; check the scheme and port (plain http:// or \
             ws:// servers need the plain scheme)"
                .to_string()
        }
        other => format!("{other}"),
    };
    format!("{what}: TLS handshake with {host} failed: {advice}; nothing was sent")
}

/// A WebSocket error as a message that says what to do (TLS failures are
/// explained by [`describe_handshake_error`]). The message names only the
/// scheme and authority of `url`: a path may hold a listenKey.
pub fn describe_ws_error(url: &str, e: &tungstenite::Error) -> String {
    let url = origin_of(url);
    match e {
        tungstenite::Error::Io(io) => {
            let host = host_of_url(url);
            if io
                .get_ref()
                .is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some())
            {
                describe_handshake_error(url, host, io)
            } else {
                format!("{url}: {io}")
            }
        }
        tungstenite::Error::Tls(t) => format!(
            "{url}: TLS setup failed: {t}; a wss:// URL needs a DNS name or an IP address as host"
        ),
        other => format!("{url}: {other}"),
    }
}

/// `scheme://authority` of `url` (no path or query).
fn origin_of(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    &url[..end]
}

fn host_of_url(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`); `wss://` is verified
/// with `tls` (`None`: [`TlsConfig::webpki_roots`]). The error says what to do.
pub async fn connect_ws(url: &str, tls: Option<&TlsConfig>) -> Result<Ws, String> {
    let connector = match tls {
        Some(t) => t.ws_connector(),
        None => TlsConfig::webpki_roots().ws_connector(),
    };
    tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| describe_ws_error(url, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_roots_are_the_mozilla_bundle() {
        let t = TlsConfig::webpki_roots();
        assert!(t.mozilla_roots);
        assert_eq!(t.extra_roots(), 0);
        assert!(!webpki_roots::TLS_SERVER_ROOTS.is_empty());
    }

    #[test]
    fn bad_pem_is_refused_with_advice() {
        let e = TlsConfig::only_roots_pem(b"not a certificate").unwrap_err();
        assert!(matches!(e, TlsSetupError::NoCertificate), "{e:?}");
        assert!(e.to_string().contains("BEGIN CERTIFICATE"));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".as_slice();
        let e = TlsConfig::with_extra_roots_pem(garbage).unwrap_err();
        assert!(
            matches!(e, TlsSetupError::BadRoot { index: 0, .. }),
            "{e:?}"
        );
        let e = TlsConfig::with_extra_roots_file("/nonexistent/veloz-root.pem").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/veloz-root.pem"), "{e}");
    }

    #[test]
    fn host_of_urls() {
        assert_eq!(
            host_of_url("wss://stream.binance.com:9443/ws"),
            "stream.binance.com"
        );
        assert_eq!(
            host_of_url("wss://fstream.binance.com/stream?streams=a"),
            "fstream.binance.com"
        );
        assert_eq!(host_of_url("wss://[::1]:9443/ws"), "::1");
        assert_eq!(
            origin_of("wss://fstream.binance.com/private/ws/secretkey"),
            "wss://fstream.binance.com"
        );
        assert_eq!(origin_of("ws://127.0.0.1:9"), "ws://127.0.0.1:9");
        let e = tungstenite::Error::Io(std::io::Error::other("refused"));
        let m = describe_ws_error("wss://h:1/ws/secretkey", &e);
        assert!(
            m.starts_with("wss://h:1: ") && !m.contains("secretkey"),
            "{m}"
        );
    }
}
