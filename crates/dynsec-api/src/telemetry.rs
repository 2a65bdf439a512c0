//! `/metrics` and the per-request log line.
//!
//! One [`Telemetry`] per process holds the Prometheus registry with every
//! metric: the API's own (requests by operation and status, their
//! durations; recorded in `dispatch.rs`, where every API request passes),
//! the engine's (`dynsec_engine::EngineMetrics`) and the AWS layer's
//! (`dynsec_aws::AwsCallMetrics`). The gateway serves it on its own
//! `--metrics-listen` address ([`metrics_router`]), without a token: scrapers
//! cannot log in, so the address, not a key, decides who may read it. No
//! label carries a name, id, address or secret: operations are the served
//! table's names (anything else is `unknown`), statuses are numbers.

use crate::ops::SERVED_OPERATIONS;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use dynsec_engine::Engine;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

/// The exposition format `prometheus-client` writes (Prometheus reads it).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

/// The process's metrics registry and the API's own metrics.
pub struct Telemetry {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<OperationLabel, Histogram, fn() -> Histogram>,
}

/// 1 ms to ~65 s: most operations answer from the store in milliseconds,
/// issuances and revocations wait for AWS.
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Telemetry {
    /// A registry with every metric of the API, `engine` and the AWS layer.
    pub fn new(engine: &Engine) -> Arc<Self> {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: Family<OperationLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(request_buckets);
        let mut registry = Registry::default();
        registry.register(
            "dynsec_requests",
            "API requests by operation and HTTP status",
            requests.clone(),
        );
        registry.register_with_unit(
            "dynsec_request_duration",
            "Duration of API requests, from the head's arrival to the answer",
            Unit::Seconds,
            durations.clone(),
        );
        engine.metrics().register(&mut registry);
        dynsec_aws::AwsCallMetrics::shared().register(&mut registry);
        Arc::new(Self {
            registry,
            requests,
            durations,
        })
    }

    /// Counts one answered API request and logs it (one line at info:
    /// operation, status, duration, client address; never a body or token).
    pub(crate) fn request(
        &self,
        operation: &str,
        status: StatusCode,
        took: Duration,
        client: std::net::IpAddr,
    ) {
        let operation = operation_label(operation);
        self.requests
            .get_or_create(&RequestLabels {
                operation,
                status: status.as_u16().to_string(),
            })
            .inc();
        self.durations
            .get_or_create(&OperationLabel { operation })
            .observe(took.as_secs_f64());
        let duration_ms = took.as_secs_f64() * 1000.0;
        tracing::info!(
            target: "dynsec::request",
            operation,
            status = status.as_u16(),
            duration_ms,
            %client,
            "request"
        );
    }

    /// The exposition of every metric.
    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// An operation name as a label: the served table's own `&'static str`, or
/// `unknown` for anything else (so a client cannot mint label values).
fn operation_label(name: &str) -> &'static str {
    SERVED_OPERATIONS
        .iter()
        .find(|served| **served == name)
        .copied()
        .unwrap_or("unknown")
}

#[derive(Clone)]
struct MetricsState {
    engine: Engine,
    telemetry: Arc<Telemetry>,
}

/// The router of the `--metrics-listen` address: `GET /metrics`, and
/// `/health` and `/ready` as on the API's address.
pub fn metrics_router(engine: Engine, telemetry: Arc<Telemetry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(crate::health::health_of_engine))
        .route("/ready", get(crate::health::ready_of_engine))
        .with_state(MetricsState { engine, telemetry })
}

async fn metrics(State(state): State<MetricsState>) -> Response {
    state.engine.refresh_lease_gauges().await;
    match state.telemetry.encode() {
        Ok(text) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(METRICS_CONTENT_TYPE),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"error": "the metrics could not be encoded"})),
        )
            .into_response(),
    }
}

impl axum::extract::FromRef<MetricsState> for Engine {
    fn from_ref(state: &MetricsState) -> Engine {
        state.engine.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::operation_label;

    #[test]
    fn only_served_operations_become_labels() {
        assert_eq!(operation_label("auth"), "auth");
        assert_eq!(
            operation_label("dynamic-secret-get-value"),
            "dynamic-secret-get-value"
        );
        assert_eq!(operation_label("p-abc/../x"), "unknown");
        assert_eq!(operation_label(""), "unknown");
    }
}
