//! Native HTTPS: loads a PEM certificate chain and private key into a rustls
//! server configuration (aws-lc-rs provider, TLS 1.2 and 1.3, HTTP/1.1 by
//! ALPN). [`crate::server::serve`] serves the router over it, with the same
//! connection cap, timeouts and graceful shutdown as plain HTTP; each
//! handshake runs on its connection's own task, bounded in time.
//!
//! [`TlsSettings`] is the configuration in force, replaceable while serving
//! (the gateway reloads the files on SIGHUP): each new connection takes the
//! one current at its accept, connections already open keep theirs.
//! [`is_ca_certificate`] tells a leaf marked `CA:TRUE`, which TLS clients
//! built on webpki (rustls: the CLI, reqwest) refuse as a server certificate.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
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

/// The TLS configuration in force, shared by the accept loop and whoever
/// reloads it. Cheap to clone.
#[derive(Clone)]
pub struct TlsSettings {
    current: Arc<RwLock<ServerConfig>>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings").finish_non_exhaustive()
    }
}

impl TlsSettings {
    pub fn new(config: ServerConfig) -> Self {
        Self {
            current: Arc::new(RwLock::new(config)),
        }
    }

    /// The configuration a connection accepted now uses.
    pub fn current(&self) -> ServerConfig {
        // A panic while holding the lock cannot leave a half-written Arc.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Connections accepted from now on use `config`.
    pub fn replace(&self, config: ServerConfig) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
    }
}

/// Whether the DER certificate `cert` says `CA:TRUE` in its basic
/// constraints. A certificate that cannot be read as X.509 counts as not.
pub fn is_ca_certificate(cert: &CertificateDer<'_>) -> bool {
    der::basic_constraints_ca(cert.as_ref()).unwrap_or(false)
}

/// Just enough DER to find a certificate's basic constraints.
mod der {
    const SEQUENCE: u8 = 0x30;
    const BOOLEAN: u8 = 0x01;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const OID: u8 = 0x06;
    /// `[3]` EXPLICIT: the extensions of a TBSCertificate.
    const EXTENSIONS: u8 = 0xa3;
    /// 2.5.29.19, basicConstraints.
    const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

