//! The gateway's shutdown order, stated once. On SIGTERM or Ctrl-C
//! ([`signal`]), [`Shutdown::run`] takes four steps, each after the
//! one before has ended (or run out of its grace):
//!
//! 1. **Stop accepting.** `accepting` is cancelled: the API's and the
//!    metrics' accept loops close their listeners (new clients are refused)
//!    and idle keep-alive connections close (`dynsec_api::server`).
//! 2. **Drain the requests in flight**, within [`REQUEST_GRACE`]: the
//!    servers return once their busy connections have been answered, then
//!    every request task still running is waited for — a request's task
//!    outlives a client that hung up (`dispatch.rs`), and is tracked in
//!    `requests` (`AppState::requests`) for this. A request still running
//!    past the grace ends with the process: an issuance's intent is rolled
//!    back by the next start (ARCHITECTURE.md, invariant 2).
//! 3. **Stop the background duties**, within [`DUTY_GRACE`] each. The reaper
//!    first: it finishes the revocations of its pass (recorded revoked or
//!    failed); one still running past the grace stays claimed, and the next
//!    start of this node — or, after the claim lapses, another gateway —
//!    takes it over. Then the housekeeping: the housekeeper (orphan sweep,
//!    retention purge, admin rotation; heartbeats up to here, so no other
//!    gateway takes this one for dead while its requests and revocations
//!    end; it deregisters the instance last), the token purge and SIGHUP
//!    reloads.
//! 4. **Flush and close the audit log** (`AuditWriter::finish`, within
//!    [`AUDIT_GRACE`]): after step 2 no request is left to write a record,
//!    and the writer ends once the last handle is gone.
//!
//! Before steps 1-4 the order was implicit: one `watch` channel stopped the
//! duties at the same moment as the accept loop, so a housekeeper could
//! deregister this instance (inviting take-over of its claims) while its
//! requests were still being answered, and request tasks of clients that had
//! hung up were waited for only by the audit writer's timeout.

use std::future::Future;
use std::io;
use std::time::Duration;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// Longest wait for the requests in flight (step 2).
pub const REQUEST_GRACE: Duration = Duration::from_secs(15);
/// Longest wait for the reaper, then for the housekeeping (step 3).
pub const DUTY_GRACE: Duration = Duration::from_secs(5);
/// Longest wait for the audit log's last records (step 4).
pub const AUDIT_GRACE: Duration = Duration::from_secs(10);

/// The tokens that start each step and the trackers that say it has ended.
#[derive(Default)]
pub struct Shutdown {
    /// Step 1: cancelled at the signal.
    accepting: CancellationToken,
    /// Listeners besides the API's own (the metrics server).
    listeners: TaskTracker,
    /// Step 2: every API request's task.
    requests: TaskTracker,
    /// Step 3, first: the reaper's supervisor.
    reaper: CancellationToken,
    reaper_tasks: TaskTracker,
    /// Step 3, then: the housekeeper, the token purge, SIGHUP reloads.
    housekeeping: CancellationToken,
    housekeeping_tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves at step 1: what a listener's accept loop stops on.
    pub fn stop_accepting(&self) -> WaitForCancellationFutureOwned {
        self.accepting.clone().cancelled_owned()
    }

    /// The tracker the API runs each request on (`dynsec_api::router`).
    pub fn requests(&self) -> TaskTracker {
        self.requests.clone()
    }

    /// Runs a listener besides the API's (it must stop on
    /// [`Shutdown::stop_accepting`]); step 2 waits for it.
    pub fn spawn_listener(&self, listener: impl Future<Output = ()> + Send + 'static) {
        self.listeners.spawn(listener);
    }

    /// Runs the reaper's supervisor, given the token that stops it.
    pub fn spawn_reaper<F, Fut>(&self, start: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.reaper_tasks.spawn(start(self.reaper.clone()));
    }

    /// Runs a housekeeping task (the housekeeper's supervisor, the token
    /// purge, SIGHUP reloads), given the token that stops it.
    pub fn spawn_housekeeping<F, Fut>(&self, start: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.housekeeping_tasks
            .spawn(start(self.housekeeping.clone()));
    }

    /// Serves until `signal` (or until `serving`, the API server, ends by
    /// itself, which only an error makes it do), then takes steps 1-4 in
    /// order. Returns the API server's outcome.
    pub async fn run(
        self,
        serving: impl Future<Output = io::Result<()>>,
        signal: impl Future<Output = ()>,
        audit: dynsec_api::audit::AuditWriter,
    ) -> io::Result<()> {
        tokio::pin!(serving);
        let ended_early = tokio::select! {
            served = &mut serving => Some(served),
            () = signal => None,
        };

        // 1. Stop accepting.
        self.accepting.cancel();
        info!("shutting down: stopped accepting connections");

        // 2. Drain the requests in flight, all within one grace.
        let deadline = tokio::time::Instant::now() + REQUEST_GRACE;
        let served = match ended_early {
            Some(served) => served,
            None => tokio::time::timeout_at(deadline, serving)
                .await
                .unwrap_or(Ok(())),
        };
        let drained = tokio::time::timeout_at(deadline, async {
            self.listeners.close();
            self.listeners.wait().await;
            self.requests.close();
            self.requests.wait().await;
        })
        .await;
        if drained.is_ok() {
            info!("shutting down: requests in flight drained");
        } else {
            warn!(
                still_running = self.requests.len(),
                "shutting down: requests still running after {REQUEST_GRACE:?} end with the process"
            );
        }

        // 3. Stop the background duties: the reaper, then the housekeeping.
        stop_within(&self.reaper, &self.reaper_tasks, "the reaper").await;
        stop_within(
            &self.housekeeping,
            &self.housekeeping_tasks,
            "the housekeeper",
        )
        .await;
        info!("shutting down: background duties stopped");

        // 4. Flush and close the audit log.
        audit.finish(AUDIT_GRACE).await;
        info!("shutdown complete");
        served
    }
}

