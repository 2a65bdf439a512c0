//! Turns any request into an operation call: `POST /<op>`, `/api/v2/<op>`, with
//! doubled slashes tolerated, a JSON object body, and errors in the API's shape.

use crate::ops::{Outcome, Subject};
use crate::{audit, ops, ApiError, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dynsec_core::access::Cidr;
use dynsec_core::SecretString;
use dynsec_engine::Caller;
use http_body_util::BodyExt;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};

/// Largest accepted request body; Akeyless requests are small.
const MAX_BODY: usize = 1 << 20;
/// Longest accepted request URI (operation names are short).
const MAX_URI: usize = 8 * 1024;
/// A request body must arrive within this time (the head has its own
/// deadline, see `server.rs`).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How much of a refused, oversized body is read and dropped before the
/// 413 (see [`drain`]), and for how long at most.
const DRAIN_LIMIT: usize = 8 * MAX_BODY;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// The token the request carried, read once (see `ops::Call`).
    pub token: Option<SecretString>,
    /// What the request named, as its handler read it.
    pub subject: Subject,
    /// Completes when the client stopped waiting for the answer (the
    /// dispatcher's future was dropped: hyper gave up on the connection).
    /// The request runs on regardless; only waits that serve the client
    /// alone (a credential's ready-wait) end on it.
    pub client_gone: Option<tokio::sync::watch::Receiver<()>>,
    /// Headers a handler adds to the answer, success or error (`auth`'s
    /// delay): fixed names, values that are never secret.
    pub headers: Vec<(&'static str, String)>,
}

impl RequestContext {
    pub fn new(
        peer: SocketAddr,
        client: IpAddr,
        client_gone: Option<tokio::sync::watch::Receiver<()>>,
    ) -> Self {
        Self {
            peer,
            client,
            caller: None,
            token: None,
            subject: Subject::default(),
            client_gone,
            headers: Vec::new(),
        }
    }

    /// A future that completes once the client has gone away (never, when
    /// taken twice).
    pub fn client_gone(&mut self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let gone = self.client_gone.take();
        async move {
            match gone {
                // Only the dispatcher's drop ends it: it never sends.
                Some(mut gone) => while gone.changed().await.is_ok() {},
                None => std::future::pending().await,
            }
        }
    }

    pub fn client_ip(&self) -> IpAddr {
        self.client
    }

    pub fn add_header(&mut self, name: &'static str, value: String) {
        self.headers.push((name, value));
    }
}

/// The real client behind trusted proxies: `X-Forwarded-For` is read only when
/// the TCP peer is one of `trusted`, right to left, skipping further trusted
/// hops; the first untrusted address is the client. Without trusted proxies
/// the header is ignored, since any client can write it.
///
/// A hop may carry a port (`203.0.113.7:4711`, `[2001:db8::1]:443`). A hop
/// that still does not parse (`unknown`, an obfuscated name, bytes that are
/// not text) ends the walk: what lies left of it was written by someone we
/// cannot vouch for, so the last trusted address seen counts as the client.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text.split(',').map(parse_hop).collect(),
            Err(_) => vec![None],
        })
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// One `X-Forwarded-For` hop: an address, with or without a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    // `[2001:db8::1]` without a port.
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

pub async fn dispatch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let client = client_address(peer.ip(), &parts.headers, &state.trusted_proxies);
    // Read (or refuse) the body first, so that even an oversized or stalled
    // one is answered and audited like any other request.
    let body = read_body(&parts, body).await;
    // The request runs on its own task so that it completes, and is audited
    // exactly once with its real outcome, even if the client hangs up.
    let audit = state.audit.clone();
    let telemetry = state.telemetry.clone();
    let operation = operation_name(parts.uri.path()).to_string();
    // Held by this future alone: dropped with it when the client goes away.
    let (_client_waiting, client_gone) = tokio::sync::watch::channel(());
    // Tracked, so the gateway's shutdown waits for it (`AppState::requests`).
    let requests = state.requests.clone();
    let task = requests.spawn(async move {
        let mut ctx = RequestContext::new(peer, client, Some(client_gone));
        let (result, json) = match body {
            // Boxed: the operation futures nest deeply, and unboxed inside
            // this task's future they exceed the compiler's layout query depth.
            Ok(body) => Box::pin(run(&state, &mut ctx, &parts.method, &parts.uri, &body)).await,
            Err(err) => (Err(err), None),
        };
        let facts = audit::RequestFacts {
            client: ctx.client_ip(),
            operation: operation_name(parts.uri.path()),
            body: json.as_ref(),
            caller: ctx.caller.as_ref().map(|c| c.access_id.as_str()),
            token: ctx.token.as_ref(),
            subject: &ctx.subject,
            result: &result,
        };
        state.audit.request(facts).await;
        (result, ctx.headers)
    });
    let (result, headers) = match task.await {
        Ok(done) => done,
        // A handler panicked; its record was not written yet.
        Err(_) => {
            let result = Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the gateway's log",
            ));
            let facts = audit::RequestFacts {
                client,
                operation: &operation,
                body: None,
                caller: None,
                token: None,
                subject: &Subject::default(),
                result: &result,
            };
            audit.request(facts).await;
            (result, Vec::new())
        }
    };
    let mut response = match result {
        Ok(outcome) => (outcome.status, Json(outcome.answer)).into_response(),
        Err(err) => err.into_response(),
    };
    for (name, value) in headers {
        let name = axum::http::HeaderName::from_bytes(name.as_bytes());
        if let (Ok(name), Ok(value)) = (name, axum::http::HeaderValue::from_str(&value)) {
            response.headers_mut().insert(name, value);
        }
    }
    telemetry.request(&operation, response.status(), started.elapsed(), client);
    response
}

