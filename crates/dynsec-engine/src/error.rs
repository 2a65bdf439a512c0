//! The engine's error: one variant per way a caller should react.

use dynsec_aws::AwsError;
use dynsec_core::ValidationError;
use dynsec_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is wrong; the message names the field and the reason.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with current state (name taken, delete protection...).
    #[error("{0}")]
    Conflict(String),
    /// No valid credentials or token.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Accepted but not finished (AWS unavailable); retried automatically.
    #[error("{0}")]
    Unavailable(String),
    /// Too many failed attempts; the message says when to retry.
    #[error("{0}")]
    RateLimited(String),
    /// AWS refused or failed; the message says which call and why.
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// A fault of ours (store, corrupt data). Logged in full, shown to clients generically.
    #[error("{0}")]
    Internal(String),
}

impl EngineError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::Conflict(conflict_message(&what)),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// What a uniqueness conflict means for the caller: what exists, and why
/// that stops the request.
fn conflict_message(what: &str) -> String {
    if what.starts_with("association") {
        format!("{what} already exists: that role is already associated with that auth method")
    } else {
        format!(
            "{what} already exists: names are unique, so choose another name (or delete or rename the existing one first)"
        )
    }
}
