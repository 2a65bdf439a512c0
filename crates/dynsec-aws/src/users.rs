//! Temporary IAM users: creation with their grants and credentials (and a
//! description of exactly what was created), tags, and listing for the
//! orphan sweep. Teardown is in `teardown.rs`.
//!
//! Creation does not roll back: the caller records a durable intent before it
//! calls [`AwsAdmin::create_user`] and runs [`AwsAdmin::teardown_user`] on any
//! failure, so cleanup survives a crash of this process mid-way.

use crate::admin::{invalid_tag, non_empty, AwsAdmin, CredentialRef, IAM};
use crate::error::{AwsError, AwsErrorKind};
use crate::teardown::pick_error;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::SdkError;
use dynsec_core::SecretString;
use futures::future::join_all;
use futures::{StreamExt, TryStreamExt};

/// What to create for one temporary IAM user.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewIamUser<'a> {
    pub user_name: &'a str,
    /// IAM path, e.g. `/dynsec/`; the orphan sweep lists by it.
    pub path: &'a str,
    /// Set in the CreateUser call itself, so the user is never untagged.
    pub tags: &'a [(String, String)],
    pub policy_arns: &'a [String],
    pub groups: &'a [String],
    pub access_key: bool,
    pub console_password: Option<&'a SecretString>,
    /// A managed policy ARN set as the user's permissions boundary in the
    /// CreateUser call itself (so an admin policy can require one).
    pub permissions_boundary: Option<&'a str>,
    /// A JSON policy document put as the user's inline policy
    /// [`INLINE_USER_POLICY`] (PutUserPolicy, concurrently with the rest).
    pub inline_policy: Option<&'a str>,
}

/// Name of the inline policy [`NewIamUser::inline_policy`] is put under.
pub const INLINE_USER_POLICY: &str = "dynsec-inline";

/// What [`AwsAdmin::create_user`] handed out. `Debug` redacts the secret key.
#[derive(Debug, Clone)]
pub struct IssuedIamUser {
    pub user_name: String,
    pub user_arn: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Exactly what the call created, for [`AwsAdmin::teardown_created`].
    pub created: CreatedIamUser,
}

impl IssuedIamUser {
    /// The issued access key, to sign a call with (e.g. a ready-wait).
    pub fn credential(&self) -> Option<CredentialRef<'_>> {
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => Some(CredentialRef {
                access_key_id: id,
                secret_access_key: secret,
                session_token: None,
            }),
            _ => None,
        }
    }
}

/// Everything one issuance created in IAM, by name: what a revocation must
/// delete before DeleteUser. The domain's type, so the lease records exactly
/// what `create_user` returned and `teardown_created` takes it back as it is.
pub use dynsec_core::CreatedIamUser;

/// A user found under a path prefix, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWithTags {
    pub user_name: String,
    pub path: String,
    pub tags: Vec<(String, String)>,
}

/// The tag naming the lease a temporary user was created for; CreateUser's
/// EntityAlreadyExists is resolved by it (see `existing_user_if_ours`).
/// Defined with dynsec's other IAM names in `dynsec_core::iam_names`.
pub use dynsec_core::iam_names::LEASE_ID_TAG;

/// How many users' tags are fetched at once during a listing.
const TAG_FETCH_CONCURRENCY: usize = 4;

impl AwsAdmin {
    /// CreateUser (with path, tags and permissions boundary), then
    /// concurrently: AttachUserPolicy per policy, AddUserToGroup per group,
    /// CreateAccessKey, CreateLoginProfile, PutUserPolicy.
    ///
    /// On error nothing is undone. `err.operation == "CreateUser"` means the user
    /// was probably not created (though after a timeout it may have been); any
    /// other operation names the step that failed after the user existed, and the
    /// message names the policy or group. A policy or group that does not exist
    /// is reported as [`AwsErrorKind::Invalid`].
    pub async fn create_user(&self, req: &NewIamUser<'_>) -> Result<IssuedIamUser, AwsError> {
        // Boxed: see `AwsAdmin::caller_identity`.
        Box::pin(self.create_user_and_grants(req)).await
    }

