//! The HTTP side: `POST <gateway>/api/v2/<operation>` with a JSON body, the `/auth` exchange
//! of an access id/key for a token, and readable errors for gateway answers and connection
//! failures (naming the URL, with a hint when the scheme or the CA looks wrong).

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::header::ACCEPT;
use serde_json::{json, Value};

use super::error::{GatewayError, Unreachable};
use super::settings::Credentials;
use super::url::{endpoint, root};

/// What `/auth` answered.
pub struct Token {
    pub token: String,
    /// RFC 3339, as the gateway wrote it (empty if it did not say).
    pub expiration: String,
}

/// A client for one gateway.
pub struct Gateway {
    http: reqwest::Client,
    base: String,
}

impl Gateway {
    /// `base` is a normalized gateway URL; `ca_file` a PEM bundle of extra CAs to trust.
    pub fn new(base: &str, ca_file: Option<&Path>) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("dynsec-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120));
        if let Some(file) = ca_file {
            let pem = std::fs::read(file)
                .with_context(|| format!("cannot read the CA file {}", file.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} is not a PEM certificate bundle", file.display()))?;
            if certs.is_empty() {
                bail!("{} holds no PEM certificate", file.display());
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().context("cannot set up the HTTP client")?;
        Ok(Gateway {
            http,
            base: base.to_owned(),
        })
    }

    /// Posts `body` to `operation` and returns the JSON answer.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value> {
        let url = endpoint(&self.base, operation);
        let response = self
            .http
            .post(&url)
            .header(ACCEPT, "application/json")
            .json(body)
            .send()
            .await
            .map_err(|err| Unreachable(describe_send_error(&err, &self.base, &url)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| Unreachable(describe_send_error(&err, &self.base, &url)))?;
        if status.is_success() {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(json!({}));
            }
            return serde_json::from_slice(&bytes).map_err(|_| {
                anyhow!(
                    "{url} answered {status} with a body that is not JSON; is the gateway URL right? ({})",
                    snippet(&bytes)
                )
            });
        }
        Err(GatewayError {
            status: status.as_u16(),
            message: error_message(status, &bytes, &url),
        }
        .into())
    }

    /// `GET /health`: the gateway's version, if it says.
    pub async fn version(&self) -> Result<Option<String>> {
        let url = format!("{}/health", root(&self.base));
        let response = self
            .http
            .get(&url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| Unreachable(describe_send_error(&err, &self.base, &url)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| Unreachable(describe_send_error(&err, &self.base, &url)))?;
        if !status.is_success() {
            return Err(GatewayError {
                status: status.as_u16(),
                message: error_message(status, &bytes, &url),
            }
            .into());
        }
        let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
            anyhow!("{url} answered with a body that is not JSON; is the gateway URL right?")
        })?;
        Ok(answer
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Exchanges an access id/key for a token (`POST /auth`).
    pub async fn token(&self, credentials: &Credentials) -> Result<String> {
        Ok(self.authenticate(credentials).await?.token)
    }

    /// Like [`Gateway::token`], with the token's expiry.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<Token> {
        let body = json!({
            "access-id": credentials.access_id,
            "access-key": credentials.access_key,
            "access-type": "access_key",
        });
        // Connection failures speak for themselves; a refusal gets the context.
        let answer =
            self.call("auth", &body)
                .await
                .map_err(|err| match err.downcast::<GatewayError>() {
                    Ok(refused) => GatewayError {
                        status: refused.status,
                        message: format!("authentication failed: {}", refused.message),
                    }
                    .into(),
                    Err(other) => other,
                })?;
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("authentication failed: the gateway's answer has no token"))?;
        let expiration = answer
            .get("expiration")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Token { token, expiration })
    }
}

/// The gateway's `{"error": ...}` message, or a description of an unexpected body.
fn error_message(status: reqwest::StatusCode, body: &[u8], url: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        match map.get("error") {
            Some(Value::String(message)) if !message.is_empty() => return message.clone(),
            Some(other) if !other.is_null() => return other.to_string(),
            _ => {}
        }
    }
    let mut message = format!("{url} answered {status}");
    if status == reqwest::StatusCode::NOT_FOUND {
        message.push_str("; is the gateway URL right?");
    }
    if !body.is_empty() {
        message.push_str(&format!(" ({})", snippet(body)));
    }
    message
}

