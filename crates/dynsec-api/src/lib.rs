//! The HTTP face of dynsec: an Akeyless-v2-compatible API over the engine.
//!
//! Every operation is `POST /<op>` or `POST /api/v2/<op>` with a JSON body that
//! carries the token; answers are JSON, failures `{"error": "..."}` with a 4xx/5xx
//! status. This is the only crate that knows HTTP or JSON; it maps
//! [`dynsec_engine::EngineError`] to statuses and never leaks internal detail.

mod dispatch;
mod error;
mod ops;
mod wire;

pub use error::ApiError;

use axum::routing::get;
use axum::{Json, Router};
use dynsec_engine::Engine;
use std::future::Future;
use tokio::net::TcpListener;

/// Builds the router serving the API (and `/health`).
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .fallback(dispatch::dispatch)
        .with_state(engine)
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
