//! Key fingerprints: the id a format-2 ciphertext names its wrapping key by.

use crate::{MasterKey, KEY_LEN};
use sha2::{Digest, Sha256};
use std::fmt;

pub(super) const KEY_ID_LEN: usize = 8;
/// Domain separation for key fingerprints, so a key id is never some other
/// hash of the key that might be published elsewhere.
const KEY_ID_LABEL: &[u8] = b"dynsec key id v1\0";

/// The fingerprint of a key-encryption key: the first 8 bytes of a labelled
/// SHA-256 of the key. Not secret (it is in every ciphertext header); it cannot
/// help recover a random 256-bit key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub(super) [u8; KEY_ID_LEN]);

impl KeyId {
    pub(super) fn of(key: &[u8; KEY_LEN]) -> Self {
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(key)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }

    /// 16 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        let mut id = [0u8; KEY_ID_LEN];
        if bytes.len() != KEY_ID_LEN {
            return None;
        }
        id.copy_from_slice(&bytes);
        Some(Self(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

impl MasterKey {
    /// This key's fingerprint, as written into the ciphertexts it wraps.
    pub fn id(&self) -> KeyId {
        KeyId::of(&self.0)
    }
}
