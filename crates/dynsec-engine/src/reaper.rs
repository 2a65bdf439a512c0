//! The reaper: revokes leases when they expire and retries failed revocations.
//!
//! Its only source of truth is the store's due-time index: it revokes what is
//! due, then sleeps until the next due time (no polling interval) or until
//! woken because a sooner lease appeared. Intents of dead processes are turned
//! into due revocations by the housekeeper, and then reaped here.
//!
//! Due leases are claimed (one store statement) only as they can be started,
//! at most `reaper_concurrency` at a time: gateways sharing a store split the
//! work between them, and no claim waits in a local queue while it lapses.

use crate::{Engine, EngineError};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::warn;

/// How many due leases one pass revokes at most before going round the
/// loop (where a shutdown is noticed).
const BATCH: u32 = 256;
/// Longest sleep even with nothing due, as a guard against clock jumps.
const MAX_SLEEP: Duration = Duration::from_secs(300);
/// Shortest sleep between passes.
const MIN_SLEEP: Duration = Duration::from_millis(20);
/// Pause after a store error before trying again.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(2);

/// Handle to the reaper task.
pub struct Reaper;

impl Reaper {
    /// Runs until `shutdown` resolves.
    pub async fn run(engine: Engine, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            let (pause, store_trouble) = engine.reap_pass().await;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
                // After a store error the wake-up most likely comes from the
                // lease that could not be recorded; it must not cut the pause short.
                _ = engine.inner.reaper_wake.notified(), if !store_trouble => {}
            }
        }
    }
}

impl Engine {
    /// One reaper pass: revokes what is due and says how long to wait before
    /// the next one, and whether that wait follows a store error.
    pub(crate) async fn reap_pass(&self) -> (Duration, bool) {
        let pause = match self.reap_due().await {
            // More may be due: go again soon, but through the caller's
            // `select!`, so a shutdown is still noticed during a long backlog.
            Ok(true) => Ok(MIN_SLEEP),
            Ok(false) => self.time_to_next_due().await,
            Err(err) => Err(err),
        };
        if let Err(err) = &pause {
            warn!(error = %err, "reaper pass failed");
        }
        // A lease whose new state could not be written is still due in the
        // store: going again at once would only hit AWS and the store again.
        let record_failed = self
            .inner
            .lease_record_failed
            .swap(false, Ordering::Relaxed);
        match pause {
            Ok(pause) if !record_failed => (pause.max(MIN_SLEEP), false),
            // Exactly the pause, not the time to the next due lease: wake-ups
            // are ignored meanwhile, and a new lease may be due sooner.
            _ => (STORE_ERROR_PAUSE, true),
        }
    }

    /// Revokes the leases due now, at most `reaper_concurrency` at once and
    /// [`BATCH`] in all, claiming each just before starting it. Returns true
    /// when it stopped at the batch limit (more may be due).
    async fn reap_due(&self) -> Result<bool, EngineError> {
        self.reap_due_with(|engine, lease| async move { engine.revoke_attempt(lease).await })
            .await
    }

    /// [`Engine::reap_due`] with the revocation given (tests inject failures).
    /// Each lease is its own unit of work: one that fails, or panics, is
    /// recorded and retried while the others go on.
    async fn reap_due_with<F, Fut>(&self, revoke: F) -> Result<bool, EngineError>
    where
        F: Fn(Engine, dynsec_core::Lease) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = dynsec_core::Lease> + Send + 'static,
    {
        let concurrency = self.config().reaper_concurrency.max(1);
        // Tasks, not futures polled here: each makes progress (and releases
        // its store connection) while this loop waits for the next claim.
        let mut in_flight = tokio::task::JoinSet::new();
        let mut started: u32 = 0;
        let mut drained = false;
        let mut failure = None;
        loop {
            let room = concurrency.saturating_sub(in_flight.len());
            let budget = BATCH.saturating_sub(started);
            if !drained && failure.is_none() && room > 0 && budget > 0 {
                let want = budget.min(u32::try_from(room).unwrap_or(u32::MAX));
                match self
                    .store()
                    .claim_due_leases(self.now(), want, self.instance_id(), self.claim_until())
                    .await
                {
                    Ok(claimed) => {
                        drained = claimed.len() < want as usize;
                        started += u32::try_from(claimed.len()).unwrap_or(u32::MAX);
                        for lease in claimed {
                            let engine = self.clone();
                            let revoke = revoke.clone();
                            in_flight
                                .spawn(async move { engine.revoke_guarded(lease, revoke).await });
                        }
                    }
                    // Let what was started finish, then report.
                    Err(err) => failure = Some(err),
                }
            }
            match in_flight.join_next().await {
                None => break,
                Some(Ok(_)) => {}
                Some(Err(err)) => warn!(error = %err, "a revocation task failed"),
            }
        }
        match failure {
            Some(err) => Err(err.into()),
            None => Ok(!drained && started >= BATCH),
        }
    }

