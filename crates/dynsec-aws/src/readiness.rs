//! Waiting for a new credential to work: IAM is eventually consistent, so a
//! key minted a moment ago may be refused for seconds. Instead of sleeping a
//! fixed delay, [`AwsAdmin::wait_until_usable`] asks STS GetCallerIdentity
//! (signed with the new credential) with short backoff until it answers, and
//! reports how long that took.

use crate::admin::{AwsAdmin, CallerIdentity, CredentialRef, STS};
use crate::error::{AwsError, AwsErrorKind};
use std::time::Duration;
use tokio::time::Instant;

/// The first pause after a refusal; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between two attempts: a key usually turns up within
/// seconds, and every second waited is a second the client waits too.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How a [`AwsAdmin::wait_until_usable`] ended.
#[derive(Debug, Clone)]
pub struct ReadyWait {
    /// From the call to the answer (or to giving up).
    pub waited: Duration,
    /// GetCallerIdentity calls made.
    pub attempts: u32,
    /// Who the credential acts as once it works; otherwise the last refusal
    /// (the deadline passed) or a permanent error (retrying cannot help).
    pub outcome: Result<CallerIdentity, AwsError>,
}

impl ReadyWait {
    pub fn is_ready(&self) -> bool {
        self.outcome.is_ok()
    }
}

impl AwsAdmin {
    /// Retries GetCallerIdentity signed with `credential` until it succeeds,
    /// a permanent error occurs, or `max_wait` has passed (no attempt at all
    /// when it is zero); an attempt still running at the deadline is
    /// abandoned. Refusals (`InvalidClientTokenId` while IAM propagates the
    /// key), throttling and network trouble are retried after 100 ms, 200 ms,
    /// … up to 1 s apart.
    ///
    /// Cancel-safe: dropping the future (the client went away, shutdown)
    /// stops the wait at once; nothing is left running.
    pub async fn wait_until_usable(
        &self,
        credential: &CredentialRef<'_>,
        max_wait: Duration,
    ) -> ReadyWait {
        let started = Instant::now();
        let deadline = started + max_wait;
        let sts = self.sts_signed_with(credential);
        let mut attempts = 0;
        let mut backoff = FIRST_BACKOFF;
        let mut last = not_seen_working(max_wait);
        while Instant::now() < deadline {
            attempts += 1;
            let attempt = crate::sts::caller_identity_of(&sts);
            let outcome = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(outcome) => outcome,
                Err(_) => break,
            };
            match outcome {
                Ok(identity) => {
                    tracing::debug!(
                        attempts,
                        waited_ms = started.elapsed().as_millis() as u64,
                        "credential works"
                    );
                    return ReadyWait {
                        waited: started.elapsed(),
                        attempts,
                        outcome: Ok(identity),
                    };
                }
                Err(err) if is_worth_retrying(&err) => last = err,
                Err(err) => {
                    return ReadyWait {
                        waited: started.elapsed(),
                        attempts,
                        outcome: Err(err),
                    }
                }
            }
            let pause = backoff.min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        ReadyWait {
            waited: started.elapsed(),
            attempts,
            outcome: Err(last),
        }
    }
}

/// A new key is refused (`InvalidClientTokenId`, and sometimes
/// `SignatureDoesNotMatch`) until IAM has propagated it; transient trouble
/// passes too. A malformed request does not.
fn is_worth_retrying(err: &AwsError) -> bool {
    matches!(err.kind, AwsErrorKind::Denied | AwsErrorKind::Retryable)
}

fn not_seen_working(max_wait: Duration) -> AwsError {
    AwsError::new(
        AwsErrorKind::Retryable,
        STS,
        "GetCallerIdentity",
        None,
        format!("not seen working within {} ms", max_wait.as_millis()),
    )
}
