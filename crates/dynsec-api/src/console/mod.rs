//! The web console: static HTML, ES modules and CSS compiled into the binary
//! (see `assets/`) and served under `/console/`. It is a pure client of the
//! public API — every action is a `POST /api/v2/<op>` with the token in the
//! body — so authorization, audit, errors and rate limits stay the API's own.
//! A browser's `GET /` is sent here.

mod assets;
mod headers;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The console's routes, every response carrying [`headers::secure`]'s headers.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        // Relative, so the console also works behind a proxy under a prefix.
        .route("/console", get(|| async { Redirect::to("console/") }))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
        .layer(axum::middleware::map_response(headers::secure))
}

/// `GET /`: where a browser pointed at the gateway lands.
pub async fn redirect_to_console() -> Response {
    let mut response = Redirect::to("console/").into_response();
    headers::secure_headers(response.headers_mut());
    response
}

async fn index(request_headers: HeaderMap) -> Response {
    asset(Path("index.html".to_string()), request_headers).await
}

async fn asset(Path(path): Path<String>, request_headers: HeaderMap) -> Response {
    let Some(asset) = assets::find(&path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let etag = assets::etag(asset);
    if if_none_match(&request_headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        put_etag(response.headers_mut(), &etag);
        return response;
    }
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response();
    put_etag(response.headers_mut(), &etag);
    response
}

fn put_etag(headers: &mut HeaderMap, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
}

/// Whether the client's cached copy (`If-None-Match`) is the current one.
fn if_none_match(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::if_none_match;
    use axum::http::HeaderMap;

    #[test]
    fn revalidation_matches_the_current_tag_only() {
        let mut headers = HeaderMap::new();
        assert!(!if_none_match(&headers, "\"abc\""));
        headers.insert("if-none-match", "\"old\", W/\"abc\"".parse().unwrap());
        assert!(if_none_match(&headers, "\"abc\""));
        assert!(!if_none_match(&headers, "\"new\""));
    }
}
