//! Leases: one record per issued credential, from intent to revocation.
//!
//! A lease is written as `Pending` (the durable intent, naming the IAM user and the
//! gateway instance that owns it) *before* anything is created in AWS, becomes
//! `Active` once the credential is handed out, and `Revoked` only after AWS confirmed
//! the teardown. The secret itself is never part of a lease.

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
}

impl Lease {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn lease(state: LeaseState, next: Option<i64>) -> Lease {
        let at = |s| Utc.timestamp_opt(s, 0).single().unwrap_or_default();
        Lease {
            id: "l".into(),
            producer_id: 1,
            producer_name: "/p".into(),
            mode: AccessMode::IamUser,
            principal: "tmp.p.l".into(),
            access_key_id: None,
            role_arn: None,
            account_id: None,
            state,
            owner: "n.1".into(),
            created_at: at(10),
            expires_at: at(100),
            attempts: 0,
            last_error: None,
            next_attempt_at: next.map(at),
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
