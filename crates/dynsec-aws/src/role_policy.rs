//! A role's inline policies, and the read-modify-write of its
//! `dynsec-revoked-sessions` policy ([`crate::RevokedSessions`]) that ends
//! assumed-role sessions early.
//!
//! The read-modify-write is not atomic in IAM: the caller serialises it per
//! role (across gateways: a lock in the store) and retries a
//! [`AwsErrorKind::Retryable`] failure from the start.

use crate::admin::{AwsAdmin, IAM};
use crate::error::{AwsError, AwsErrorKind};
use crate::revoked_sessions::{
    policy_size, RenderedPolicy, RevokedSessions, REVOKED_SESSIONS_POLICY,
    ROLE_INLINE_POLICY_BUDGET,
};
use crate::users::iam_err;

/// What every session name dynsec gives an AssumeRole session starts with:
/// a fallback denies `*:dynsec-*`, so only sessions named so may be issued
/// through roles that use early revocation.
pub const ROLE_SESSION_PREFIX: &str = "dynsec-";

/// One session to deny.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSession {
    pub session_name: String,
    /// When the session expires by itself (unix seconds): its entry is
    /// pruned after that.
    pub expires_at: u64,
}

/// What [`AwsAdmin::revoke_role_sessions`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSessionsWrite {
    pub role_name: String,
    /// Sessions now listed by name (after pruning).
    pub listed: usize,
    /// Expired entries dropped on the way.
    pub pruned: usize,
    /// The list did not fit the role's inline-policy budget: every dynsec
    /// session of the role issued before now is denied instead. Say so to
    /// the user: it ends more sessions than asked.
    pub fell_back: bool,
    /// The document's size as IAM counts it, and what it may take.
    pub size: usize,
    pub budget: usize,
    /// Nothing is left to deny: the policy was deleted.
    pub deleted: bool,
}

impl AwsAdmin {
    /// GetRolePolicy, decoded; `None` when the role has no such policy.
    pub async fn get_role_policy(
        &self,
        role_name: &str,
        policy_name: &str,
    ) -> Result<Option<String>, AwsError> {
        const OP: &str = "GetRolePolicy";
        match self
            .iam()
            .get_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(out) => decode_policy(OP, &out.policy_document).map(Some),
            Err(e) => match iam_err(OP, &e) {
                // NoSuchEntity names either the role or the policy; a
                // missing role fails the Put that follows, clearly.
                err if err.is_not_found() => Ok(None),
                err => Err(err),
            },
        }
    }

    /// PutRolePolicy (creates or replaces).
    pub async fn put_role_policy(
        &self,
        role_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.iam()
            .put_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam_err("PutRolePolicy", &e).about(&format!("role {role_name}")))
    }

    /// DeleteRolePolicy; `false` when there was no such policy.
    pub async fn delete_role_policy(
        &self,
        role_name: &str,
        policy_name: &str,
    ) -> Result<bool, AwsError> {
        match self
            .iam()
            .delete_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match iam_err("DeleteRolePolicy", &e) {
                err if err.is_not_found() => Ok(false),
                err => Err(err),
            },
        }
    }

    /// How much of the role's inline-policy budget the policies other than
    /// `except` use (ListRolePolicies, then GetRolePolicy for each).
    pub async fn role_inline_policy_usage(
        &self,
        role_name: &str,
        except: &str,
    ) -> Result<usize, AwsError> {
        let names: Vec<String> = self
            .iam()
            .list_role_policies()
            .role_name(role_name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_err("ListRolePolicies", &e).about(&format!("role {role_name}")))?;
        let sizes =
            futures::future::try_join_all(names.iter().filter(|name| name.as_str() != except).map(
                |name| async move {
                    let doc = self.get_role_policy(role_name, name).await?;
                    Ok::<_, AwsError>(doc.as_deref().map_or(0, policy_size))
                },
            ))
            .await?;
        Ok(sizes.into_iter().sum())
    }

    /// Denies `sessions` of the role `role_arn` (which must be in this
    /// connection's account) in its `dynsec-revoked-sessions` policy:
    /// reads the policy and what the role's other inline policies use,
    /// adds the sessions, prunes expired entries, writes the result (or
    /// deletes the policy when nothing is left; with no sessions this is a
    /// pure prune, which writes nothing when nothing expired) and reads it
    /// back. `now` is unix seconds.
    ///
    /// AWS applies the deny within seconds to minutes; credentials already
    /// handed out keep working until then.
    pub async fn revoke_role_sessions(
        &self,
        role_arn: &str,
        sessions: &[RevokedSession],
        now: u64,
    ) -> Result<RevokedSessionsWrite, AwsError> {
        self.update_revoked_sessions(role_arn, now, |policy| {
            sessions
                .iter()
                .try_for_each(|s| policy.revoke(&s.session_name, s.expires_at, now))
        })
        .await
    }

    /// Denies every dynsec session of the role issued before `now` (unix
    /// seconds), whatever dynamic secret it came from: for revoking all of a
    /// role's sessions at once.
    pub async fn deny_all_role_sessions(
        &self,
        role_arn: &str,
        now: u64,
    ) -> Result<RevokedSessionsWrite, AwsError> {
        self.update_revoked_sessions(role_arn, now, |policy| {
            policy.deny_all_issued_before(now);
            Ok(())
        })
        .await
    }

    async fn update_revoked_sessions(
        &self,
        role_arn: &str,
        now: u64,
        change: impl FnOnce(&mut RevokedSessions) -> Result<(), AwsError>,
    ) -> Result<RevokedSessionsWrite, AwsError> {
        let (account, role_name) = split_role_arn(role_arn)?;
        let own = self.account_id().await?;
        if account != own {
            return Err(invalid(format!(
                "role {role_arn} is in account {account}, but this connection acts in {own}: \
                 early revocation works only for roles in the connection's own account"
            )));
        }
        let (current, others) = futures::try_join!(
            self.get_role_policy(role_name, REVOKED_SESSIONS_POLICY),
            self.role_inline_policy_usage(role_name, REVOKED_SESSIONS_POLICY),
        )?;
        let mut policy = RevokedSessions::parse(current.as_deref(), ROLE_SESSION_PREFIX)?;
        let before = policy.clone();
        change(&mut policy)?;
        let pruned = policy.prune(now);
        let budget = ROLE_INLINE_POLICY_BUDGET.saturating_sub(others);
        let rendered = policy.render(budget, now)?;
        let mut write = RevokedSessionsWrite {
            role_name: role_name.to_owned(),
            listed: policy.sessions().count(),
            pruned,
            fell_back: false,
            size: 0,
            budget,
            deleted: false,
        };
        match rendered {
            RenderedPolicy::Empty => {
                if current.is_some() {
                    self.delete_role_policy(role_name, REVOKED_SESSIONS_POLICY)
                        .await?;
                }
                write.deleted = true;
            }
            RenderedPolicy::Document {
                json: _,
                size,
                fell_back,
            } if current.is_some() && policy == before => {
                // Nothing changed (a prune with nothing expired): no write.
                write.fell_back = fell_back;
                write.size = size;
            }
            RenderedPolicy::Document {
                json,
                size,
                fell_back,
            } => {
                self.put_role_policy(role_name, REVOKED_SESSIONS_POLICY, &json)
                    .await?;
                let back = self
                    .get_role_policy(role_name, REVOKED_SESSIONS_POLICY)
                    .await?;
                let back = RevokedSessions::parse(back.as_deref(), ROLE_SESSION_PREFIX)?;
                if back != policy {
                    return Err(AwsError::new(
                        AwsErrorKind::Retryable,
                        IAM,
                        "GetRolePolicy",
                        None,
                        format!(
                            "the {REVOKED_SESSIONS_POLICY} policy of role {role_name} read back \
                             differently from what was written (a concurrent writer, or IAM has \
                             not caught up); try again"
                        ),
                    ));
                }
                write.fell_back = fell_back;
                write.size = size;
            }
        }
        Ok(write)
    }
}

