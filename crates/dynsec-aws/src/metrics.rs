//! AWS calls counted at the one place every call passes: an SDK interceptor
//! on every IAM and STS client this crate builds (`admin.rs`), so no call
//! site can forget it. Each operation (all its retries included) counts once,
//! by service, operation and outcome — `ok` or the [`AwsErrorKind`] the
//! failure is classified as — with its duration.
//!
//! The metrics are the process's, like the shared HTTP client
//! ([`crate::AwsHttp::shared`]): [`AwsCallMetrics::shared`] is what the
//! gateway registers for `/metrics`. Labels are the SDK's operation names
//! (a fixed set), never request parameters.

use crate::error::classify;
use crate::AwsErrorKind;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::OnceLock;
use std::time::Instant;

/// One kind of AWS call and how it ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    /// `iam` or `sts`.
    pub service: String,
    /// The AWS API operation, e.g. `CreateUser`.
    pub operation: String,
    /// `ok`, or the failure's class: `not_found`, `retryable`, `denied`, `invalid`.
    pub outcome: &'static str,
}

/// One kind of AWS call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsOperationLabels {
    pub service: String,
    pub operation: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Counters and durations of every AWS call the process made.
#[derive(Debug)]
pub struct AwsCallMetrics {
    calls: Family<AwsCallLabels, Counter>,
    durations: HistogramFamily<AwsOperationLabels>,
}

/// 5 ms to ~20 s: an IAM call against AWS takes tens of milliseconds, a
/// throttled one with the SDK's retries seconds.
fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

impl AwsCallMetrics {
    fn new() -> Self {
        Self {
            calls: Family::default(),
            durations: Family::new_with_constructor(call_buckets),
        }
    }

    /// The process's metrics, which every SDK client built here reports to.
    pub fn shared() -> &'static AwsCallMetrics {
        static SHARED: OnceLock<AwsCallMetrics> = OnceLock::new();
        SHARED.get_or_init(AwsCallMetrics::new)
    }

    /// Adds `dynsec_aws_calls_total` and `dynsec_aws_call_duration_seconds`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "dynsec_aws_calls",
            "AWS API calls (retries included) by service, operation and outcome",
            self.calls.clone(),
        );
        registry.register_with_unit(
            "dynsec_aws_call_duration",
            "Duration of AWS API calls, retries included",
            Unit::Seconds,
            self.durations.clone(),
        );
    }

    #[cfg(test)]
    fn calls(&self, service: &str, operation: &str, outcome: &'static str) -> u64 {
        self.calls
            .get_or_create(&AwsCallLabels {
                service: service.to_string(),
                operation: operation.to_string(),
                outcome,
            })
            .get()
    }

    fn record(&self, service: &str, operation: &str, outcome: &'static str, seconds: f64) {
        self.calls
            .get_or_create(&AwsCallLabels {
                service: service.to_string(),
                operation: operation.to_string(),
                outcome,
            })
            .inc();
        self.durations
            .get_or_create(&AwsOperationLabels {
                service: service.to_string(),
                operation: operation.to_string(),
            })
            .observe(seconds);
    }
}

/// When the current operation started (kept in its config bag).
#[derive(Debug, Clone, Copy)]
struct CallStarted(Instant);

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

/// The interceptor every IAM and STS client built by this crate carries.
#[derive(Debug, Default)]
pub(crate) struct CallMetricsInterceptor;

impl Intercept for CallMetricsInterceptor {
    fn name(&self) -> &'static str {
        "dynsec-aws-call-metrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(CallStarted(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let seconds = cfg
            .load::<CallStarted>()
            .map(|started| started.0.elapsed().as_secs_f64())
            .unwrap_or_default();
        let (service, operation) = match cfg.load::<Metadata>() {
            Some(meta) => (meta.service().to_ascii_lowercase(), meta.name().to_string()),
            None => ("unknown".to_string(), "unknown".to_string()),
        };
        let status = context.response().map(|r| r.status().as_u16());
        let body = context.response().and_then(|r| r.body().bytes());
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => "ok",
            Some(Err(err)) => failure_class(err, status, body).as_str(),
            None => AwsErrorKind::Retryable.as_str(),
        };
        AwsCallMetrics::shared().record(&service, &operation, outcome, seconds);
        Ok(())
    }
}

