//! The key hierarchy: the master keyring (its check value and its rotation),
//! protection keys (create, list, delete, resolve), the customer fragments of
//! split keys, and sealing a record's secret under the key it selects.
//!
//! ```text
//! master keyring ──wraps──► data keys of unprotected records
//!        └──────wraps──► protection keys' store fragments
//!                         store fragments (⊕ customer fragment) = protection key
//!                                   └──wraps──► data keys of the records selecting it
//! ```
//!
//! A rotation re-wraps every master-wrapped data key (records, fragments, the
//! check value) under a new master key; records wrapped by a protection key
//! are untouched because their wrapping key did not change. A split key's
//! customer fragment is never stored: without it in the gateway's
//! configuration, what that key protects cannot be opened by anyone.

use crate::connection::{producer_aad, target_aad};
use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::{ItemPath, ValidationError};
use dynsec_crypto::{
    sealed_key_id, CryptoError, KeyFragment, KeyId, Keyring, MasterKey, ProtectionKey,
};
use dynsec_store::{ProtectionKeyRecord, SealedBlob, SealedKind};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, RwLock};
use tracing::{info, warn};
use zeroize::Zeroizing;

/// The only algorithm protection keys use (Akeyless's name for it).
const ALG_AES256GCM: &str = "AES256GCM";
/// Most store fragments a key may be split into (the Akeyless SDK sends 3 by default).
const MAX_SPLIT_LEVEL: u8 = 3;
const FRAGMENT_LEN: usize = 32;
/// Associated data of the master-key check value. Its plaintext is a random
/// per-installation secret: opening it proves the master key (AES-GCM is
/// authenticated), and it outlives rotations, so keys derived from it (the
/// audit log's HMAC key) stay the same when the master key changes.
const CHECK_AAD: &str = "master-key-check";
/// The constant plaintext of check values written before the secret existed;
/// such a check is replaced by a random secret at the next start.
const LEGACY_CHECK_VALUE: &[u8] = b"dynsec master key check v1";
const INSTALL_SECRET_LEN: usize = 32;

fn new_install_secret() -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(dynsec_crypto::random_secret().into_bytes())
}
/// Re-wrap passes before a rotation gives up on records that keep changing.
const MAX_REWRAP_PASSES: usize = 10;
/// The store duty held by the gateway rotating the master key, and how long
/// it holds without release (a gateway dying mid-rotation frees it so).
const ROTATION_DUTY: &str = "master-key-rotation";
const ROTATION_DUTY_SECS: i64 = 600;

fn protection_key_aad(uid: &str) -> String {
    format!("protection-key/{uid}")
}

fn sealed_aad(blob: &SealedBlob) -> String {
    match blob.kind {
        SealedKind::Target => target_aad(&blob.uid),
        SealedKind::ProducerInline => producer_aad(&blob.uid),
        SealedKind::ProtectionKey => protection_key_aad(&blob.uid),
        SealedKind::MasterKeyCheck => CHECK_AAD.to_string(),
    }
}

/// Where the master keyring is kept, as the binary knows it.
pub trait MasterKeyCustody: Send + Sync + 'static {
    /// Why this gateway cannot store a new master key (it was supplied by the
    /// operator), or `None` when it can.
    fn rotation_refusal(&self) -> Option<String>;
    /// Durably replaces the stored keyring (current key first), atomically:
    /// after a crash the next start reads either the old or the new ring.
    fn persist(&self, ring: &Keyring) -> Result<(), String>;
}

/// The customer fragments this gateway is configured with, by id. Debug
/// shows the ids only.
#[derive(Clone, Default)]
pub struct CustomerFragments(BTreeMap<String, KeyFragment>);

impl CustomerFragments {
    pub fn insert(&mut self, id: String, fragment: KeyFragment) {
        self.0.insert(id, fragment);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, id: &str) -> Option<&KeyFragment> {
        self.0.get(id)
    }
}

