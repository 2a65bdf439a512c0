//! Turns any request into an operation call: `POST /<op>`, `/api/v2/<op>`, with
//! doubled slashes tolerated, a JSON object body, and errors in the API's shape.

use crate::{ops, ApiError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dynsec_engine::Engine;
use serde_json::Value;

/// Largest accepted request body; Akeyless requests are small.
const MAX_BODY: usize = 1 << 20;

pub async fn dispatch(
    State(engine): State<Engine>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    match run(&engine, &method, &uri, &body).await {
        Ok((status, value)) => (status, Json(value)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn run(
    engine: &Engine,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    let name = operation_name(uri.path());
    let op = ops::Op::from_name(name).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("unknown operation '{name}'"))
    })?;
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("operation '{name}' takes POST with a JSON body"),
        ));
    }
    if body.len() > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than 1 MiB",
        ));
    }
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?
    };
    if !body.is_object() {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    ops::handle(engine, op, &body).await
}

/// `/api/v2//list-items` → `list-items`.
fn operation_name(path: &str) -> &str {
    let trimmed = path.trim_matches('/');
    let without_prefix = trimmed
        .strip_prefix("api/v2")
        .map(|rest| rest.trim_start_matches('/'))
        .unwrap_or(trimmed);
    without_prefix.trim_matches('/')
}

#[cfg(test)]
mod tests {
    use super::operation_name;

    #[test]
    fn operation_names() {
        assert_eq!(operation_name("/auth"), "auth");
        assert_eq!(operation_name("//auth"), "auth");
        assert_eq!(operation_name("/api/v2/list-items"), "list-items");
        assert_eq!(operation_name("/api/v2//list-items/"), "list-items");
        assert_eq!(operation_name("/"), "");
    }
}