    /// One TLV: (tag, contents, what follows).
    fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, rest) = rest.split_at(count);
            let len = bytes
                .iter()
                .fold(0usize, |len, &b| (len << 8) | usize::from(b));
            (len, rest)
        };
        if rest.len() < len {
            return None;
        }
        let (contents, rest) = rest.split_at(len);
        Some((tag, contents, rest))
    }

    /// `Some(cA)` from the certificate's basicConstraints extension
    /// (`Some(false)` without one), `None` if `cert` is not DER X.509.
    pub(super) fn basic_constraints_ca(cert: &[u8]) -> Option<bool> {
        let (tag, certificate, _) = next(cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, mut tbs, _) = next(certificate)?;
        if tag != SEQUENCE {
            return None;
        }
        // version [0]?, serial, signature, issuer, validity, subject, spki,
        // issuerUniqueID [1]?, subjectUniqueID [2]?, extensions [3]?
        while !tbs.is_empty() {
            let (tag, contents, rest) = next(tbs)?;
            tbs = rest;
            if tag != EXTENSIONS {
                continue;
            }
            let (tag, mut extensions, _) = next(contents)?;
            if tag != SEQUENCE {
                return None;
            }
            while !extensions.is_empty() {
                let (_, extension, rest) = next(extensions)?;
                extensions = rest;
                // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }
                let (tag, oid, mut fields) = next(extension)?;
                if tag != OID || oid != BASIC_CONSTRAINTS {
                    continue;
                }
                let (mut tag, mut value, rest) = next(fields)?;
                if tag == BOOLEAN {
                    fields = rest;
                    (tag, value, _) = next(fields)?;
                }
                if tag != OCTET_STRING {
                    return None;
                }
                // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLen INTEGER OPTIONAL }
                let (tag, constraints, _) = next(value)?;
                if tag != SEQUENCE {
                    return None;
                }
                return Some(match next(constraints) {
                    Some((BOOLEAN, flag, _)) => flag.first().is_some_and(|&b| b != 0),
                    Some((INTEGER, _, _)) | None => false,
                    Some(_) => return None,
                });
            }
            return Some(false);
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `openssl req -x509` (P-256): basicConstraints CA:TRUE, CA:FALSE, none.
    const CA_PEM: &str = "\
        -----BEGIN CERTIFICATE-----\n\
        MIIBjTCCATSgAwIBAgIUUDxSHL1yj49GvhRkjQ5ULWYPPhowCgYIKoZIzj0EAwIw\n\
        FDESMBAGA1UEAwwJMTI3LjAuMC4xMB4XDTI2MTIwMjAxNDM1NVoXDTI2MTIwNDAx\n\
        NDM1NVowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n\
        AQcDQgAEwUaMV1Caw2lVHxoLKq8EeuXn1Z/7qHo/ziU8af4JycMoQaj61aYLjklC\n\
        GK4/L7UYiSdZyvmbf9/Ir/ytaV7ofaNkMGIwHQYDVR0OBBYEFOC8iDm0wm9Udkkj\n\
        juS86y3z63H2MB8GA1UdIwQYMBaAFOC8iDm0wm9UdkkjjuS86y3z63H2MA8GA1Ud\n\
        EwEB/wQFMAMBAf8wDwYDVR0RBAgwBocEfwAAATAKBggqhkjOPQQDAgNHADBEAiB6\n\
        VNJ8ENU49RcLJBhh4isf3Wk4jR6mHevxyJjFhyDiqAIgDQpaFwJnvo+CPCn/lOcr\n\
        bXfnY/XZJnu69m3tytboLSM=\n\
        -----END CERTIFICATE-----\n\
    ";
    const LEAF_PEM: &str = "\
        -----BEGIN CERTIFICATE-----\n\
        MIIBeTCCASCgAwIBAgIUOHrc5ULkRc8EE5tvHvSfQaq52BswCgYIKoZIzj0EAwIw\n\
        FDESMBAGA1UEAwwJMTI3LjAuMC4xMB4XDTI2MTIwMjAxNDM1NVoXDTI2MTIwNDAx\n\
        NDM1NVowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n\
        AQcDQgAEHbRwmiW0nB+ii1doV71a5IeLqUlyLcMGxhPiu1RDjDqP33qGMZQtcU+9\n\
        1jad2iKlRoqNSLs3aIzqoJYO/yBflqNQME4wHQYDVR0OBBYEFC98XQ9z8ry/VxSN\n\
        uDlJWs/2oNgpMB8GA1UdIwQYMBaAFC98XQ9z8ry/VxSNuDlJWs/2oNgpMAwGA1Ud\n\
        EwEB/wQCMAAwCgYIKoZIzj0EAwIDRwAwRAIgAdwaWQNKmcurGPir25DddPaO/411\n\
        9/rR18gw9n4WlDECIALBRbYj3PzZUwOWteVr5bhtjbDpeXdZNtOOoPPDp1+U\n\
        -----END CERTIFICATE-----\n\
    ";
    const NONE_PEM: &str = "\
        -----BEGIN CERTIFICATE-----\n\
        MIIBOjCB4aADAgECAhR8j0sTaNfnajd3gMLhj/35ARWmVjAKBggqhkjOPQQDAjAM\n\
        MQowCAYDVQQDDAF4MB4XDTI2MTIwMjAxNDM1NVoXDTI2MTIwNDAxNDM1NVowDDEK\n\
        MAgGA1UEAwwBeDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHHMd+MFLSDDWfPy\n\
        ETsq1ACJTEUkyJHHM/c3kX/chJ5YuqT5ZYAvB785P9O2Uex4n0UKK+mysoHp3d+w\n\
        AFyiA/6jITAfMB0GA1UdDgQWBBSyl72bWjg/JqHsmYEsr7GYARYQajAKBggqhkjO\n\
        PQQDAgNIADBFAiEA6i3Hp6oq6gv75TQry39jBqVkHV+gOS3KB8zMOlqz3VwCIDY4\n\
        Ema9dOqjkGoTBbM+zlW2HwUmchBUAWGKt+DuxJne\n\
        -----END CERTIFICATE-----\n\
    ";

    fn first_cert(pem: &str) -> CertificateDer<'static> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn basic_constraints_tell_a_ca_from_a_leaf() {
        assert!(is_ca_certificate(&first_cert(CA_PEM)));
        assert!(!is_ca_certificate(&first_cert(LEAF_PEM)));
        assert!(!is_ca_certificate(&first_cert(NONE_PEM)));
        // Not X.509 at all, or cut short: not a CA.
        assert!(!is_ca_certificate(&CertificateDer::from(vec![
            0x30, 0x03, 0x02, 0x01
        ])));
        let der = first_cert(CA_PEM).as_ref().to_vec();
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            assert!(!is_ca_certificate(&CertificateDer::from(
                der[..cut].to_vec()
            )));
        }
    }
}
