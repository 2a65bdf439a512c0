//! Persistence for dynsec behind one async [`Store`] trait.
//!
//! The engine sees only the trait; the binary picks the implementation:
//! [`SqliteStore`], the embedded default (one gateway, one file), or
//! [`PostgresStore`], shared by any number of gateways. The trait speaks in
//! domain records; each implementation keeps its SQL dialect (and its own
//! migrations, `migrations/sqlite/` and `migrations/postgres/`) to itself.
//! Domain rules (when a lease is due, the lease state names) come from
//! `dynsec-core`, so both stores apply the same ones. Operations that
//! several gateways may attempt at once (claiming due leases, taking over a
//! dead gateway's work, holding a duty) are single statements.
//!
//! The store only ever receives ciphertext for secret material (sealed blobs) and
//! hashes for credentials. The contract every implementation meets is in
//! [`conformance`] (feature `conformance`), run against both.
//!
//! Listings are keyset pages ([`paging`]): items in a folder, targets and
//! dynamic secrets ([`ListingStore`]), auth methods and roles
//! ([`AccessStore`]), a dynamic secret's leases and the leases under a name
//! prefix ([`Store`]), each reading one index range in its own order. The
//! whole-table `list_*` methods remain for the callers not yet moved; their
//! docs name the paged method that replaces them.
//!
//! # What the engine calls, use case by use case
//!
//! - **Any paged listing**: parse the client's token with
//!   [`PageToken::parse`]`("pagination-token", raw)` for the listing about to
//!   be called (a bad token is then the client's `ValidationError`), pass a
//!   page size (cut to [`MAX_PAGE_SIZE`]), hand `page.next`'s
//!   [`PageToken::encode`] back as `next_page`. Filter the page by the
//!   caller's `list` right; to fill an answer, ask for the next page.
//! - `list-items`: [`ListingStore::items_in_folder`] with the normalized
//!   folder, the `type`s as [`ItemKinds`] and `filter`. A sub-folder comes
//!   as [`FolderEntry::Folder`]; whether the caller may see it is the
//!   engine's rule (today: it holds an item the caller may list).
//! - `list-targets`: [`ListingStore::targets_page`], then
//!   [`ListingStore::dynamic_secrets_of_targets`] for the page's
//!   `target_items_assoc` (capped per target). `dynamic-secret-list`:
//!   [`ListingStore::dynamic_secrets_page`] (the target's summary is joined
//!   in: no lookup per secret). `auth-method-list`:
//!   [`AccessStore::auth_methods_page`] with [`AccessStore::assocs_of_access_ids`];
//!   `list-roles`: [`AccessStore::roles_page`] with [`AccessStore::rules_of_roles`]
//!   and [`AccessStore::assocs_of_roles`]; finding an association:
//!   [`AccessStore::assoc`].
//! - tmp-creds listing: [`Store::leases_of_secret`] with [`LeaseScope::Live`]
//!   and a default cap; `revoke-all` walks the same pages (revoking a lease
//!   does not move the cursor). `list-leases`/`revoke-leases` by path:
//!   [`Store::leases_under_prefix`] with the path itself (so the secret of
//!   that name is included; `dynsec_engine`'s `incident.rs` drops the
//!   `/production` leases a `/prod` prefix also reads), `""` for `/`.
//! - Orphan sweep: [`ListingStore::connections_in_use`], page by page, each
//!   connection with its IAM paths (`""`: the gateway's default path).
//! - Issuance: once the user and everything on it exist, set
//!   `lease.created` (what `dynsec_aws`'s `create_user` returned) with
//!   the lease going `Active` (`update_lease_if(.., Pending)`); revocation
//!   then passes it to `teardown_created` (`None`: discovery teardown).
//!   Marking a lease revoked: set `lease.revoked_at`.
//! - Housekeeper: [`Store::purge_revoked_leases`]`(now - retention, 1000)`
//!   until it returns less than the batch (default retention
//!   `dynsec_core::lease::DEFAULT_REVOKED_RETENTION_DAYS`).

mod access;
mod cluster;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod folders;
mod keys;
mod listing;
pub mod paging;
mod postgres;
mod records;
mod rows;
pub mod schema;
mod sqlite;

