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

use crate::{
    decrypt, encrypt, random_nonce, CryptoError, MasterKey, FORMAT_V1, KEY_LEN, NONCE_LEN, TAG_LEN,
    WRAPPED_KEY_LEN,
};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use zeroize::Zeroizing;

/// Format version written today.
const FORMAT_V2: u8 = 2;
const KEY_ID_LEN: usize = 8;
/// Domain separation for key fingerprints, so a key id is never some other
/// hash of the key that might be published elsewhere.
const KEY_ID_LABEL: &[u8] = b"dynsec key id v1\0";

/// The fingerprint of a key-encryption key: the first 8 bytes of a labelled
/// SHA-256 of the key. Not secret (it is in every ciphertext header); it cannot
/// help recover a random 256-bit key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    fn of(key: &[u8; KEY_LEN]) -> Self {
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

/// The key id of the key that wrapped `sealed`'s data key; `None` for format
/// v1 (which does not say) and for anything unparsable.
pub fn sealed_key_id(sealed: &[u8]) -> Option<KeyId> {
    Envelope::parse(sealed).ok().and_then(|e| e.key_id)
}

/// A ciphertext split into its parts (borrowed).
struct Envelope<'a> {
    key_id: Option<KeyId>,
    wrap_nonce: &'a [u8],
    wrapped: &'a [u8],
    data_nonce: &'a [u8],
    body: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Self, CryptoError> {
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
    fn data_key(
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

    fn open_body(
        &self,
        data_key: &[u8; KEY_LEN],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        decrypt(data_key, self.data_nonce, self.body, aad).map(Zeroizing::new)
    }

    /// Opens with `kek`, whatever the version.
    fn open_with(
        &self,
        kek: &[u8; KEY_LEN],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let data_key = self.data_key(kek, aad)?;
        self.open_body(&data_key, aad)
    }
}

/// Writes a v2 ciphertext from its parts.
fn assemble(
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
fn seal_with(kek: &[u8; KEY_LEN], record_id: &str, plaintext: &[u8]) -> Vec<u8> {
    let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(data_key.as_mut());
    let wrap_nonce = random_nonce();
    let data_nonce = random_nonce();
    let aad = record_id.as_bytes();
    let wrapped = encrypt(kek, &wrap_nonce, data_key.as_ref(), aad);
    let body = encrypt(&data_key, &data_nonce, plaintext, aad);
    assemble(KeyId::of(kek), &wrap_nonce, &wrapped, &data_nonce, &body)
}

/// The master keys a gateway holds: the current one, which wraps everything
/// sealed from now on, and previous ones still being retired by a rotation.
/// Never empty; no key appears twice. Debug shows key ids only.
#[derive(Clone)]
pub struct Keyring {
    /// `keys[0]` is current.
    keys: Vec<MasterKey>,
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

    fn find(&self, id: KeyId) -> Option<&MasterKey> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Length of a v1 ciphertext without its body.
    const HEADER_LEN: usize = 1 + NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN;

    /// A v1 ciphertext as the previous release wrote it.
    fn seal_v1(master: &MasterKey, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut v2 = seal_with(&master.0, record_id, plaintext);
        v2.drain(1..1 + KEY_ID_LEN);
        v2[0] = FORMAT_V1;
        v2
    }

    #[test]
    fn round_trip_and_binding() {
        let sealer = Sealer::new(MasterKey::generate());
        let sealed = sealer.seal("target/abc", b"wJalrXUtnFEMI");
        assert_eq!(sealed[0], FORMAT_V2);
        assert_eq!(
            sealed_key_id(&sealed),
            Some(sealer.keyring().current().id())
        );
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
            Err(CryptoError::UnknownKey)
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            sealer.open("target/abc", &tampered),
            Err(CryptoError::Unauthentic)
        );
        // A forged key id only makes the wrong key be tried.
        let mut forged = other.seal("target/abc", b"x");
        forged[1..1 + KEY_ID_LEN].copy_from_slice(&sealed[1..1 + KEY_ID_LEN]);
        assert_eq!(
            sealer.open("target/abc", &forged),
            Err(CryptoError::Unauthentic)
        );
        assert_eq!(
            sealer.open("target/abc", &sealed[..10]),
            Err(CryptoError::Malformed)
        );
        assert_eq!(
            sealer.open("target/abc", &[3u8; 100]),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn same_plaintext_seals_differently() {
        let sealer = Sealer::new(MasterKey::generate());
        assert_ne!(sealer.seal("r", b"x"), sealer.seal("r", b"x"));
    }

    #[test]
    fn v1_still_opens_and_rewraps_to_v2() {
        let master = MasterKey::generate();
        let v1 = seal_v1(&master, "target/a", b"secret");
        assert_eq!(v1.len(), HEADER_LEN + 6 + TAG_LEN);
        assert_eq!(sealed_key_id(&v1), None);
        let sealer = Sealer::new(master.clone());
        assert!(sealer.is_master_wrapped(&v1));
        assert_eq!(&*sealer.open("target/a", &v1).unwrap(), b"secret");
        // Also when the key that wrote it is no longer current.
        let rotated = Sealer::with_keyring(Keyring::new(master).rotated_to(MasterKey::generate()));
        assert_eq!(&*rotated.open("target/a", &v1).unwrap(), b"secret");
        let v2 = rotated.rewrap("target/a", &v1).unwrap().unwrap();
        assert_eq!(sealed_key_id(&v2), Some(rotated.keyring().current().id()));
        // The body is the same bytes: only the wrapping changed.
        assert_eq!(v2[v2.len() - 6 - TAG_LEN..], v1[v1.len() - 6 - TAG_LEN..]);
        let only_new = Sealer::with_keyring(rotated.keyring().without_previous());
        assert_eq!(&*only_new.open("target/a", &v2).unwrap(), b"secret");
        assert!(only_new.open("target/a", &v1).is_err());
    }

    #[test]
    fn rotation_rewraps_and_the_old_key_alone_cannot_open() {
        let old = MasterKey::generate();
        let sealer = Sealer::new(old.clone());
        let sealed = sealer.seal("producer/p", b"inline secret");
        let body_len = b"inline secret".len() + TAG_LEN;

        sealer.set_keyring(sealer.keyring().rotated_to(MasterKey::generate()));
        let new_id = sealer.keyring().current().id();
        assert_eq!(sealer.keyring().previous().len(), 1);
        // Both keys open during the rotation; new records use the new key.
        assert_eq!(
            &*sealer.open("producer/p", &sealed).unwrap(),
            b"inline secret"
        );
        assert_eq!(sealed_key_id(&sealer.seal("r", b"x")), Some(new_id));

        let rewrapped = sealer.rewrap("producer/p", &sealed).unwrap().unwrap();
        assert_eq!(sealed_key_id(&rewrapped), Some(new_id));
        assert_eq!(rewrapped.len(), sealed.len());
        assert_eq!(
            rewrapped[rewrapped.len() - body_len..],
            sealed[sealed.len() - body_len..]
        );
        assert_eq!(sealer.rewrap("producer/p", &rewrapped).unwrap(), None);
        // Wrong record identity: refused, not re-wrapped.
        assert_eq!(
            sealer.rewrap("producer/q", &sealed),
            Err(CryptoError::Unauthentic)
        );

        sealer.set_keyring(sealer.keyring().without_previous());
        assert_eq!(
            &*sealer.open("producer/p", &rewrapped).unwrap(),
            b"inline secret"
        );
        let old_only = Sealer::new(old);
        assert_eq!(
            old_only.open("producer/p", &rewrapped),
            Err(CryptoError::UnknownKey)
        );
    }

    #[test]
    fn keyring_text_forms() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        let single = Keyring::new(a.clone());
        // A lone key is written exactly as a single-key file always was.
        assert_eq!(*single.to_text(), *a.to_text());
        let ring = single.rotated_to(b.clone());
        let text = ring.to_text();
        assert!(text.starts_with('#'));
        let parsed = Keyring::from_text(&text).unwrap();
        assert_eq!(parsed.ids(), vec![b.id(), a.id()]);
        let inline = format!("{} , {}", b.to_text().as_str(), a.to_text().as_str());
        assert_eq!(Keyring::from_text(&inline).unwrap().ids(), parsed.ids());
        let dup = format!("{} {}", a.to_text().as_str(), a.to_text().as_str());
        assert_eq!(Keyring::from_text(&dup).unwrap().ids(), vec![a.id()]);
        assert!(Keyring::from_text("# nothing\n").is_err());
        assert!(Keyring::from_text("short").is_err());
        let debug = format!("{ring:?}");
        assert!(debug.contains(&a.id().to_hex()), "{debug}");
        assert!(!debug.contains(a.to_text().as_str()), "{debug}");
        assert_eq!(KeyId::from_hex(&a.id().to_hex()), Some(a.id()));
    }

    #[test]
    fn protection_keys_and_split_fragments() {
        let store_part = KeyFragment::generate();
        let customer = KeyFragment::generate();
        let key = ProtectionKey::combine(&[&store_part, &customer]).unwrap();
        let sealed = key.seal("target/t", b"admin secret");
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
        assert_eq!(&*key.open("target/t", &sealed).unwrap(), b"admin secret");

        // Neither fragment alone, nor the master key, opens it.
        let store_only = ProtectionKey::combine(&[&store_part]).unwrap();
        assert_eq!(
            store_only.open("target/t", &sealed),
            Err(CryptoError::UnknownKey)
        );
        let master = Sealer::new(MasterKey::generate());
        assert!(!master.is_master_wrapped(&sealed));
        assert_eq!(
            master.open("target/t", &sealed),
            Err(CryptoError::UnknownKey)
        );
        assert_eq!(
            master.rewrap("target/t", &sealed),
            Err(CryptoError::UnknownKey)
        );
        // The same fragments in any order give the same key.
        let again = ProtectionKey::combine(&[
            &KeyFragment::from_text(&customer.to_text()).unwrap(),
            &store_part,
        ])
        .unwrap();
        assert_eq!(again.id(), key.id());
        assert!(ProtectionKey::combine(&[]).is_none());
        assert_eq!(
            KeyFragment::from_text("AAAA").unwrap_err(),
            CryptoError::BadFragment
        );
        assert_eq!(format!("{customer:?}"), "KeyFragment([redacted])");
        assert_eq!(format!("{key:?}"), format!("ProtectionKey({})", key.id()));
    }
}
