//! Keeping the background duties alive: units of work that fail alone, and a
//! supervisor that restarts a duty that ended or panicked.
//!
//! Invariant 7 (ARCHITECTURE.md): no single record, request or client can
//! stop the reaper, the sweep or the heartbeats. Two mechanisms hold it:
//!
//! - [`unit_of_work`] runs one revocation, issuance, sweep teardown or
//!   heartbeat so that a panic inside it becomes an error of that unit only;
//!   the caller records it (a lease's `last_error`, retried with backoff) and
//!   the duty goes on with the next unit.
//! - [`Engine::supervise`] runs the reaper or the housekeeper and restarts it
//!   (with backoff) should it ever end before shutdown or panic anyway. Its
//!   state is what [`Engine::health`] reports, so `/health` turns unhealthy
//!   while a duty is down or the store refuses writes.

use crate::Engine;
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// First wait before restarting a duty that stopped; doubled per failure.
const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between two restarts.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(60);
/// A duty that ran this long before failing starts its backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(300);

/// Runs `work`; a panic inside it is caught and returned as an error message
/// (safe to store and show: it names the unit, never the panic's text, which
/// may quote values). The panic itself is in the gateway's log, written by
/// the panic hook.
pub(crate) async fn unit_of_work<T>(
    what: &str,
    work: impl Future<Output = T>,
) -> Result<T, String> {
    // Boxed: units nest (a sweep holds teardowns), and unboxed their
    // futures would pile up on the caller's stack.
    match AssertUnwindSafe(Box::pin(work)).catch_unwind().await {
        Ok(value) => Ok(value),
        Err(_) => {
            error!(
                unit = what,
                "a unit of work panicked; it is recorded as failed and retried, the duty goes on"
            );
            Err(format!(
                "{what} failed unexpectedly (an internal error; the gateway's log has details)"
            ))
        }
    }
}

/// The background duties the gateway supervises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Revokes leases at expiry and retries failed revocations.
    Reaper,
    /// Heartbeats, intent recovery and the orphan sweep.
    Housekeeper,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reaper => "reaper",
            Self::Housekeeper => "housekeeper",
        }
    }
}

/// One duty's liveness, as the supervisor keeps it.
#[derive(Debug, Default)]
pub(crate) struct DutyState {
    running: AtomicBool,
    restarts: AtomicU32,
    last_failure: Mutex<Option<String>>,
}

/// What the engine tracks for [`Engine::health`].
#[derive(Debug, Default)]
pub(crate) struct HealthState {
    reaper: DutyState,
    housekeeper: DutyState,
    /// The last write the store refused (heartbeat or lease state), until a
    /// later heartbeat succeeds.
    store_write_error: Mutex<Option<String>>,
}

impl HealthState {
    fn duty(&self, duty: Duty) -> &DutyState {
        match duty {
            Duty::Reaper => &self.reaper,
            Duty::Housekeeper => &self.housekeeper,
        }
    }

    pub(crate) fn store_write_failed(&self, error: String) {
        *self
            .store_write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    pub(crate) fn store_write_succeeded(&self) {
        *self
            .store_write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// One duty as [`Health`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyHealth {
    pub duty: Duty,
    pub running: bool,
    /// How often the supervisor restarted it.
    pub restarts: u32,
    /// Why it last stopped, if it ever did.
    pub last_failure: Option<String>,
}

/// The gateway's health: every supervised duty running, the store writable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub duties: Vec<DutyHealth>,
    /// The store's last refused write, while it keeps refusing.
    pub store_write_error: Option<String>,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.store_write_error.is_none() && self.duties.iter().all(|d| d.running)
    }
}

