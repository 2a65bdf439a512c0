//! Native HTTPS: loads a PEM certificate chain and private key into a rustls
//! server configuration (aws-lc-rs provider, TLS 1.2 and 1.3, HTTP/1.1 by
//! ALPN) and serves the router over it with the same keep-alive and graceful
//! shutdown as plain HTTP.
//!
//! Handshakes run on their own tasks, each bounded by [`HANDSHAKE_TIMEOUT`],
//! so a client that connects and stalls cannot hold up anyone else's accept.

use axum::serve::ListenerExt;
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{rustls, TlsAcceptor};
use tracing::{debug, error};

/// A TLS handshake not finished in this time is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the kernel's
/// backlog, so a flood of half-open TLS clients costs bounded memory.
const MAX_HANDSHAKES: usize = 256;

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

/// Like [`crate::serve`], over TLS: serves `router` on `listener` until
/// `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve_tls(
    listener: TcpListener,
    config: ServerConfig,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // `tap_io` also gives the listener axum's `ConnectInfo<SocketAddr>`
    // support, which axum provides for tapped listeners of any kind.
    let listener = TlsListener::new(listener, config)?.tap_io(|tls: &mut TlsStream<TcpStream>| {
        // Small TLS records of an answer must not wait for Nagle's algorithm.
        let _ = tls.get_ref().0.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Accepts TCP connections and hands axum only those that completed a TLS
/// handshake. Dropping it (when the server stops) stops accepting.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, config: ServerConfig) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_HANDSHAKES);
        let acceptor = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        Ok(Self {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Closes the listening socket: no new connections after shutdown.
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when aborted by our own Drop, so this
            // is unreachable while `self` lives; waiting is the safe answer.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) if is_per_connection(&err) => continue,
            Err(err) => {
                // Out of file descriptors and the like: retrying at once
                // would spin, as axum's own accept loop also reasons.
                error!(error = %err, "cannot accept connections");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                // Scanners and plain-HTTP clients end here; not worth a warning.
                Ok(Err(err)) => debug!(%peer, error = %err, "TLS handshake failed"),
                Err(_) => debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Errors that concern one connection (the client went away before we
/// accepted it), not the listener.
fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
