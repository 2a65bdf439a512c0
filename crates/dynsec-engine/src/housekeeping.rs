//! Background duties besides expiry: prove this process is alive, roll back
//! intents of dead processes, and sweep IAM for users no live lease claims.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_aws::AwsAdmin;
use dynsec_core::{AwsConnection, LeaseState};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// An issuance of this process still pending after this long has outlived
/// every AWS retry and timeout; its intent is rolled back (and the issuance,
/// should it ever finish, finds it taken over and hands nothing out).
const ABANDONED_INTENT_AFTER_SECS: i64 = 600;
/// An instance silent for this many heartbeat intervals is taken for dead.
const STALE_HEARTBEATS: u32 = 3;
/// At most this many users are torn down per sweep (rate limit on AWS calls).
const SWEEP_MAX_TEARDOWNS: usize = 100;
/// The first sweep runs this long after start, once the gateway has settled.
const FIRST_SWEEP_DELAY: Duration = Duration::from_secs(10);

/// Runs the heartbeat, intent recovery and orphan sweep loops.
pub struct Housekeeper;

impl Housekeeper {
    /// Runs until `shutdown` resolves, then deregisters this instance.
    pub async fn run(engine: Engine, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let config = engine.config().clone();
        let mut beat = tokio::time::interval(config.heartbeat_interval);
        // The sweep gets a task of its own: a long one (many users, a slow or
        // unreachable AWS endpoint) must not hold up heartbeats, or other
        // gateways would take this one for dead and roll back its intents.
        let (stop_sweep, sweep_stopped) = watch::channel(false);
        let sweeper = tokio::spawn(sweep_loop(engine.clone(), sweep_stopped));
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = beat.tick() => {
                    // One heartbeat is one unit of work: a panic in it (or
                    // in the recovery it runs) waits for the next beat.
                    if let Err(error) = crate::duty::unit_of_work("heartbeat", engine.heartbeat()).await {
                        warn!(%error, "heartbeat failed");
                    }
                }
            }
        }
        // Fails only when the sweeper has already ended, which is fine.
        let _ = stop_sweep.send(true);
        if let Err(err) = sweeper.await {
            warn!(error = %err, "orphan sweep task failed");
        }
        if let Err(err) = engine.store().remove_instance(engine.instance_id()).await {
            warn!(error = %err, "cannot deregister instance");
        }
    }
}

/// Sweeps every `orphan_sweep_interval` until `stop` turns true; a sweep in
/// progress is abandoned then (what it left is picked up by the next start's
/// sweeps: the users keep their tags until they are deleted).
async fn sweep_loop(engine: Engine, mut stop: watch::Receiver<bool>) {
    let interval = engine.config().orphan_sweep_interval;
    let first_sweep = tokio::time::Instant::now() + FIRST_SWEEP_DELAY.min(interval);
    let mut sweep = tokio::time::interval_at(first_sweep, interval);
    let sweeps = async {
        loop {
            sweep.tick().await;
            match crate::duty::unit_of_work("orphan sweep", engine.sweep_orphans()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => info!(users = n, "orphan sweep removed IAM users no lease claims"),
                Ok(Err(err)) => warn!(error = %err, "orphan sweep failed"),
                Err(error) => warn!(%error, "orphan sweep failed"),
            }
        }
    };
    tokio::select! {
        // An error means the sender is gone: stop as well.
        _ = stop.wait_for(|stop| *stop) => {}
        () = sweeps => {}
    }
}

impl Engine {
    /// Records that this process is alive (which also tells whether the store
    /// takes writes, for [`Engine::health`]), then recovers the intents of
    /// dead processes.
    async fn heartbeat(&self) {
        match self.store().heartbeat(self.instance_id(), Utc::now()).await {
            Ok(()) => self.inner.health.store_write_succeeded(),
            Err(err) => {
                warn!(error = %err, "cannot record heartbeat");
                self.inner
                    .health
                    .store_write_failed(format!("cannot record the heartbeat: {err}"));
            }
        }
        match self.recover_intents().await {
            Ok(0) => {}
            Ok(n) => info!(intents = n, "rolling back intents of stopped gateways"),
            Err(err) => warn!(error = %err, "cannot recover intents"),
        }
    }

