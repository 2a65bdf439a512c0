//! The sealer: seals, opens and re-wraps records under the master keyring,
//! shared by every clone so a rotation's new ring is seen at once.

use super::format::{assemble, seal_with, Envelope};
use super::keyring::Keyring;
use crate::{encrypt, random_nonce, CryptoError, MasterKey};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use zeroize::Zeroizing;

/// Seals and opens records under the master keyring. Clones share the ring,
/// so a rotation swapping it is seen by every holder at once.
#[derive(Clone)]
pub struct Sealer {
    ring: Arc<RwLock<Keyring>>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("keyring", &*self.ring())
            .finish()
    }
}

impl Sealer {
    pub fn new(master: MasterKey) -> Self {
        Self::with_keyring(Keyring::new(master))
    }

    pub fn with_keyring(ring: Keyring) -> Self {
        Self {
            ring: Arc::new(RwLock::new(ring)),
        }
    }

    /// A copy of the current keyring.
    pub fn keyring(&self) -> Keyring {
        self.ring().clone()
    }

    /// Replaces the keyring for every clone of this sealer.
    pub fn set_keyring(&self, ring: Keyring) {
        // A poisoned lock only means a panic elsewhere while holding it; the
        // keyring itself is always whole, so recover it rather than fail.
        let mut guard = self.ring.write().unwrap_or_else(|e| e.into_inner());
        *guard = ring;
    }

    fn ring(&self) -> RwLockReadGuard<'_, Keyring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Encrypts `plaintext` for the record identified by `record_id`, under a
    /// fresh data key wrapped by the current master key.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.ring().current().0, record_id, plaintext)
    }

    /// Decrypts what [`Sealer::seal`] produced for the same `record_id`, under
    /// whichever master key of the ring wrapped it. A ciphertext wrapped by
    /// another key (a protection key) fails with [`CryptoError::UnknownKey`].
    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let envelope = Envelope::parse(sealed)?;
        let aad = record_id.as_bytes();
        let ring = self.ring();
        match envelope.key_id {
            Some(id) => {
                let key = ring.find(id).ok_or(CryptoError::UnknownKey)?;
                envelope.open_with(&key.0, aad)
            }
            None => {
                let mut last = CryptoError::Unauthentic;
                for key in &ring.keys {
                    match envelope.open_with(&key.0, aad) {
                        Ok(plain) => return Ok(plain),
                        Err(err) => last = err,
                    }
                }
                Err(last)
            }
        }
    }

    /// Whether `sealed` is wrapped by a master key of the ring (as opposed to
    /// a protection key). v1 ciphertexts are always master-wrapped.
    pub fn is_master_wrapped(&self, sealed: &[u8]) -> bool {
        match Envelope::parse(sealed) {
            Ok(Envelope { key_id: None, .. }) => true,
            Ok(Envelope {
                key_id: Some(id), ..
            }) => self.ring().contains(id),
            Err(_) => false,
        }
    }

    /// Re-wraps `sealed`'s data key under the current master key, keeping the
    /// body as it is. `None` when it already is (nothing to write back).
    /// [`CryptoError::UnknownKey`] when no master key of the ring wrapped it.
    pub fn rewrap(&self, record_id: &str, sealed: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
        let envelope = Envelope::parse(sealed)?;
        let aad = record_id.as_bytes();
        let ring = self.ring();
        let current = ring.current();
        if envelope.key_id == Some(current.id()) {
            return Ok(None);
        }
        let data_key = match envelope.key_id {
            Some(id) => envelope.data_key(&ring.find(id).ok_or(CryptoError::UnknownKey)?.0, aad)?,
            None => ring
                .keys
                .iter()
                .find_map(|key| envelope.data_key(&key.0, aad).ok())
                .ok_or(CryptoError::Unauthentic)?,
        };
        // Proves the data key really opens the body before the old wrapping is
        // thrown away: a rotation must never turn a readable record unreadable.
        envelope.open_body(&data_key, aad)?;
        let wrap_nonce = random_nonce();
        let wrapped = encrypt(&current.0, &wrap_nonce, data_key.as_ref(), aad);
        Ok(Some(assemble(
            current.id(),
            &wrap_nonce,
            &wrapped,
            envelope.data_nonce,
            envelope.body,
        )))
    }
}
