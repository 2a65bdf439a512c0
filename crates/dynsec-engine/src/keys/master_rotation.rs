//! Replacing the master key while serving: the new key is made durable and
//! handed over first, every master-wrapped data key is re-wrapped under it,
//! then the previous keys are dropped (one rotation at a time, across every
//! gateway on the store).

use super::sealed_aad;
use crate::authz::{authorize, Requested, UseCase};
use crate::{Caller, Engine, EngineError};
use dynsec_crypto::{CryptoError, KeyId, MasterKey};
use tracing::{info, warn};

/// Re-wrap passes before a rotation gives up on records that keep changing.
const MAX_REWRAP_PASSES: usize = 10;
/// The store duty held by the gateway rotating the master key, and how long
/// it holds without release (a gateway dying mid-rotation frees it so).
const ROTATION_DUTY: &str = "master-key-rotation";
const ROTATION_DUTY_SECS: i64 = 600;

/// What a finished rotation did.
#[derive(Debug, Clone)]
pub struct RotationReport {
    /// The master key now current.
    pub key_id: KeyId,
    /// The keys no longer used (dropped from the gateway and its key file).
    pub retired: Vec<KeyId>,
    /// How many wrapped data keys were re-wrapped.
    pub rewrapped: usize,
    /// False when the operator supplies the key and must drop the old one.
    pub persisted: bool,
}

impl Engine {
    /// Replaces the master key while serving: a new key becomes current (and is
    /// written to the key file next to the old one before anything changes),
    /// every master-wrapped data key is re-wrapped under it, then the old key
    /// is dropped from memory and from the file. A crash at any point leaves a
    /// key file that opens every record; the next start finishes the job.
    pub async fn rotate_master_key(&self, caller: &Caller) -> Result<RotationReport, EngineError> {
        authorize(caller, UseCase::RotateMasterKey, &Requested::nothing())?;
        let _one = self.keys().rotation.lock().await;
        // One rotation at a time across every gateway on the store, too.
        let now = self.now();
        if !self
            .store()
            .try_hold_duty(
                ROTATION_DUTY,
                self.instance_id(),
                now,
                now + chrono::Duration::seconds(ROTATION_DUTY_SECS),
            )
            .await?
        {
            return Err(EngineError::Conflict(
                "a master key rotation is in progress through another gateway; try again when it has finished"
                    .into(),
            ));
        }
        let rotated = self.rotate_master_key_held().await;
        if let Err(err) = self
            .store()
            .release_duty(ROTATION_DUTY, self.instance_id())
            .await
        {
            warn!(error = %err, "cannot release the rotation duty; it lapses by itself");
        }
        rotated
    }

    async fn rotate_master_key_held(&self) -> Result<RotationReport, EngineError> {
        let custody = self.custody().ok_or_else(|| {
            EngineError::Conflict(
                "this gateway has no master key file it may rewrite; rotate by restarting with the new key"
                    .into(),
            )
        })?;
        if let Some(reason) = custody.rotation_refusal() {
            return Err(EngineError::Conflict(reason));
        }
        let ring = self
            .inner
            .sealer
            .keyring()
            .rotated_to(MasterKey::generate());
        // Both keys are durable before any record is re-wrapped, and other
        // gateways can get the new key before anything is sealed under it.
        self.persist_keyring(&custody, &ring).await?;
        let previous = self.inner.sealer.keyring();
        self.publish_handover(ring.current(), previous.current())
            .await?;
        self.inner.sealer.set_keyring(ring.clone());
        info!(new = %ring.current().id(), "master key rotation started");
        let report = self.finish_rotation().await?;
        info!(key = %report.key_id, retired = ?report.retired, rewrapped = report.rewrapped,
            "master key rotation finished");
        Ok(report)
    }

    /// Re-wraps everything under the current key, then drops the previous
    /// keys — from the key file first (when the gateway keeps it), then from
    /// memory. Caller holds the rotation lock.
    pub(crate) async fn finish_rotation(&self) -> Result<RotationReport, EngineError> {
        let rewrapped = self.rewrap_all().await?;
        let ring = self.inner.sealer.keyring();
        let done = ring.without_previous();
        let custody = self.custody();
        let persisted = match custody.as_ref() {
            Some(c) if c.rotation_refusal().is_none() => {
                self.persist_keyring(c, &done).await?;
                true
            }
            _ => {
                warn!(
                    current = %done.current().id(),
                    "every record is now sealed under the first master key; remove the previous key(s) from the key you supply"
                );
                false
            }
        };
        self.inner.sealer.set_keyring(done.clone());
        // Old wrappings may linger in the database's files (a WAL, dead row
        // versions); have the store drop them.
        if let Err(err) = self.store().scrub_superseded().await {
            warn!(error = %err, "cannot scrub superseded rows after the rotation");
        }
        Ok(RotationReport {
            key_id: done.current().id(),
            retired: ring.previous().iter().map(MasterKey::id).collect(),
            rewrapped,
            persisted,
        })
    }

    /// Re-wraps every blob not yet under the current master key, pass after
    /// pass until one finds nothing to do: a request that sealed under the old
    /// key just before the swap and wrote afterwards is caught by the next pass.
    async fn rewrap_all(&self) -> Result<usize, EngineError> {
        let sealer = &self.inner.sealer;
        let mut total = 0;
        for _ in 0..MAX_REWRAP_PASSES {
            let mut pending = 0;
            for blob in self.store().sealed_blobs().await? {
                let aad = sealed_aad(&blob);
                match sealer.rewrap(&aad, &blob.sealed) {
                    Ok(None) => {}
                    Ok(Some(new)) => {
                        pending += 1;
                        if self.store().replace_sealed_blob(&blob, &new).await? {
                            total += 1;
                        }
                    }
                    // Wrapped by a protection key (or by a master key this
                    // gateway never had, which no rotation can help).
                    Err(CryptoError::UnknownKey) => {}
                    Err(err) => {
                        return Err(EngineError::Internal(format!(
                            "cannot re-wrap {aad} under the new master key ({err}); \
                             the previous key is kept so nothing becomes unreadable"
                        )))
                    }
                }
            }
            if pending == 0 {
                return Ok(total);
            }
        }
        Err(EngineError::Internal(
            "records kept changing during the master key rotation; the previous key is kept, try again"
                .into(),
        ))
    }
}
