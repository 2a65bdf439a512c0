//! Persistence for dynsec behind one async [`Store`] trait.
//!
//! The engine sees only the trait; the binary picks the implementation. SQLite
//! ([`SqliteStore`]) is the embedded default. The trait speaks in domain records
//! and keeps SQL dialect details inside each implementation, so a PostgreSQL store
//! can be added beside it with its own migrations and no engine change.
//!
//! The store only ever receives ciphertext for secret material (sealed blobs) and
//! hashes for credentials.

mod access;
mod keys;
mod records;
mod sqlite;
mod sqlite_access;
mod sqlite_keys;

pub use access::{AccessStore, AssocRecord, RoleRecord};
pub use keys::{KeyStore, ProtectionKeyRecord, SealedBlob, SealedKind};
pub use records::{ApiKeyRecord, ConnectionColumns, ProducerRecord, TargetRecord, TokenRecord};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dynsec_core::{Lease, LeaseState};

/// Store failures. `Conflict` is the only one callers are expected to branch on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique name is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A stored row could not be decoded (corruption or a bug), with the column.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything dynsec persists.
#[async_trait]
pub trait Store: AccessStore + KeyStore + Send + Sync + 'static {
    // --- API keys and tokens -------------------------------------------------
    async fn api_key_count(&self) -> Result<u64>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    async fn api_key(&self, access_id: &str) -> Result<Option<ApiKeyRecord>>;
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>>;
    /// Deletes tokens that expired before `now`; returns how many.
    async fn purge_tokens(&self, now: DateTime<Utc>) -> Result<u64>;

    // --- Targets -------------------------------------------------------------
    /// Inserts and returns the new id (the record's `id` is ignored).
    async fn insert_target(&self, target: &TargetRecord) -> Result<i64>;
    /// Replaces the target with `target.id` (its name may change).
    async fn update_target(&self, target: &TargetRecord) -> Result<()>;
    async fn target_by_name(&self, name: &str) -> Result<Option<TargetRecord>>;
    async fn target_by_id(&self, id: i64) -> Result<Option<TargetRecord>>;
    async fn list_targets(&self) -> Result<Vec<TargetRecord>>;
    async fn delete_target(&self, id: i64) -> Result<()>;

    // --- Dynamic secrets (producers) -----------------------------------------
    async fn insert_producer(&self, producer: &ProducerRecord) -> Result<i64>;
    async fn update_producer(&self, producer: &ProducerRecord) -> Result<()>;
    async fn producer_by_name(&self, name: &str) -> Result<Option<ProducerRecord>>;
    async fn producer_by_id(&self, id: i64) -> Result<Option<ProducerRecord>>;
    async fn list_producers(&self) -> Result<Vec<ProducerRecord>>;
    async fn producers_using_target(&self, target_id: i64) -> Result<Vec<ProducerRecord>>;
    /// Deletes the dynamic secret unless one of its IAM-user leases is still
    /// live (an issuance may have written its intent meanwhile); returns
    /// whether it did.
    async fn delete_producer(&self, id: i64) -> Result<bool>;

    // --- Leases --------------------------------------------------------------
    async fn insert_lease(&self, lease: &Lease) -> Result<()>;
    /// Replaces every mutable field of the lease with `lease.id`.
    async fn update_lease(&self, lease: &Lease) -> Result<()>;
    /// Like `update_lease`, but only while the stored lease is still in state
    /// `expected`; returns whether it was written.
    async fn update_lease_if(&self, lease: &Lease, expected: LeaseState) -> Result<bool>;
    async fn lease(&self, id: &str) -> Result<Option<Lease>>;
    /// A dynamic secret's leases, newest first; revoked ones only if asked.
    async fn leases_of_producer(
        &self,
        producer_id: i64,
        include_revoked: bool,
    ) -> Result<Vec<Lease>>;
    /// Leases whose due time (expiry while active, next retry while revoking or
    /// failed) is at or before `now`, soonest first, at most `limit`.
    async fn due_leases(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Lease>>;
    /// The earliest due time of any lease, for the reaper to sleep until.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>>;
    /// Leases some gateway instance is working on: pending intents and
    /// revocations in progress.
    async fn claimed_leases(&self) -> Result<Vec<Lease>>;

    /// Moves committed data out of the write-ahead log and truncates it, so
    /// superseded ciphertext doesn't linger there (after a key rotation).
    async fn compact(&self) -> Result<()>;

    // --- Gateway instances -----------------------------------------------------
    /// Records that instance `id` is alive at `at`.
    async fn heartbeat(&self, id: &str, at: DateTime<Utc>) -> Result<()>;
    /// When instance `id` last reported, if ever.
    async fn instance_heartbeat(&self, id: &str) -> Result<Option<DateTime<Utc>>>;
    /// Forgets instance `id` (graceful shutdown).
    async fn remove_instance(&self, id: &str) -> Result<()>;
}
