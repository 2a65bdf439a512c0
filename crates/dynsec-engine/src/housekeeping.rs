//! Background duties besides expiry: prove this process is alive, roll back
//! intents of dead processes, and sweep IAM for users no live lease claims.
//!
//! With several gateways on one store: a gateway silent for three heartbeat
//! intervals is dead, and the first live one to notice takes its work over
//! (one store statement per dead gateway, so exactly one does); each
//! orphan-sweep pass is a duty held in the store, so one gateway runs it.

use crate::connection::AdminConnection;
use crate::telemetry::SweepOutcome;
use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::iam_names::{EXPIRES_AT_TAG, LEASE_ID_TAG, MANAGED_BY_TAG};
use dynsec_core::LeaseState;
use dynsec_store::{ConnectionOwner, InstanceRecord};
use rand::seq::SliceRandom;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// An issuance of this process still pending after this long has outlived
/// every AWS retry and timeout; its intent is rolled back (and the issuance,
/// should it ever finish, finds it taken over and hands nothing out).
const ABANDONED_INTENT_AFTER_SECS: i64 = 600;
/// An instance silent for this many heartbeat intervals is taken for dead.
const STALE_HEARTBEATS: u32 = 3;
/// At most this many users are torn down per sweep (rate limit on AWS calls).
const SWEEP_MAX_TEARDOWNS: usize = 100;
/// A sweep pass gives up after this many failed teardowns: AWS refusing
/// them (a policy denying DeleteUser, throttling) must not cost a teardown's
/// dozen calls for every orphan in every pass, beside the gateway's issuances.
const SWEEP_MAX_FAILURES: usize = 10;
/// The first sweep runs this long after start, once the gateway has settled.
const FIRST_SWEEP_DELAY: Duration = Duration::from_secs(10);
/// The store duty whose holder runs the current orphan-sweep pass.
const SWEEP_DUTY: &str = "orphan-sweep";
/// How often a sweep in progress renews its duty.
const SWEEP_RENEW_EVERY: Duration = Duration::from_secs(30);
/// Connections read per store page while the sweep gathers its scopes.
const SWEEP_CONNECTIONS_PAGE: u32 = 100;
/// How often revoked leases past retention are purged.
const RETENTION_PURGE_EVERY: Duration = Duration::from_secs(60);
/// Leases deleted per store statement while purging (bounded, so one
/// statement never holds the store for long).
const RETENTION_PURGE_BATCH: u32 = 1000;
/// Batches per purge pass at most; a bigger backlog drains over the next
/// passes.
const RETENTION_PURGE_BATCHES_PER_PASS: u32 = 20;
/// The store duty whose holder runs the current admin-rotation pass.
const ROTATION_DUTY: &str = "admin-rotation";
/// The first admin-rotation pass runs this long after start: soon, so a
/// rotation the previous process left half-way is finished at once.
const FIRST_ROTATION_PASS_DELAY: Duration = Duration::from_secs(1);

/// Runs the heartbeat, intent recovery and orphan sweep loops.
pub struct Housekeeper;

impl Housekeeper {
    /// Runs until `shutdown` resolves, then stops the sweep, retention and
    /// rotation tasks, waits for them, and deregisters this instance last
    /// (so no other gateway takes its work over while any of it runs).
    pub async fn run(engine: Engine, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let config = engine.config().clone();
        let mut beat = tokio::time::interval(config.heartbeat_interval);
        // The sweep gets a task of its own: a long one (many users, a slow or
        // unreachable AWS endpoint) must not hold up heartbeats, or other
        // gateways would take this one for dead and roll back its intents.
        let stop_tasks = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(sweep_loop(engine.clone(), stop_tasks.clone()));
        // Retention purges on its own task too, for the same reason.
        tasks.spawn(retention_loop(engine.clone(), stop_tasks.clone()));
        // Rotations wait for AWS (the ready-wait): a task of their own too.
        tasks.spawn(rotation_loop(engine.clone(), stop_tasks.clone()));
        tasks.close();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = beat.tick() => {
                    // One heartbeat is one unit of work: a panic in it (or
                    // in the recovery it runs) waits for the next beat.
                    if let Err(error) = crate::duty::unit_of_work("heartbeat", engine.heartbeat_duties()).await {
                        warn!(%error, "heartbeat failed");
                    }
                }
            }
        }
        // Each loop drops a pass in progress at the stop (what it leaves is
        // picked up by a later pass: see each loop), so this wait is short.
        stop_tasks.cancel();
        tasks.wait().await;
        if let Err(err) = engine.store().remove_instance(engine.instance_id()).await {
            warn!(error = %err, "cannot deregister instance");
        }
    }
}

