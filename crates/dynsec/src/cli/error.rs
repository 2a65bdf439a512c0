//! Failure classes and the CLI's exit codes: scripts can tell a typo from a missing item, a
//! refusal, a conflict and an outage without parsing messages.
//!
//! | code | class |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (local files, an unexpected answer, a gateway-internal error) |
//! | 2 | usage: the command line is wrong (unknown flag, missing value, ...) |
//! | 3 | not found: the item, target, role, ... does not exist (HTTP 404) |
//! | 4 | denied: authentication failed or the caller may not do this (HTTP 401, 403) |
//! | 5 | conflict: it exists already, is protected or busy (HTTP 409) |
//! | 6 | invalid: the gateway refused a value (HTTP 400, 422) |
//! | 7 | unavailable: the gateway cannot be reached, or it or AWS is unavailable or rate-limits (HTTP 429, 502, 503, 504); retrying later may work |

use std::fmt;

/// A command-line mistake (exit code 2); its message says what was wrong and where to get help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// Our own message, printed after `error: `.
    Message(String),
    /// clap's complete rendering (it starts with `error: ` and ends with a usage hint).
    Rendered(String),
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError::Message(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Message(message) => f.write_str(message),
            UsageError::Rendered(text) => f.write_str(text.trim_end()),
        }
    }
}

impl std::error::Error for UsageError {}

/// The gateway answered 4xx/5xx; displays as the gateway's `{"error": ...}` message.
#[derive(Debug)]
pub struct GatewayError {
    pub status: u16,
    pub message: String,
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GatewayError {}

/// The gateway could not be reached, or did not answer in time.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// What kind of failure ended the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Other,
    Usage,
    NotFound,
    Denied,
    Conflict,
    Invalid,
    Unavailable,
}

impl Class {
    /// The process exit code of this class (see the module docs).
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Other => 1,
            Class::Usage => 2,
            Class::NotFound => 3,
            Class::Denied => 4,
            Class::Conflict => 5,
            Class::Invalid => 6,
            Class::Unavailable => 7,
        }
    }

    fn of_status(status: u16) -> Class {
        match status {
            401 | 403 => Class::Denied,
            404 => Class::NotFound,
            409 => Class::Conflict,
            400 | 422 => Class::Invalid,
            429 | 502..=504 => Class::Unavailable,
            _ => Class::Other,
        }
    }
}

/// The class of `err`: the first typed cause in its chain decides.
pub fn classify(err: &anyhow::Error) -> Class {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return Class::Usage;
        }
        if let Some(refused) = cause.downcast_ref::<GatewayError>() {
            return Class::of_status(refused.status);
        }
        if cause.downcast_ref::<Unreachable>().is_some() {
            return Class::Unavailable;
        }
    }
    Class::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::{anyhow, Context};

    fn refused(status: u16) -> anyhow::Error {
        GatewayError {
            status,
            message: "no".into(),
        }
        .into()
    }

    #[test]
    fn every_class_has_its_own_code() {
        let cases = [
            (anyhow!("disk full"), 1),
            (UsageError::new("bad flag").into(), 2),
            (refused(404), 3),
            (refused(401), 4),
            (refused(403), 4),
            (refused(409), 5),
            (refused(400), 6),
            (refused(429), 7),
            (refused(503), 7),
            (Unreachable("connection refused".into()).into(), 7),
            (refused(500), 1),
        ];
        for (err, code) in cases {
            assert_eq!(classify(&err).exit_code(), code, "{err}");
        }
    }

    #[test]
    fn context_keeps_the_class() {
        let err = Err::<(), _>(refused(404))
            .context("cannot read the current settings")
            .unwrap_err();
        assert_eq!(classify(&err), Class::NotFound);
    }
}
