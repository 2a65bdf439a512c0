//! The HTTP face of dynsec: an Akeyless-v2-compatible API over the engine.
//!
//! Every operation is `POST /<op>` or `POST /api/v2/<op>` with a JSON body that
//! carries the token; answers are JSON, failures `{"error": "..."}` with a 4xx/5xx
//! status. This is the only crate that knows HTTP or JSON; it maps
//! [`dynsec_engine::EngineError`] to statuses and never leaks internal detail.

pub mod audit;
mod dispatch;
mod error;
mod head_guard;
mod health;
mod ops;
pub mod server;
pub mod tls;
mod wire;

pub use dispatch::RequestContext;
pub use error::ApiError;
pub use ops::SERVED_OPERATIONS;
pub use server::{serve, ServerLimits};

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use dynsec_engine::Engine;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Where every request's audit record goes.
    pub audit: audit::Audit,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: std::sync::Arc<Vec<dynsec_core::access::Cidr>>,
}

/// Builds the router serving the API (and `/health`). Every answer, whatever
/// produced it, carries [`no_store`]'s headers; everything but `GET /health`
/// goes through `dispatch`, so it is answered in the API's JSON shape and
/// audited.
pub fn router(
    engine: Engine,
    audit: audit::Audit,
    trusted_proxies: Vec<dynsec_core::access::Cidr>,
) -> Router {
    Router::new()
        .route("/health", get(health::health).fallback(dispatch::dispatch))
        .fallback(dispatch::dispatch)
        .layer(axum::middleware::map_response(no_store))
        .with_state(AppState {
            engine,
            audit,
            trusted_proxies: std::sync::Arc::new(trusted_proxies),
        })
}

/// Answers carry secrets: no cache may keep them, and no browser may guess
/// they are anything but what their content type says.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
