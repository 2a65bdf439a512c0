//! Workarounds for AWS emulators (moto), in one place. Each item says which
//! emulator behaviour it handles and why it cannot change what happens
//! against AWS itself. Nothing else in the crate knows about emulators.
//!
//! Emulator gaps that need no code here (the tests work around them, see
//! `tests/`): moto's DeleteUser does not enforce DeleteConflict for keys,
//! login profiles, MFA devices or groups (the testkit's strict proxy adds
//! the rule); moto ignores policy conditions, session policies, external
//! ids and permissions boundaries (ministack evaluates them); its
//! GetSessionToken and GetFederationToken credentials fail once auth is on
//! (ministack's work); it answers `Connection: close` to every request (the
//! testkit's keep-alive proxy hides that). ministack ignores MFA codes and
//! enforces DeleteConflict only for keys and attached policies.

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::config::interceptors::InterceptorContext;
use aws_sdk_iam::config::retry::{ClassifyRetry, RetryAction};

/// **moto: unimplemented actions crash its handler.** moto 5.2.x raises
/// `NotImplementedError` for, e.g., ListServiceSpecificCredentials; its
/// Werkzeug server turns that into a generic HTML "500 Internal Server
/// Error": HTTP 500, a `Server: Werkzeug/...` header, an HTML page instead
/// of an AWS XML error. AWS itself never identifies as Werkzeug, so this
/// cannot match a real AWS answer (and moto's own AWS-shaped errors, even
/// its 500s, carry `<ErrorResponse`).
pub(crate) fn is_emulator_crash(resp: &HttpResponse) -> bool {
    let header = |name: &str| resp.headers().get(name).unwrap_or_default();
    resp.status().as_u16() == 500
        && header("server").starts_with("Werkzeug/")
        && header("content-type").starts_with("text/html")
        && !resp
            .body()
            .bytes()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("<ErrorResponse"))
}

/// **moto: see [`is_emulator_crash`].** The SDK's standard policy would retry
/// such an answer twice with backoff (~1.5 s) before the caller gets to look
/// at it; it is not transient, so it is not retried.
#[derive(Debug)]
pub(crate) struct EmulatorCrashNoRetry;

impl ClassifyRetry for EmulatorCrashNoRetry {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if ctx.response().is_some_and(is_emulator_crash) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "dynsec emulator-crash no-retry"
    }
}

/// **ministack: unimplemented IAM actions.** ministack 1.5.x answers
/// `400 InvalidAction: Unknown IAM action: <name>` for actions it lacks
/// (ListSSHPublicKeys, ListSigningCertificates,
/// ListServiceSpecificCredentials). The teardown's listings treat that as
/// "nothing of this kind": every listing dynsec sends exists in AWS's IAM,
/// which therefore never answers it so, and should one ever do, DeleteUser
/// would still refuse with DeleteConflict while anything remained.
pub(crate) fn is_unimplemented_action(err: &crate::AwsError) -> bool {
    err.has_code("InvalidAction") && err.message.starts_with("Unknown IAM action")
}

/// **moto: auth errors the SDK cannot decode.** With auth on, moto wraps
/// `InvalidClientTokenId`, `SignatureDoesNotMatch` and `AccessDenied` in
/// `<ErrorResponse><Errors><Error>`, which the awsQuery parser does not
/// read, so the SDK reports no code. This reads `<Code>` and `<Message>`
/// wherever they are. Used only when the SDK found no code; an AWS error
/// the SDK decodes never reaches it.
pub(crate) fn undecoded_error(body: &[u8]) -> Option<(String, Option<String>)> {
    let text = std::str::from_utf8(body).ok()?;
    let code = xml_element(text, "Code")?;
    if code.is_empty() || code.len() > 128 {
        return None;
    }
    Some((code, xml_element(text, "Message")))
}

fn xml_element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&close)?;
    Some(xml_unescape(text[start..start + len].trim()))
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn resp(status: u16, server: &str, content_type: &str, body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        r.headers_mut().insert("server", server.to_string());
        r.headers_mut()
            .insert("content-type", content_type.to_string());
        r
    }

    #[test]
    fn emulator_crash_detection_is_narrow() {
        let page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>";
        assert!(is_emulator_crash(&resp(
            500,
            "Werkzeug/3.1.8 Python/3.11.7",
            "text/html; charset=utf-8",
            page
        )));
        // AWS's own 500 is XML from an AWS server.
        assert!(!is_emulator_crash(&resp(
            500,
            "AmazonIAM",
            "text/xml",
            "<ErrorResponse><Error><Code>ServiceFailure</Code></Error></ErrorResponse>"
        )));
        // moto's real AWS-shaped errors (even 500s) are not crashes.
        assert!(!is_emulator_crash(&resp(
            500,
            "Werkzeug/3.1.8 Python/3.11.7, amazon.com",
            "text/html; charset=utf-8",
            "<ErrorResponse><Errors><Error><Code>X</Code></Error></Errors></ErrorResponse>"
        )));
        assert!(!is_emulator_crash(&resp(
            503,
            "Werkzeug/3.1.8",
            "text/html",
            page
        )));
    }

    #[test]
    fn undecoded_errors_are_read_wherever_they_are() {
        assert_eq!(
            undecoded_error(b"<Error><Code>X</Code><Message>a &amp; b</Message></Error>"),
            Some(("X".to_string(), Some("a & b".to_string())))
        );
        assert_eq!(undecoded_error(b"<html>nope</html>"), None);
        let long = format!("<Code>{}</Code>", "x".repeat(200));
        assert_eq!(undecoded_error(long.as_bytes()), None);
    }
}
