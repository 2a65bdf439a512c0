//! The usage error: a mistake on the command line (exit code 2), as opposed to a failure while
//! talking to the gateway or the file system (exit code 1, any other `anyhow::Error`).

use std::fmt;

/// A command-line mistake; its message says what was wrong and where to get help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