/// `arn:<partition>:iam::<account>:role/<path/>name` → (account, name).
fn split_role_arn(arn: &str) -> Result<(&str, &str), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, resource] if !account.is_empty() => resource
            .strip_prefix("role/")
            .and_then(|path| path.rsplit('/').next())
            .filter(|name| !name.is_empty())
            .map(|name| (*account, name))
            .ok_or_else(|| invalid(format!("'{arn}' is not a role ARN"))),
        _ => Err(invalid(format!("'{arn}' is not a role ARN"))),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); emulators often
/// don't. A JSON document starts with `{`, an encoded one with `%7B`.
fn decode_policy(op: &'static str, raw: &str) -> Result<String, AwsError> {
    if raw.trim_start().starts_with('{') {
        return Ok(raw.to_owned());
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|d| d.into_owned())
        .map_err(|_| {
            AwsError::new(
                AwsErrorKind::Retryable,
                IAM,
                op,
                None,
                "the policy document is not valid UTF-8 once decoded",
            )
        })
}

fn invalid(message: String) -> AwsError {
    AwsError::new(AwsErrorKind::Invalid, IAM, "PutRolePolicy", None, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_split_into_account_and_name() {
        assert_eq!(
            split_role_arn("arn:aws:iam::123456789012:role/dev").unwrap(),
            ("123456789012", "dev")
        );
        assert_eq!(
            split_role_arn("arn:aws-cn:iam::123456789012:role/team/a/dev").unwrap(),
            ("123456789012", "dev")
        );
        for bad in [
            "arn:aws:iam::123456789012:user/dev",
            "arn:aws:sts::123456789012:assumed-role/dev/s",
            "arn:aws:iam:::role/dev",
            "arn:aws:iam::123456789012:role/",
            "dev",
        ] {
            assert!(split_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoded_and_plain_documents_decode_alike() {
        let plain = r#"{"Version":"2012-10-17","Statement":[{"Sid":"a%b"}]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22a%25b%22%7D%5D%7D";
        assert_eq!(decode_policy("Op", plain).unwrap(), plain);
        assert_eq!(decode_policy("Op", encoded).unwrap(), plain);
    }
}