/// Sweeps every `orphan_sweep_interval` until `stop` is cancelled; a sweep in
/// progress is abandoned then (what it left is picked up by the next start's
/// sweeps: the users keep their tags until they are deleted).
async fn sweep_loop(engine: Engine, stop: CancellationToken) {
    let interval = engine.config().orphan_sweep_interval;
    let first_sweep = tokio::time::Instant::now() + FIRST_SWEEP_DELAY.min(interval);
    let mut sweep = tokio::time::interval_at(first_sweep, interval);
    let sweeps = async {
        loop {
            sweep.tick().await;
            match crate::duty::unit_of_work("orphan sweep", engine.sweep_pass(interval)).await {
                Ok(Ok(Some(0) | None)) => {}
                Ok(Ok(Some(n))) => {
                    info!(users = n, "orphan sweep removed IAM users no lease claims")
                }
                Ok(Err(err)) => warn!(error = %err, "orphan sweep failed"),
                Err(error) => warn!(%error, "orphan sweep failed"),
            }
        }
    };
    tokio::select! {
        () = stop.cancelled() => {}
        () = sweeps => {}
    }
}

/// Purges revoked leases past retention every [`RETENTION_PURGE_EVERY`]
/// until `stop` is cancelled. Each pass is a unit of work: a failing batch
/// (or a panic) ends that pass only, logged; the next pass starts over from
/// the retention index, so nothing is skipped.
async fn retention_loop(engine: Engine, stop: CancellationToken) {
    let mut every = tokio::time::interval(RETENTION_PURGE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let passes = async {
        loop {
            every.tick().await;
            match crate::duty::unit_of_work(
                "lease retention",
                engine.purge_retained_leases(engine.now()),
            )
            .await
            {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => info!(leases = n, "purged revoked leases past retention"),
                Ok(Err(err)) => warn!(error = %err, "lease retention purge failed"),
                Err(error) => warn!(%error, "lease retention purge failed"),
            }
        }
    };
    tokio::select! {
        () = stop.cancelled() => {}
        () = passes => {}
    }
}

/// Runs an admin-rotation pass every `admin_rotation_check_interval` (one
/// gateway of a cluster per pass: the holder of the `admin-rotation` duty)
/// until `stop` is cancelled. A rotation interrupted by the stop is finished
/// by the next start's first pass.
async fn rotation_loop(engine: Engine, stop: CancellationToken) {
    let interval = engine.config().admin_rotation_check_interval;
    let first = tokio::time::Instant::now() + FIRST_ROTATION_PASS_DELAY.min(interval);
    let mut ticks = tokio::time::interval_at(first, interval);
    let passes = async {
        loop {
            ticks.tick().await;
            let pass = engine.rotation_pass_if_holder(interval);
            match crate::duty::unit_of_work("admin-rotation pass", pass).await {
                Ok(Ok(Some(0) | None)) => {}
                Ok(Ok(Some(n))) => {
                    info!(connections = n, "admin-rotation pass changed connections")
                }
                Ok(Err(err)) => warn!(error = %err, "admin-rotation pass failed"),
                Err(error) => warn!(%error, "admin-rotation pass failed"),
            }
        }
    };
    tokio::select! {
        () = stop.cancelled() => {}
        () = passes => {}
    }
}

impl Engine {
    /// One retention pass at `now`: deletes revoked leases retained since
    /// before `now - lease_retention` (see `dynsec_core::Lease::retained_since`),
    /// in batches of [`RETENTION_PURGE_BATCH`] from the store's retention
    /// index, at most [`RETENTION_PURGE_BATCHES_PER_PASS`] of them. Live
    /// leases are never touched. Returns how many were deleted.
    pub async fn purge_retained_leases(&self, now: DateTime<Utc>) -> Result<u64, EngineError> {
        let Some(older_than) = chrono::Duration::from_std(self.config().lease_retention)
            .ok()
            .and_then(|retention| now.checked_sub_signed(retention))
        else {
            // A retention reaching before the calendar: nothing is old enough.
            return Ok(0);
        };
        let mut purged = 0;
        for _ in 0..RETENTION_PURGE_BATCHES_PER_PASS {
            let batch = self
                .store()
                .purge_revoked_leases(older_than, RETENTION_PURGE_BATCH)
                .await?;
            purged += batch;
            if batch < u64::from(RETENTION_PURGE_BATCH) {
                break;
            }
        }
        Ok(purged)
    }

    /// Runs one admin-rotation pass if this gateway gets the duty for the
    /// next `interval`; `None` when another gateway has it.
    async fn rotation_pass_if_holder(
        &self,
        interval: Duration,
    ) -> Result<Option<usize>, EngineError> {
        let now = self.now();
        let until = now + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        if !self
            .store()
            .try_hold_duty(ROTATION_DUTY, self.instance_id(), now, until)
            .await?
        {
            return Ok(None);
        }
        // Boxed: a pass's future (SDK calls, the ready-wait) is large.
        Box::pin(self.admin_rotation_pass()).await.map(Some)
    }

    /// One heartbeat: record that this instance is alive (and which master
    /// keys it holds), pick up a master key rotated through another gateway,
    /// take over dead gateways' work, and forget stale failed logins. Each
    /// part fails alone, logged, and is tried again at the next beat.
    async fn heartbeat_duties(&self) {
        // Also tells whether the store takes writes, for `Engine::health`.
        match self.heartbeat().await {
            Ok(()) => self.inner.health.store_write_succeeded(),
            Err(err) => {
                warn!(error = %err, "cannot record heartbeat");
                self.inner
                    .health
                    .store_write_failed(format!("cannot record the heartbeat: {err}"));
            }
        }
        if let Err(err) = self.sync_master_keys().await {
            warn!(error = %err, "cannot pick up master keys rotated elsewhere");
        }
        match self.recover_intents().await {
            Ok(0) => {}
            Ok(n) => info!(leases = n, "took over the work of stopped gateways"),
            Err(err) => warn!(error = %err, "cannot recover intents"),
        }
        if let Err(err) = self.retire_key_handovers().await {
            warn!(error = %err, "cannot retire master-key handovers");
        }
        if let Err(err) = self.purge_auth_failures().await {
            warn!(error = %err, "cannot purge failed authentications");
        }
    }

    /// Records that this instance is alive, with the master keys it holds
    /// durably.
    pub async fn heartbeat(&self) -> Result<(), EngineError> {
        let instance = InstanceRecord {
            id: self.instance_id().to_string(),
            heartbeat_at: self.now(),
            master_keys: self.durable_master_keys(),
        };
        Ok(self.store().heartbeat(&instance).await?)
    }

    /// Refuses a store that does not take writes (read-only files, a full
    /// disk): a gateway on one would answer every `auth` with 500 while
    /// leases go unrevoked. Writes this instance's first heartbeat, so no
    /// other gateway on the store can take this one's first intents for a
    /// dead process's.
    pub async fn check_store_writable(&self) -> Result<(), EngineError> {
        self.heartbeat().await.map_err(|err| {
            EngineError::Internal(format!("the store does not accept writes: {err}"))
        })
    }

    /// Turns work left by dead gateway processes into due revocations: their
    /// pending intents (the reaper then tears down whatever they created),
    /// and the revocations they had claimed (released at once, not when the
    /// claim would have lapsed). A process is dead when it is an earlier
    /// process of this node, or silent for too long. Each take-over is one
    /// store statement: of several gateways noticing, one gets the leases.
    pub async fn recover_intents(&self) -> Result<usize, EngineError> {
        let abandoned_before = self.now() - chrono::Duration::seconds(ABANDONED_INTENT_AFTER_SECS);
        let claimed = self.store().claimed_leases().await?;
        let owners: BTreeSet<&str> = claimed
            .iter()
            .map(|l| l.owner.as_str())
            .filter(|owner| *owner != self.instance_id())
            .collect();
        let mut taken = Vec::new();
        for owner in owners {
            if self.is_dead(owner).await? {
                taken.extend(
                    self.store()
                        .take_over_claims(
                            owner,
                            self.instance_id(),
                            self.now(),
                            "issuance interrupted: its gateway stopped",
                            None,
                        )
                        .await?,
                );
            }
        }
        // Our own issuances finish (or roll back) by themselves — unless one
        // stalled past any retry budget (e.g. the store failed while it
        // ended): its intent is taken over like a dead process's.
        let stalled = claimed.iter().any(|l| {
            l.owner == self.instance_id()
                && l.state == LeaseState::Pending
                && l.created_at < abandoned_before
        });
        if stalled {
            taken.extend(
                self.store()
                    .take_over_claims(
                        self.instance_id(),
                        self.instance_id(),
                        self.now(),
                        "issuance stalled past every retry; rolled back",
                        Some(abandoned_before),
                    )
                    .await?,
            );
        }
        for lease in &taken {
            if lease
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("issuance"))
            {
                info!(lease = %lease.id, user = %lease.principal, "rolling back intent of a stopped gateway");
            } else {
                info!(lease = %lease.id, user = %lease.principal, "resuming a revocation a stopped gateway had claimed");
            }
        }
        if !taken.is_empty() {
            self.wake_reaper();
        }
        Ok(taken.len())
    }

    /// Runs one orphan-sweep pass if this gateway gets the sweep duty (no
    /// other gateway swept within `interval`); `None` when another has it.
    async fn sweep_pass(&self, interval: Duration) -> Result<Option<usize>, EngineError> {
        let hold = |now: DateTime<Utc>| {
            let until = now + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
            self.store()
                .try_hold_duty(SWEEP_DUTY, self.instance_id(), now, until)
        };
        if !hold(self.now()).await? {
            return Ok(None);
        }
        // Renewed while it runs, so a long pass is never run twice at once;
        // not released after: the next pass is due an interval later.
        let renewals = async {
            let mut every = tokio::time::interval(SWEEP_RENEW_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(err) = hold(self.now()).await {
                    warn!(error = %err, "cannot renew the orphan-sweep duty");
                }
            }
        };
        // Boxed: a sweep's future (AWS SDK listings and teardowns) is large.
        tokio::select! {
            removed = Box::pin(self.sweep_orphans()) => removed.map(Some),
            () = renewals => Ok(None),
        }
    }

    /// How long an instance may stay silent before it counts as dead.
    pub(crate) fn stale_after(&self) -> Duration {
        self.config().heartbeat_interval * STALE_HEARTBEATS
    }

    pub(crate) async fn is_dead(&self, owner: &str) -> Result<bool, EngineError> {
        let my_node = &self.config().node_id;
        if owner.rsplit_once('.').map(|(node, _)| node) == Some(my_node.as_str()) {
            // Only one process per node (the data dir is locked), and it's us.
            return Ok(true);
        }
        let stale_after = self.stale_after();
        Ok(match self.store().instance_heartbeat(owner).await? {
            None => true,
            Some(at) => (self.now() - at)
                .to_std()
                .is_ok_and(|silence| silence > stale_after),
        })
    }

    /// Scans IAM, through every connection the gateway knows, for temporary
    /// users it created (path, `dynsec:managed-by` and `dynsec:lease-id` tags) whose
    /// expiry tag has passed and that no live lease claims; tears them down.
    /// Protects against a lost or restored-from-backup database.
    pub async fn sweep_orphans(&self) -> Result<usize, EngineError> {
        let (mut removed, mut failed) = (0, 0);
        for (conn, path) in self.sweep_scopes().await? {
            let aws = self.admin_of(&conn, 3).await;
            let listing = aws.list_users_with_tags(&path);
            // A panic is a failure like an error: this connection waits for the next pass.
            let listed = crate::duty::unit_of_work("orphan sweep listing", listing)
                .await
                .and_then(|listed| listed.map_err(|err| err.to_string()));
            let mut users = match listed {
                Ok(users) => users,
                Err(error) => {
                    warn!(%error, region = %conn.region(), "orphan sweep cannot list users");
                    self.metrics().orphan_sweep(SweepOutcome::ListingFailed);
                    continue;
                }
            };
            // In a new order every pass, so that users that cannot be torn
            // down (and the failure limit) do not keep the others waiting.
            users.shuffle(&mut rand::thread_rng());
            for user in users {
                if removed >= SWEEP_MAX_TEARDOWNS || failed >= SWEEP_MAX_FAILURES {
                    return Ok(removed);
                }
                if !self.is_orphan(&user).await? {
                    continue;
                }
                // One teardown is one unit of work: a panic skips this user.
                let teardown = aws.teardown_user(&user.user_name);
                let torn_down = crate::duty::unit_of_work("orphan sweep teardown", teardown)
                    .await
                    .and_then(|done| done.map_err(|err| err.to_string()));
                match torn_down {
                    Ok(()) => {
                        info!(user = %user.user_name, "orphan sweep removed an expired IAM user no lease claims");
                        self.metrics().orphan_sweep(SweepOutcome::Removed);
                        removed += 1;
                    }
                    Err(error) => {
                        warn!(user = %user.user_name, %error, "orphan sweep teardown failed; the next pass retries it");
                        self.metrics().orphan_sweep(SweepOutcome::TeardownFailed);
                        failed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }

    async fn is_orphan(&self, user: &dynsec_aws::UserWithTags) -> Result<bool, EngineError> {
        let tag = |key: &str| {
            user.tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        // Ours by dynsec's tags alone (set in the CreateUser call itself, so
        // never missing on a user we created): names follow each secret's
        // `custom-username-template`, so they prove nothing.
        if tag(MANAGED_BY_TAG) != Some(self.config().managed_by.as_str())
            || tag(LEASE_ID_TAG).is_none()
        {
            return Ok(false); // Not ours: never touched.
        }
        let expired = tag(EXPIRES_AT_TAG)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|at| at.with_timezone(&Utc) < self.now());
        if !expired {
            return Ok(false);
        }
        let claimed =
            match tag(LEASE_ID_TAG) {
                Some(id) => self.store().lease(id).await?.is_some_and(|lease| {
                    lease.state.is_live() && lease.principal == user.user_name
                }),
                None => false,
            };
        Ok(!claimed)
    }

    /// Every distinct (connection, IAM path) the gateway may have created users
    /// with: each dynamic secret's, and each target's under the default path
    /// (so re-registering a target after losing the database is enough).
    async fn sweep_scopes(&self) -> Result<Vec<(AdminConnection, String)>, EngineError> {
        let mut seen = BTreeSet::new();
        let mut scopes = Vec::new();
        let mut add = |conn: AdminConnection, path: String| {
            let key = (conn.identity_key(), path.clone());
            if seen.insert(key) {
                scopes.push((conn, path));
            }
        };
        // Page by page from the store's list of distinct connections in use
        // (each with the IAM paths used through it): no dynamic secret is
        // loaded, however many share a connection.
        let default_path = self.config().iam_path.clone();
        let mut after = None;
        loop {
            let page = self
                .store()
                .connections_in_use(after.as_ref(), SWEEP_CONNECTIONS_PAGE)
                .await?;
            for used in &page.items {
                let conn = match self.connection_in_use(used).await {
                    Ok(conn) => conn,
                    Err(err) => {
                        warn!(owner = ?used.owner, error = %err, "orphan sweep skips a connection");
                        continue;
                    }
                };
                let mut paths: BTreeSet<String> = used
                    .iam_paths
                    .iter()
                    .map(|p| {
                        if p.is_empty() {
                            default_path.clone()
                        } else {
                            p.clone()
                        }
                    })
                    .collect();
                if matches!(used.owner, ConnectionOwner::Target { .. }) {
                    paths.insert(default_path.clone());
                }
                for path in paths {
                    add(conn.clone(), path);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(scopes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::test_support::admin;
    use crate::EngineConfig;
    use dynsec_store::{SqliteStore, Store};
    use std::sync::Arc;

    #[tokio::test]
    async fn of_two_gateways_on_one_store_one_runs_each_sweep_pass() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let config = |node: &str| EngineConfig {
            node_id: node.into(),
            ..EngineConfig::default()
        };
        // One master key for both, as a cluster's gateways share it.
        let ring = dynsec_crypto::Keyring::new(dynsec_crypto::MasterKey::generate());
        let gateway = |node: &str| {
            crate::Engine::new(
                store.clone(),
                dynsec_crypto::Sealer::with_keyring(ring.clone()),
                config(node),
            )
        };
        let (a, b) = (gateway("node-a"), gateway("node-b"));
        a.prepare_master_key().await.unwrap();
        b.prepare_master_key().await.unwrap();
        let interval = Duration::from_millis(300);
        assert_eq!(a.sweep_pass(interval).await.unwrap(), Some(0));
        assert_eq!(b.sweep_pass(interval).await.unwrap(), None, "A's pass");
        tokio::time::sleep(interval).await;
        assert_eq!(
            b.sweep_pass(interval).await.unwrap(),
            Some(0),
            "the next pass, B's"
        );
        assert_eq!(a.sweep_pass(interval).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_sweep_neither_delays_heartbeats_nor_shutdown() {
        let config = EngineConfig {
            heartbeat_interval: Duration::from_millis(50),
            orphan_sweep_interval: Duration::from_millis(10),
            ..EngineConfig::default()
        };
        let (engine, store, aws) = crate::test_support::fake_engine_with(config).await;
        let conn = aws.add_admin("111111111111", "dynsec-admin");
        engine
            .create_target(
                &admin(),
                crate::test_support::target_input("/aws/silent", conn),
            )
            .await
            .unwrap();
        // IAM takes the sweep's listing and never answers it.
        let listing = aws.hold("ListUsers");

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let housekeeper = tokio::spawn(Housekeeper::run(engine.clone(), async move {
            let _ = stopped.await;
        }));
        // The sweep starts after its interval: move time until it lists.
        let reached = listing.reached();
        tokio::pin!(reached);
        let mut listing_reached = false;
        for _ in 0..1_000 {
            tokio::select! {
                biased;
                () = &mut reached => {
                    listing_reached = true;
                    break;
                }
                () = tokio::task::yield_now() => {
                    tokio::time::advance(Duration::from_millis(10)).await;
                    // Real time for the store's worker thread to answer.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        assert!(listing_reached, "the sweep lists the target's users");
        // A second of the engine's time with the sweep hanging: the
        // heartbeat keeps beating.
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        let beaten_since = engine.now() - chrono::Duration::milliseconds(200);
        let mut last_beat = None;
        // The beat due now runs on the store's worker thread: wait for it
        // (bounded, so a missing beat fails instead of hanging).
        for _ in 0..10_000 {
            last_beat = store
                .instance_heartbeat(engine.instance_id())
                .await
                .unwrap();
            if last_beat.is_some_and(|at| at >= beaten_since) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            last_beat.is_some_and(|at| at >= beaten_since),
            "last heartbeat {last_beat:?}, {:?} now: the sweep held heartbeats up",
            engine.now()
        );

        stop.send(()).unwrap();
        crate::test_support::advance_until_finished(
            &housekeeper,
            Duration::from_millis(100),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            housekeeper.is_finished(),
            "shutdown is not held up by the sweep in progress"
        );
        housekeeper.await.unwrap();
        assert_eq!(
            store
                .instance_heartbeat(engine.instance_id())
                .await
                .unwrap(),
            None,
            "deregistered on shutdown"
        );
    }
}
