//! One error type for every AWS call, classified so callers can decide between
//! retrying, giving up, and reporting a configuration problem.
//!
//! Messages carry AWS's own error text (which names principals, ARNs and
//! actions, never key material) and, for steps of a composite operation, the
//! name of the policy or group involved. Request parameters are never copied in:
//! one of them may be a console password.

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

/// How a failed AWS call should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The entity does not exist (`NoSuchEntity`).
    NotFound,
    /// Transient: throttling, 5xx, timeouts, network trouble. Trying again later may work.
    Retryable,
    /// The admin credentials are rejected or lack a permission.
    Denied,
    /// Permanent: the request itself is wrong (bad policy, existing name, unknown group...).
    Invalid,
}

impl AwsErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Retryable => "retryable",
            Self::Denied => "denied",
            Self::Invalid => "invalid",
        }
    }
}

/// A failed AWS call. `Display`: `IAM CreateUser failed: <code>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation} failed: {}{message}", code_prefix(.code))]
pub struct AwsError {
    pub kind: AwsErrorKind,
    /// `"IAM"` or `"STS"`.
    pub service: &'static str,
    /// The AWS API operation that failed, e.g. `"AttachUserPolicy"`.
    pub operation: &'static str,
    /// AWS's error code when there is one (`NoSuchEntity`, `AccessDenied`...).
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(
        kind: AwsErrorKind,
        service: &'static str,
        operation: &'static str,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            service,
            operation,
            code,
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == AwsErrorKind::Retryable
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    /// Whether AWS answered with this error code (`DeleteConflict`, ...).
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Classifies an SDK error. Works for IAM and STS alike: both SDKs re-export
    /// the same `SdkError` and response types.
    pub(crate) fn from_sdk<E: ProvideErrorMetadata>(
        service: &'static str,
        operation: &'static str,
        err: &SdkError<E, HttpResponse>,
    ) -> Self {
        let (kind, code, message) = match err {
            SdkError::ConstructionFailure(_) => (
                AwsErrorKind::Invalid,
                None,
                // The failure's source may describe the input; keep it out (passwords).
                "the request could not be built from its parameters".to_string(),
            ),
            SdkError::TimeoutError(_) => (
                AwsErrorKind::Retryable,
                None,
                "the request timed out".to_string(),
            ),
            SdkError::DispatchFailure(failure) => {
                let kind = if failure.is_user() {
                    // E.g. an endpoint URL the HTTP client cannot use: retrying won't help.
                    AwsErrorKind::Invalid
                } else {
                    AwsErrorKind::Retryable
                };
                let detail = failure
                    .as_connector_error()
                    .map(|c| aws_sdk_iam::error::DisplayErrorContext(c).to_string())
                    .unwrap_or_else(|| "unknown connector error".to_string());
                (
                    kind,
                    None,
                    truncate(format!("could not reach the endpoint: {detail}")),
                )
            }
            SdkError::ResponseError(ctx) => {
                let status = ctx.raw().status().as_u16();
                // An unparseable response (cut connection, proxy page): a server-side anomaly.
                let kind = match status {
                    401 | 403 => AwsErrorKind::Denied,
                    _ => AwsErrorKind::Retryable,
                };
                (kind, None, format!("unreadable response (HTTP {status})"))
            }
            SdkError::ServiceError(ctx) => {
                let raw = ctx.raw();
                let status = raw.status().as_u16();
                let mut code = ctx.err().code().map(str::to_owned);
                let mut message = ctx.err().message().map(str::to_owned);
                if code.is_none() {
                    // An emulator's auth error the SDK cannot decode (see quirks).
                    if let Some((c, m)) =
                        raw.body().bytes().and_then(crate::quirks::undecoded_error)
                    {
                        code = Some(c);
                        message = message.or(m);
                    }
                }
                let kind = classify(code.as_deref(), Some(status));
                let message = message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| format!("HTTP {status} without an error message"));
                (kind, code, truncate(message))
            }
            _ => (
                AwsErrorKind::Retryable,
                None,
                "unknown SDK failure".to_string(),
            ),
        };
        Self {
            kind,
            service,
            operation,
            code,
            message,
        }
    }

    /// For a step of a composite operation: prefixes what the step was about
    /// (`policy arn:...`) and, if that thing does not exist, reports the
    /// request as invalid rather than the entity as gone.
    pub(crate) fn about(mut self, subject: &str) -> Self {
        if self.kind == AwsErrorKind::NotFound {
            self.kind = AwsErrorKind::Invalid;
        }
        self.message = format!("{subject}: {}", self.message);
        self
    }
}

fn code_prefix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!("{c}: "))
        .unwrap_or_default()
}

