//! The master-key check at start: proves the keyring opens this database
//! (on the check value, or on a record of a database from before it), keeps
//! the per-installation secret sealed in the check value, and finishes a
//! rotation a crash interrupted.

use super::sealed_aad;
use crate::{Engine, EngineError};
use dynsec_core::ValidationError;
use dynsec_crypto::{sealed_key_id, KeyId, Keyring, MasterKey};
use dynsec_store::{SealedBlob, SealedKind};
use std::collections::BTreeSet;
use tracing::{info, warn};

/// Associated data of the master-key check value. Its plaintext is a random
/// per-installation secret: opening it proves the master key (AES-GCM is
/// authenticated), and it outlives rotations, so keys derived from it (the
/// audit log's HMAC key) stay the same when the master key changes.
pub(super) const CHECK_AAD: &str = "master-key-check";
/// The constant plaintext of check values written before the secret existed;
/// such a check is replaced by a random secret at the next start.
const LEGACY_CHECK_VALUE: &[u8] = b"dynsec master key check v1";
const INSTALL_SECRET_LEN: usize = 32;

fn new_install_secret() -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(dynsec_crypto::random_secret().into_bytes())
}

impl Engine {
    /// Run once at start, before serving: proves the keyring opens this
    /// database (refusing to run otherwise), writes the check value on a
    /// database that has none, and finishes a rotation a crash interrupted
    /// (the keyring still holds previous keys). Returns the installation
    /// secret sealed in the check value, for keys that must survive rotations.
    pub async fn prepare_master_key(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, EngineError> {
        // Remember the ring as loaded (what a restart would hold again).
        let loaded = self.durable_master_keys();
        *self
            .keys()
            .durable
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(loaded);
        // A rotation through another gateway sharing the store, first.
        Box::pin(self.sync_master_keys()).await?;
        let sealer = &self.inner.sealer;
        let mut ring = sealer.keyring();
        let install_secret = loop {
            match self.store().master_key_check().await? {
                Some(check) => {
                    let opened = sealer
                        .open(CHECK_AAD, &check)
                        .map_err(|_| wrong_master_key(&ring, sealed_key_id(&check)))?;
                    if opened.as_slice() != LEGACY_CHECK_VALUE && opened.len() >= INSTALL_SECRET_LEN
                    {
                        break zeroize::Zeroizing::new(opened.to_vec());
                    }
                    // A check from before the installation secret: replace it,
                    // unless another gateway did so first (then read theirs).
                    let secret = new_install_secret();
                    let blob = SealedBlob {
                        kind: SealedKind::MasterKeyCheck,
                        row_id: 1,
                        uid: String::new(),
                        sealed: check,
                    };
                    if self
                        .store()
                        .replace_sealed_blob(&blob, &sealer.seal(CHECK_AAD, &secret))
                        .await?
                    {
                        break secret;
                    }
                }
                None => {
                    // A database from before the check existed: prove the key on
                    // a record sealed under the master key (any record not
                    // wrapped by a protection key), if there is one, then record
                    // the check — unless a gateway starting at the same time
                    // wrote one first (then that one must open).
                    let protection = self.protection_key_ids().await?;
                    for blob in self.store().sealed_blobs().await? {
                        let id = sealed_key_id(&blob.sealed);
                        if id.is_some_and(|id| protection.contains(&id.to_hex())) {
                            continue;
                        }
                        if sealer.open(&sealed_aad(&blob), &blob.sealed).is_err() {
                            return Err(wrong_master_key(&ring, id));
                        }
                        break;
                    }
                    let secret = new_install_secret();
                    if self
                        .store()
                        .init_master_key_check(&sealer.seal(CHECK_AAD, &secret))
                        .await?
                    {
                        break secret;
                    }
                }
            }
            ring = sealer.keyring();
        };
        if let Some(previous) = ring.previous().first() {
            // Supplied as "<new> <old>": gateways still holding only the old
            // key get the new one from the store.
            self.publish_handover(ring.current(), previous).await?;
        }
        if !ring.previous().is_empty() {
            info!(current = %ring.current().id(), previous = ?ring.previous().iter().map(MasterKey::id).collect::<Vec<_>>(),
                "the keyring holds previous master keys: finishing the rotation");
            let _one = self.keys().rotation.lock().await;
            let report = self.finish_rotation().await?;
            info!(key = %report.key_id, rewrapped = report.rewrapped, "master key rotation finished");
        }
        self.warn_unknown_wrapping_keys().await?;
        Ok(install_secret)
    }

    /// Warns about records wrapped by a key that is neither a master key of
    /// the ring nor a protection key: they cannot be opened.
    async fn warn_unknown_wrapping_keys(&self) -> Result<(), EngineError> {
        let ring = self.inner.sealer.keyring();
        let protection = self.protection_key_ids().await?;
        let mut unknown = BTreeSet::new();
        for blob in self.store().sealed_blobs().await? {
            if let Some(id) = sealed_key_id(&blob.sealed) {
                if !ring.contains(id) && !protection.contains(&id.to_hex()) {
                    unknown.insert(id.to_hex());
                }
            }
        }
        if !unknown.is_empty() {
            warn!(keys = ?unknown, "some records are sealed under master keys this gateway does not hold; they cannot be read");
        }
        Ok(())
    }

    /// Hex fingerprints of every protection key.
    async fn protection_key_ids(&self) -> Result<BTreeSet<String>, EngineError> {
        Ok(self
            .store()
            .list_protection_keys()
            .await?
            .into_iter()
            .map(|k| k.key_id)
            .collect())
    }
}

fn wrong_master_key(ring: &Keyring, sealed_under: Option<KeyId>) -> EngineError {
    let held: Vec<String> = ring.ids().iter().map(KeyId::to_hex).collect();
    let under = sealed_under.map_or_else(
        || "an unnamed (format 1) key".to_string(),
        |id| format!("key {id}"),
    );
    EngineError::Invalid(ValidationError::new(
        "master key",
        format!(
            "does not open this database: its records are sealed under {under}, this gateway holds {}. \
             Supply the right key (after a rotation only the new key opens the database)",
            held.join(", ")
        ),
    ))
}
