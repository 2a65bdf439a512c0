//! Rotation primitives for a connection's own admin key: list the admin
//! user's keys, create a second one, prove it works as the same user, delete
//! the old one. The caller runs them in that order with its own durable
//! steps between (see the crate docs), so a crash at any point leaves a
//! working key stored.
//!
//! All of them act on the IAM user the connection's key belongs to (IAM's
//! calls without `UserName`) and are refused, without a call, for a
//! connection that has no long-term user key (session credentials, the
//! host's identity).

use crate::admin::{AwsAdmin, CredentialRef, IAM};
use crate::error::{AwsError, AwsErrorKind};
use crate::readiness::ReadyWait;
use crate::users::iam_err;
use dynsec_core::SecretString;
use std::time::{Duration, SystemTime};

/// IAM allows two access keys per user.
pub const MAX_KEYS_PER_USER: usize = 2;

/// One of the admin user's access keys (no secret: IAM never shows it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAccessKey {
    pub access_key_id: String,
    pub active: bool,
    /// When IAM created it: after a crash mid-rotation, a key created after
    /// the rotation began and not stored is the rotation's own.
    pub created: Option<SystemTime>,
    /// The key this connection signs with.
    pub in_use: bool,
}

/// A freshly created admin key. `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct NewAdminKey {
    pub user_name: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

impl NewAdminKey {
    pub fn credential(&self) -> CredentialRef<'_> {
        CredentialRef {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: None,
        }
    }
}

impl AwsAdmin {
    /// The admin user's own access keys (ListAccessKeys without UserName).
    pub async fn own_access_keys(&self) -> Result<Vec<AdminAccessKey>, AwsError> {
        const OP: &str = "ListAccessKeys";
        let in_use = self
            .require_user_key(IAM, OP, "admin-key rotation")?
            .to_owned();
        let keys = self
            .iam()
            .list_access_keys()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_err(OP, &e))?;
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                let id = k.access_key_id?;
                Some(AdminAccessKey {
                    in_use: id == in_use,
                    access_key_id: id,
                    active: k.status.is_none_or(|s| s.as_str() == "Active"),
                    created: k.create_date.and_then(|d| SystemTime::try_from(d).ok()),
                })
            })
            .collect())
    }

    /// CreateAccessKey for the admin user. Refused when the user already
    /// has two keys: dynsec deletes only keys it created, so the operator
    /// must remove the other one first.
    pub async fn create_own_access_key(&self) -> Result<NewAdminKey, AwsError> {
        const OP: &str = "CreateAccessKey";
        self.require_user_key(IAM, OP, "admin-key rotation")?;
        let existing = self.own_access_keys().await?;
        if existing.len() >= MAX_KEYS_PER_USER {
            let others: Vec<&str> = existing
                .iter()
                .filter(|k| !k.in_use)
                .map(|k| k.access_key_id.as_str())
                .collect();
            return Err(AwsError::new(
                AwsErrorKind::Invalid,
                IAM,
                OP,
                None,
                format!(
                    "the admin user already has {} access keys, IAM's maximum; delete the one \
                     dynsec does not use ({}) before rotating",
                    existing.len(),
                    others.join(", ")
                ),
            ));
        }
        let out = self
            .iam()
            .create_access_key()
            .send()
            .await
            .map_err(|e| iam_err(OP, &e))?;
        let key = out.access_key.ok_or_else(|| {
            AwsError::new(
                AwsErrorKind::Retryable,
                IAM,
                OP,
                None,
                "the response carried no access key",
            )
        })?;
        Ok(NewAdminKey {
            user_name: key.user_name,
            access_key_id: key.access_key_id,
            secret_access_key: SecretString::new(key.secret_access_key),
        })
    }

    /// Proves `new_key` works and acts as the same IAM user as this
    /// connection (GetCallerIdentity signed with it, retried while IAM
    /// propagates the key, for at most `max_wait`).
    pub async fn prove_admin_key(
        &self,
        new_key: &CredentialRef<'_>,
        max_wait: Duration,
    ) -> Result<ReadyWait, AwsError> {
        const OP: &str = "GetCallerIdentity";
        let me = self.caller_identity().await?;
        let wait = self.wait_until_usable(new_key, max_wait).await;
        match &wait.outcome {
            Ok(identity) if identity.arn == me.arn => Ok(wait),
            Ok(identity) => Err(AwsError::new(
                AwsErrorKind::Invalid,
                crate::admin::STS,
                OP,
                None,
                format!(
                    "the new key acts as {}, not as the admin user {}",
                    identity.arn, me.arn
                ),
            )),
            Err(err) => Err(err.clone()),
        }
    }

    /// DeleteAccessKey of one of the admin user's keys (a key already gone
    /// counts as deleted). Refuses the key this connection signs with:
    /// delete the old key through a connection built with the new one.
    pub async fn delete_own_access_key(&self, access_key_id: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteAccessKey";
        let in_use = self.require_user_key(IAM, OP, "admin-key rotation")?;
        if in_use == access_key_id {
            return Err(AwsError::new(
                AwsErrorKind::Invalid,
                IAM,
                OP,
                None,
                "refusing to delete the key this connection signs with; delete it through a \
                 connection using the new key",
            ));
        }
        match self
            .iam()
            .delete_access_key()
            .access_key_id(access_key_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match iam_err(OP, &e) {
                err if err.is_not_found() => Ok(()),
                err => Err(err),
            },
        }
    }
}
