//! Native HTTPS: loads a PEM certificate chain and private key into a rustls
//! server configuration (aws-lc-rs provider, TLS 1.2 and 1.3, HTTP/1.1 by
//! ALPN). [`crate::server::serve`] serves the router over it, with the same
//! connection cap, timeouts and graceful shutdown as plain HTTP; each
//! handshake runs on its connection's own task, bounded in time.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

/// The TLS server settings, ready to serve (see [`server_config`]).
pub type ServerConfig = Arc<rustls::ServerConfig>;

/// Why the certificate or key could not be used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // The I/O error is the source, shown by whoever prints the chain.
    #[error("cannot read {path}")]
    Read { path: String, source: io::Error },
    #[error("{path} is not a PEM certificate chain: {detail}")]
    BadCertificate { path: String, detail: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: String },
    // The parser's detail is left out: it could quote part of the key file.
    #[error("{path} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1 expected)")]
    BadKey { path: String },
    #[error("the certificate and key cannot be used together: {0}")]
    Rejected(rustls::Error),
}

/// Reads the certificate chain (leaf first) from `path`.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: shown.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::BadCertificate {
            path: shown.clone(),
            detail: err.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: shown });
    }
    Ok(certs)
}

/// Reads the first private key from `path`.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let shown = path.display().to_string();
    let pem = zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| TlsError::Read {
        path: shown.clone(),
        source,
    })?);
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::BadKey { path: shown })
}

/// The rustls configuration for `certs` and `key`; refuses a key that does
/// not belong to the leaf certificate.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    // The provider is named rather than taken from the process default, which
    // is ambiguous (and panics) when several providers are compiled in.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rejected)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Rejected)?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
