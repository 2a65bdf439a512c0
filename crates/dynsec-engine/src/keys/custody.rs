//! Where the master keyring is kept (the binary's key file, or the operator)
//! and which master keys this gateway holds durably (advertised with each
//! heartbeat, so handovers are retired only once every gateway has the key).

use crate::{Engine, EngineError};
use dynsec_crypto::{KeyId, Keyring};
use std::sync::Arc;

/// Where the master keyring is kept, as the binary knows it.
pub trait MasterKeyCustody: Send + Sync + 'static {
    /// Why this gateway cannot store a new master key (it was supplied by the
    /// operator), or `None` when it can.
    fn rotation_refusal(&self) -> Option<String>;
    /// Durably replaces the stored keyring (current key first), atomically:
    /// after a crash the next start reads either the old or the new ring.
    fn persist(&self, ring: &Keyring) -> Result<(), String>;
}

impl Engine {
    /// Tells the engine where its master keyring is kept (the binary's key
    /// file, or the operator). Without it, rotation is refused.
    pub fn set_master_key_custody(&self, custody: Arc<dyn MasterKeyCustody>) {
        *self
            .keys()
            .custody
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(custody);
    }

    pub(crate) fn custody(&self) -> Option<Arc<dyn MasterKeyCustody>> {
        self.keys()
            .custody
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Writes `ring` to `custody` and remembers it as what this gateway holds
    /// durably (advertised with each heartbeat).
    pub(crate) async fn persist_keyring(
        &self,
        custody: &Arc<dyn MasterKeyCustody>,
        ring: &Keyring,
    ) -> Result<(), EngineError> {
        persist(custody, ring).await?;
        *self
            .keys()
            .durable
            .write()
            .unwrap_or_else(|e| e.into_inner()) =
            Some(ring.ids().iter().map(KeyId::to_hex).collect());
        Ok(())
    }

    /// Fingerprints of the master keys this gateway would still hold after a
    /// restart, current first.
    pub(crate) fn durable_master_keys(&self) -> Vec<String> {
        self.keys()
            .durable
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| {
                self.inner
                    .sealer
                    .keyring()
                    .ids()
                    .iter()
                    .map(KeyId::to_hex)
                    .collect()
            })
    }
}

async fn persist(custody: &Arc<dyn MasterKeyCustody>, ring: &Keyring) -> Result<(), EngineError> {
    let custody = custody.clone();
    let ring = ring.clone();
    tokio::task::spawn_blocking(move || custody.persist(&ring))
        .await
        .map_err(|e| EngineError::Internal(format!("key file task failed: {e}")))?
        .map_err(|e| EngineError::Internal(format!("cannot write the master key file: {e}")))
}