    async fn time_to_next_due(&self) -> Result<Duration, EngineError> {
        Ok(match self.store().next_due().await? {
            Some(at) => (at - self.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            None => MAX_SLEEP,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::test_support::{engine_over, lease, memory_engine, temp_dir};
    use crate::EngineConfig;
    use chrono::Utc;
    use dynsec_core::LeaseState;
    use dynsec_store::{SqliteStore, Store};
    use std::sync::Arc;

    /// `n` active leases of a dynamic secret that doesn't exist, all due:
    /// every revocation fails (without any AWS call) and is retried later.
    async fn due_leases(store: &dyn Store, n: u32) {
        let past = Utc::now() - chrono::Duration::minutes(1);
        for i in 0..n {
            store
                .insert_lease(&lease(&format!("l{i}"), 999, LeaseState::Active, past))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_panicking_revocation_fails_alone_and_the_reaper_goes_on() {
        let (engine, store) = memory_engine().await;
        let past = Utc::now() - chrono::Duration::minutes(1);
        for i in 0..5 {
            let mut l = lease(&format!("l{i}"), 999, LeaseState::Active, past);
            // Nothing to tear down in AWS: a working revocation just records it.
            l.mode = dynsec_core::AccessMode::AssumedRole;
            store.insert_lease(&l).await.unwrap();
        }
        let full = engine
            .reap_due_with(|engine, lease| async move {
                if lease.id == "l2" {
                    panic!("a poisoned record");
                }
                engine.revoke_attempt(lease).await
            })
            .await
            .unwrap();
        assert!(!full);
        for i in [0, 1, 3, 4] {
            let l = store.lease(&format!("l{i}")).await.unwrap().unwrap();
            assert_eq!(l.state, LeaseState::Revoked, "l{i}");
        }
        let poisoned = store.lease("l2").await.unwrap().unwrap();
        assert_eq!(poisoned.state, LeaseState::Failed);
        assert_eq!(poisoned.attempts, 1);
        assert!(poisoned
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("revocation failed unexpectedly"));
        assert!(
            poisoned.next_attempt_at.unwrap() > Utc::now(),
            "retried later"
        );
        // The next pass retries it (and this time it works).
        let mut retry = poisoned.clone();
        retry.next_attempt_at = Some(past);
        store.update_lease(&retry).await.unwrap();
        engine.reap_due().await.unwrap();
        assert_eq!(
            store.lease("l2").await.unwrap().unwrap().state,
            LeaseState::Revoked
        );
    }

    #[tokio::test]
    async fn a_full_batch_goes_through_the_pause_too() {
        let (engine, store) = memory_engine().await;
        due_leases(store.as_ref(), BATCH + 10).await;
        assert_eq!(engine.reap_pass().await, (MIN_SLEEP, false));
        // The second pass takes the rest of the backlog, then sleeps until the
        // failed ones' retry times (1-2 s away). A slow machine may already
        // have reached some of those: then, and only then, no real pause.
        let (pause, trouble) = engine.reap_pass().await;
        assert!(!trouble);
        let horizon = Utc::now() + chrono::Duration::hours(1);
        let all = store.due_leases(horizon, BATCH + 11).await.unwrap();
        assert_eq!(all.len(), BATCH as usize + 10);
        assert!(
            all.iter().all(|l| l.attempts >= 1),
            "every lease of the backlog had its attempt"
        );
        let due_now = !store.due_leases(Utc::now(), 1).await.unwrap().is_empty();
        assert!(pause > MIN_SLEEP || due_now, "{pause:?}");
    }

    #[tokio::test]
    async fn unrecordable_lease_states_pause_the_reaper_and_shutdown_still_stops_it() {
        let dir = temp_dir("reaper");
        let db = dir.join("dynsec.db");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await.unwrap());
        let engine = engine_over(store.clone(), EngineConfig::default()).await;
        due_leases(store.as_ref(), BATCH).await;
        // Every lease update now fails, as on a full or failing disk: the
        // leases stay due however often they are revoked.
        let admin = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_lease_updates BEFORE UPDATE ON leases \
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        )
        .execute(&admin)
        .await
        .unwrap();

        assert_eq!(engine.reap_pass().await, (STORE_ERROR_PAUSE, true));
        // Not even a claim could be written: every lease is still due.
        assert_eq!(
            store.due_leases(Utc::now(), BATCH + 1).await.unwrap().len(),
            BATCH as usize
        );
        // A full batch of leases that stay due forever used to spin the loop
        // without ever looking at the shutdown signal.
        tokio::time::timeout(
            Duration::from_secs(30),
            Reaper::run(engine.clone(), async {}),
        )
        .await
        .expect("the reaper stops on shutdown despite a backlog");
        admin.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