pub use access::{AccessStore, AssocRecord, RoleRecord, RoleRule};
pub use cluster::{ClusterStore, FailureCount, InstanceRecord};
pub use error::{Result, StoreError};
pub use keys::{KeyHandover, KeyStore, ProtectionKeyRecord, SealedBlob, SealedKind};
pub use listing::{
    ConnectionInUse, ConnectionOwner, FolderEntry, ItemKinds, ListingStore, ProducerListing,
    ProducerRef, TargetSummary,
};
pub use paging::{Page, PageToken, MAX_PAGE_SIZE};
pub use postgres::PostgresStore;
pub use records::{
    ApiKeyRecord, ConnectionColumns, ConnectionSlot, ProducerRecord, TargetRecord, TokenRecord,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dynsec_core::{Lease, LeaseState};
use paging::listing::{LeasesOfSecret, LeasesUnderPrefix};

/// Which leases a lease listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseScope {
    /// Not yet revoked: pending, active, revoking or failed.
    Live,
    /// Revoked ones too (until purged by retention).
    All,
}

/// Everything dynsec persists.
#[async_trait]
pub trait Store:
    AccessStore + KeyStore + ClusterStore + ListingStore + Send + Sync + 'static
{
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
    /// Every target, by name. Deprecated for listings: use
    /// [`ListingStore::targets_page`] (and [`ListingStore::connections_in_use`]
    /// for the orphan sweep).
    async fn list_targets(&self) -> Result<Vec<TargetRecord>>;
    async fn delete_target(&self, id: i64) -> Result<()>;
    /// Replaces the connection in `slot` (a target's, or a dynamic secret's
    /// inline one: key id, region, endpoints, sealed secret, admin state)
    /// with `new` — only while the stored sealed secret and admin state still
    /// equal `expected`'s; returns whether it did. Admin-key rotation writes
    /// each of its steps through it, so a concurrent update, rotation or
    /// re-wrap makes the step fail instead of being overwritten. Leaves
    /// `modified_at` alone (a rotation is not an edit).
    async fn update_connection_if(
        &self,
        slot: ConnectionSlot,
        expected: &ConnectionColumns,
        new: &ConnectionColumns,
    ) -> Result<bool>;

    // --- Dynamic secrets (producers) -----------------------------------------
    async fn insert_producer(&self, producer: &ProducerRecord) -> Result<i64>;
    async fn update_producer(&self, producer: &ProducerRecord) -> Result<()>;
    async fn producer_by_name(&self, name: &str) -> Result<Option<ProducerRecord>>;
    async fn producer_by_id(&self, id: i64) -> Result<Option<ProducerRecord>>;
    /// Every dynamic secret, by name. Deprecated: use
    /// [`ListingStore::dynamic_secrets_page`], [`ListingStore::items_in_folder`]
    /// for folders, [`ListingStore::connections_in_use`] for the orphan sweep.
    async fn list_producers(&self) -> Result<Vec<ProducerRecord>>;
    /// The dynamic secrets using a target, by name (a forced deletion must see
    /// all of them). For a page of targets' associations use
    /// [`ListingStore::dynamic_secrets_of_targets`].
    async fn producers_using_target(&self, target_id: i64) -> Result<Vec<ProducerRecord>>;
    /// Deletes the dynamic secret unless one of its IAM-user leases is still
    /// live (an issuance may have written its intent meanwhile); returns
    /// whether it did.
    async fn delete_producer(&self, id: i64) -> Result<bool>;

    // --- Leases --------------------------------------------------------------
    /// Records a lease, including what issuance created (`lease.created`)
    /// when already known.
    async fn insert_lease(&self, lease: &Lease) -> Result<()>;
    /// Replaces every mutable field of the lease with `lease.id` (state,
    /// what issuance created, revocation time, ...). The engine records
    /// `created` here (with `update_lease_if(.., Pending)`) once CreateUser
    /// and the rest succeeded, and `revoked_at` when it marks a lease revoked.
    async fn update_lease(&self, lease: &Lease) -> Result<()>;
    /// Like `update_lease`, but only while the stored lease is still in state
    /// `expected`; returns whether it was written.
    async fn update_lease_if(&self, lease: &Lease, expected: LeaseState) -> Result<bool>;
    async fn lease(&self, id: &str) -> Result<Option<Lease>>;
    /// A dynamic secret's leases, newest first; revoked ones only if asked.
    /// Deprecated: use [`Store::leases_of_secret`], which pages (a busy
    /// secret may hold 100k live leases).
    async fn leases_of_producer(
        &self,
        producer_id: i64,
        include_revoked: bool,
    ) -> Result<Vec<Lease>>;
    /// One page of a dynamic secret's leases, newest first (creation time,
    /// then id): the live ones only, or all. Reads one index range of that
    /// secret (live leases have an index of their own, so retained revoked
    /// ones are never walked); the tmp-creds listing's store side.
    async fn leases_of_secret(
        &self,
        producer_id: i64,
        scope: LeaseScope,
        after: Option<&PageToken<LeasesOfSecret>>,
        limit: u32,
    ) -> Result<Page<Lease, LeasesOfSecret>>;
    /// One page of the leases of every dynamic secret whose *current* name
    /// starts with `name_prefix` (byte-wise; pass `/prod/` for a folder, a
    /// full name for one secret, `""` for all): grouped by secret (by
    /// internal id), newest first within each. `producer_name` in the page
    /// is the secret's current name. For `list-leases`/`revoke-leases` by
    /// path. Reads the page's leases from the per-secret index plus the ids
    /// of the secrets under the prefix (one name-index range).
    async fn leases_under_prefix(
        &self,
        name_prefix: &str,
        scope: LeaseScope,
        after: Option<&PageToken<LeasesUnderPrefix>>,
        limit: u32,
    ) -> Result<Page<Lease, LeasesUnderPrefix>>;
    /// Deletes at most `limit` revoked leases retained since before
    /// `older_than` (see `dynsec_core::Lease::retained_since`), oldest first,
    /// from the retention index; returns how many. Live leases are never
    /// touched. The housekeeper calls it in bounded batches (e.g. 1000 until
    /// it returns less) with `now - retention`.
    async fn purge_revoked_leases(&self, older_than: DateTime<Utc>, limit: u32) -> Result<u64>;
    /// Leases whose due time (expiry while active, next retry while revoking or
    /// failed) is at or before `now`, soonest first, at most `limit`.
    async fn due_leases(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Lease>>;
    /// The earliest due time of any lease, for the reaper to sleep until.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>>;
    /// How many leases are live in each state (pending, active, revoking,
    /// failed; never revoked ones), for the gateway's metrics. Two index
    /// reads: the due index and the pending one, never the retained revoked
    /// leases.
    async fn live_lease_counts(&self) -> Result<Vec<(LeaseState, u64)>>;
    /// Leases some gateway instance is working on: pending intents and
    /// revocations in progress.
    async fn claimed_leases(&self) -> Result<Vec<Lease>>;

    /// Claims up to `limit` leases due at `now` (soonest first) for
    /// `claimant`, in one statement: each becomes `revoking`, owned by
    /// `claimant`, with its next attempt (the claim's lapse) at
    /// `claim_until`. Gateways claiming at once never get the same lease.
    async fn claim_due_leases(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        claimant: &str,
        claim_until: DateTime<Utc>,
    ) -> Result<Vec<Lease>>;
    /// Claims lease `id` like [`Store::claim_due_leases`], due or not, unless
    /// it is pending, revoked, or claimed by a revoker (this one included)
    /// whose claim has not lapsed at `now`. Returns the claimed lease.
    async fn claim_lease(
        &self,
        id: &str,
        claimant: &str,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
    ) -> Result<Option<Lease>>;
    /// Extends `claimant`'s claim on lease `id` to `until`; false when the
    /// lease is no longer revoking under that claim.
    async fn renew_claim(&self, id: &str, claimant: &str, until: DateTime<Utc>) -> Result<bool>;
    /// Like `update_lease`, but only while the lease is still `revoking`
    /// under `claimant`'s claim; returns whether it was written.
    async fn update_claimed_lease(&self, lease: &Lease, claimant: &str) -> Result<bool>;
    /// Takes over, in one statement, what instance `owner` was working on:
    /// its pending intents (only those created before `intents_before`, when
    /// given; then its revocations are left alone) become revocations due at
    /// `now` with `reason` as last error, and its claimed revocations become
    /// due at `now`; all now belong to `claimant`. Returns them.
    async fn take_over_claims(
        &self,
        owner: &str,
        claimant: &str,
        now: DateTime<Utc>,
        reason: &str,
        intents_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<Lease>>;

    /// Removes superseded versions of rows (e.g. ciphertext wrapped by a
    /// retired master key) from the database's files, as far as the backend
    /// allows: SQLite checkpoints and truncates its write-ahead log (freed
    /// pages are zeroed), PostgreSQL vacuums the tables holding sealed blobs.
    async fn scrub_superseded(&self) -> Result<()>;
}
