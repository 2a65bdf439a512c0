//! Persistence for the key hierarchy: protection keys, the master-key check
//! value, and the enumeration of every master-sealed blob that a master-key
//! rotation re-wraps.
//!
//! A separate trait (a supertrait of [`crate::Store`]) so the key code stays in
//! files of its own. Every blob here is ciphertext; no key material is stored
//! in the clear.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A protection key as stored: metadata and its sealed store fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionKeyRecord {
    pub id: i64,
    /// Stable identity bound into the sealed fragments as associated data.
    pub uid: String,
    /// Item path, e.g. `/keys/prod`.
    pub name: String,
    /// `AES256GCM`.
    pub alg: String,
    /// How many store fragments `sealed_fragments` holds.
    pub split_level: u8,
    /// The customer fragment completing the key, if it is split with one.
    pub customer_fragment_id: Option<String>,
    /// Hex fingerprint of the full key.
    pub key_id: String,
    /// The store fragments (32 bytes each), sealed under the master key.
    pub sealed_fragments: Vec<u8>,
    pub description: String,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// Which column a sealed blob lives in; the engine derives its associated data
/// from this and the owning row's uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// `targets.sealed_secret`
    Target,
    /// `producers.inline_sealed_secret`
    ProducerInline,
    /// `protection_keys.sealed_fragments`
    ProtectionKey,
    /// `master_key_check.sealed`
    MasterKeyCheck,
}

/// One sealed blob and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlob {
    pub kind: SealedKind,
    /// The owning row's primary key.
    pub row_id: i64,
    /// The owning row's uid (empty for the master-key check).
    pub uid: String,
    pub sealed: Vec<u8>,
}

/// A new master key on its way to every gateway: sealed under the key it
/// replaces (which every gateway holding that one can open), kept until every
/// live gateway holds the new key itself. Never part of [`KeyStore::sealed_blobs`]:
/// re-wrapping it under the new key would defeat its purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHandover {
    /// Fingerprint of the new key.
    pub key_id: String,
    /// The new key, sealed under the previous one (its fingerprint is in the envelope).
    pub sealed_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    // --- Protection keys -------------------------------------------------------
    /// Inserts and returns the new id; `Conflict` when the name is taken.
    async fn insert_protection_key(&self, key: &ProtectionKeyRecord) -> Result<i64>;
    async fn protection_key_by_name(&self, name: &str) -> Result<Option<ProtectionKeyRecord>>;
    /// All protection keys, by name. Deprecated for `list-items`: use
    /// [`crate::ListingStore::items_in_folder`].
    async fn list_protection_keys(&self) -> Result<Vec<ProtectionKeyRecord>>;
    /// Fails with `InUse` while a target or dynamic secret still names the
    /// key (a foreign key, so no check-then-delete race).
    async fn delete_protection_key(&self, id: i64) -> Result<()>;

    // --- Master key ------------------------------------------------------------
    /// The check value sealed under the master key, once written.
    async fn master_key_check(&self) -> Result<Option<Vec<u8>>>;
    async fn set_master_key_check(&self, sealed: &[u8]) -> Result<()>;
    /// Writes the check value unless one exists (gateways starting together
    /// on an empty database agree on the first); returns whether it wrote.
    async fn init_master_key_check(&self, sealed: &[u8]) -> Result<bool>;

    // --- Master-key handovers --------------------------------------------------
    /// Publishes a handover (replacing one for the same key).
    async fn put_key_handover(&self, handover: &KeyHandover) -> Result<()>;
    async fn key_handovers(&self) -> Result<Vec<KeyHandover>>;
    async fn delete_key_handover(&self, key_id: &str) -> Result<()>;

    /// Every blob sealed with the master keyring's envelope format: target
    /// secrets, inline connection secrets, protection-key fragments, the
    /// master-key check. Anything added later that is sealed under the master
    /// key must be listed here, or a rotation would leave it behind.
    async fn sealed_blobs(&self) -> Result<Vec<SealedBlob>>;
    /// Replaces `blob.sealed` with `new` if the row still holds exactly
    /// `blob.sealed`; returns whether it did (false: changed meanwhile).
    async fn replace_sealed_blob(&self, blob: &SealedBlob, new: &[u8]) -> Result<bool>;
}
