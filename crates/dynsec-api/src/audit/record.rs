//! One audit record: the fixed shape of a line ([`AuditRecord`]) and how a
//! finished request becomes one ([`build`]) from what the dispatcher and the
//! handler recorded of it — the caller, the token read, the request's
//! [`Subject`] and its [`Outcome`]. Nothing here parses the request again.

use super::redact::redact;
use crate::ops::{presented_token, Outcome, Subject};
use crate::ApiError;
use chrono::{SecondsFormat, Utc};
use dynsec_core::SecretString;
use dynsec_crypto::MacKey;
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;

/// Client-supplied strings (operation, path, access id) are cut to this many
/// characters, so one request cannot write an arbitrarily long line.
pub(super) const MAX_FIELD_CHARS: usize = 512;

/// One line of the audit log. Every key is always present (`null` when it does
/// not apply), so the lines have one fixed shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the request finished, RFC 3339 with milliseconds, UTC.
    pub time: String,
    /// The caller's access id once its token resolved; for `auth`, the access
    /// id the request tried to authenticate as.
    pub access_id: Option<String>,
    /// The client's IP address: the TCP peer, unless that is one of
    /// `--trusted-proxies`, then the client their `X-Forwarded-For` names.
    pub client: String,
    /// The operation as requested (`/api/v2//auth/` → `auth`).
    pub operation: String,
    /// The body's `name` (or the `path` of `list-items`, `list-leases` and
    /// `revoke-leases`), normalized like an item path.
    pub path: Option<String>,
    /// `ok` or `error`.
    pub outcome: &'static str,
    /// The HTTP status answered.
    pub status: u16,
    /// The error message answered, for failures.
    pub error: Option<String>,
    /// The lease id of a credential issued by `get-dynamic-secret-value`, or
    /// revoked, forgotten or re-timed by a tmp-creds operation.
    pub lease_id: Option<String>,
    /// What an operation that succeeded warned about (a `soft-delete`, a
    /// `revoke-leases` that left credentials live).
    pub warning: Option<String>,
    /// Hex HMAC of the token the request carried (for a successful `auth`, of
    /// the token it issued).
    pub token_hmac: Option<String>,
}

/// What the dispatcher knows about one finished request.
pub(crate) struct RequestFacts<'a> {
    pub client: IpAddr,
    pub operation: &'a str,
    /// The body as the dispatcher parsed it (`None`: not JSON, or never
    /// read): what error messages are redacted of.
    pub body: Option<&'a Value>,
    /// The access id the token resolved to.
    pub caller: Option<&'a str>,
    /// The token the request carried, as its handler's `Call` read it.
    pub token: Option<&'a SecretString>,
    /// What the handler read the request to be about.
    pub subject: &'a Subject,
    pub result: &'a Result<Outcome, ApiError>,
}