/// Maps an AWS error code and HTTP status to a kind. The code wins when known;
/// otherwise the status decides (moto's undecodable auth errors arrive as a
/// bare 403).
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> AwsErrorKind {
    if let Some(code) = code {
        match code {
            "NoSuchEntity" | "NoSuchEntityException" => return AwsErrorKind::NotFound,
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "ServiceFailure"
            | "InternalFailure"
            | "InternalError"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "PriorRequestNotComplete"
            | "IDPCommunicationError"
            // IAM answers this when two writes to one entity race; the second can be replayed.
            | "ConcurrentModification" => return AwsErrorKind::Retryable,
            "AccessDenied"
            | "AccessDeniedException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidAccessKeyId"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "ExpiredToken"
            | "ExpiredTokenException" => return AwsErrorKind::Denied,
            _ => {}
        }
    }
    match status {
        Some(s) if s >= 500 => AwsErrorKind::Retryable,
        Some(429) => AwsErrorKind::Retryable,
        Some(401 | 403) => AwsErrorKind::Denied,
        _ => AwsErrorKind::Invalid,
    }
}

/// Bounds messages so an odd body (an HTML error page) cannot flood logs.
fn truncate(mut s: String) -> String {
    const MAX: usize = 512;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::error::ErrorMetadata;
    use aws_sdk_iam::operation::create_user::CreateUserError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        )
    }

    fn service_error(code: Option<&str>, status: u16, body: &str) -> AwsError {
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code).message("msg from aws");
        }
        let err = SdkError::service_error(
            CreateUserError::generic(meta.build()),
            response(status, body),
        );
        AwsError::from_sdk("IAM", "CreateUser", &err)
    }

    #[test]
    fn codes_decide_the_kind() {
        use AwsErrorKind::*;
        let cases = [
            ("NoSuchEntity", 404, NotFound),
            ("Throttling", 400, Retryable),
            ("ThrottlingException", 400, Retryable),
            ("RequestLimitExceeded", 400, Retryable),
            ("ServiceUnavailable", 503, Retryable),
            ("ConcurrentModification", 409, Retryable),
            ("AccessDenied", 403, Denied),
            ("InvalidClientTokenId", 403, Denied),
            ("SignatureDoesNotMatch", 403, Denied),
            ("EntityAlreadyExists", 409, Invalid),
            ("MalformedPolicyDocument", 400, Invalid),
            ("ValidationError", 400, Invalid),
            ("LimitExceeded", 409, Invalid),
            ("SomethingNew", 500, Retryable),
            ("SomethingNew", 400, Invalid),
        ];
        for (code, status, kind) in cases {
            assert_eq!(classify(Some(code), Some(status)), kind, "{code}");
        }
    }

    #[test]
    fn status_decides_without_a_code() {
        assert_eq!(classify(None, Some(403)), AwsErrorKind::Denied);
        assert_eq!(classify(None, Some(500)), AwsErrorKind::Retryable);
        assert_eq!(classify(None, Some(502)), AwsErrorKind::Retryable);
        assert_eq!(classify(None, Some(429)), AwsErrorKind::Retryable);
        assert_eq!(classify(None, Some(400)), AwsErrorKind::Invalid);
        assert_eq!(classify(None, None), AwsErrorKind::Invalid);
    }

    #[test]
    fn decoded_service_error_keeps_code_and_message() {
        let e = service_error(Some("EntityAlreadyExists"), 409, "");
        assert_eq!(e.kind, AwsErrorKind::Invalid);
        assert_eq!(
            e.to_string(),
            "IAM CreateUser failed: EntityAlreadyExists: msg from aws"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn moto_style_auth_error_is_read_from_the_body() {
        // The exact body moto 5.2.1 sends with auth on; the SDK leaves code() empty.
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>"#;
        let e = service_error(None, 403, body);
        assert_eq!(e.kind, AwsErrorKind::Denied);
        assert_eq!(e.code.as_deref(), Some("InvalidClientTokenId"));
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );
    }

    #[test]
    fn bare_403_is_denied_and_html_500_is_retryable() {
        let e = service_error(None, 403, "forbidden");
        assert_eq!(e.kind, AwsErrorKind::Denied);
        assert_eq!(e.code, None);
        let e = service_error(
            None,
            500,
            "<!doctype html><title>500 Internal Server Error</title>",
        );
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "IAM CreateUser failed: HTTP 500 without an error message"
        );
    }

    #[test]
    fn timeouts_and_dispatch_failures_are_retryable() {
        let err: SdkError<CreateUserError, HttpResponse> =
            SdkError::timeout_error("deadline".to_string());
        assert!(AwsError::from_sdk("IAM", "CreateUser", &err).is_retryable());
        let err: SdkError<CreateUserError, HttpResponse> = SdkError::dispatch_failure(
            aws_sdk_iam::error::ConnectorError::io("connection refused".to_string().into()),
        );
        let e = AwsError::from_sdk("IAM", "CreateUser", &err);
        assert!(e.is_retryable());
        assert!(e.message.contains("connection refused"), "{}", e.message);
    }

    #[test]
    fn about_turns_missing_references_into_invalid_requests() {
        let e = service_error(Some("NoSuchEntity"), 404, "").about("group 'ops'");
        assert_eq!(e.kind, AwsErrorKind::Invalid);
        assert_eq!(e.message, "group 'ops': msg from aws");
        let e = service_error(Some("Throttling"), 400, "").about("group 'ops'");
        assert!(e.is_retryable());
    }

    #[test]
    fn long_messages_are_truncated() {
        let long = "é".repeat(600);
        assert!(truncate(long).len() <= 512 + '…'.len_utf8());
    }
}