/// Cancels `token` and waits at most [`DUTY_GRACE`] for `tasks` to end.
async fn stop_within(token: &CancellationToken, tasks: &TaskTracker, what: &str) {
    token.cancel();
    tasks.close();
    if tokio::time::timeout(DUTY_GRACE, tasks.wait())
        .await
        .is_err()
    {
        warn!(
            "{what} did not stop within {DUTY_GRACE:?}; work it has claimed is taken over by the next start or another gateway"
        );
    }
}

/// Installs the SIGTERM and SIGINT (Ctrl-C) handlers at once — from here on
/// neither ends the process by its default action, skipping steps 1-4 — and
/// returns what resolves at the first of them.
pub fn signal() -> io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::{Arc, Mutex};

    /// The four steps happen in order: the server stops accepting at the
    /// signal, a request still running is waited for, then the reaper stops,
    /// then the housekeeping, and only then does the audit log close.
    #[tokio::test(start_paused = true)]
    async fn the_steps_run_in_order_each_after_the_one_before() {
        let steps = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        let note = |steps: &Arc<Mutex<Vec<&'static str>>>, step: &'static str| {
            steps.lock().unwrap().push(step)
        };
        let shutdown = Shutdown::new();

        let requests = shutdown.requests();
        let steps_of_request = steps.clone();
        requests.spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            note(&steps_of_request, "request answered");
        });
        let steps_of_reaper = steps.clone();
        shutdown.spawn_reaper(|stop| async move {
            stop.cancelled().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            note(&steps_of_reaper, "reaper stopped");
        });
        let steps_of_housekeeper = steps.clone();
        shutdown.spawn_housekeeping(|stop| async move {
            stop.cancelled().await;
            note(&steps_of_housekeeper, "housekeeper stopped");
        });
        let stop_accepting = shutdown.stop_accepting();
        let steps_of_server = steps.clone();
        let serving = async move {
            stop_accepting.await;
            note(&steps_of_server, "stopped accepting");
            Ok(())
        };
        let (audit, writer, _dir) = audit_log();
        drop(audit);

        shutdown
            .run(serving, std::future::ready(()), writer)
            .await
            .unwrap();
        assert_eq!(
            *steps.lock().unwrap(),
            [
                "stopped accepting",
                "request answered",
                "reaper stopped",
                "housekeeper stopped"
            ]
        );
    }

    /// A request or duty that never ends holds the shutdown up only for its
    /// grace, and the server's error is what the run returns.
    #[tokio::test(start_paused = true)]
    async fn stuck_work_is_waited_for_only_within_its_grace() {
        let shutdown = Shutdown::new();
        shutdown.requests().spawn(std::future::pending::<()>());
        shutdown.spawn_reaper(|_| std::future::pending::<()>());
        shutdown.spawn_housekeeping(|_| std::future::pending::<()>());
        let (_audit, writer, _dir) = audit_log();
        let started = tokio::time::Instant::now();
        let served = shutdown
            .run(
                std::future::ready(Err(io::Error::other("accept failed"))),
                std::future::pending::<()>(),
                writer,
            )
            .await;
        assert_eq!(served.unwrap_err().to_string(), "accept failed");
        assert_eq!(
            started.elapsed(),
            REQUEST_GRACE + DUTY_GRACE * 2 + AUDIT_GRACE
        );

        let shutdown = Shutdown::new();
        shutdown.requests().spawn(std::future::pending::<()>());
        let (_audit, writer, _dir) = audit_log();
        let started = tokio::time::Instant::now();
        let stop_accepting = shutdown.stop_accepting();
        let served = shutdown
            .run(
                async move {
                    stop_accepting.await;
                    Ok(())
                },
                std::future::ready(()),
                writer,
            )
            .await;
        assert!(served.is_ok());
        assert_eq!(started.elapsed(), REQUEST_GRACE + AUDIT_GRACE);
    }

    /// An audit log in a fresh temporary directory (removed with it).
    fn audit_log() -> (
        dynsec_api::audit::Audit,
        dynsec_api::audit::AuditWriter,
        dynsec_testkit::TempDir,
    ) {
        let dir = dynsec_testkit::TempDir::new("dynsec-shutdown");
        let key = dynsec_crypto::MacKey::derive_from(b"test", "audit");
        let (audit, writer) = dynsec_api::audit::open(&dir.path().join("audit.log"), key).unwrap();
        (audit, writer, dir)
    }
}
