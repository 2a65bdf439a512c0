//! The ciphertext format, the keyring, the sealer and protection keys together:
//! binding, v1 compatibility, rotation's re-wrapping and split keys.

use super::format::{seal_with, FORMAT_V2};
use super::key_id::KEY_ID_LEN;
use super::{sealed_key_id, KeyFragment, KeyId, Keyring, ProtectionKey, Sealer};
use crate::{CryptoError, MasterKey, FORMAT_V1, NONCE_LEN, TAG_LEN, WRAPPED_KEY_LEN};

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