/// The class `AwsError::from_sdk` would give this failure, read from what
/// the interceptor sees: the orchestrator's error and the raw response.
fn failure_class<E>(
    err: &OrchestratorError<E>,
    status: Option<u16>,
    body: Option<&[u8]>,
) -> AwsErrorKind {
    if err.is_timeout_error() {
        return AwsErrorKind::Retryable;
    }
    if let Some(connector) = err.as_connector_error() {
        return if connector.is_user() {
            AwsErrorKind::Invalid
        } else {
            AwsErrorKind::Retryable
        };
    }
    if err.is_response_error() {
        return match status {
            Some(401 | 403) => AwsErrorKind::Denied,
            _ => AwsErrorKind::Retryable,
        };
    }
    if err.is_operation_error() {
        // The error code as AWS (or an emulator) wrote it in the body: the
        // typed error is erased here, and the XML carries the same code.
        let code = body
            .and_then(crate::quirks::undecoded_error)
            .map(|(code, _)| code);
        return classify(code.as_deref(), status);
    }
    AwsErrorKind::Retryable
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    #[test]
    fn failures_are_classed_like_aws_errors() {
        type Err = OrchestratorError<std::io::Error>;
        let op = |e: std::io::Error| Err::operation(e);
        let xml = |code: &str| {
            format!("<ErrorResponse><Error><Code>{code}</Code></Error></ErrorResponse>")
        };
        let class = |err: &Err, status, body: Option<String>| {
            failure_class(err, status, body.as_deref().map(str::as_bytes))
        };
        let e = op(std::io::Error::other("x"));
        assert_eq!(
            class(&e, Some(404), Some(xml("NoSuchEntity"))),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            class(&e, Some(400), Some(xml("Throttling"))),
            AwsErrorKind::Retryable
        );
        assert_eq!(
            class(&e, Some(403), Some(xml("InvalidClientTokenId"))),
            AwsErrorKind::Denied
        );
        assert_eq!(
            class(&e, Some(409), Some(xml("EntityAlreadyExists"))),
            AwsErrorKind::Invalid
        );
        assert_eq!(class(&e, Some(403), None), AwsErrorKind::Denied);
        assert_eq!(class(&e, Some(503), None), AwsErrorKind::Retryable);
        let timeout = Err::timeout("slow".into());
        assert_eq!(class(&timeout, None, None), AwsErrorKind::Retryable);
        let refused = Err::connector(ConnectorError::io("refused".into()));
        assert_eq!(class(&refused, None, None), AwsErrorKind::Retryable);
        let bad_url = Err::connector(ConnectorError::user("bad url".into()));
        assert_eq!(class(&bad_url, None, None), AwsErrorKind::Invalid);
    }

    #[test]
    fn calls_are_counted_by_operation_and_outcome() {
        let metrics = AwsCallMetrics::new();
        metrics.record("iam", "CreateUser", "ok", 0.01);
        metrics.record("iam", "CreateUser", "ok", 0.02);
        metrics.record("iam", "DeleteUser", "not_found", 0.01);
        assert_eq!(metrics.calls("iam", "CreateUser", "ok"), 2);
        assert_eq!(metrics.calls("iam", "DeleteUser", "not_found"), 1);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                r#"dynsec_aws_calls_total{service="iam",operation="CreateUser",outcome="ok"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"dynsec_aws_call_duration_seconds_count{service="iam",operation="CreateUser"} 2"#
            ),
            "{text}"
        );
    }
}
