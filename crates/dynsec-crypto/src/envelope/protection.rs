//! Protection keys and split keys: a key fragment (one random share), and a
//! protection key combined from its fragments by XOR, which seals and opens
//! the records that select it instead of the master key.

use super::format::{seal_with, Envelope};
use super::key_id::KeyId;
use crate::{CryptoError, KEY_LEN};
use base64::Engine as _;
use rand::RngCore;
use std::fmt;
use zeroize::Zeroizing;

/// One share of a protection key: 32 random bytes. The key is the XOR of all
/// its shares, so any share alone says nothing about it. Zeroized on drop;
/// Debug redacted.
#[derive(Clone)]
pub struct KeyFragment(Zeroizing<[u8; KEY_LEN]>);

impl KeyFragment {
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadFragment);
        }
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        out.copy_from_slice(bytes);
        Ok(Self(out))
    }

    /// Base64 of 32 bytes (whitespace trimmed).
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| CryptoError::BadFragment)?,
        );
        Self::from_bytes(&decoded)
    }

    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }

    /// The raw bytes, for sealing store fragments under the master key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for KeyFragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyFragment([redacted])")
    }
}

/// A named protection key's material: wraps the data keys of the records it
/// protects instead of the master key. Zeroized on drop; Debug redacted.
#[derive(Clone)]
pub struct ProtectionKey(Zeroizing<[u8; KEY_LEN]>);

impl ProtectionKey {
    /// The XOR of `fragments` (one fragment: the key is that fragment).
    /// `None` for no fragments.
    pub fn combine(fragments: &[&KeyFragment]) -> Option<Self> {
        let (first, rest) = fragments.split_first()?;
        let mut key = first.0.clone();
        for fragment in rest {
            for (k, f) in key.iter_mut().zip(fragment.0.iter()) {
                *k ^= f;
            }
        }
        Some(Self(key))
    }

    pub fn id(&self) -> KeyId {
        KeyId::of(&self.0)
    }

    /// Like [`Sealer::seal`], the data key wrapped by this key.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.0, record_id, plaintext)
    }

    /// Opens what [`ProtectionKey::seal`] produced for `record_id`.
    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let envelope = Envelope::parse(sealed)?;
        if envelope.key_id != Some(self.id()) {
            return Err(CryptoError::UnknownKey);
        }
        envelope.open_with(&self.0, record_id.as_bytes())
    }
}

impl fmt::Debug for ProtectionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtectionKey({})", self.id())
    }
}
