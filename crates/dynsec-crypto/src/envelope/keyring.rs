//! The master keyring: the current master key and the previous ones a
//! rotation is still retiring, and its text form (the key file's contents).

use super::key_id::KeyId;
use crate::{CryptoError, MasterKey};
use std::fmt;
use zeroize::Zeroizing;

/// The master keys a gateway holds: the current one, which wraps everything
/// sealed from now on, and previous ones still being retired by a rotation.
/// Never empty; no key appears twice. Debug shows key ids only.
#[derive(Clone)]
pub struct Keyring {
    /// `keys[0]` is current.
    pub(super) keys: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey) -> Self {
        Self {
            keys: vec![current],
        }
    }

    /// `keys[0]` becomes current; duplicates are dropped.
    pub fn from_keys(keys: Vec<MasterKey>) -> Result<Self, CryptoError> {
        let mut unique: Vec<MasterKey> = Vec::with_capacity(keys.len());
        for key in keys {
            if !unique.iter().any(|k| k.id() == key.id()) {
                unique.push(key);
            }
        }
        if unique.is_empty() {
            return Err(CryptoError::BadMasterKey);
        }
        Ok(Self { keys: unique })
    }

    /// Parses one or more keys (each in [`MasterKey::from_text`]'s forms)
    /// separated by whitespace, newlines or commas, the current key first.
    /// Lines starting with `#` are comments.
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let keys = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|token| !token.is_empty())
            .map(MasterKey::from_text)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(keys)
    }

    /// The key file's contents: a lone key exactly as a single-key file has
    /// always been written, several keys one per line (current first) under a
    /// comment saying why.
    pub fn to_text(&self) -> Zeroizing<String> {
        if self.keys.len() == 1 {
            return self.keys[0].to_text();
        }
        const HEADER: &str = "# dynsec master keyring: a key rotation is in progress.\n\
             # The first key is current; the others still wrap some records and are\n\
             # removed by the gateway once every record is re-wrapped.\n";
        // Sized up front: a growing String would leave copies of keys behind.
        let mut text = Zeroizing::new(String::with_capacity(HEADER.len() + 64 * self.keys.len()));
        text.push_str(HEADER);
        for key in &self.keys {
            text.push_str(&key.to_text());
            text.push('\n');
        }
        text
    }

    pub fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    /// Keys other than the current one (a rotation is unfinished).
    pub fn previous(&self) -> &[MasterKey] {
        &self.keys[1..]
    }

    pub fn ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(MasterKey::id).collect()
    }

    pub fn contains(&self, id: KeyId) -> bool {
        self.find(id).is_some()
    }

    /// `new` as current, every key of this ring kept as previous.
    pub fn rotated_to(&self, new: MasterKey) -> Self {
        let mut keys = Vec::with_capacity(self.keys.len() + 1);
        keys.push(new);
        keys.extend(self.keys.iter().cloned());
        Self { keys }
    }

    /// The current key alone: what is left once a rotation has finished.
    pub fn without_previous(&self) -> Self {
        Self::new(self.keys[0].clone())
    }

    pub(super) fn find(&self, id: KeyId) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id() == id)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current().id())
            .field(
                "previous",
                &self
                    .previous()
                    .iter()
                    .map(MasterKey::id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