/// The request body, at most [`MAX_BODY`] bytes, read within
/// [`BODY_TIMEOUT`]. A too long URI is refused here too, before anything else.
async fn read_body(parts: &Parts, body: Body) -> Result<Bytes, ApiError> {
    if parts.uri.to_string().len() > MAX_URI {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("request URI is longer than {MAX_URI} bytes"),
        ));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = async {
        if declared.is_some_and(|len| len > MAX_BODY as u64) {
            drain(body).await;
            return Err(BodyError::TooLarge);
        }
        read_at_most(body).await
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(BodyError::TooLarge)) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than 1 MiB",
        )),
        Ok(Err(BodyError::Broken)) => Err(ApiError::bad_request(
            "the request body could not be read to its end",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Why a body was not read.
enum BodyError {
    TooLarge,
    /// The connection failed or the client stopped sending mid-body.
    Broken,
}

/// The whole body if it is at most [`MAX_BODY`] bytes; a longer one is
/// drained (see [`drain`]) and refused.
async fn read_at_most(mut body: Body) -> Result<Bytes, BodyError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue; // trailers
        };
        if bytes.len() + data.len() > MAX_BODY {
            drain(body).await;
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&data);
    }
    Ok(Bytes::from(bytes))
}

/// Reads and drops what is left of a refused body, up to [`DRAIN_LIMIT`]
/// bytes within [`DRAIN_TIME`], so that a client still sending it reads
/// the 413 instead of a connection reset under its write (hyper closes a
/// connection whose body was left unread).
async fn drain(mut body: Body) {
    let drained = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
}

/// Runs the request; answers its outcome and the body as parsed JSON (for
/// the audit record), once it parsed.
async fn run(
    state: &AppState,
    ctx: &mut RequestContext,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> (Result<Outcome, ApiError>, Option<Value>) {
    let name = operation_name(uri.path());
    // Parsed before the operation is known, so that even a request for an
    // unknown one is audited with the token it carried.
    let json = json_object(body);
    let op = match operation(name, method) {
        Ok(op) => op,
        Err(err) => return (Err(err), json.ok()),
    };
    let body = match json {
        Ok(body) => body,
        Err(err) => return (Err(err), None),
    };
    let result = ops::handle(&state.engine, ctx, op, &body).await;
    (result, Some(body))
}

/// The body as a JSON object (an empty body is `{}`).
fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?;
    if !body.is_object() {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    Ok(body)
}

/// The operation `name` names, if it is one served by `POST`.
fn operation(name: &str, method: &Method) -> Result<ops::Op, ApiError> {
    if name == "health" || name == "ready" {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{name} takes GET"),
        ));
    }
    if name == "metrics" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "metrics are served on the gateway's --metrics-listen address, not on the API's",
        ));
    }
    let op = ops::Op::from_name(name).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("unknown operation '{name}'"))
    })?;
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("operation '{name}' takes POST with a JSON body"),
        ));
    }
    Ok(op)
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
    fn forwarded_hops_with_ports_parse_and_garbage_ends_the_walk() {
        let proxies = [Cidr::parse("p", "192.168.0.0/24").unwrap()];
        let peer = "192.168.0.1".parse().unwrap();
        let client = |xff: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in xff {
                headers.append("x-forwarded-for", value.parse().unwrap());
            }
            client_address(peer, &headers, &proxies).to_string()
        };
        // Ports are read, not skipped.
        assert_eq!(client(&["6.6.6.6, 10.1.2.3:4711"]), "10.1.2.3");
        assert_eq!(client(&["6.6.6.6, [2001:db8::7]:443"]), "2001:db8::7");
        assert_eq!(client(&["6.6.6.6, [2001:db8::7]"]), "2001:db8::7");
        assert_eq!(client(&["6.6.6.6, 192.168.0.5:80, 10.1.2.3:1"]), "10.1.2.3");
        // A hop that does not parse ends the walk at the last trusted hop:
        // the spoofed address left of it never counts.
        assert_eq!(client(&["6.6.6.6, unknown"]), "192.168.0.1");
        assert_eq!(client(&["6.6.6.6, _hidden, 192.168.0.5"]), "192.168.0.5");
        assert_eq!(client(&["6.6.6.6", "garbage"]), "192.168.0.1");
        assert_eq!(client(&["6.6.6.6, 1.2.3.4:notaport"]), "192.168.0.1");
        // A header value that is not text ends it too.
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        headers.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(client_address(peer, &headers, &proxies), peer);
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