    /// Refuses a store that does not take writes (read-only files, a full
    /// disk): a gateway on one would answer every `auth` with 500 while
    /// leases go unrevoked. Writes this instance's first heartbeat.
    pub async fn check_store_writable(&self) -> Result<(), EngineError> {
        self.store()
            .heartbeat(self.instance_id(), Utc::now())
            .await
            .map_err(|err| {
                EngineError::Internal(format!("the store does not accept writes: {err}"))
            })
    }

    /// Turns work left by dead gateway processes into due revocations: their
    /// pending intents (the reaper then tears down whatever they created),
    /// and the revocations they had claimed (released at once, not when the
    /// claim would have lapsed). A process is dead when it is an earlier
    /// process of this node, or silent for too long.
    pub async fn recover_intents(&self) -> Result<usize, EngineError> {
        let mut recovered = 0;
        let abandoned_before = Utc::now() - chrono::Duration::seconds(ABANDONED_INTENT_AFTER_SECS);
        for mut lease in self.store().claimed_leases().await? {
            let ours = lease.owner == self.instance_id();
            // Our own issuances finish (or roll back) by themselves — unless
            // one stalled past any retry budget (e.g. the store failed while
            // it ended): its intent is taken over like a dead process's.
            let abandoned =
                ours && lease.state == LeaseState::Pending && lease.created_at < abandoned_before;
            if (ours && !abandoned) || (!ours && !self.is_dead(&lease.owner).await?) {
                continue;
            }
            if lease.state == LeaseState::Pending {
                info!(lease = %lease.id, user = %lease.principal, owner = %lease.owner, "rolling back intent of a stopped gateway");
                lease.state = LeaseState::Revoking;
                lease.last_error = Some("issuance interrupted: its gateway stopped".into());
            } else {
                info!(lease = %lease.id, user = %lease.principal, owner = %lease.owner, "resuming a revocation a stopped gateway had claimed");
            }
            lease.owner = self.instance_id().to_string();
            lease.next_attempt_at = Some(Utc::now());
            self.store().update_lease(&lease).await?;
            recovered += 1;
        }
        if recovered > 0 {
            self.wake_reaper();
        }
        Ok(recovered)
    }

    async fn is_dead(&self, owner: &str) -> Result<bool, EngineError> {
        let my_node = &self.config().node_id;
        if owner.rsplit_once('.').map(|(node, _)| node) == Some(my_node.as_str()) {
            // Only one process per node (the data dir is locked), and it's us.
            return Ok(true);
        }
        let stale_after = self.config().heartbeat_interval * STALE_HEARTBEATS;
        Ok(match self.store().instance_heartbeat(owner).await? {
            None => true,
            Some(at) => (Utc::now() - at)
                .to_std()
                .is_ok_and(|silence| silence > stale_after),
        })
    }

