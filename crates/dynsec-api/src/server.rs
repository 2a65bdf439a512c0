//! The HTTP server under the router: one accept loop for plain HTTP and
//! HTTPS that no client can exhaust.
//!
//! - **A cap on connections.** A connection holds one of
//!   [`ServerLimits::max_connections`] slots from accept to close; with every
//!   slot taken the loop stops accepting (new clients wait in the kernel's
//!   backlog) instead of running out of file descriptors — the binary sizes
//!   the cap below the descriptor limit, keeping a reserve for the store and
//!   AWS calls.
//! - **A header-read timeout.** A connection must deliver a complete request
//!   head within [`ServerLimits::header_read_timeout`] of opening, and again
//!   of its previous answer: a silent or trickling client is closed, and so
//!   is an idle keep-alive connection (hyper's `header_read_timeout` runs
//!   while a connection waits for a head, so it is the idle timeout too).
//!   Request bodies have their own deadline (`dispatch.rs`).
//! - **Request heads** hyper would refuse with an empty answer of its own
//!   are refused first with a JSON one, and audited (`head_guard.rs`).
//! - **TLS handshakes** run on the connection's own task, within
//!   [`HANDSHAKE_TIMEOUT`] and inside its slot, with the certificate current
//!   at the accept ([`crate::tls::TlsSettings`]: reloadable while serving).
//! - **Graceful shutdown**: on `shutdown` the loop stops accepting, idle
//!   connections close at once and requests in flight finish.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;
use tracing::{debug, error, warn};

/// A TLS handshake not finished in this time is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error that concerns the listener (out of file
/// descriptors, say): retrying at once would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(500);

/// How many clients the server holds at once, and for how long it waits for
/// them.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Open connections at most; accepting pauses while they are all taken.
    pub max_connections: usize,
    /// Longest wait for a complete request head, from a connection's start
    /// or the end of its previous answer.
    pub header_read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until
/// `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    audit: crate::audit::Audit,
    tls: Option<crate::tls::TlsSettings>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut warned_full = false;
    loop {
        let slot = if let Ok(slot) = slots.clone().try_acquire_owned() {
            warned_full = false;
            slot
        } else {
            if !warned_full {
                warn!(
                    max_connections = limits.max_connections,
                    "every connection slot is taken; new clients wait until one closes"
                );
                warned_full = true;
            }
            tokio::select! {
                () = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break, // never closed
                },
            }
        };
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) if is_per_connection(&err) => continue,
                Err(err) => {
                    error!(error = %err, "cannot accept connections");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    }
                }
            },
        };
        // Small answers must not wait for Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            http: http.clone(),
            watcher: graceful.watcher(),
            audit: audit.clone(),
            peer,
        };
        // The configuration current now: a reload affects later accepts only.
        let acceptor = tls.as_ref().map(|tls| TlsAcceptor::from(tls.current()));
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                None => connection.serve(tcp).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => connection.serve(tls).await,
                        // Scanners and plain-HTTP clients end here.
                        Ok(Err(err)) => debug!(%peer, error = %err, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    // No new connections from here on; idle ones close, busy ones finish.
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One accepted connection, ready to serve.
struct Connection {
    router: Router,
    http: http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
    audit: crate::audit::Audit,
    peer: SocketAddr,
}

impl Connection {
    async fn serve<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            http,
            watcher,
            audit,
            peer,
        } = self;
        // Heads hyper would refuse with an empty answer are refused first,
        // in the API's shape, and audited.
        let on_refused: crate::head_guard::OnRefused = Arc::new(move |status, error: &str| {
            debug!(%peer, status, error, "request head refused");
            audit.refused_head(peer.ip(), status, error);
        });
        let stream = crate::head_guard::HeadGuard::new(stream, on_refused);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What axum's `ConnectInfo` extractor reads.
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move { router.call(request).await }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        if let Err(err) = watcher.watch(connection).await {
            // Timeouts, resets, malformed heads: the client's trouble.
            debug!(%peer, error = %err, "connection ended with an error");
        }
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