/// The start of a body, on one line, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// Why a request could not be sent or answered, naming the URL, with a hint when likely.
fn describe_send_error(err: &reqwest::Error, base: &str, url: &str) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.iter().any(|seen| seen.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    let detail = if causes.is_empty() {
        err.to_string()
    } else {
        causes.join(": ")
    };
    let hint = hint(err.is_timeout(), base, &detail.to_ascii_lowercase());
    format!("cannot reach the gateway at {url}: {detail}{hint}")
}

fn hint(timed_out: bool, base: &str, detail: &str) -> String {
    let https = base.starts_with("https://");
    let tls_trouble = [
        "corrupt message",
        "invalidcontenttype",
        "tls",
        "handshake",
        "ssl",
    ]
    .iter()
    .any(|needle| detail.contains(needle));
    if timed_out {
        " (the gateway did not answer in time)".to_owned()
    } else if https && detail.contains("causedasendentity") {
        // rustls/webpki refuse a CA certificate as the server's own, even
        // when it is the very certificate given to --ca-file.
        " (the gateway's certificate is a CA certificate, basicConstraints CA:TRUE — `openssl req -x509` makes one by default — and TLS clients refuse a CA certificate as a server certificate: give the gateway a certificate with CA:FALSE signed by that CA, and pass the CA to --ca-file)"
            .to_owned()
    } else if https && (detail.contains("certificate") || detail.contains("issuer")) {
        " (the gateway's certificate is not trusted: pass --ca-file <pem> or set DYNSEC_CA_FILE)"
            .to_owned()
    } else if https && tls_trouble {
        let plain = base.replacen("https://", "http://", 1);
        format!(" (the gateway may be serving plain HTTP: try --gateway-url {plain})")
    } else if detail.contains("refused") {
        " (is the gateway running and the URL right?)".to_owned()
    } else if !https
        && ["closed", "reset", "invalid http"]
            .iter()
            .any(|needle| detail.contains(needle))
    {
        let secure = base.replacen("http://", "https://", 1);
        format!(" (the gateway may be serving HTTPS: try --gateway-url {secure})")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn error_messages() {
        let url = "http://gw/api/v2/x";
        let body = br#"{"error": "item not found"}"#;
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, body, url),
            "item not found"
        );
        let html = error_message(StatusCode::NOT_FOUND, b"<html>\n nope </html>", url);
        assert!(html.contains("is the gateway URL right"), "{html}");
        assert!(html.contains("<html> nope </html>"), "{html}");
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"", url),
            "http://gw/api/v2/x answered 502 Bad Gateway"
        );
    }

    #[test]
    fn hints_on_wrong_scheme_or_ca() {
        let plain = hint(
            false,
            "https://gw:8000",
            "received corrupt message of type invalidcontenttype",
        );
        assert!(
            plain.contains("try --gateway-url http://gw:8000"),
            "{plain}"
        );
        let ca = hint(
            false,
            "https://gw:8000",
            "invalid peer certificate: unknownissuer",
        );
        assert!(ca.contains("--ca-file"), "{ca}");
        let ca_as_leaf = hint(
            false,
            "https://gw:8000",
            "invalid peer certificate: other(othererror(causedasendentity))",
        );
        assert!(ca_as_leaf.contains("CA:TRUE"), "{ca_as_leaf}");
        assert!(ca_as_leaf.contains("CA:FALSE"), "{ca_as_leaf}");
        let refused = hint(
            false,
            "http://gw:8000",
            "tcp connect error: connection refused (os error 111)",
        );
        assert!(refused.contains("running"), "{refused}");
        let reset = hint(
            false,
            "http://gw:8000",
            "connection error: connection reset by peer",
        );
        assert!(
            reset.contains("try --gateway-url https://gw:8000"),
            "{reset}"
        );
    }

    #[test]
    fn snippet_is_bounded() {
        let long = "x".repeat(500);
        assert_eq!(snippet(long.as_bytes()).len(), 203);
    }
}
