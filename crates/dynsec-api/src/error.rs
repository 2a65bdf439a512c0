//! One error type for every handler, rendered as `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dynsec_aws::AwsErrorKind;
use dynsec_engine::EngineError;
use tracing::error;

/// An HTTP status and a message safe to show the caller.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let status = match &err {
            EngineError::Invalid(_) => StatusCode::BAD_REQUEST,
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
            EngineError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Aws(aws) => match aws.kind {
                // AWS rejected what the dynamic secret asks for (unknown policy or group...).
                AwsErrorKind::Invalid | AwsErrorKind::NotFound => StatusCode::BAD_REQUEST,
                // The target's admin credentials were refused: the gateway's upstream is misconfigured.
                AwsErrorKind::Denied => StatusCode::BAD_GATEWAY,
                AwsErrorKind::Retryable => StatusCode::SERVICE_UNAVAILABLE,
            },
            EngineError::Internal(detail) => {
                error!(%detail, "internal error");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the gateway's log",
                );
            }
        };
        Self::new(status, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
