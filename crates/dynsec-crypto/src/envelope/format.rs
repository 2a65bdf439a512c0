//! The ciphertext format: parsing a sealed record into its parts (v1 or v2),
//! unwrapping its data key, writing a v2 ciphertext, and sealing under one
//! key-encryption key (a master key or a protection key).

use super::key_id::{KeyId, KEY_ID_LEN};
use crate::{
    decrypt, encrypt, random_nonce, CryptoError, FORMAT_V1, KEY_LEN, NONCE_LEN, TAG_LEN,
    WRAPPED_KEY_LEN,
};
use rand::RngCore;
use zeroize::Zeroizing;

/// Format version written today.
pub(super) const FORMAT_V2: u8 = 2;

/// The key id of the key that wrapped `sealed`'s data key; `None` for format
/// v1 (which does not say) and for anything unparsable.
pub fn sealed_key_id(sealed: &[u8]) -> Option<KeyId> {
    Envelope::parse(sealed).ok().and_then(|e| e.key_id)
}

/// A ciphertext split into its parts (borrowed).
pub(super) struct Envelope<'a> {
    pub(super) key_id: Option<KeyId>,
    wrap_nonce: &'a [u8],
    wrapped: &'a [u8],
    pub(super) data_nonce: &'a [u8],
    pub(super) body: &'a [u8],
}

impl<'a> Envelope<'a> {
    pub(super) fn parse(sealed: &'a [u8]) -> Result<Self, CryptoError> {
        let (key_id, rest) = match sealed.split_first() {
            Some((&FORMAT_V1, rest)) => (None, rest),
            Some((&FORMAT_V2, rest)) if rest.len() >= KEY_ID_LEN => {
                let (id, rest) = rest.split_at(KEY_ID_LEN);
                let mut bytes = [0u8; KEY_ID_LEN];
                bytes.copy_from_slice(id);
                (Some(KeyId(bytes)), rest)
            }
            _ => return Err(CryptoError::Malformed),
        };
        if rest.len() < NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (wrap_nonce, rest) = rest.split_at(NONCE_LEN);
        let (wrapped, rest) = rest.split_at(WRAPPED_KEY_LEN);
        let (data_nonce, body) = rest.split_at(NONCE_LEN);
        Ok(Self {
            key_id,
            wrap_nonce,
            wrapped,
            data_nonce,
            body,
        })
    }

    /// Unwraps the data key with `kek`.
    pub(super) fn data_key(
        &self,
        kek: &[u8; KEY_LEN],
        aad: &[u8],
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
        let plain = Zeroizing::new(decrypt(kek, self.wrap_nonce, self.wrapped, aad)?);
        if plain.len() != KEY_LEN {
            return Err(CryptoError::Malformed);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&plain);
        Ok(key)
    }

    pub(super) fn open_body(
        &self,
        data_key: &[u8; KEY_LEN],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        decrypt(data_key, self.data_nonce, self.body, aad).map(Zeroizing::new)
    }

    /// Opens with `kek`, whatever the version.
    pub(super) fn open_with(
        &self,
        kek: &[u8; KEY_LEN],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let data_key = self.data_key(kek, aad)?;
        self.open_body(&data_key, aad)
    }
}

/// Writes a v2 ciphertext from its parts.
pub(super) fn assemble(
    key_id: KeyId,
    wrap_nonce: &[u8],
    wrapped: &[u8],
    data_nonce: &[u8],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + KEY_ID_LEN + 2 * NONCE_LEN + wrapped.len() + body.len());
    out.push(FORMAT_V2);
    out.extend_from_slice(&key_id.0);
    out.extend_from_slice(wrap_nonce);
    out.extend_from_slice(wrapped);
    out.extend_from_slice(data_nonce);
    out.extend_from_slice(body);
    out
}

/// Seals `plaintext` under a fresh data key wrapped by `kek`.
pub(super) fn seal_with(kek: &[u8; KEY_LEN], record_id: &str, plaintext: &[u8]) -> Vec<u8> {
    let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(data_key.as_mut());
    let wrap_nonce = random_nonce();
    let data_nonce = random_nonce();
    let aad = record_id.as_bytes();
    let wrapped = encrypt(kek, &wrap_nonce, data_key.as_ref(), aad);
    let body = encrypt(&data_key, &data_nonce, plaintext, aad);
    assemble(KeyId::of(kek), &wrap_nonce, &wrapped, &data_nonce, &body)
}
