//! A string that holds secret material: zeroized on drop, redacted in Debug.

use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret text (AWS secret keys, session tokens, passwords, API keys).
///
/// `Debug` prints `[redacted]` so a secret cannot reach a log by accident; the
/// plaintext is only reachable through [`SecretString::expose`].
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext. Call sites are the places secrets leave the process.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = SecretString::new("wJalrXUtnFEMI");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "wJalrXUtnFEMI");
    }
}
