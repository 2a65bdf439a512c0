//! One request on its way through a handler, read once.
//!
//! The dispatcher parses the body into JSON once; [`Call::new`] reads the
//! token off it once (it authenticates the caller, and the audit
//! fingerprints it); the handler deserializes its typed request once with
//! [`Call::fields`] and parses the paths it names with [`Call::path`], which
//! also records them as the request's [`Subject`]. The handler answers an
//! [`Outcome`]: the answer plus what the audit records of it (the lease
//! issued or named, the token issued, a warning), so the audit never reads
//! the body or the answer again.

use crate::wire::parse;
use crate::{ApiError, RequestContext};
use axum::http::StatusCode;
use dynsec_core::{ItemPath, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a request named, as its handler read it: the audit's "what".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The item, folder or name the request is about (the first path the
    /// handler parsed), normalized.
    pub path: Option<String>,
    /// The lease a tmp-creds operation names.
    pub lease_id: Option<String>,
    /// For `auth`: the access id it tried to authenticate as.
    pub access_id: Option<String>,
}

/// A finished operation: its answer, and what the audit records of it.
pub struct Outcome {
    pub status: StatusCode,
    pub answer: Value,
    /// The lease a credential was issued under.
    pub lease_id: Option<String>,
    /// The token `auth` issued (fingerprinted by the audit, never written).
    pub issued_token: Option<SecretString>,
    /// What a successful operation warns about (a soft delete, credentials
    /// left live).
    pub warning: Option<String>,
}

impl Outcome {
    /// `200` with `answer` and nothing more to record.
    pub fn ok(answer: Value) -> Self {
        Self {
            status: StatusCode::OK,
            answer,
            lease_id: None,
            issued_token: None,
            warning: None,
        }
    }

    /// `201` with `answer`.
    pub fn created(answer: Value) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..Self::ok(answer)
        }
    }

    pub fn with_warning(mut self, warning: String) -> Self {
        self.warning = Some(warning);
        self
    }
}

/// Never the answer: it can hold the credential just issued.
impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("status", &self.status)
            .field("lease_id", &self.lease_id)
            .field("issued_token", &self.issued_token)
            .field("warning", &self.warning)
            .finish_non_exhaustive()
    }
}

/// One request in its handler: the parsed body, the context, and what the
/// handler has read of it so far.
pub struct Call<'a> {
    body: &'a Value,
    pub ctx: &'a mut RequestContext,
}

impl<'a> Call<'a> {
    /// Reads the token (`token`, or `uid-token` when that is empty) off the
    /// body into the context: the one read of it.
    pub fn new(body: &'a Value, ctx: &'a mut RequestContext) -> Result<Self, ApiError> {
        ctx.token = presented_token(body)?.map(SecretString::new);
        Ok(Self { body, ctx })
    }

    /// The token the request carried, if any.
    pub fn token(&self) -> Option<&str> {
        self.ctx.token.as_ref().map(SecretString::expose)
    }

    /// The operation's typed request: the one deserialization of its fields.
    pub fn fields<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse(self.body)
    }

    /// Parses the required item-path `field` and, if it is the first path
    /// the handler read, records it as the request's subject.
    pub fn path(&mut self, field: &str, value: &Option<String>) -> Result<ItemPath, ApiError> {
        let raw = crate::wire::required(field, value)?;
        let path = ItemPath::parse(field, raw).map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.about(path.as_str());
        Ok(path)
    }

    /// Records `path` (a folder, `/` for everything) as the request's
    /// subject unless one is recorded already.
    pub fn about(&mut self, path: &str) {
        self.ctx
            .subject
            .path
            .get_or_insert_with(|| path.to_string());
    }

    /// Records the lease a tmp-creds operation names.
    pub fn names_lease(&mut self, id: &str) {
        self.ctx.subject.lease_id = Some(id.to_string());
    }

    /// Records the access id an `auth` tries.
    pub fn attempts(&mut self, access_id: &str) {
        self.ctx.subject.access_id = Some(access_id.to_string());
    }
}

/// The token a body carries: `token`, or `uid-token` when that is empty
/// (the SDKs send either). A value that is no string is refused, without
/// echoing it.
pub(crate) fn presented_token(body: &Value) -> Result<Option<&str>, ApiError> {
    let text = |field: &str| match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid {field}: {} is not a string",
            kind(other)
        ))),
    };
    let token = text("token")?.filter(|t| !t.is_empty());
    Ok(token.or(text("uid-token")?))
}

/// A JSON value's kind, for errors that must not echo the value.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> RequestContext {
        let peer: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        RequestContext::new(peer, peer.ip(), None)
    }

    #[test]
    fn an_outcomes_debug_shows_neither_the_answer_nor_the_token() {
        let outcome = Outcome {
            issued_token: Some(SecretString::new("t-issued-secret")),
            lease_id: Some("abcdefghij012345".into()),
            ..Outcome::ok(json!({"secret_access_key": "s3cr3t-value"}))
        };
        let shown = format!("{outcome:?}");
        assert!(shown.contains("abcdefghij012345"), "{shown}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("t-issued-secret"));
    }

    #[test]
    fn the_token_is_read_once_with_uid_token_as_the_fallback() {
        let mut c = ctx();
        let body = json!({"token": "", "uid-token": "u-1"});
        assert_eq!(Call::new(&body, &mut c).unwrap().token(), Some("u-1"));
        let body = json!({"token": "t-1", "uid-token": "u-1"});
        assert_eq!(Call::new(&body, &mut c).unwrap().token(), Some("t-1"));
        let body = json!({"name": "/x"});
        assert_eq!(Call::new(&body, &mut c).unwrap().token(), None);
    }

    #[test]
    fn a_token_that_is_no_string_is_refused_without_echoing_it() {
        let mut c = ctx();
        let body = json!({"token": 123456789});
        let err = Call::new(&body, &mut c).err().unwrap();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.message, "invalid token: a number is not a string");
    }

    #[test]
    fn the_first_path_read_is_the_subject() {
        let mut c = ctx();
        let body = json!({});
        let mut call = Call::new(&body, &mut c).unwrap();
        let name = call.path("name", &Some("prod//db/".into())).unwrap();
        assert_eq!(name.as_str(), "/prod/db");
        call.path("new-name", &Some("/prod/other".into())).unwrap();
        assert_eq!(c.subject.path.as_deref(), Some("/prod/db"));
    }

    #[test]
    fn a_bad_path_names_its_field_and_is_not_recorded() {
        let mut c = ctx();
        let body = json!({});
        let mut call = Call::new(&body, &mut c).unwrap();
        let err = call.path("name", &Some("/a/../b".into())).unwrap_err();
        assert!(err.message.contains("name"), "{}", err.message);
        let err = call.path("name", &None).unwrap_err();
        assert_eq!(err.message, "missing required field 'name'");
        assert_eq!(c.subject, Subject::default());
    }
}
