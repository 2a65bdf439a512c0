//! dynsec's use cases: authenticate callers, manage targets and dynamic secrets,
//! issue credentials as leases, and revoke them — on request, at expiry, and
//! after a crash.
//!
//! The engine owns the invariants (see ARCHITECTURE.md): a durable intent before
//! any IAM user exists, revoked only after AWS confirms, the store as the reaper's
//! truth, ciphertext only in the store. It knows nothing of HTTP or JSON; callers
//! map [`EngineError`] to their own error shapes.

mod access;
mod auth;
#[cfg(test)]
mod auth_limiter_tests;
mod authz;
mod aws_clients;
mod aws_port;
mod aws_sdk;
mod claims;
mod clock;
mod connection;
mod duty;
mod early_revocation;
#[cfg(test)]
mod early_revocation_tests;
mod error;
#[cfg(test)]
mod fake_aws;
mod housekeeping;
mod incident;
mod introspection;
#[cfg(test)]
mod issuance_tests;
mod issue;
mod items;
mod key_sync;
mod keys;
mod leases;
#[cfg(test)]
mod listing_tests;
#[cfg(test)]
mod orphan_sweep_tests;
mod paging;
mod password;
mod producers;
mod reaper;
#[cfg(test)]
mod revocation_tests;
mod rotation;
#[cfg(test)]
mod rotation_tests;
mod targets;
mod telemetry;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use access::{AuthMethodInput, AuthMethodView, NewAuthMethod, RoleView};
pub use auth::{AuthAttempt, Caller, IssuedToken, NewAdminKey};
pub use authz::{Needs, On, Rule, UseCase};
pub use duty::{Duty, DutyHealth, Health};
pub use early_revocation::DENY_WRITTEN;
pub use error::EngineError;
pub use housekeeping::Housekeeper;
pub use incident::{LeasePage, RevokeReport};
pub use introspection::TokenStatus;
pub use issue::{IssuedValue, ReadyReport};
pub use items::{ItemListing, ItemQuery, ItemView};
pub use keys::{
    CustomerFragments, MasterKeyCustody, ProtectionKeyInput, ProtectionKeyView, RotationReport,
};
pub use leases::{RevokeAll, TMP_CREDS_MAX};
pub use paging::{Paged, DEFAULT_PAGE_SIZE, PAGE_TOKEN_FIELD};
pub use producers::{ProducerInput, ProducerTargetInput, ProducerView};
pub use reaper::Reaper;
pub use rotation::{AdminKeyRotation, RotationSchedule};
pub use targets::{
    HostIdentityInput, TargetDetails, TargetInput, TargetView, TARGET_ASSOCS_LISTED,
};
pub use telemetry::{EngineMetrics, LEASE_GAUGE_TTL};

use dynsec_core::ProducerSettings;
use dynsec_crypto::Sealer;
use dynsec_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Settings the engine needs, built once by the binary.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Lifetime of an auth token.
    pub token_ttl: Duration,
    /// IAM path under which temporary users are created (`/dynsec/`).
    pub iam_path: String,
    /// Value of the `dynsec:managed-by` tag on every IAM user we create.
    pub managed_by: String,
    /// SDK attempts per AWS call while issuing (bounded: the caller is waiting).
    pub issue_max_attempts: u32,
    /// How many leases the reaper revokes at once.
    pub reaper_concurrency: usize,
    /// Longest wait between two revocation attempts of a failing lease.
    pub max_retry_backoff: Duration,
    /// Stable identity of this machine/data dir. Intents written by an earlier
    /// process with the same node id are known orphans at once.
    pub node_id: String,
    /// How often this process records that it is alive.
    pub heartbeat_interval: Duration,
    /// How often IAM is scanned for users no live lease claims.
    pub orphan_sweep_interval: Duration,
    /// Longest wait before answering `auth` for an access id that failed
    /// repeatedly from the same address (`auth.rs`); zero: never wait.
    pub auth_max_delay: Duration,
    /// Entries per listing answer unless a request asks otherwise
    /// (`list-items`, `list-targets`, ...; at most `dynsec_store::MAX_PAGE_SIZE`).
    pub list_page_size: u32,
    /// How long revoked leases are kept (for listings and audit
    /// correlation) before the housekeeper purges them.
    pub lease_retention: Duration,
    /// How often the housekeeper looks for admin keys due for scheduled
    /// rotation and rotations a stopped gateway left half-way.
    pub admin_rotation_check_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(60 * 60),
            iam_path: "/dynsec/".into(),
            managed_by: "dynsec".into(),
            issue_max_attempts: 3,
            reaper_concurrency: 8,
            max_retry_backoff: Duration::from_secs(300),
            node_id: "node".into(),
            heartbeat_interval: Duration::from_secs(5),
            orphan_sweep_interval: Duration::from_secs(600),
            auth_max_delay: Duration::from_secs(8),
            list_page_size: paging::DEFAULT_PAGE_SIZE,
            lease_retention: Duration::from_secs(
                u64::from(dynsec_core::lease::DEFAULT_REVOKED_RETENTION_DAYS) * 86_400,
            ),
            admin_rotation_check_interval: Duration::from_secs(300),
        }
    }
}

