//! Early revocation of assumed_role leases (opt-in per dynamic secret,
//! `early-revocation`): revoking a lease writes a deny for its session into
//! the role's `dynsec-revoked-sessions` inline policy
//! ([`crate::aws_port::AwsHandle::revoke_role_sessions`]: read, prune, add, write,
//! read back), so AWS refuses the session's credentials from then on —
//! after IAM's propagation delay, which is why the lease's state text says
//! so.
//!
//! IAM has no compare-and-swap for a policy, so one role's
//! read-modify-write runs under a lock in the store
//! ([`dynsec_store::ClusterStore::try_lock`]) shared by every gateway, and
//! a read-back that differs (a writer outside dynsec) is retried from the
//! start. The lock lapses on its own, so a gateway that crashes while
//! holding it blocks the role for at most [`LOCK_SECS`].

use crate::{Engine, EngineError};
use dynsec_aws::{AwsErrorKind, RevokedSession, RevokedSessionsWrite};
use dynsec_core::{AccessMode, Lease, ValidationError};
use dynsec_store::ProducerRecord;
use std::future::Future;
use std::time::Duration;
use tracing::{info, warn};

/// The state text of a lease whose session deny was written.
pub const DENY_WRITTEN: &str = "deny written; AWS may take minutes to apply it";

/// How long a role's lock holds: far beyond one read-modify-write (five IAM
/// calls), short enough that a crashed holder is soon forgotten.
const LOCK_SECS: i64 = 120;
/// How long a revocation waits for another one of the same role.
const LOCK_WAIT: Duration = Duration::from_secs(30);
const LOCK_POLL: Duration = Duration::from_millis(50);
/// Read-modify-writes tried when the read-back shows another writer.
const RMW_ATTEMPTS: u32 = 3;
/// SDK attempts per IAM call of a read-modify-write.
const IAM_ATTEMPTS: u32 = 3;

impl Engine {
    /// Denies the session of assumed_role `lease` through its role's
    /// policy; returns the lease's state text (saying when the list did not
    /// fit and every dynsec session of the role issued before now is denied
    /// instead). The error is the reason, for the lease's `last_error`.
    pub(crate) async fn deny_session(
        &self,
        producer: &ProducerRecord,
        lease: &Lease,
    ) -> Result<String, String> {
        let role_arn = lease
            .role_arn
            .as_deref()
            .ok_or_else(|| format!("lease {} names no role", lease.id))?;
        let session = RevokedSession {
            session_name: lease.principal.clone(),
            expires_at: u64::try_from(lease.expires_at.timestamp()).unwrap_or(0),
        };
        let write = self
            .write_revoked_sessions(producer, role_arn, std::slice::from_ref(&session))
            .await?;
        info!(lease = %lease.id, role = %role_arn, listed = write.listed, pruned = write.pruned, fell_back = write.fell_back, "session deny written");
        Ok(state_text(role_arn, &write))
    }

    /// Drops expired entries from `role_arn`'s policy (deleting it when
    /// nothing is left). Best effort: a failure is logged, and the next
    /// write prunes anyway.
    pub(crate) async fn prune_revoked_sessions(&self, producer: &ProducerRecord, role_arn: &str) {
        match self.write_revoked_sessions(producer, role_arn, &[]).await {
            Ok(write) => {
                if write.pruned > 0 || write.deleted {
                    info!(role = %role_arn, pruned = write.pruned, deleted = write.deleted, "revoked-sessions policy pruned");
                }
            }
            Err(error) => {
                warn!(role = %role_arn, %error, "cannot prune the revoked-sessions policy")
            }
        }
    }

    /// Prunes the policy of every role of an early-revocation dynamic
    /// secret (when it is deleted).
    pub(crate) async fn prune_roles_of(&self, producer: &ProducerRecord) {
        if !uses_early_revocation(producer) {
            return;
        }
        for role_arn in &producer.settings.role_arns {
            self.prune_revoked_sessions(producer, role_arn).await;
        }
    }

