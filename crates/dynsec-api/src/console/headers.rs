//! The headers every console response carries. The CSP is the console's
//! main defence against XSS: only its own scripts, styles and API; no inline
//! code, no `eval`, no HTML sinks (Trusted Types `'none'`), no framing.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

/// The console's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
trusted-types 'none'";

const HEADERS: [(HeaderName, &str); 8] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    // For browsers predating `frame-ancestors`.
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    ),
    // Revalidate every time (cheap: ETag → 304), so an upgraded gateway's
    // console is what the browser runs, never a stale mix of modules.
    (header::CACHE_CONTROL, "no-cache"),
];

/// Adds the console's headers to `response`.
pub async fn secure(mut response: Response) -> Response {
    secure_headers(response.headers_mut());
    response
}

pub fn secure_headers(headers: &mut HeaderMap) {
    for (name, value) in HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