/// The record of a finished request; tokens appear only as HMACs under `key`.
pub(super) fn build(facts: RequestFacts<'_>, key: &MacKey) -> AuditRecord {
    let subject = facts.subject;
    // A request refused before a handler read it (an unknown operation, a
    // bad token, a malformed field) still names its token and item: read
    // them off the body as sent.
    let sent = |name: &str| {
        facts
            .body
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let access_id = match facts.caller {
        Some(id) => Some(clip(id)),
        // Only a value shaped like an access id: a caller who swapped id and
        // key must not get the key written here.
        None => subject
            .access_id
            .as_deref()
            .filter(|id| dynsec_core::access::is_access_id(id))
            .map(str::to_string),
    };
    let path = match (&subject.path, facts.result) {
        (Some(path), _) => Some(clip(path)),
        (None, Err(_)) => sent("name").map(|name| {
            dynsec_core::ItemPath::parse("name", name)
                .map(|p| p.to_string())
                .unwrap_or_else(|_| clip(name))
        }),
        (None, Ok(_)) => None,
    };
    let presented = match facts.token {
        Some(token) => Some(token.expose()),
        None => facts
            .body
            .and_then(|body| presented_token(body).ok().flatten())
            .filter(|t| !t.is_empty()),
    };
    // The credential a tmp-creds operation names, if it looks like one.
    let named_lease = subject
        .lease_id
        .as_deref()
        .map(str::trim)
        .filter(|id| is_lease_id(id))
        .map(str::to_string);
    let (status, error, lease_id, issued, warning) = match facts.result {
        Ok(outcome) => (
            outcome.status,
            None,
            outcome.lease_id.clone().or(named_lease),
            outcome.issued_token.as_ref().map(SecretString::expose),
            outcome.warning.as_deref().map(clip),
        ),
        Err(err) => (
            err.status,
            Some(redact(&err.message, facts.body)),
            named_lease,
            None,
            None,
        ),
    };
    let token_hmac = presented
        .or(issued)
        .map(|token| key.mac_hex(token.as_bytes()));

    AuditRecord {
        time: now(),
        access_id,
        client: facts.client.to_string(),
        operation: clip(facts.operation),
        path,
        outcome: if status.is_client_error() || status.is_server_error() {
            "error"
        } else {
            "ok"
        },
        status: status.as_u16(),
        error,
        lease_id,
        warning,
        token_hmac,
    }
}

/// The record of a request refused before it had a head worth parsing: only
/// the client, the status and the reason are known.
pub(super) fn refused_head(client: IpAddr, status: u16, error: &str) -> AuditRecord {
    AuditRecord {
        time: now(),
        access_id: None,
        client: client.to_string(),
        operation: String::new(),
        path: None,
        outcome: "error",
        status,
        error: Some(clip(error)),
        lease_id: None,
        warning: None,
        token_hmac: None,
    }
}

/// RFC 3339 with milliseconds, UTC.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Lease ids are `LEASE_ID_LEN` lower-case letters and digits
/// (`dynsec_crypto::random_id`).
fn is_lease_id(raw: &str) -> bool {
    raw.len() == dynsec_core::username::LEASE_ID_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use dynsec_crypto::MasterKey;
    use serde_json::json;

    fn key() -> MacKey {
        MacKey::derive(&MasterKey::generate(), super::super::AUDIT_KEY_LABEL)
    }

    /// A finished request's facts, as the dispatcher hands them over.
    struct Request {
        operation: String,
        body: Option<Value>,
        caller: Option<&'static str>,
        token: Option<SecretString>,
        subject: Subject,
        result: Result<Outcome, ApiError>,
    }

    impl Request {
        fn new(operation: &str, result: Result<Outcome, ApiError>) -> Self {
            Self {
                operation: operation.to_string(),
                body: None,
                caller: None,
                token: None,
                subject: Subject::default(),
                result,
            }
        }

        fn record(&self, key: &MacKey) -> AuditRecord {
            build(
                RequestFacts {
                    client: "127.0.0.1".parse().unwrap(),
                    operation: &self.operation,
                    body: self.body.as_ref(),
                    caller: self.caller,
                    token: self.token.as_ref(),
                    subject: &self.subject,
                    result: &self.result,
                },
                key,
            )
        }
    }

    fn ok() -> Result<Outcome, ApiError> {
        Ok(Outcome::ok(json!({})))
    }

    #[test]
    fn auth_records_the_attempted_id_and_the_issued_tokens_hmac() {
        let key = key();
        let mut auth = Request::new(
            "auth",
            Ok(Outcome {
                issued_token: Some(SecretString::new("t-issued")),
                ..Outcome::ok(json!({"token": "t-issued"}))
            }),
        );
        auth.body = Some(json!({"access-id": "p-abcd", "access-key": "super-secret-key"}));
        auth.subject.access_id = Some("p-abcd".into());
        let record = auth.record(&key);
        assert_eq!(record.access_id.as_deref(), Some("p-abcd"));
        assert_eq!((record.outcome, record.status), ("ok", 200));
        assert_eq!(
            record.token_hmac.as_deref(),
            Some(key.mac_hex(b"t-issued").as_str())
        );
        // A later request with that token carries the same fingerprint.
        let mut later = Request::new("describe-item", ok());
        later.caller = Some("p-abcd");
        later.token = Some(SecretString::new("t-issued"));
        later.subject.path = Some("/prod/x".into());
        let later = later.record(&key);
        assert_eq!(later.token_hmac, record.token_hmac);
        assert_eq!(later.path.as_deref(), Some("/prod/x"));

        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("super-secret-key") && !text.contains("t-issued"));
    }

    #[test]
    fn a_key_sent_as_the_access_id_is_not_written() {
        let key_sent = "K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols";
        let mut auth = Request::new(
            "auth",
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "access denied")),
        );
        auth.subject.access_id = Some(key_sent.into());
        let record = auth.record(&key());
        assert_eq!(record.access_id, None);
        assert!(!serde_json::to_string(&record).unwrap().contains(key_sent));
    }

    #[test]
    fn soft_deletes_record_their_lease_and_warning() {
        let warned = || {
            Ok(Outcome::ok(json!({"warning": "soft-delete: forgotten"}))
                .with_warning("soft-delete: forgotten".into()))
        };
        let mut revoke = Request::new("gateway-revoke-producer-tmp-creds", warned());
        revoke.subject.lease_id = Some("abcdefghij012345".into());
        let record = revoke.record(&key());
        assert_eq!(record.lease_id.as_deref(), Some("abcdefghij012345"));
        assert_eq!(record.warning.as_deref(), Some("soft-delete: forgotten"));
        // A value that is no lease id is not copied.
        let mut revoke = Request::new("gateway-revoke-producer-tmp-creds", warned());
        revoke.subject.lease_id = Some("not a lease id at all".into());
        assert_eq!(revoke.record(&key()).lease_id, None);
    }

    #[test]
    fn failures_are_redacted_and_values_carry_their_lease() {
        let mut create = Request::new(
            "create-aws-target",
            Err(ApiError::bad_request(
                "invalid access-key: 'wJalrXUtnFEMI' and 'sess-xyz' for 60m",
            )),
        );
        create.body = Some(json!({"token": "tok-123", "name": "/a", "user-ttl": "60m",
            "access-key": "wJalrXUtnFEMI", "nested": {"session-token": "sess-xyz"}}));
        let record = create.record(&key());
        assert_eq!((record.outcome, record.status), ("error", 400));
        assert_eq!(
            record.error.as_deref(),
            Some("invalid access-key: '[redacted]' and '[redacted]' for 60m")
        );

        let issued = Outcome {
            lease_id: Some("lease-1".into()),
            ..Outcome::ok(json!({"id": "lease-1", "secret_access_key": "s3cr3t"}))
        };
        let value = Request::new("dynamic-secret-get-value", Ok(issued));
        let record = value.record(&key());
        assert_eq!(record.lease_id.as_deref(), Some("lease-1"));
        assert!(!serde_json::to_string(&record).unwrap().contains("s3cr3t"));
    }

    #[test]
    fn a_request_refused_before_its_handler_read_it_names_what_its_body_sent() {
        let key = key();
        let mut refused = Request::new(
            "get-dynamic-secret-value",
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid token")),
        );
        refused.body = Some(json!({"token": "t-unknown", "name": "prod//db/"}));
        let record = refused.record(&key);
        assert_eq!(record.path.as_deref(), Some("/prod/db"));
        assert_eq!(
            record.token_hmac.as_deref(),
            Some(key.mac_hex(b"t-unknown").as_str())
        );
        // A success records only what its handler read.
        let mut listed = Request::new("list-targets", ok());
        listed.body = Some(json!({"name": "/not/a/subject"}));
        assert_eq!(listed.record(&key).path, None);
    }

    #[test]
    fn unknown_ops_and_missing_bodies() {
        let unknown = Request::new(
            &"x".repeat(2000),
            Err(ApiError::new(StatusCode::NOT_FOUND, "unknown operation")),
        );
        let record = unknown.record(&key());
        assert_eq!(record.operation.chars().count(), MAX_FIELD_CHARS + 1);
        assert_eq!(record.status, 404);
        assert_eq!(
            (record.access_id, record.token_hmac, record.path),
            (None, None, None)
        );
    }

    #[test]
    fn long_paths_are_clipped() {
        let mut list = Request::new("list-items", ok());
        list.subject.path = Some(format!("/{}", "a/".repeat(2000)));
        let path = list.record(&key()).path.unwrap();
        assert_eq!(path.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(path.starts_with("/a/a/") && path.ends_with('…'), "{path}");
    }
}