    /// The role's read-modify-write, under its lock, retried while the
    /// read-back shows another writer.
    async fn write_revoked_sessions(
        &self,
        producer: &ProducerRecord,
        role_arn: &str,
        sessions: &[RevokedSession],
    ) -> Result<RevokedSessionsWrite, String> {
        let conn = self
            .producer_connection(producer)
            .await
            .map_err(|e| e.to_string())?;
        let aws = self.admin_of(&conn, IAM_ATTEMPTS).await;
        self.with_role_lock(role_arn, async {
            let mut attempt = 1;
            loop {
                let now = u64::try_from(self.now().timestamp()).unwrap_or(0);
                match aws.revoke_role_sessions(role_arn, sessions, now).await {
                    Ok(write) => return Ok(write),
                    Err(err) if err.kind == AwsErrorKind::Retryable && attempt < RMW_ATTEMPTS => {
                        warn!(role = %role_arn, attempt, error = %err, "revoked-sessions write failed; retrying");
                        attempt += 1;
                    }
                    Err(err) => return Err(err.to_string()),
                }
            }
        })
        .await?
    }

    /// Runs `work` holding the store lock of `role_arn`'s policy, waiting up
    /// to [`LOCK_WAIT`] for another holder. Each acquisition has its own
    /// holder token, so two revocations in this process exclude each other
    /// too.
    async fn with_role_lock<T>(
        &self,
        role_arn: &str,
        work: impl Future<Output = T>,
    ) -> Result<T, String> {
        let name = format!("revoked-sessions:{role_arn}");
        let holder = format!("{}/{}", self.instance_id(), dynsec_crypto::random_id(12));
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            let now = self.now();
            let until = now + chrono::Duration::seconds(LOCK_SECS);
            match self.store().try_lock(&name, &holder, now, until).await {
                Ok(true) => break,
                Ok(false) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(LOCK_POLL).await
                }
                Ok(false) => {
                    return Err(format!(
                        "another revocation of role {role_arn} has held its policy for over {} s; retried automatically",
                        LOCK_WAIT.as_secs()
                    ))
                }
                Err(err) => return Err(format!("cannot lock role {role_arn}'s policy: {err}")),
            }
        }
        let out = work.await;
        match self.store().unlock(&name, &holder).await {
            Ok(true) => {}
            // It lapsed while the work ran (a stalled IAM): whoever took it
            // over reads what this write left and builds on it.
            Ok(false) => warn!(role = %role_arn, "the role's policy lock lapsed during its write"),
            // It lapses on its own.
            Err(err) => {
                warn!(role = %role_arn, error = %err, "cannot release the role's policy lock")
            }
        }
        Ok(out)
    }

    /// With `early-revocation` on, every role must be in the account the
    /// connection acts in (the deny is written there); asks STS once per
    /// connection.
    pub(crate) async fn check_early_revocation_roles(
        &self,
        producer: &ProducerRecord,
    ) -> Result<(), EngineError> {
        if !uses_early_revocation(producer) {
            return Ok(());
        }
        let conn = self.producer_connection(producer).await?;
        let aws = self.admin_of(&conn, self.config().issue_max_attempts).await;
        let account = self.account_reached(&conn, aws.as_ref()).await?;
        for arn in &producer.settings.role_arns {
            let role_account = arn.split(':').nth(4).unwrap_or_default();
            if role_account != account {
                return Err(ValidationError::new(
                    "early-revocation",
                    format!(
                        "role {arn} is in account {role_account}, but the connection acts in account {account}: early revocation writes a deny to the role, so it works only for roles in the connection's own account"
                    ),
                )
                .into());
            }
        }
        Ok(())
    }
}

/// Whether revoking this dynamic secret's leases writes session denies.
pub(crate) fn uses_early_revocation(producer: &ProducerRecord) -> bool {
    producer.settings.access_mode == AccessMode::AssumedRole && producer.settings.early_revocation
}

/// The lease's state text after a write: [`DENY_WRITTEN`], and what the
/// fallback did when the list did not fit.
fn state_text(role_arn: &str, write: &RevokedSessionsWrite) -> String {
    if write.fell_back {
        format!(
            "{DENY_WRITTEN} (role {role_arn}'s inline policies had no room to list this session, so every dynsec session of the role issued before now is denied, also those of other leases)"
        )
    } else {
        DENY_WRITTEN.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_text_says_when_more_was_denied() {
        let mut write = RevokedSessionsWrite {
            role_name: "r".into(),
            listed: 1,
            pruned: 0,
            fell_back: false,
            size: 100,
            budget: 10_000,
            deleted: false,
        };
        assert_eq!(state_text("arn:r", &write), DENY_WRITTEN);
        write.fell_back = true;
        let text = state_text("arn:r", &write);
        assert!(text.starts_with(DENY_WRITTEN) && text.contains("every dynsec session"));
    }
}
