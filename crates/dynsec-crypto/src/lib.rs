//! Envelope encryption for secrets at rest, and the hashing/randomness helpers
//! for API keys and tokens.
//!
//! Every sealed record gets its own random 256-bit data key. The record's
//! plaintext is encrypted with AES-256-GCM under that data key; the data key is
//! itself encrypted ("wrapped") under the master key. Both encryptions bind the
//! record's identity as associated data, so a ciphertext copied onto another
//! record fails to open. A version byte leads every ciphertext so the format can
//! evolve; format 2 also names the key that wrapped the data key, which is what
//! lets a master key be rotated and protection keys wrap some records instead
//! (see [`envelope`]).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

pub mod envelope;
pub use envelope::{sealed_key_id, KeyFragment, KeyId, Keyring, ProtectionKey, Sealer};

/// Format version of the first release's ciphertexts (no key id); still opens.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_KEY_LEN: usize = KEY_LEN + TAG_LEN;

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
    /// The ciphertext names a wrapping key this keyring or key is not.
    #[error("ciphertext is wrapped by a key that is not available here")]
    UnknownKey,
    #[error("key fragment must be 32 bytes encoded as base64")]
    BadFragment,
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

/// An HMAC-SHA256 key derived from the master key for one purpose (e.g. the
/// audit log's token fingerprints). Zeroized on drop; Debug redacted.
#[derive(Clone)]
pub struct MacKey(Zeroizing<[u8; KEY_LEN]>);

impl MacKey {
    /// `HMAC-SHA256(master, label)`: a distinct label gives an independent key,
    /// so fingerprints published for one purpose reveal nothing about another,
    /// and nothing about the master key itself.
    pub fn derive(master: &MasterKey, label: &str) -> Self {
        Self::derive_from(master.0.as_ref(), label)
    }

    /// `HMAC-SHA256(secret, label)` for any high-entropy secret (e.g. the
    /// installation secret, which unlike the master key survives rotations).
    pub fn derive_from(secret: &[u8], label: &str) -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&hmac_sha256(secret, label.as_bytes()));
        Self(bytes)
    }

    /// Hex HMAC-SHA256 of `value` under this key.
    pub fn mac_hex(&self, value: &[u8]) -> String {
        hex::encode(hmac_sha256(self.0.as_ref(), value))
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes keys of any length, so this constructor cannot fail.
    let mut mac = match <hmac::Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
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

/// Compares two hashes in constant time (`subtle`): the time taken says
/// nothing about where they first differ. Only their lengths may show, and
/// hashes of one kind all have the same length.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
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
        // Differing in the last character only, and of different lengths.
        let hash = hash_credential("a");
        let mut last_differs = hash.clone();
        last_differs.pop();
        assert!(!hashes_equal(&hash, &last_differs));
        last_differs.push(if hash.ends_with('0') { '1' } else { '0' });
        assert!(!hashes_equal(&hash, &last_differs));
        assert!(!hashes_equal(&hash, ""));
        assert!(hashes_equal("", ""));
        assert_eq!(random_id(12).len(), 12);
        assert_ne!(random_secret(), random_secret());
    }

    #[test]
    fn derived_mac_keys() {
        // RFC 4231 test case 2: key "Jefe".
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let master = MasterKey::generate();
        let audit = MacKey::derive(&master, "dynsec audit v1");
        let again = MacKey::derive(&master, "dynsec audit v1");
        assert_eq!(audit.mac_hex(b"token"), again.mac_hex(b"token"));
        assert_eq!(audit.mac_hex(b"token").len(), 64);
        assert_ne!(audit.mac_hex(b"token"), audit.mac_hex(b"other"));
        let other_label = MacKey::derive(&master, "another purpose");
        assert_ne!(audit.mac_hex(b"token"), other_label.mac_hex(b"token"));
        let other_master = MacKey::derive(&MasterKey::generate(), "dynsec audit v1");
        assert_ne!(audit.mac_hex(b"token"), other_master.mac_hex(b"token"));
        assert_eq!(format!("{audit:?}"), "MacKey([redacted])");
    }
}
