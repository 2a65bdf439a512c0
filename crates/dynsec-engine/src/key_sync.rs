//! Master-key rotation across gateways sharing a store.
//!
//! A gateway that makes a new master key current publishes it in the store
//! as a *handover*: the new key sealed under the key it replaces, written
//! before anything is sealed under the new key. Every other gateway holds
//! the old key, so at its next heartbeat — or at once, when it meets a record
//! wrapped by a key it lacks — it opens the handover, makes the new key
//! current (writing it to its own key file when it keeps one), re-wraps what
//! it alone may have sealed under the old key meanwhile, and drops the old
//! key. No restart. Each heartbeat advertises the keys a gateway holds
//! durably; once every live gateway holds the new one and no record is left
//! under the old one, the handover is deleted, and the old key opens nothing.

use crate::{Engine, EngineError};
use dynsec_crypto::{sealed_key_id, CryptoError, KeyId, Keyring, MasterKey, Sealer};
use dynsec_store::KeyHandover;
use tracing::{info, warn};
use zeroize::Zeroizing;

fn handover_aad(new: KeyId) -> String {
    format!("master-key-handover/{new}")
}

impl Engine {
    /// Publishes `new` sealed under `previous`, for gateways holding `previous`.
    pub(crate) async fn publish_handover(
        &self,
        new: &MasterKey,
        previous: &MasterKey,
    ) -> Result<(), EngineError> {
        let under_previous = Sealer::with_keyring(Keyring::new(previous.clone()));
        let handover = KeyHandover {
            key_id: new.id().to_hex(),
            sealed_key: under_previous.seal(&handover_aad(new.id()), new.to_text().as_bytes()),
            created_at: self.now(),
        };
        Ok(self.store().put_key_handover(&handover).await?)
    }

    /// Adopts master keys made current through other gateways (see the
    /// module docs). Returns whether the keyring changed.
    pub(crate) async fn sync_master_keys(&self) -> Result<bool, EngineError> {
        let handovers = self.store().key_handovers().await?;
        let sealer = &self.inner.sealer;
        let mut ring = sealer.keyring();
        let mut adopted = Vec::new();
        // Oldest first: a chain of rotations is followed key by key.
        for handover in handovers {
            let Some(id) = KeyId::from_hex(&handover.key_id) else {
                warn!(key = %handover.key_id, "ignoring a master-key handover with a malformed id");
                continue;
            };
            if ring.contains(id) {
                continue;
            }
            let opener = Sealer::with_keyring(ring.clone());
            let text = match opener.open(&handover_aad(id), &handover.sealed_key) {
                Ok(text) => Zeroizing::new(String::from_utf8_lossy(&text).into_owned()),
                // Sealed under a key this gateway never had (e.g. it missed
                // several rotations): nothing to adopt from it.
                Err(CryptoError::UnknownKey) => continue,
                Err(err) => {
                    warn!(key = %id, error = %err, "a master-key handover does not open");
                    continue;
                }
            };
            let key = match MasterKey::from_text(&text) {
                Ok(key) if key.id() == id => key,
                _ => {
                    warn!(key = %id, "a master-key handover holds another key than it names");
                    continue;
                }
            };
            ring = ring.rotated_to(key);
            adopted.push(id);
        }
        if adopted.is_empty() {
            return Ok(false);
        }
        let _one = self.keys().rotation.lock().await;
        match self.custody() {
            Some(custody) if custody.rotation_refusal().is_none() => {
                self.persist_keyring(&custody, &ring).await?;
            }
            _ => warn!(
                key = %ring.current().id(),
                "adopted master key {} rotated in through another gateway, in memory only: \
                 this gateway's key is supplied by the operator. Supply the new key (copy it \
                 from that gateway's key file) before restarting this gateway",
                ring.current().id()
            ),
        }
        sealer.set_keyring(ring);
        info!(keys = ?adopted, "adopted the master key rotated in through another gateway");
        // What this gateway sealed under the old key before it knew: re-wrap.
        let report = Box::pin(self.finish_rotation()).await?;
        info!(key = %report.key_id, rewrapped = report.rewrapped, "master key rotation finished here");
        Ok(true)
    }

    /// Opens a master-sealed blob; one wrapped by a key this gateway lacks
    /// makes it look for a handover first (a rotation through another
    /// gateway it has not picked up yet).
    pub(crate) async fn open_master_sealed(
        &self,
        aad: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self.inner.sealer.open(aad, sealed) {
            // Boxed: the sync (a whole rotation's tail) would otherwise sit
            // inline in every future that opens a secret.
            Err(CryptoError::UnknownKey) => match Box::pin(self.sync_master_keys()).await {
                Ok(true) => self.inner.sealer.open(aad, sealed),
                Ok(false) => Err(CryptoError::UnknownKey),
                Err(err) => {
                    warn!(error = %err, "cannot look for a master-key handover");
                    Err(CryptoError::UnknownKey)
                }
            },
            other => other,
        }
    }

    /// Deletes handovers no gateway needs any more: no record is sealed under
    /// the old key, and no live gateway holds the old key durably without the
    /// new one (a gateway that restarted would need it).
    pub(crate) async fn retire_key_handovers(&self) -> Result<usize, EngineError> {
        let handovers = self.store().key_handovers().await?;
        if handovers.is_empty() {
            return Ok(0);
        }
        let live_since = self.now()
            - chrono::Duration::from_std(self.stale_after()).unwrap_or(chrono::Duration::MAX);
        let live = self.store().instances_since(live_since).await?;
        let blobs = self.store().sealed_blobs().await?;
        let mut retired = 0;
        for handover in handovers {
            let old = sealed_key_id(&handover.sealed_key);
            let old_hex = old.map(|id| id.to_hex());
            let someone_needs_it = live.iter().any(|i| {
                old_hex.as_ref().is_some_and(|o| i.master_keys.contains(o))
                    && !i.master_keys.contains(&handover.key_id)
            });
            let still_used = blobs.iter().any(|b| sealed_key_id(&b.sealed) == old);
            if !live.is_empty() && !someone_needs_it && !still_used {
                self.store().delete_key_handover(&handover.key_id).await?;
                info!(key = %handover.key_id, "every gateway holds the new master key: the old one opens nothing now");
                retired += 1;
            }
        }
        Ok(retired)
    }
}
