//! What gateways sharing one store coordinate through: which instances are
//! alive (and which master keys they hold), duties that one gateway at a time
//! performs (the orphan sweep, a master-key rotation), short exclusive
//! locks (a role's revoked-sessions policy), and failed
//! authentications, so rate limits hold across every gateway.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A gateway process as it last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// `<node id>.<epoch>`.
    pub id: String,
    pub heartbeat_at: DateTime<Utc>,
    /// Fingerprints of the master keys the instance holds, current first.
    pub master_keys: Vec<String>,
}

/// Recent failed authentications of one limiter key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCount {
    pub count: u64,
    /// The oldest failure counted.
    pub oldest: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ClusterStore: Send + Sync {
    // --- Gateway instances -----------------------------------------------------
    /// Records that an instance is alive (inserting or replacing its row).
    async fn heartbeat(&self, instance: &InstanceRecord) -> Result<()>;
    /// When instance `id` last reported, if ever.
    async fn instance_heartbeat(&self, id: &str) -> Result<Option<DateTime<Utc>>>;
    /// Every instance that reported at or after `since`.
    async fn instances_since(&self, since: DateTime<Utc>) -> Result<Vec<InstanceRecord>>;
    /// Forgets instance `id` (graceful shutdown).
    async fn remove_instance(&self, id: &str) -> Result<()>;

    // --- Duties ----------------------------------------------------------------
    /// Makes `holder` the holder of duty `name` until `until`, if nobody else
    /// holds it at `now` (free, lapsed, or already `holder`'s): one statement,
    /// so of several gateways trying at once exactly one succeeds. Returns
    /// whether `holder` holds it now.
    async fn try_hold_duty(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Gives duty `name` up, if `holder` holds it.
    async fn release_duty(&self, name: &str, holder: &str) -> Result<()>;

    // --- Locks -----------------------------------------------------------------
    /// Takes lock `name` for `holder` until `until`, if it is free or lapsed
    /// at `now`: one statement, so of several takers exactly one succeeds.
    /// Unlike a duty it is not re-entrant: while it holds, every attempt
    /// fails, `holder`'s own included, so give each acquisition its own
    /// holder token. Serialises work outside the store (a role's
    /// read-modify-written inline policy) across gateways; the lapse frees
    /// it from a holder that crashed.
    async fn try_lock(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Frees lock `name` if `holder` holds it; returns whether it did (false:
    /// it had lapsed and someone else took it, or it was never held).
    async fn unlock(&self, name: &str, holder: &str) -> Result<bool>;

    // --- Failed authentications ----------------------------------------------------
    /// Records one failed authentication at `at` under each limiter key.
    async fn record_auth_failure(&self, keys: &[String], at: DateTime<Utc>) -> Result<()>;
    /// Failures of `key` at or after `since`.
    async fn auth_failures_since(&self, key: &str, since: DateTime<Utc>) -> Result<FailureCount>;
    /// Forgets failures before `before`; returns how many.
    async fn purge_auth_failures(&self, before: DateTime<Utc>) -> Result<u64>;
}