impl Engine {
    /// The duties' liveness and the store's writability.
    pub fn health(&self) -> Health {
        let state = &self.inner.health;
        let duties = [Duty::Reaper, Duty::Housekeeper]
            .into_iter()
            .map(|duty| {
                let s = state.duty(duty);
                DutyHealth {
                    duty,
                    running: s.running.load(Ordering::Relaxed),
                    restarts: s.restarts.load(Ordering::Relaxed),
                    last_failure: s
                        .last_failure
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                }
            })
            .collect();
        Health {
            duties,
            store_write_error: state
                .store_write_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Runs `duty` until `shutdown` is cancelled, restarting it with backoff
    /// whenever it ends early or panics. A cancelled duty finishes the work
    /// it has started (the reaper its pass: revocations in progress are
    /// recorded, or stay claimed for take-over should the process end first)
    /// before this returns; the gateway states in which order the duties are
    /// stopped (`crates/dynsec/src/shutdown.rs`).
    pub async fn supervise(&self, duty: Duty, shutdown: CancellationToken) {
        let engine = self.clone();
        let start = move |stop: Stop| {
            let engine = engine.clone();
            async move {
                match duty {
                    Duty::Reaper => crate::Reaper::run(engine, stop.wait()).await,
                    Duty::Housekeeper => crate::Housekeeper::run(engine, stop.wait()).await,
                }
            }
        };
        supervise_with(self.inner.health.duty(duty), duty, shutdown, start).await;
    }
}

/// A duty's view of the shutdown signal.
#[derive(Clone)]
pub(crate) struct Stop(CancellationToken);

impl Stop {
    pub(crate) async fn wait(self) {
        self.0.cancelled_owned().await;
    }
}

/// The supervisor loop, over any duty (`start` builds a fresh run of it).
pub(crate) async fn supervise_with<F, Fut>(
    state: &DutyState,
    duty: Duty,
    shutdown: CancellationToken,
    mut start: F,
) where
    F: FnMut(Stop) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = duty.as_str();
    let mut failures: u32 = 0;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        state.running.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = AssertUnwindSafe(Box::pin(start(Stop(shutdown.clone()))))
            .catch_unwind()
            .await;
        state.running.store(false, Ordering::Relaxed);
        if shutdown.is_cancelled() {
            break;
        }
        let why = match outcome {
            Ok(()) => "ended before shutdown",
            Err(_) => "panicked",
        };
        if started.elapsed() >= HEALTHY_RUN {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        let delay = FIRST_RESTART_DELAY
            .saturating_mul(1 << (failures - 1).min(6))
            .min(MAX_RESTART_DELAY);
        state.restarts.fetch_add(1, Ordering::Relaxed);
        *state.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
            "{why} at {}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        error!(
            duty = name,
            restart_in_ms = delay.as_millis() as u64,
            "background duty {why}; restarting it"
        );
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
        info!(duty = name, "restarting background duty");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_panicking_unit_fails_alone() {
        let ok = unit_of_work("revocation", async { 7 }).await;
        assert_eq!(ok, Ok(7));
        let failed = unit_of_work("revocation", async {
            panic!("secret AKIA\nFAKE in a panic message");
        })
        .await
        .unwrap_err();
        assert!(
            failed.starts_with("revocation failed unexpectedly"),
            "{failed}"
        );
        assert!(!failed.contains("AKIA"), "the panic's text is not kept");
    }

    #[tokio::test(start_paused = true)]
    async fn the_supervisor_restarts_a_duty_that_panics_or_ends_and_stops_on_shutdown() {
        let state = DutyState::default();
        let shutdown = CancellationToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let supervisor =
            supervise_with(&state, Duty::Reaper, shutdown.clone(), move |stop: Stop| {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    match run {
                        0 => panic!("first run dies"),
                        1 => {} // second run returns early
                        _ => stop.wait().await,
                    }
                }
            });
        let watcher = async {
            // Third run: up and waiting for shutdown.
            while runs.load(Ordering::SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(state.running.load(Ordering::Relaxed));
            assert_eq!(state.restarts.load(Ordering::Relaxed), 2);
            assert!(state
                .last_failure
                .lock()
                .unwrap()
                .as_deref()
                .unwrap()
                .starts_with("ended before shutdown"));
            shutdown.cancel();
        };
        tokio::time::timeout(Duration::from_secs(600), async {
            tokio::join!(supervisor, watcher)
        })
        .await
        .expect("the supervisor stops on shutdown");
        assert!(!state.running.load(Ordering::Relaxed));
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