    async fn create_user_and_grants(
        &self,
        req: &NewIamUser<'_>,
    ) -> Result<IssuedIamUser, AwsError> {
        const OP: &str = "CreateUser";
        let tags = req
            .tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_iam::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|_| invalid_tag(IAM, OP, k))
            })
            .collect::<Result<Vec<_>, _>>()?;

        tracing::debug!(user = req.user_name, path = req.path, "iam:CreateUser");
        let created = self
            .iam()
            .create_user()
            .user_name(req.user_name)
            .path(req.path)
            .set_tags(non_empty(tags))
            .set_permissions_boundary(req.permissions_boundary.map(str::to_owned))
            .send()
            .await;
        let user_arn = match created {
            Ok(out) => out.user().map(|u| u.arn().to_owned()),
            Err(e) => match iam_err(OP, &e) {
                exists if exists.code.as_deref() == Some("EntityAlreadyExists") => {
                    Some(self.existing_user_if_ours(req, exists).await?)
                }
                err => return Err(err),
            },
        };
        let user_arn = user_arn.ok_or_else(|| {
            AwsError::new(
                AwsErrorKind::Retryable,
                IAM,
                OP,
                None,
                "the response carried no user",
            )
        })?;
        let user = req.user_name;

        let attach = join_all(req.policy_arns.iter().map(|arn| async move {
            self.iam()
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("AttachUserPolicy", &e).about(&format!("policy {arn}")))
        }));
        let join = join_all(req.groups.iter().map(|group| async move {
            self.iam()
                .add_user_to_group()
                .user_name(user)
                .group_name(group)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("AddUserToGroup", &e).about(&format!("group {group}")))
        }));
        let key = async {
            if !req.access_key {
                return Ok(None);
            }
            let out = self
                .iam()
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .map_err(|e| iam_err("CreateAccessKey", &e))?;
            let key = out.access_key().ok_or_else(|| {
                AwsError::new(
                    AwsErrorKind::Retryable,
                    IAM,
                    "CreateAccessKey",
                    None,
                    "the response carried no access key",
                )
            })?;
            Ok(Some((
                key.access_key_id().to_owned(),
                SecretString::new(key.secret_access_key()),
            )))
        };
        let login = async {
            let Some(password) = req.console_password else {
                return Ok(());
            };
            self.iam()
                .create_login_profile()
                .user_name(user)
                .password(password.expose())
                .password_reset_required(false)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("CreateLoginProfile", &e).about("console password"))
        };
        let inline = async {
            let Some(document) = req.inline_policy else {
                return Ok(());
            };
            self.iam()
                .put_user_policy()
                .user_name(user)
                .policy_name(INLINE_USER_POLICY)
                .policy_document(document)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("PutUserPolicy", &e).about("inline policy"))
        };

        // Every step runs to completion so the reported error does not depend on
        // which one lost a race; the caller tears down whatever did get created.
        let (attach, join, key, login, inline) = futures::join!(attach, join, key, login, inline);
        let key_err = key.as_ref().err().cloned();
        let errors = attach
            .into_iter()
            .chain(join)
            .filter_map(Result::err)
            .chain(key_err)
            .chain(login.err())
            .chain(inline.err());
        if let Some(err) = pick_error(errors) {
            return Err(err);
        }
        let (access_key_id, secret_access_key) = match key {
            Ok(Some((id, secret))) => (Some(id), Some(secret)),
            _ => (None, None),
        };
        Ok(IssuedIamUser {
            user_name: user.to_owned(),
            user_arn,
            created: CreatedIamUser {
                user_name: user.to_owned(),
                access_key_id: access_key_id.clone(),
                login_profile: req.console_password.is_some(),
                attached_policies: req.policy_arns.to_vec(),
                groups: req.groups.to_vec(),
                inline_policy: req.inline_policy.map(|_| INLINE_USER_POLICY.to_owned()),
                permissions_boundary: req.permissions_boundary.map(str::to_owned),
            },
            access_key_id,
            secret_access_key,
        })
    }

    /// CreateUser answered EntityAlreadyExists. When the user carries this
    /// request's [`LEASE_ID_TAG`], an earlier attempt of this very issuance
    /// created it and its reply was lost (the SDK retried): the issuance goes
    /// on with it. Any other user is not ours to use or touch, and the name
    /// clash is reported as transient (the next issuance picks a new name).
    async fn existing_user_if_ours(
        &self,
        req: &NewIamUser<'_>,
        mut exists: AwsError,
    ) -> Result<String, AwsError> {
        let wanted = req
            .tags
            .iter()
            .find(|(k, _)| k == LEASE_ID_TAG)
            .map(|(_, v)| v);
        let tags = self.user_tags(req.user_name).await?;
        let ours = wanted.is_some_and(|id| tags.iter().any(|(k, v)| k == LEASE_ID_TAG && v == id));
        if !ours {
            exists.kind = AwsErrorKind::Retryable;
            exists.message = format!(
                "{} (the existing user is not this credential's; try again)",
                exists.message
            );
            return Err(exists);
        }
        tracing::info!(
            user = req.user_name,
            "CreateUser's earlier reply was lost; continuing with the user it created"
        );
        let out = self
            .iam()
            .get_user()
            .user_name(req.user_name)
            .send()
            .await
            .map_err(|e| iam_err("GetUser", &e))?;
        out.user().map(|u| u.arn().to_owned()).ok_or_else(|| {
            AwsError::new(
                AwsErrorKind::Retryable,
                IAM,
                "GetUser",
                None,
                "the response carried no user",
            )
        })
    }

    /// Sets (adds or overwrites) tags on an IAM user.
    pub async fn tag_user(
        &self,
        user_name: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        const OP: &str = "TagUser";
        let tags = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_iam::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|_| invalid_tag(IAM, OP, k))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.iam()
            .tag_user()
            .user_name(user_name)
            .set_tags(Some(tags))
            .send()
            .await
            .map(drop)
            .map_err(|e| iam_err(OP, &e))
    }

    /// Users under `path_prefix` (e.g. `/dynsec/`) with their tags. A user deleted
    /// while the listing runs is left out.
    pub async fn list_users_with_tags(
        &self,
        path_prefix: &str,
    ) -> Result<Vec<UserWithTags>, AwsError> {
        let users = self
            .iam()
            .list_users()
            .path_prefix(path_prefix)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_err("ListUsers", &e))?;

        futures::stream::iter(users)
            .map(|user| async move {
                match self.user_tags(&user.user_name).await {
                    Ok(tags) => Ok(Some(UserWithTags {
                        user_name: user.user_name,
                        path: user.path,
                        tags,
                    })),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(TAG_FETCH_CONCURRENCY)
            .try_filter_map(|u| async move { Ok(u) })
            .try_collect()
            .await
    }

    pub(crate) async fn user_tags(&self, user: &str) -> Result<Vec<(String, String)>, AwsError> {
        let tags = self
            .iam()
            .list_user_tags()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_err("ListUserTags", &e))?;
        Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
    }
}

pub(crate) fn iam_err<E: aws_sdk_iam::error::ProvideErrorMetadata>(
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> AwsError {
    AwsError::from_sdk(IAM, operation, err)
}
