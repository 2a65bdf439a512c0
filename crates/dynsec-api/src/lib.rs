//! The HTTP face of dynsec: an Akeyless-v2-compatible API over the engine.
//!
//! Every operation is `POST /<op>` or `POST /api/v2/<op>` with a JSON body that
//! carries the token; answers are JSON, failures `{"error": "..."}` with a 4xx/5xx
//! status. This is the only crate that knows HTTP or JSON; it maps
//! [`dynsec_engine::EngineError`] to statuses and never leaks internal detail.
//! It also serves the web console (`/console/`), a static client of that API.

// The dynamic-secret answer is one `json!` literal with every setting
// (Akeyless's shape plus dynsec's extensions); it outgrows the default 128.
#![recursion_limit = "256"]

pub mod audit;
mod console;
mod dispatch;
mod error;
mod head_guard;
mod health;
mod ops;
pub mod server;
mod telemetry;
pub mod tls;
mod wire;

pub use dispatch::RequestContext;
pub use error::ApiError;
pub use ops::AUTH_DELAY_HEADER;
pub use ops::SERVED_OPERATIONS;
pub use server::{serve, ServerLimits};
pub use telemetry::{metrics_router, Telemetry, METRICS_CONTENT_TYPE};

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
    /// Where requests are counted (served by [`metrics_router`]).
    pub telemetry: std::sync::Arc<Telemetry>,
    /// Every request's task (`dispatch.rs`), so the gateway's shutdown can
    /// wait for requests in flight, those of clients that hung up included.
    pub requests: tokio_util::task::TaskTracker,
}

impl axum::extract::FromRef<AppState> for Engine {
    fn from_ref(state: &AppState) -> Engine {
        state.engine.clone()
    }
}

/// Builds the router serving the API, the console, `/health`, `/ready` and
/// the OpenAPI document. Every API answer, whatever produced it, carries
/// [`no_store`]'s headers; everything but `GET /health`, `GET /ready`, the
/// OpenAPI document and the console's files goes through `dispatch`, so it
/// is answered in the API's JSON shape, audited and counted in `telemetry`.
/// Each request runs on a task of `requests`, which the caller closes and
/// waits for to drain them at shutdown.
pub fn router(
    engine: Engine,
    audit: audit::Audit,
    trusted_proxies: Vec<dynsec_core::access::Cidr>,
    telemetry: std::sync::Arc<Telemetry>,
    requests: tokio_util::task::TaskTracker,
) -> Router {
    Router::new()
        .route(
            "/health",
            get(health::health_of_engine).fallback(dispatch::dispatch),
        )
        .route(
            "/ready",
            get(health::ready_of_engine).fallback(dispatch::dispatch),
        )
        // The OpenAPI document of every operation (public: it holds no data).
        .route(
            "/api/v2/openapi.json",
            get(openapi_document).fallback(dispatch::dispatch),
        )
        // A browser opening the gateway gets the console; `POST /` stays an
        // (unknown) operation like any other path.
        .route(
            "/",
            get(console::redirect_to_console).fallback(dispatch::dispatch),
        )
        .merge(console::routes())
        .fallback(dispatch::dispatch)
        .layer(axum::middleware::map_response(no_store))
        .with_state(AppState {
            engine,
            audit,
            trusted_proxies: std::sync::Arc::new(trusted_proxies),
            telemetry,
            requests,
        })
}

/// `GET /api/v2/openapi.json` (see `ops/openapi.rs`).
async fn openapi_document() -> axum::Json<serde_json::Value> {
    axum::Json(ops::openapi::document().clone())
}

/// Answers carry secrets: no cache may keep them, and no browser may guess
/// they are anything but what their content type says. A response that says
/// how it may be cached already (the console's files: revalidated by ETag)
/// keeps its own word.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}
