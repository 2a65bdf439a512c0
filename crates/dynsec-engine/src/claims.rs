//! Claims: how a gateway makes a lease's revocation its own while it works
//! on it, so that gateways sharing a store never tear one user down at once.
//!
//! A claim is the lease in state `revoking`, owned by the claimant, with its
//! next attempt (and due time) at the claim's lapse. The store takes claims
//! in single statements (`claim_due_leases`, `claim_lease`); the work renews
//! the claim while it runs, so even a teardown slower than the claim's life
//! keeps it; the outcome is written only while the claim still holds. A
//! gateway that dies mid-work has its claims released by a live one (see
//! `housekeeping.rs`), or they lapse.

use crate::Engine;
use chrono::Utc;
use std::future::Future;
use std::time::Duration;
use tracing::warn;

/// How long a claim holds without renewal: far beyond one renewal interval,
/// so a busy gateway never loses a claim it is renewing.
pub(crate) const CLAIM_SECS: i64 = 60;
/// How often the work renews its claim.
const RENEW_EVERY: Duration = Duration::from_secs(15);

impl Engine {
    /// When a claim taken or renewed now lapses, by the engine's clock.
    pub(crate) fn claim_until(&self) -> chrono::DateTime<Utc> {
        self.now() + chrono::Duration::seconds(CLAIM_SECS)
    }

    /// Runs `work` on the claimed lease `lease_id`, renewing the claim every
    /// [`RENEW_EVERY`] until the work ends. Returns the work's output and
    /// whether the claim held throughout (false: another gateway took the
    /// lease over, and this one must not record an outcome).
    pub(crate) async fn with_claim<T>(
        &self,
        lease_id: &str,
        work: impl Future<Output = T>,
    ) -> (T, bool) {
        let mut held = true;
        let renewals = async {
            let mut every = tokio::time::interval(RENEW_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                match self
                    .store()
                    .renew_claim(lease_id, self.instance_id(), self.claim_until())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        warn!(lease = %lease_id, "lost the claim on a revocation in progress");
                        return;
                    }
                    // The claim still holds for a while; the next renewal may work.
                    Err(err) => warn!(lease = %lease_id, error = %err, "cannot renew claim"),
                }
            }
        };
        // Boxed: a teardown's future (AWS SDK calls) is large, and inline in
        // this one it would be moved and polled on the caller's stack.
        let mut work = Box::pin(work);
        let mut renewals = Box::pin(renewals);
        let mut renewing = true;
        loop {
            tokio::select! {
                out = &mut work => return (out, held),
                () = &mut renewals, if renewing => {
                    held = false;
                    renewing = false;
                }
            }
        }
    }
}
