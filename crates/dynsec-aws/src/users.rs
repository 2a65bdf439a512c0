//! Temporary IAM users: creation with their grants and credentials, complete
//! teardown, and listing for the orphan sweep.
//!
//! Creation does not roll back: the caller records a durable intent before it
//! calls [`AwsAdmin::create_user`] and runs [`AwsAdmin::teardown_user`] on any
//! failure, so cleanup survives a crash of this process mid-way.

use crate::admin::{invalid_tag, non_empty, AwsAdmin, IAM};
use crate::error::{AwsError, AwsErrorKind};
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::config::interceptors::InterceptorContext;
use aws_sdk_iam::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_iam::error::SdkError;
use dynsec_core::SecretString;
use futures::future::join_all;
use futures::{StreamExt, TryStreamExt};
use std::future::Future;

/// What to create for one temporary IAM user.
#[derive(Debug, Clone, Copy)]
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
}

/// What [`AwsAdmin::create_user`] created. `Debug` redacts the secret key.
#[derive(Debug, Clone)]
pub struct IssuedIamUser {
    pub user_name: String,
    pub user_arn: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
}

/// A user found under a path prefix, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWithTags {
    pub user_name: String,
    pub path: String,
    pub tags: Vec<(String, String)>,
}

/// The tag naming the lease a temporary user was created for; CreateUser's
/// EntityAlreadyExists is resolved by it (see `existing_user_if_ours`).
pub const LEASE_ID_TAG: &str = "dynsec:lease-id";

/// How many users' tags are fetched at once during a listing.
const TAG_FETCH_CONCURRENCY: usize = 4;