impl fmt::Debug for CustomerFragments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CustomerFragments")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The engine's key state (set by the binary after construction).
#[derive(Default)]
pub(crate) struct KeyState {
    custody: RwLock<Option<Arc<dyn MasterKeyCustody>>>,
    fragments: RwLock<CustomerFragments>,
    /// One rotation at a time.
    pub(crate) rotation: tokio::sync::Mutex<()>,
    /// Fingerprints of the keys the custody holds (current first), once a
    /// keyring has been written to it; until then, the ring as loaded.
    durable: RwLock<Option<Vec<String>>>,
}

/// A protection key as callers see it (never its material).
#[derive(Debug, Clone)]
pub struct ProtectionKeyView {
    pub id: i64,
    pub name: String,
    pub alg: String,
    pub split_level: u8,
    pub customer_fragment_id: Option<String>,
    pub description: String,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

impl From<ProtectionKeyRecord> for ProtectionKeyView {
    fn from(r: ProtectionKeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            alg: r.alg,
            split_level: r.split_level,
            customer_fragment_id: r.customer_fragment_id,
            description: r.description,
            delete_protection: r.delete_protection,
            created_at: r.created_at,
            modified_at: r.modified_at,
        }
    }
}

/// `create-dfc-key` as the caller describes it.
#[derive(Debug, Clone)]
pub struct ProtectionKeyInput {
    pub name: ItemPath,
    /// Empty means the default, `AES256GCM`.
    pub alg: String,
    /// Store fragments; `None` means 1.
    pub split_level: Option<u64>,
    pub customer_fragment_id: Option<String>,
    pub description: String,
    pub delete_protection: bool,
}

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
    pub(crate) fn keys(&self) -> &KeyState {
        &self.inner.keys
    }

    /// Tells the engine where its master keyring is kept (the binary's key
    /// file, or the operator). Without it, rotation is refused.
    pub fn set_master_key_custody(&self, custody: Arc<dyn MasterKeyCustody>) {
        *self
            .keys()
            .custody
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(custody);
    }

    /// The customer fragments from the gateway's configuration.
    pub fn set_customer_fragments(&self, fragments: CustomerFragments) {
        *self
            .keys()
            .fragments
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fragments;
    }

    pub(crate) fn custody(&self) -> Option<Arc<dyn MasterKeyCustody>> {
        self.keys()
            .custody
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn customer_fragment(&self, id: &str) -> Option<KeyFragment> {
        self.keys()
            .fragments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
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

    // --- Master key ----------------------------------------------------------

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

    /// Replaces the master key while serving: a new key becomes current (and is
    /// written to the key file next to the old one before anything changes),
    /// every master-wrapped data key is re-wrapped under it, then the old key
    /// is dropped from memory and from the file. A crash at any point leaves a
    /// key file that opens every record; the next start finishes the job.
    pub async fn rotate_master_key(&self) -> Result<RotationReport, EngineError> {
        let _one = self.keys().rotation.lock().await;
        // One rotation at a time across every gateway on the store, too.
        let now = Utc::now();
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

    // --- Protection keys -----------------------------------------------------

    pub async fn create_protection_key(
        &self,
        input: ProtectionKeyInput,
    ) -> Result<ProtectionKeyView, EngineError> {
        dynsec_core::limits::text(
            "description",
            &input.description,
            dynsec_core::limits::DESCRIPTION,
        )?;
        let alg = if input.alg.trim().is_empty() {
            ALG_AES256GCM.to_string()
        } else {
            input
                .alg
                .trim()
                .to_ascii_uppercase()
                .replace(['-', '_'], "")
        };
        if alg != ALG_AES256GCM {
            return Err(ValidationError::new("alg", "only AES256GCM is supported").into());
        }
        let split_level = match input.split_level.unwrap_or(1) {
            n @ 1..=3 => n as u8,
            _ => {
                return Err(ValidationError::new(
                    "split-level",
                    format!("must be between 1 and {MAX_SPLIT_LEVEL}"),
                )
                .into())
            }
        };
        let customer_fragment_id = input
            .customer_fragment_id
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty());
        let customer = match &customer_fragment_id {
            Some(id) => Some(self.customer_fragment(id).ok_or_else(|| {
                ValidationError::new(
                    "customer-frg-id",
                    format!(
                        "customer fragment '{id}' is not configured in this gateway (--customer-fragments)"
                    ),
                )
            })?),
            None => None,
        };
        // Items share one namespace in Akeyless; a key must not shadow a dynamic secret.
        if self
            .store()
            .producer_by_name(input.name.as_str())
            .await?
            .is_some()
        {
            return Err(EngineError::Conflict(format!(
                "the name '{}' is taken by a dynamic secret; dynamic secrets and protection keys share one namespace, so pick another name",
                input.name
            )));
        }
        let store_fragments: Vec<KeyFragment> =
            (0..split_level).map(|_| KeyFragment::generate()).collect();
        let mut parts: Vec<&KeyFragment> = store_fragments.iter().collect();
        parts.extend(customer.as_ref());
        let key = ProtectionKey::combine(&parts)
            .ok_or_else(|| EngineError::Internal("a protection key needs a fragment".into()))?;
        let mut material = Zeroizing::new(Vec::with_capacity(FRAGMENT_LEN * store_fragments.len()));
        for fragment in &store_fragments {
            material.extend_from_slice(fragment.as_bytes());
        }
        let uid = dynsec_crypto::random_id(20);
        let now = Utc::now();
        let mut record = ProtectionKeyRecord {
            id: 0,
            sealed_fragments: self.inner.sealer.seal(&protection_key_aad(&uid), &material),
            uid,
            name: input.name.to_string(),
            alg,
            split_level,
            customer_fragment_id,
            key_id: key.id().to_hex(),
            description: input.description,
            delete_protection: input.delete_protection,
            created_at: now,
            modified_at: now,
        };
        record.id = self.store().insert_protection_key(&record).await?;
        Ok(record.into())
    }

    pub async fn get_protection_key(
        &self,
        name: &ItemPath,
    ) -> Result<ProtectionKeyView, EngineError> {
        self.protection_key_record(name.as_str())
            .await?
            .map(Into::into)
            .ok_or_else(|| EngineError::not_found(format!("protection key '{name}' not found")))
    }

    /// Protection keys whose name contains `filter` (case-insensitive).
    pub async fn list_protection_keys(
        &self,
        filter: &str,
    ) -> Result<Vec<ProtectionKeyView>, EngineError> {
        let needle = filter.to_lowercase();
        Ok(self
            .store()
            .list_protection_keys()
            .await?
            .into_iter()
            .filter(|k| k.name.to_lowercase().contains(&needle))
            .map(Into::into)
            .collect())
    }

    /// Deletes a protection key. Refused under delete protection and while a
    /// target or dynamic secret uses it: what it protects would be lost.
    pub async fn delete_protection_key(&self, name: &ItemPath) -> Result<i64, EngineError> {
        let record = self
            .protection_key_record(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("protection key '{name}' not found")))?;
        if record.delete_protection {
            return Err(EngineError::Conflict(format!(
                "protection key '{name}' has delete protection on; turn it off first"
            )));
        }
        let mut users: Vec<String> = self
            .store()
            .list_targets()
            .await?
            .into_iter()
            .filter(|t| t.protection_key.as_deref() == Some(record.name.as_str()))
            .map(|t| format!("target {}", t.name))
            .collect();
        users.extend(
            self.store()
                .list_producers()
                .await?
                .into_iter()
                .filter(|p| p.settings.protection_key.as_deref() == Some(record.name.as_str()))
                .map(|p| format!("dynamic secret {}", p.name)),
        );
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!(
                "protection key '{name}' is used by {}; delete them or move them to another key first",
                users.join(", ")
            )));
        }
        self.store().delete_protection_key(record.id).await?;
        Ok(record.id)
    }

    async fn protection_key_record(
        &self,
        name: &str,
    ) -> Result<Option<ProtectionKeyRecord>, EngineError> {
        Ok(self.store().protection_key_by_name(name).await?)
    }

    // --- Using protection keys -------------------------------------------------

    /// Validates a record's protection key selection (`field` names the
    /// request field): normalizes the path, requires that the key exists (400
    /// otherwise) and that this gateway can produce it (its customer fragment
    /// is configured). Blank means none.
    pub(crate) async fn protection_key_field(
        &self,
        field: &str,
        name: Option<&str>,
    ) -> Result<Option<String>, EngineError> {
        let Some(raw) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        let path = ItemPath::parse(field, raw)?;
        let record = self
            .protection_key_record(path.as_str())
            .await?
            .ok_or_else(|| {
                ValidationError::new(field, format!("protection key '{path}' does not exist"))
            })?;
        self.derive_protection_key(&record).await?;
        Ok(Some(record.name))
    }

    /// Fails unless the protection key `name` (if any) can be produced here:
    /// what it protects is not served without it.
    pub(crate) async fn require_protection_key(
        &self,
        name: Option<&str>,
    ) -> Result<(), EngineError> {
        if let Some(name) = name {
            self.protection_key(name).await?;
        }
        Ok(())
    }

    /// The key material of the protection key `name`.
    async fn protection_key(&self, name: &str) -> Result<ProtectionKey, EngineError> {
        let record = self.protection_key_record(name).await?.ok_or_else(|| {
            EngineError::Internal(format!("protection key '{name}' is missing from the store"))
        })?;
        self.derive_protection_key(&record).await
    }

    /// Opens the store fragments and combines them with the customer
    /// fragment, checking the result against the key's fingerprint.
    async fn derive_protection_key(
        &self,
        record: &ProtectionKeyRecord,
    ) -> Result<ProtectionKey, EngineError> {
        let customer = match &record.customer_fragment_id {
            Some(id) => Some(self.customer_fragment(id).ok_or_else(|| {
                EngineError::Conflict(format!(
                    "protection key '{}' needs customer fragment '{id}', which this gateway is not configured with",
                    record.name
                ))
            })?),
            None => None,
        };
        let material = Box::pin(
            self.open_master_sealed(&protection_key_aad(&record.uid), &record.sealed_fragments),
        )
        .await
        .map_err(|e| {
            EngineError::Internal(format!(
                "cannot decrypt the fragments of protection key '{}': {e}",
                record.name
            ))
        })?;
        if material.is_empty() || material.len() % FRAGMENT_LEN != 0 {
            return Err(EngineError::Internal(format!(
                "fragments of protection key '{}' are corrupt",
                record.name
            )));
        }
        let fragments = material
            .chunks(FRAGMENT_LEN)
            .map(KeyFragment::from_bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Internal(format!("protection key '{}': {e}", record.name)))?;
        let mut parts: Vec<&KeyFragment> = fragments.iter().collect();
        parts.extend(customer.as_ref());
        let key = ProtectionKey::combine(&parts)
            .ok_or_else(|| EngineError::Internal("a protection key needs a fragment".into()))?;
        if key.id().to_hex() != record.key_id {
            return Err(match &record.customer_fragment_id {
                Some(id) => EngineError::Conflict(format!(
                    "customer fragment '{id}' configured in this gateway is not the one protection key '{}' was created with",
                    record.name
                )),
                None => EngineError::Internal(format!(
                    "protection key '{}' does not match its fingerprint",
                    record.name
                )),
            });
        }
        Ok(key)
    }

    /// Seals a record's secret: under the protection key `key` when the record
    /// selects one, under the master key otherwise.
    pub(crate) async fn seal_secret(
        &self,
        aad: &str,
        plaintext: &[u8],
        key: Option<&str>,
    ) -> Result<Vec<u8>, EngineError> {
        match key {
            None => Ok(self.inner.sealer.seal(aad, plaintext)),
            Some(name) => Ok(self.protection_key(name).await?.seal(aad, plaintext)),
        }
    }

    /// Opens what [`Engine::seal_secret`] sealed. The ciphertext names its
    /// wrapping key, so a record sealed before it selected a key still opens.
    pub(crate) async fn open_secret(
        &self,
        aad: &str,
        sealed: &[u8],
        key: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, EngineError> {
        let sealer = &self.inner.sealer;
        let opened = match key {
            Some(name) if !sealer.is_master_wrapped(sealed) => {
                self.protection_key(name).await?.open(aad, sealed)
            }
            _ => Box::pin(self.open_master_sealed(aad, sealed)).await,
        };
        opened
            .map_err(|e| EngineError::Internal(format!("cannot decrypt the secret of {aad}: {e}")))
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

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
