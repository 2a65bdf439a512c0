//! The engine's clock: every wall-clock time the engine reads (issuance and
//! expiry, due times and backoff, heartbeats and claims, tokens, the auth
//! limiter's window) comes from [`Clock::now`], never from `Utc::now()`
//! directly, so the engine's tests can drive time.
//!
//! Sleeps and deadlines in the engine use tokio's time; [`TokioClock`] ties
//! the wall clock to it, so under `tokio::time::pause()` advancing tokio's
//! time advances both together and a test of backoff, claims or the auth
//! delay runs in milliseconds.

use chrono::{DateTime, Utc};

/// Where the engine reads the time.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock: the gateway's.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at the wall-clock time it was made (in whole
/// milliseconds, as the store keeps times) and then moves with tokio's
/// time: paused with it, advanced with it.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
}

#[cfg(test)]
impl TokioClock {
    pub(crate) fn new() -> Self {
        Self {
            start: chrono::SubsecRound::trunc_subsecs(Utc::now(), 3),
            origin: tokio::time::Instant::now(),
        }
    }
}

#[cfg(test)]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.origin.elapsed()).unwrap_or_default();
        self.start + elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_moves_with_paused_time_only() {
        let clock = TokioClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start, "time stands still while paused");
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now() - start, chrono::Duration::seconds(90));
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - start, chrono::Duration::seconds(3690));
    }
}