impl AwsAdmin {
    /// CreateUser (with path and tags), then concurrently: AttachUserPolicy per
    /// policy, AddUserToGroup per group, CreateAccessKey, CreateLoginProfile.
    ///
    /// On error nothing is undone. `err.operation == "CreateUser"` means the user
    /// was probably not created (though after a timeout it may have been); any
    /// other operation names the step that failed after the user existed, and the
    /// message names the policy or group. A policy or group that does not exist
    /// is reported as [`AwsErrorKind::Invalid`].
    pub async fn create_user(&self, req: &NewIamUser<'_>) -> Result<IssuedIamUser, AwsError> {
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
            .iam
            .create_user()
            .user_name(req.user_name)
            .path(req.path)
            .set_tags(non_empty(tags))
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
            self.iam
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("AttachUserPolicy", &e).about(&format!("policy {arn}")))
        }));
        let join = join_all(req.groups.iter().map(|group| async move {
            self.iam
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
                .iam
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
            self.iam
                .create_login_profile()
                .user_name(user)
                .password(password.expose())
                .password_reset_required(false)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("CreateLoginProfile", &e).about("console password"))
        };

        // Every step runs to completion so the reported error does not depend on
        // which one lost a race; the caller tears down whatever did get created.
        let (attach, join, key, login) = futures::join!(attach, join, key, login);
        let key_err = key.as_ref().err().cloned();
        let errors = attach
            .into_iter()
            .chain(join)
            .filter_map(Result::err)
            .chain(key_err)
            .chain(login.err());
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
            .iam
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

    /// Deletes the user and everything AWS requires to be gone first. Idempotent:
    /// a missing piece (or user) counts as deleted. The independent removals run
    /// concurrently; DeleteUser runs only after all of them succeeded.
    pub async fn teardown_user(&self, user_name: &str) -> Result<(), AwsError> {
        tracing::debug!(user = user_name, "tearing down IAM user");
        let (keys, login, mfa, ssh, certs, service_creds, inline, attached, groups) = futures::join!(
            self.delete_access_keys(user_name),
            self.delete_login_profile(user_name),
            self.delete_mfa_devices(user_name),
            self.delete_ssh_public_keys(user_name),
            self.delete_signing_certificates(user_name),
            self.delete_service_specific_credentials(user_name),
            self.delete_inline_policies(user_name),
            self.detach_policies(user_name),
            self.leave_groups(user_name),
        );
        let errors = [
            keys,
            login,
            mfa,
            ssh,
            certs,
            service_creds,
            inline,
            attached,
            groups,
        ]
        .into_iter()
        .filter_map(Result::err);
        if let Some(err) = pick_error(errors) {
            return Err(err);
        }

        match self.iam.delete_user().user_name(user_name).send().await {
            Ok(_) => Ok(()),
            Err(e) => match iam_err("DeleteUser", &e) {
                err if err.is_not_found() => Ok(()),
                // Something was attached between our listing and now (or AWS has not
                // caught up); the next teardown attempt lists again.
                mut err if err.code.as_deref() == Some("DeleteConflict") => {
                    err.kind = AwsErrorKind::Retryable;
                    Err(err)
                }
                err => Err(err),
            },
        }
    }

    /// Users under `path_prefix` (e.g. `/dynsec/`) with their tags. A user deleted
    /// while the listing runs is left out.
    pub async fn list_users_with_tags(
        &self,
        path_prefix: &str,
    ) -> Result<Vec<UserWithTags>, AwsError> {
        let users = collect_pages("ListUsers", |marker| {
            let call = self
                .iam
                .list_users()
                .path_prefix(path_prefix)
                .set_marker(marker);
            async move {
                let out = call.send().await.map_err(|e| iam_err("ListUsers", &e))?;
                let items = out
                    .users()
                    .iter()
                    .map(|u| (u.user_name().to_owned(), u.path().to_owned()))
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        })
        .await?;

        futures::stream::iter(users)
            .map(|(user_name, path)| async move {
                match self.user_tags(&user_name).await {
                    Ok(tags) => Ok(Some(UserWithTags {
                        user_name,
                        path,
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

    async fn user_tags(&self, user: &str) -> Result<Vec<(String, String)>, AwsError> {
        collect_pages("ListUserTags", |marker| {
            let call = self.iam.list_user_tags().user_name(user).set_marker(marker);
            async move {
                let out = call.send().await.map_err(|e| iam_err("ListUserTags", &e))?;
                let items = out
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        })
        .await
    }

    async fn delete_access_keys(&self, user: &str) -> Result<(), AwsError> {
        let ids = collect_pages("ListAccessKeys", |marker| {
            let call = self
                .iam
                .list_access_keys()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListAccessKeys", &e))?;
                let items = out
                    .access_key_metadata()
                    .iter()
                    .filter_map(|k| k.access_key_id().map(str::to_owned))
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        });
        delete_each(ids, |id: String| async move {
            self.iam
                .delete_access_key()
                .user_name(user)
                .access_key_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DeleteAccessKey", &e))
        })
        .await
    }

    async fn delete_login_profile(&self, user: &str) -> Result<(), AwsError> {
        let result = self
            .iam
            .delete_login_profile()
            .user_name(user)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam_err("DeleteLoginProfile", &e));
        gone_is_done(result)
    }

    /// Deactivates every MFA device (DeleteUser requires it) and deletes the
    /// virtual ones; hardware and FIDO devices are not ours to delete.
    async fn delete_mfa_devices(&self, user: &str) -> Result<(), AwsError> {
        let serials = collect_pages("ListMFADevices", |marker| {
            let call = self
                .iam
                .list_mfa_devices()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListMFADevices", &e))?;
                let items = out
                    .mfa_devices()
                    .iter()
                    .map(|d| d.serial_number().to_owned())
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        });
        delete_each(serials, |serial: String| async move {
            gone_is_done(
                self.iam
                    .deactivate_mfa_device()
                    .user_name(user)
                    .serial_number(&serial)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeactivateMFADevice", &e)),
            )?;
            if is_virtual_mfa(&serial) {
                self.iam
                    .delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteVirtualMFADevice", &e))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn delete_ssh_public_keys(&self, user: &str) -> Result<(), AwsError> {
        let ids = collect_pages("ListSSHPublicKeys", |marker| {
            let call = self
                .iam
                .list_ssh_public_keys()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListSSHPublicKeys", &e))?;
                let items = out
                    .ssh_public_keys()
                    .iter()
                    .map(|k| k.ssh_public_key_id().to_owned())
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        });
        delete_each(ids, |id: String| async move {
            self.iam
                .delete_ssh_public_key()
                .user_name(user)
                .ssh_public_key_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DeleteSSHPublicKey", &e))
        })
        .await
    }

    async fn delete_signing_certificates(&self, user: &str) -> Result<(), AwsError> {
        let ids = collect_pages("ListSigningCertificates", |marker| {
            let call = self
                .iam
                .list_signing_certificates()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListSigningCertificates", &e))?;
                let items = out
                    .certificates()
                    .iter()
                    .map(|c| c.certificate_id().to_owned())
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        });
        delete_each(ids, |id: String| async move {
            self.iam
                .delete_signing_certificate()
                .user_name(user)
                .certificate_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DeleteSigningCertificate", &e))
        })
        .await
    }

    /// ListServiceSpecificCredentials is not paginated in the IAM API.
    ///
    /// moto 5.2.1 does not implement it: it raises `NotImplementedError`, which its
    /// Werkzeug server turns into a generic HTML "500 Internal Server Error". That
    /// answer (and only it) is treated as "nothing to delete": see
    /// [`is_emulator_crash`]. This cannot hide a credential on real AWS, where
    /// such a response never occurs, and even if it did, DeleteUser would refuse
    /// with DeleteConflict while a service-specific credential remains.
    async fn delete_service_specific_credentials(&self, user: &str) -> Result<(), AwsError> {
        const OP: &str = "ListServiceSpecificCredentials";
        let listed = self
            .iam
            .list_service_specific_credentials()
            .user_name(user)
            .customize()
            // The standard policy would retry the 500 twice with backoff (~1.5 s)
            // before we get to look at it.
            .config_override(
                aws_sdk_iam::config::Builder::default().retry_classifier(EmulatorCrashNoRetry),
            )
            .send()
            .await;
        let ids: Vec<String> = match listed {
            Ok(out) => out
                .service_specific_credentials()
                .iter()
                .map(|c| c.service_specific_credential_id().to_owned())
                .collect(),
            Err(e) if e.raw_response().is_some_and(is_emulator_crash) => {
                tracing::debug!(
                    user,
                    "{OP} answered with an emulator's generic 500; assuming it is unimplemented"
                );
                return Ok(());
            }
            Err(e) => match iam_err(OP, &e) {
                err if err.is_not_found() => return Ok(()),
                err => return Err(err),
            },
        };
        delete_each(async { Ok(ids) }, |id: String| async move {
            self.iam
                .delete_service_specific_credential()
                .user_name(user)
                .service_specific_credential_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DeleteServiceSpecificCredential", &e))
        })
        .await
    }

    async fn delete_inline_policies(&self, user: &str) -> Result<(), AwsError> {
        let names = collect_pages("ListUserPolicies", |marker| {
            let call = self
                .iam
                .list_user_policies()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListUserPolicies", &e))?;
                Ok(Page::new(
                    out.policy_names().to_vec(),
                    out.is_truncated(),
                    out.marker(),
                ))
            }
        });
        delete_each(names, |name: String| async move {
            self.iam
                .delete_user_policy()
                .user_name(user)
                .policy_name(name)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DeleteUserPolicy", &e))
        })
        .await
    }

    async fn detach_policies(&self, user: &str) -> Result<(), AwsError> {
        let arns = collect_pages("ListAttachedUserPolicies", |marker| {
            let call = self
                .iam
                .list_attached_user_policies()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListAttachedUserPolicies", &e))?;
                let items = out
                    .attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned))
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        });
        delete_each(arns, |arn: String| async move {
            self.iam
                .detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DetachUserPolicy", &e))
        })
        .await
    }

    async fn leave_groups(&self, user: &str) -> Result<(), AwsError> {
        let groups = collect_pages("ListGroupsForUser", |marker| {
            let call = self
                .iam
                .list_groups_for_user()
                .user_name(user)
                .set_marker(marker);
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| iam_err("ListGroupsForUser", &e))?;
                let items = out
                    .groups()
                    .iter()
                    .map(|g| g.group_name().to_owned())
                    .collect();
                Ok(Page::new(items, out.is_truncated(), out.marker()))
            }
        });
        delete_each(groups, |group: String| async move {
            self.iam
                .remove_user_from_group()
                .user_name(user)
                .group_name(group)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("RemoveUserFromGroup", &e))
        })
        .await
    }
}

fn iam_err<E: aws_sdk_iam::error::ProvideErrorMetadata>(
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> AwsError {
    AwsError::from_sdk(IAM, operation, err)
}

/// In teardown, a missing piece is a deleted piece.
fn gone_is_done(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Lists (a missing user means nothing to delete), then deletes every item
/// concurrently, treating already-gone items as deleted.
async fn delete_each<L, D, DF>(list: L, delete: D) -> Result<(), AwsError>
where
    L: Future<Output = Result<Vec<String>, AwsError>>,
    D: Fn(String) -> DF,
    DF: Future<Output = Result<(), AwsError>>,
{
    let items = match list.await {
        Ok(items) => items,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let results = join_all(
        items
            .into_iter()
            .map(|item| async { gone_is_done(delete(item).await) }),
    )
    .await;
    match pick_error(results.into_iter().filter_map(Result::err)) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Of several failures, reports the first permanent one: retrying cannot fix it,
/// so the caller should hear about it rather than about a throttle.
fn pick_error(errors: impl IntoIterator<Item = AwsError>) -> Option<AwsError> {
    let mut first = None;
    for err in errors {
        if !err.is_retryable() {
            return Some(err);
        }
        first.get_or_insert(err);
    }
    first
}

/// One page of a Marker-paginated IAM listing.
struct Page<T> {
    items: Vec<T>,
    next_marker: Option<String>,
}

impl<T> Page<T> {
    /// IAM sets Marker only when IsTruncated; honour both.
    fn new(items: Vec<T>, is_truncated: bool, marker: Option<&str>) -> Self {
        let next_marker = marker
            .filter(|m| is_truncated && !m.is_empty())
            .map(str::to_owned);
        Self { items, next_marker }
    }
}

/// Follows Marker until the listing is complete. The whole list is read before
/// anything is deleted, because deleting shifts what later pages contain.
async fn collect_pages<T, F, Fut>(operation: &'static str, mut fetch: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, AwsError>>,
{
    let mut items = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = fetch(marker.clone()).await?;
        items.extend(page.items);
        match page.next_marker {
            None => return Ok(items),
            // A server that hands back the marker it was given would loop forever.
            Some(next) if marker.as_deref() == Some(next.as_str()) => {
                return Err(AwsError::new(
                    AwsErrorKind::Retryable,
                    IAM,
                    operation,
                    None,
                    "the listing repeated its pagination marker",
                ));
            }
            Some(next) => marker = Some(next),
        }
    }
}

fn is_virtual_mfa(serial: &str) -> bool {
    serial.starts_with("arn:") && serial.contains(":mfa/")
}

/// True for the answer moto's Werkzeug server gives when a handler raises (as
/// `NotImplementedError` does for unimplemented actions): HTTP 500, a `Server:
/// Werkzeug/...` header, and an HTML page instead of an AWS XML error. AWS
/// itself never identifies as Werkzeug, so this cannot match a real AWS answer.
fn is_emulator_crash(resp: &HttpResponse) -> bool {
    let header = |name: &str| resp.headers().get(name).unwrap_or_default();
    resp.status().as_u16() == 500
        && header("server").starts_with("Werkzeug/")
        && header("content-type").starts_with("text/html")
        && !resp
            .body()
            .bytes()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("<ErrorResponse"))
}

/// Stops the SDK from retrying an [`is_emulator_crash`] answer, which is not transient.
#[derive(Debug)]
struct EmulatorCrashNoRetry;

impl ClassifyRetry for EmulatorCrashNoRetry {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if ctx.response().is_some_and(is_emulator_crash) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "dynsec emulator-crash no-retry"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn resp(status: u16, server: &str, content_type: &str, body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        r.headers_mut().insert("server", server.to_string());
        r.headers_mut()
            .insert("content-type", content_type.to_string());
        r
    }

    #[test]
    fn emulator_crash_detection_is_narrow() {
        let page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>";
        assert!(is_emulator_crash(&resp(
            500,
            "Werkzeug/3.1.8 Python/3.11.7",
            "text/html; charset=utf-8",
            page
        )));
        // AWS's own 500 is XML from an AWS server.
        assert!(!is_emulator_crash(&resp(
            500,
            "AmazonIAM",
            "text/xml",
            "<ErrorResponse><Error><Code>ServiceFailure</Code></Error></ErrorResponse>"
        )));
        // moto's real AWS-shaped errors (even 500s) are not crashes.
        assert!(!is_emulator_crash(&resp(
            500,
            "Werkzeug/3.1.8 Python/3.11.7, amazon.com",
            "text/html; charset=utf-8",
            "<ErrorResponse><Errors><Error><Code>X</Code></Error></Errors></ErrorResponse>"
        )));
        assert!(!is_emulator_crash(&resp(
            503,
            "Werkzeug/3.1.8",
            "text/html",
            page
        )));
    }

    #[test]
    fn virtual_mfa_serials() {
        assert!(is_virtual_mfa("arn:aws:iam::123456789012:mfa/dev"));
        assert!(!is_virtual_mfa("GAHT12345678"));
        assert!(!is_virtual_mfa("arn:aws:iam::123456789012:u2f/user/x/key"));
    }

    #[test]
    fn pick_error_prefers_permanent_failures() {
        let e = |kind| AwsError::new(kind, IAM, "Op", None, format!("{kind:?}"));
        let picked = pick_error([
            e(AwsErrorKind::Retryable),
            e(AwsErrorKind::Invalid),
            e(AwsErrorKind::Denied),
        ]);
        assert_eq!(picked.map(|e| e.kind), Some(AwsErrorKind::Invalid));
        let picked = pick_error([e(AwsErrorKind::Retryable)]);
        assert_eq!(picked.map(|e| e.kind), Some(AwsErrorKind::Retryable));
        assert!(pick_error(Vec::new()).is_none());
    }

    #[tokio::test]
    async fn pagination_follows_markers_and_stops_on_repeats() {
        let pages = std::cell::RefCell::new(Vec::new());
        let all = collect_pages("ListThings", |marker: Option<String>| {
            pages.borrow_mut().push(marker.clone());
            async move {
                Ok(match marker.as_deref() {
                    None => Page::new(vec![1, 2], true, Some("m1")),
                    Some("m1") => Page::new(vec![3], true, Some("m2")),
                    // Marker present but not truncated: done.
                    _ => Page::new(vec![4], false, Some("m3")),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(all, vec![1, 2, 3, 4]);
        assert_eq!(pages.borrow().len(), 3);

        let err = collect_pages("ListThings", |_marker| async {
            Ok(Page::new(vec![0], true, Some("same")))
        })
        .await
        .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.operation, "ListThings");
    }
}
