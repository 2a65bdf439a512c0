//! Leases: one record per issued credential, from intent to revocation.
//!
//! A lease is written as `Pending` (the durable intent, naming the IAM user and the
//! gateway instance that owns it) *before* anything is created in AWS, becomes
//! `Active` once the credential is handed out, and `Revoked` only after AWS confirmed
//! the teardown. The secret itself is never part of a lease. Once issuance
//! got past CreateUser, the lease records what it created
//! ([`CreatedIamUser`]), so revocation deletes exactly that. Revoked leases
//! are kept for a retention period ([`DEFAULT_REVOKED_RETENTION_DAYS`]) for
//! listings and audit correlation, then purged.

use crate::AccessMode;
use chrono::{DateTime, Utc};
use std::fmt;

/// Where a lease is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Intent written; AWS objects may or may not exist yet.
    Pending,
    /// Credential issued and handed to the caller.
    Active,
    /// Teardown requested (explicitly or by expiry) and not yet confirmed.
    Revoking,
    /// AWS confirmed nothing is left.
    Revoked,
    /// Teardown keeps failing; retried at `next_attempt_at`.
    Failed,
}

impl LeaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Revoking => "revoking",
            Self::Revoked => "revoked",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "revoking" => Self::Revoking,
            "revoked" => Self::Revoked,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// Still holds (or may hold) something in AWS.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Revoked)
    }

    /// States in which some gateway instance is working on the lease (its
    /// `owner`): an issuance writing it, or a revocation that claimed it.
    pub const CLAIMED: [LeaseState; 2] = [Self::Pending, Self::Revoking];
}

impl fmt::Display for LeaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long revoked leases are kept (for listings and audit correlation)
/// before the housekeeper purges them, unless configured otherwise.
pub const DEFAULT_REVOKED_RETENTION_DAYS: u32 = 30;

/// Everything one issuance created in IAM for a temporary user, by name:
/// what its revocation deletes (concurrently) before DeleteUser. Holds no
/// secret. `dynsec_aws` returns and takes this same type (`create_user`,
/// `teardown_created`), so nothing translates between the two layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatedIamUser {
    pub user_name: String,
    /// The access key created for it, if programmatic access was issued.
    pub access_key_id: Option<String>,
    /// Whether a console password (login profile) was created.
    pub login_profile: bool,
    /// Managed policy ARNs attached to the user.
    pub attached_policies: Vec<String>,
    /// Groups the user was added to.
    pub groups: Vec<String>,
    /// Name of the inline policy put on the user, if any.
    pub inline_policy: Option<String>,
    /// The permissions boundary's policy ARN. For the record: a boundary does
    /// not stop DeleteUser, so teardown need not remove it.
    pub permissions_boundary: Option<String>,
}