/// The gateway's use cases. Cheap to clone (everything behind `Arc`).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    sealer: Sealer,
    config: EngineConfig,
    /// This process's identity, written into the intents it owns.
    instance_id: String,
    /// Woken when a lease with an earlier due time appears.
    reaper_wake: Notify,
    /// Master-key custody, customer fragments, the rotation lock.
    keys: keys::KeyState,
    /// Set when a lease's new state could not be written (`leases.rs::record`);
    /// the reaper takes it and pauses, so the store gets time to recover.
    lease_record_failed: std::sync::atomic::AtomicBool,
    /// AWS account of the admin connections seen last, keyed by credentials
    /// and endpoints (see `leases.rs::account_reached`); at most
    /// [`aws_clients::MAX_CACHED_CONNECTIONS`], least recently used evicted.
    admin_accounts: std::sync::Mutex<hashlink::LruCache<String, String>>,
    /// AWS, through the engine's port (`aws_port.rs`): the SDK adapter in
    /// the gateway, the in-memory fake in unit tests.
    aws: Arc<dyn aws_port::AwsPort>,
    /// Where every wall-clock time the engine reads comes from (`clock.rs`).
    clock: Arc<dyn clock::Clock>,
    /// The supervised duties' liveness and the store's writability.
    health: duty::HealthState,
    /// What `/metrics` shows of the use cases (`telemetry.rs`).
    metrics: telemetry::EngineMetrics,
}

impl Engine {
    /// The engine over `store`, reaching AWS through the AWS SDK and reading
    /// the system's clock.
    pub fn new(store: Arc<dyn Store>, sealer: Sealer, config: EngineConfig) -> Self {
        Self::with_seams(
            store,
            sealer,
            config,
            Arc::new(aws_sdk::SdkAws::shared()),
            Arc::new(clock::SystemClock),
        )
    }

    /// The engine over its AWS port and clock of choice.
    pub(crate) fn with_seams(
        store: Arc<dyn Store>,
        sealer: Sealer,
        config: EngineConfig,
        aws: Arc<dyn aws_port::AwsPort>,
        clock: Arc<dyn clock::Clock>,
    ) -> Self {
        // `<node>.<epoch>`: the node part survives restarts, the epoch doesn't.
        let instance_id = format!("{}.{}", config.node_id, dynsec_crypto::random_id(8));
        Self {
            inner: Arc::new(Inner {
                store,
                sealer,
                config,
                instance_id,
                reaper_wake: Notify::new(),
                admin_accounts: std::sync::Mutex::new(hashlink::LruCache::new(
                    aws_clients::MAX_CACHED_CONNECTIONS,
                )),
                aws,
                clock,
                keys: keys::KeyState::default(),
                lease_record_failed: Default::default(),
                health: Default::default(),
                metrics: Default::default(),
            }),
        }
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The time now, by the engine's clock.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// The IAM path a dynamic secret creates users under: its own, or the
    /// gateway's when it sets none. Issuance and the orphan sweep must agree
    /// on it, or the sweep would look for leftovers in the wrong place.
    fn iam_path_of<'a>(&'a self, settings: &'a ProducerSettings) -> &'a str {
        if settings.iam_path.is_empty() {
            &self.config().iam_path
        } else {
            &settings.iam_path
        }
    }
}
