//! Turns any request into an operation call: `POST /<op>`, `/api/v2/<op>`, with
//! doubled slashes tolerated, a JSON object body, and errors in the API's shape.

use crate::{audit, ops, ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dynsec_core::access::Cidr;
use dynsec_engine::Caller;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};

/// Largest accepted request body; Akeyless requests are small.
const MAX_BODY: usize = 1 << 20;

/// Facts about one request that handlers and the audit trail need.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The client address used for bound-IP checks, rate limits and audit:
    /// the TCP peer, unless the peer is a configured trusted proxy (see
    /// [`client_address`]).
    pub client: IpAddr,
    /// Who the token resolved to, once it did.
    pub caller: Option<Caller>,
}

impl RequestContext {
    pub fn client_ip(&self) -> IpAddr {
        self.client
    }
}

/// The real client behind trusted proxies: `X-Forwarded-For` is read only when
/// the TCP peer is one of `trusted`, right to left, skipping further trusted
/// hops; the first untrusted address is the client. Without trusted proxies
/// the header is ignored, since any client can write it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}

pub async fn dispatch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = client_address(peer.ip(), &headers, &state.trusted_proxies);
    // The request runs on its own task so that it completes, and is audited
    // exactly once with its real outcome, even if the client hangs up.
    let audit = state.audit.clone();
    let operation = operation_name(uri.path()).to_string();
    let task = tokio::spawn(async move {
        let mut ctx = RequestContext {
            peer,
            client,
            caller: None,
        };
        // Boxed: the operation futures nest deeply, and unboxed inside this
        // task's future they exceed the compiler's layout query depth.
        let result = Box::pin(run(&state, &mut ctx, &method, &uri, &body)).await;
        let operation = operation_name(uri.path());
        let facts = audit::RequestFacts {
            client: ctx.client_ip(),
            operation,
            op: ops::Op::from_name(operation),
            body: &body,
            caller: ctx.caller.as_ref().map(|c| c.access_id.as_str()),
            result: &result,
        };
        state.audit.request(facts).await;
        result
    });
    let result = match task.await {
        Ok(result) => result,
        // A handler panicked; its record was not written yet.
        Err(_) => {
            let result = Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the gateway's log",
            ));
            let facts = audit::RequestFacts {
                client,
                operation: &operation,
                op: ops::Op::from_name(&operation),
                body: &[],
                caller: None,
                result: &result,
            };
            audit.request(facts).await;
            result
        }
    };
    match result {
        Ok((status, value)) => (status, Json(value)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn run(
    state: &AppState,
    ctx: &mut RequestContext,
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
    ops::handle(&state.engine, ctx, op, &body).await
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
    use super::{client_address, operation_name};
    use axum::http::HeaderMap;
    use dynsec_core::access::Cidr;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 10.1.2.3, 192.168.0.9".parse().unwrap(),
        );
        let peer = "192.168.0.1".parse().unwrap();
        assert_eq!(
            client_address(peer, &headers, &[]),
            peer,
            "untrusted: header ignored"
        );
        let proxies = [Cidr::parse("p", "192.168.0.0/24").unwrap()];
        assert_eq!(
            client_address(peer, &headers, &proxies).to_string(),
            "10.1.2.3",
            "rightmost untrusted hop; spoofed left entries ignored"
        );
        assert_eq!(client_address(peer, &HeaderMap::new(), &proxies), peer);
    }

    #[test]
    fn operation_names() {
        assert_eq!(operation_name("/auth"), "auth");
        assert_eq!(operation_name("//auth"), "auth");
        assert_eq!(operation_name("/api/v2/list-items"), "list-items");
        assert_eq!(operation_name("/api/v2//list-items/"), "list-items");
        assert_eq!(operation_name("/"), "");
    }
}
