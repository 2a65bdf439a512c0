//! Envelope encryption for secrets at rest, and the hashing/randomness helpers
//! for API keys and tokens.
//!
//! Every sealed record gets its own random 256-bit data key. The record's
//! plaintext is encrypted with AES-256-GCM under that data key; the data key is
//! itself encrypted ("wrapped") under the master key. Both encryptions bind the
//! record's identity as associated data, so a ciphertext copied onto another
//! record fails to open. A version byte leads every ciphertext so the format can
//! evolve.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Format version of [`Sealer::seal`] output.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_KEY_LEN: usize = KEY_LEN + TAG_LEN;
const HEADER_LEN: usize = 1 + NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN;

/// Why a ciphertext or key could not be used. Deliberately carries no detail
/// that could help an attacker tell failures apart.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("ciphertext is malformed or of an unknown version")]
    Malformed,
    #[error("ciphertext does not open under this key for this record")]
    Unauthentic,
    #[error("master key must be 32 bytes encoded as base64 (or 64 hex digits)")]
    BadMasterKey,
}

/// The 256-bit key that wraps every data key. Zeroized on drop; Debug redacted.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Parses the text form: base64 of 32 bytes, or 64 hex digits. Whitespace is trimmed.
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let mut decoded = Zeroizing::new(if text.len() == 2 * KEY_LEN {
            hex::decode(text).map_err(|_| CryptoError::BadMasterKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| CryptoError::BadMasterKey)?
        });
        if decoded.len() != KEY_LEN {
            decoded.zeroize();
            return Err(CryptoError::BadMasterKey);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(Self(bytes))
    }

    /// The text form written to the key file (base64).
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Seals and opens records under one master key.
#[derive(Clone, Debug)]
pub struct Sealer {
    master: MasterKey,
}

impl Sealer {
    pub fn new(master: MasterKey) -> Self {
        Self { master }
    }

    /// Encrypts `plaintext` for the record identified by `record_id`.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(data_key.as_mut());
        let wrap_nonce = random_nonce();
        let data_nonce = random_nonce();
        let aad = record_id.as_bytes();

        let wrapped = encrypt(&self.master.0, &wrap_nonce, data_key.as_ref(), aad);
        let body = encrypt(&data_key, &data_nonce, plaintext, aad);

        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&wrap_nonce);
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&data_nonce);
        out.extend_from_slice(&body);
        out
    }

    /// Decrypts what [`Sealer::seal`] produced for the same `record_id`.
    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != FORMAT_V1 {
            return Err(CryptoError::Malformed);
        }
        let aad = record_id.as_bytes();
        let (wrap_nonce, rest) = sealed[1..].split_at(NONCE_LEN);
        let (wrapped, rest) = rest.split_at(WRAPPED_KEY_LEN);
        let (data_nonce, body) = rest.split_at(NONCE_LEN);

        let data_key = Zeroizing::new(decrypt(&self.master.0, wrap_nonce, wrapped, aad)?);
        if data_key.len() != KEY_LEN {
            return Err(CryptoError::Malformed);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&data_key);
        decrypt(&key, data_nonce, body, aad).map(Zeroizing::new)
    }
}

fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

fn encrypt(key: &[u8; KEY_LEN], nonce: &[u8], msg: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    // Encryption only fails for plaintexts beyond GCM's 64 GiB limit, which no
    // record comes near; an empty result would then fail to open, never leak.
    cipher
        .encrypt(Nonce::from_slice(nonce), Payload { msg, aad })
        .unwrap_or_default()
}

fn decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8],
    msg: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg, aad })
        .map_err(|_| CryptoError::Unauthentic)
}

/// Hex SHA-256 of a high-entropy credential (API access key, token). A fast
/// hash is sound here because the inputs are random 256-bit values, not passwords.
pub fn hash_credential(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two hashes without leaking the position of the first difference.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `len` random characters from `[a-z0-9]` (ids that humans read and type).
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    random_from(ALPHABET, len)
}

/// A random secret of 32 bytes, URL-safe base64 (access keys, tokens).
pub fn random_secret() -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// `len` characters drawn uniformly from `alphabet` with the OS RNG.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let sealer = Sealer::new(MasterKey::generate());
        let sealed = sealer.seal("target/abc", b"wJalrXUtnFEMI");
        assert_eq!(sealed[0], FORMAT_V1);
        assert!(!sealed.windows(5).any(|w| w == b"wJalr"));
        assert_eq!(
            &*sealer.open("target/abc", &sealed).unwrap(),
            b"wJalrXUtnFEMI"
        );
        // Another record's identity, another key, or a flipped bit: refused.
        assert_eq!(
            sealer.open("target/xyz", &sealed),
            Err(CryptoError::Unauthentic)
        );
        let other = Sealer::new(MasterKey::generate());
        assert_eq!(
            other.open("target/abc", &sealed),
            Err(CryptoError::Unauthentic)
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            sealer.open("target/abc", &tampered),
            Err(CryptoError::Unauthentic)
        );
        assert_eq!(
            sealer.open("target/abc", &sealed[..10]),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn same_plaintext_seals_differently() {
        let sealer = Sealer::new(MasterKey::generate());
        assert_ne!(sealer.seal("r", b"x"), sealer.seal("r", b"x"));
    }

    #[test]
    fn master_key_text_forms() {
        let key = MasterKey::generate();
        let again = MasterKey::from_text(&key.to_text()).unwrap();
        let sealed = Sealer::new(key).seal("r", b"x");
        assert_eq!(&*Sealer::new(again).open("r", &sealed).unwrap(), b"x");
        assert!(MasterKey::from_text(&"ab".repeat(32)).is_ok());
        assert_eq!(
            MasterKey::from_text("short").unwrap_err(),
            CryptoError::BadMasterKey
        );
        assert_eq!(
            format!("{:?}", MasterKey::generate()),
            "MasterKey([redacted])"
        );
    }

    #[test]
    fn hashing_and_ids() {
        assert_eq!(hash_credential("a").len(), 64);
        assert!(hashes_equal(&hash_credential("a"), &hash_credential("a")));
        assert!(!hashes_equal(&hash_credential("a"), &hash_credential("b")));
        assert_eq!(random_id(12).len(), 12);
        assert_ne!(random_secret(), random_secret());
    }
}
