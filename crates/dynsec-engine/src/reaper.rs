//! The reaper: revokes leases when they expire and retries failed revocations.
//!
//! Its only source of truth is the store's due-time index: it revokes what is
//! due, then sleeps until the next due time (no polling interval) or until
//! woken because a sooner lease appeared. Intents of dead processes are turned
//! into due revocations by the housekeeper, and then reaped here.

use crate::{Engine, EngineError};
use chrono::Utc;
use futures::StreamExt;
use std::future::Future;
use std::time::Duration;
use tracing::warn;

/// How many due leases one pass loads at most.
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
            let pause = match engine.reap_due().await {
                Ok(true) => continue,
                Ok(false) => engine.time_to_next_due().await,
                Err(err) => {
                    warn!(error = %err, "reaper pass failed");
                    Ok(STORE_ERROR_PAUSE)
                }
            };
            // A floor keeps a lease whose state can't be recorded from spinning the loop.
            let pause = pause.unwrap_or(STORE_ERROR_PAUSE).max(MIN_SLEEP);
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
                _ = engine.inner.reaper_wake.notified() => {}
            }
        }
    }
}

impl Engine {
    /// Revokes every lease due now, a bounded number at a time. Returns true
    /// when the batch was full (more may be due).
    async fn reap_due(&self) -> Result<bool, EngineError> {
        let due = self.store().due_leases(Utc::now(), BATCH).await?;
        let full = due.len() == BATCH as usize;
        futures::stream::iter(due)
            .for_each_concurrent(self.config().reaper_concurrency, |lease| async move {
                self.revoke_now(lease).await;
            })
            .await;
        Ok(full)
    }

    async fn time_to_next_due(&self) -> Result<Duration, EngineError> {
        Ok(match self.store().next_due().await? {
            Some(at) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            None => MAX_SLEEP,
        })
    }
}