    /// Scans IAM, through every connection the gateway knows, for temporary
    /// users it created (path, `tmp.` name and `dynsec:managed-by` tag) whose
    /// expiry tag has passed and that no live lease claims; tears them down.
    /// Protects against a lost or restored-from-backup database.
    pub async fn sweep_orphans(&self) -> Result<usize, EngineError> {
        let mut removed = 0;
        for (conn, path) in self.sweep_scopes().await? {
            let aws = AwsAdmin::new(&conn, 3);
            let listing = aws.list_users_with_tags(&path);
            let users = match crate::duty::unit_of_work("orphan sweep listing", listing).await {
                Ok(Ok(users)) => users,
                Ok(Err(err)) => {
                    warn!(error = %err, region = %conn.region, "orphan sweep cannot list users");
                    continue;
                }
                Err(error) => {
                    warn!(%error, region = %conn.region, "orphan sweep cannot list users");
                    continue;
                }
            };
            for user in users {
                if removed >= SWEEP_MAX_TEARDOWNS {
                    return Ok(removed);
                }
                if !self.is_orphan(&user).await? {
                    continue;
                }
                // One teardown is one unit of work: a panic skips this user.
                let teardown = aws.teardown_user(&user.user_name);
                match crate::duty::unit_of_work("orphan sweep teardown", teardown).await {
                    Ok(Ok(())) => {
                        info!(user = %user.user_name, "orphan sweep removed an expired IAM user no lease claims");
                        removed += 1;
                    }
                    Ok(Err(err)) => {
                        warn!(user = %user.user_name, error = %err, "orphan sweep teardown failed")
                    }
                    Err(error) => {
                        warn!(user = %user.user_name, %error, "orphan sweep teardown failed")
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
        if !user.user_name.starts_with("tmp.")
            || tag("dynsec:managed-by") != Some(self.config().managed_by.as_str())
        {
            return Ok(false); // Not ours: never touched.
        }
        let expired = tag(crate::issue::EXPIRES_AT_TAG)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|at| at.with_timezone(&Utc) < Utc::now());
        if !expired {
            return Ok(false);
        }
        let claimed =
            match tag(dynsec_aws::LEASE_ID_TAG) {
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
    async fn sweep_scopes(&self) -> Result<Vec<(AwsConnection, String)>, EngineError> {
        let mut seen = BTreeSet::new();
        let mut scopes = Vec::new();
        let mut add = |conn: AwsConnection, path: String| {
            let key = (
                conn.access_key_id.clone(),
                conn.iam_endpoint.clone(),
                conn.region.clone(),
                path.clone(),
            );
            if seen.insert(key) {
                scopes.push((conn, path));
            }
        };
        for target in self.store().list_targets().await? {
            match self.target_connection(&target).await {
                Ok(conn) => add(conn, self.config().iam_path.clone()),
                Err(err) => {
                    warn!(target = %target.name, error = %err, "orphan sweep skips a target")
                }
            }
        }
        for producer in self.store().list_producers().await? {
            let conn = match self.producer_connection(&producer).await {
                Ok(conn) => conn,
                Err(err) => {
                    warn!(dynamic_secret = %producer.name, error = %err, "orphan sweep skips a dynamic secret");
                    continue;
                }
            };
            let path = self.iam_path_of(&producer.settings).to_string();
            add(conn, path);
        }
        Ok(scopes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::test_support::{connection, engine_over, path};
    use crate::{EngineConfig, TargetInput};
    use dynsec_store::{SqliteStore, Store};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_hanging_sweep_neither_delays_heartbeats_nor_shutdown() {
        // An "IAM endpoint" that accepts connections and never answers: a
        // sweep through it hangs until the SDK's timeouts (30 s per attempt).
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", silent.local_addr().unwrap());
        let (reached, mut sweep_reached) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
                let _ = reached.send(());
            }
        });
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let config = EngineConfig {
            heartbeat_interval: Duration::from_millis(50),
            orphan_sweep_interval: Duration::from_millis(10),
            ..EngineConfig::default()
        };
        let engine = engine_over(store.clone(), config).await;
        engine
            .create_target(TargetInput {
                name: path("/aws/silent"),
                description: String::new(),
                connection: connection(&endpoint),
                protection_key: None,
                delete_protection: false,
            })
            .await
            .unwrap();

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let housekeeper = tokio::spawn(Housekeeper::run(engine.clone(), async move {
            let _ = stopped.await;
        }));
        tokio::time::timeout(Duration::from_secs(5), sweep_reached.recv())
            .await
            .expect("the sweep calls the endpoint");
        tokio::time::sleep(Duration::from_millis(800)).await;
        let last_beat = store
            .instance_heartbeat(engine.instance_id())
            .await
            .unwrap()
            .expect("a heartbeat was recorded");
        let silence = (Utc::now() - last_beat).to_std().unwrap_or_default();
        assert!(
            silence < Duration::from_millis(400),
            "last heartbeat {silence:?} ago: the sweep held heartbeats up"
        );

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), housekeeper)
            .await
            .expect("shutdown is not held up by the sweep in progress")
            .unwrap();
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
