//! The HTTP face of dynsec: an Akeyless-v2-compatible API over the engine.
//!
//! Every operation is `POST /<op>` or `POST /api/v2/<op>` with a JSON body that
//! carries the token; answers are JSON, failures `{"error": "..."}` with a 4xx/5xx
//! status. This is the only crate that knows HTTP or JSON; it maps
//! [`dynsec_engine::EngineError`] to statuses and never leaks internal detail.
//! It also serves the web console (`/console/`), a static client of that API.

pub mod audit;
mod console;
mod dispatch;
mod error;
mod ops;
pub mod tls;
mod wire;

pub use dispatch::RequestContext;
pub use error::ApiError;
pub use ops::SERVED_OPERATIONS;

use axum::routing::get;
use axum::{Json, Router};
use dynsec_engine::Engine;
use std::future::Future;
use tokio::net::TcpListener;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Where every request's audit record goes.
    pub audit: audit::Audit,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: std::sync::Arc<Vec<dynsec_core::access::Cidr>>,
}

/// Builds the router serving the API, the console and `/health`.
pub fn router(
    engine: Engine,
    audit: audit::Audit,
    trusted_proxies: Vec<dynsec_core::access::Cidr>,
) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async {
                Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
            }),
        )
        // A browser opening the gateway gets the console; `POST /` stays an
        // (unknown) operation like any other path.
        .route(
            "/",
            get(console::redirect_to_console).fallback(dispatch::dispatch),
        )
        .merge(console::routes())
        .fallback(dispatch::dispatch)
        .with_state(AppState {
            engine,
            audit,
            trusted_proxies: std::sync::Arc::new(trusted_proxies),
        })
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