/// One issued (or being issued) credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Opaque id shown to users as the tmp-creds id.
    pub id: String,
    pub producer_id: i64,
    pub producer_name: String,
    pub mode: AccessMode,
    /// The IAM user name (`iam_user`) or role session name (`assumed_role`).
    pub principal: String,
    /// The issued access key id (not secret; lets operators find it in CloudTrail).
    pub access_key_id: Option<String>,
    pub role_arn: Option<String>,
    /// The AWS account the credential lives in, once known. Revocation refuses
    /// to count a missing user as gone when its connection now reaches
    /// another account.
    pub account_id: Option<String>,
    pub state: LeaseState,
    /// The gateway instance working on the lease: the writer of a `Pending`
    /// intent, or the revoker of a `Revoking` one.
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What issuance created in IAM, once known (an `iam_user` lease past
    /// CreateUser). `None`: nothing created yet, an `assumed_role` session,
    /// or a lease recorded before this was kept — its revocation then
    /// discovers what the user has (the full teardown).
    pub created: Option<CreatedIamUser>,
    /// When AWS confirmed the teardown (state `Revoked`); `None` before, and
    /// for leases revoked before this was recorded.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What every lease starts with, whatever it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLease {
    pub id: String,
    pub producer_id: i64,
    pub producer_name: String,
    pub mode: AccessMode,
    /// The IAM user name (`iam_user`) or the session's name.
    pub principal: String,
    /// The instance writing it.
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// An intent: `pending`, written before anything exists in AWS, nothing
    /// known yet of what issuance will create.
    pub fn pending(new: NewLease) -> Self {
        Self::of_state(new, LeaseState::Pending)
    }

    /// The `active` lease of an STS session already issued: its access key
    /// id and the account it lives in are known, and nothing in IAM was
    /// created for it.
    pub fn active_session(
        new: NewLease,
        access_key_id: String,
        role_arn: Option<String>,
        account_id: Option<String>,
    ) -> Self {
        Self {
            access_key_id: Some(access_key_id),
            role_arn,
            account_id,
            ..Self::of_state(new, LeaseState::Active)
        }
    }

    /// A lease in `state` with nothing but `new` known: no attempt, no
    /// error, nothing recorded as created or revoked.
    pub fn of_state(new: NewLease, state: LeaseState) -> Self {
        let NewLease {
            id,
            producer_id,
            producer_name,
            mode,
            principal,
            owner,
            created_at,
            expires_at,
        } = new;
        Self {
            id,
            producer_id,
            producer_name,
            mode,
            principal,
            access_key_id: None,
            role_arn: None,
            account_id: None,
            state,
            owner,
            created_at,
            expires_at,
            attempts: 0,
            last_error: None,
            next_attempt_at: None,
            created: None,
            revoked_at: None,
        }
    }

    /// When the reaper must next look at this lease: its expiry while
    /// active, its next attempt (or the lapse of a revoker's claim) while
    /// revoking or failed, never while pending (the issuance, or recovery
    /// from its writer's death, decides) or once revoked. Every store indexes
    /// leases by this, so it is the one definition of "due".
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.state {
            LeaseState::Active => Some(self.expires_at),
            LeaseState::Revoking | LeaseState::Failed => {
                Some(self.next_attempt_at.unwrap_or(self.created_at))
            }
            LeaseState::Pending | LeaseState::Revoked => None,
        }
    }

    /// When a revoked lease's retention period started: its revocation, or
    /// its expiry for a lease revoked before revocation times were recorded.
    /// `None` while the lease is live (never purged). Every store indexes
    /// revoked leases by this, so it is the one definition of "kept since".
    pub fn retained_since(&self) -> Option<DateTime<Utc>> {
        match self.state {
            LeaseState::Revoked => Some(self.revoked_at.unwrap_or(self.expires_at)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn lease(state: LeaseState, next: Option<i64>) -> Lease {
        let at = |s| Utc.timestamp_opt(s, 0).single().unwrap_or_default();
        Lease {
            next_attempt_at: next.map(at),
            ..Lease::of_state(
                NewLease {
                    id: "l".into(),
                    producer_id: 1,
                    producer_name: "/p".into(),
                    mode: AccessMode::IamUser,
                    principal: "tmp.p.l".into(),
                    owner: "n.1".into(),
                    created_at: at(10),
                    expires_at: at(100),
                },
                state,
            )
        }
    }

    #[test]
    fn due_at_follows_the_state() {
        let secs = |l: Lease| l.due_at().map(|t| t.timestamp());
        assert_eq!(secs(lease(LeaseState::Active, Some(50))), Some(100));
        assert_eq!(secs(lease(LeaseState::Failed, Some(50))), Some(50));
        assert_eq!(secs(lease(LeaseState::Revoking, Some(70))), Some(70));
        assert_eq!(secs(lease(LeaseState::Revoking, None)), Some(10));
        assert_eq!(secs(lease(LeaseState::Pending, Some(50))), None);
        assert_eq!(secs(lease(LeaseState::Revoked, Some(50))), None);
    }

    #[test]
    fn only_revoked_leases_are_retained_from_their_revocation_or_expiry() {
        let at = |s| Utc.timestamp_opt(s, 0).single().unwrap_or_default();
        let secs = |l: &Lease| l.retained_since().map(|t| t.timestamp());
        let mut l = lease(LeaseState::Active, None);
        l.revoked_at = Some(at(40));
        assert_eq!(secs(&l), None, "live leases are never purged");
        l.state = LeaseState::Revoked;
        assert_eq!(secs(&l), Some(40));
        l.revoked_at = None;
        assert_eq!(secs(&l), Some(100), "unknown revocation time: the expiry");
    }

    #[test]
    fn state_names_round_trip() {
        for state in [
            LeaseState::Pending,
            LeaseState::Active,
            LeaseState::Revoking,
            LeaseState::Revoked,
            LeaseState::Failed,
        ] {
            assert_eq!(LeaseState::parse(state.as_str()), Some(state));
        }
        assert_eq!(LeaseState::parse("gone"), None);
    }
}
