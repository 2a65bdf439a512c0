//! The sealed-record format, key ids, the master keyring and protection keys.
//!
//! Format v2 (what [`Sealer::seal`] and [`ProtectionKey::seal`] write):
//!
//! ```text
//! [2] [key id: 8] [wrap nonce: 12] [wrapped data key: 32 + 16] [data nonce: 12] [body + tag]
//! ```
//!
//! The key id names the key-encryption key that wrapped the data key (a master
//! key or a protection key), so a keyring holding several master keys knows
//! which one to use, and a rotation knows which records still need re-wrapping.
//! Re-wrapping replaces only the key id, the wrap nonce and the wrapped data key:
//! the body (the record's plaintext encrypted under its data key) is untouched.
//! Format v1 is v2 without the key id; it still opens (every master key of the
//! keyring is tried) and a rotation rewrites it as v2.
//!
//! One job per module: `key_id` (key fingerprints), `format` (parsing and
//! writing ciphertexts, sealing under one key-encryption key), `keyring`
//! (the master keys a gateway holds), `sealer` (sealing, opening and
//! re-wrapping under the keyring) and `protection` (protection keys and the
//! fragments a split key is combined from).

mod format;
mod key_id;
mod keyring;
mod protection;
mod sealer;

pub use format::sealed_key_id;
pub use key_id::KeyId;
pub use keyring::Keyring;
pub use protection::{KeyFragment, ProtectionKey};
pub use sealer::Sealer;

#[cfg(test)]
mod tests;
