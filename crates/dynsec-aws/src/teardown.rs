//! Deleting a temporary IAM user, two ways:
//!
//! - [`AwsAdmin::teardown_created`]: deletes exactly what issuance recorded
//!   ([`CreatedIamUser`]), concurrently, then DeleteUser — one call per
//!   created thing plus one. AWS refuses DeleteUser with `DeleteConflict`
//!   while anything is still attached to the user, so if someone added
//!   something after issuance (a second key, a policy, a group) that answer
//!   says so, and the discovery teardown below finishes the job.
//! - [`AwsAdmin::teardown_user`]: discovery. Lists everything AWS requires
//!   to be gone before DeleteUser ([`FULL_TEARDOWN`], one row per kind,
//!   over the SDK's paginators), deletes it all concurrently, then DeleteUser.
//!
//! Both are idempotent: a missing piece (or user) counts as deleted.

use crate::admin::AwsAdmin;
use crate::error::{AwsError, AwsErrorKind};
use crate::quirks::{is_emulator_crash, is_unimplemented_action, EmulatorCrashNoRetry};
use crate::users::{iam_err, CreatedIamUser};
use aws_sdk_iam::Client;
use futures::future::{join_all, BoxFuture};
use std::future::Future;

/// Which way [`AwsAdmin::teardown_created`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeardownPath {
    /// What issuance created was all there was (or the user was gone already).
    AsCreated,
    /// DeleteUser answered DeleteConflict: something had been added, and the
    /// discovery teardown removed it.
    Discovered,
}

/// Lists a user's items of one kind (ids, names or ARNs).
type ListFn = for<'a> fn(&'a Client, &'a str) -> BoxFuture<'a, Result<Vec<String>, AwsError>>;
/// Deletes one listed item of a user.
type DeleteFn = for<'a> fn(&'a Client, &'a str, String) -> BoxFuture<'a, Result<(), AwsError>>;

/// One kind of thing DeleteUser requires to be gone: how to list a user's
/// items of that kind, and how to delete one.
struct Step {
    /// For logs: what this step removes.
    what: &'static str,
    list: ListFn,
    delete: DeleteFn,
}

/// Everything DeleteUser requires to be gone, in the order AWS documents
/// for deleting a user. The rows are independent of each other, so they run
/// concurrently; DeleteUser follows once all succeeded.
const FULL_TEARDOWN: [Step; 9] = [
    Step {
        what: "access keys",
        list: |iam, user| {
            Box::pin(async move {
                let keys = iam
                    .list_access_keys()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListAccessKeys", &e))?;
                Ok(keys.into_iter().filter_map(|k| k.access_key_id).collect())
            })
        },
        delete: |iam, user, id| {
            Box::pin(async move {
                iam.delete_access_key()
                    .user_name(user)
                    .access_key_id(id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteAccessKey", &e))
            })
        },
    },
    Step {
        what: "login profile",
        // A user has at most one, and DeleteLoginProfile's NoSuchEntity says
        // there was none: listing it first (GetLoginProfile) would only cost a call.
        list: |_, _| Box::pin(async { Ok(vec![String::new()]) }),
        delete: |iam, user, _| {
            Box::pin(async move {
                iam.delete_login_profile()
                    .user_name(user)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteLoginProfile", &e))
            })
        },
    },
    Step {
        what: "MFA devices",
        list: |iam, user| {
            Box::pin(async move {
                let devices = iam
                    .list_mfa_devices()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListMFADevices", &e))?;
                Ok(devices.into_iter().map(|d| d.serial_number).collect())
            })
        },
        // Deactivated (DeleteUser requires it), and deleted if virtual:
        // hardware and FIDO devices are not ours to delete.
        delete: |iam, user, serial| {
            Box::pin(async move {
                gone_is_done(
                    iam.deactivate_mfa_device()
                        .user_name(user)
                        .serial_number(&serial)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| iam_err("DeactivateMFADevice", &e)),
                )?;
                if !is_virtual_mfa(&serial) {
                    return Ok(());
                }
                iam.delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteVirtualMFADevice", &e))
            })
        },
    },
    Step {
        what: "SSH public keys",
        list: |iam, user| {
            Box::pin(async move {
                let keys = iam
                    .list_ssh_public_keys()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListSSHPublicKeys", &e))?;
                Ok(keys.into_iter().map(|k| k.ssh_public_key_id).collect())
            })
        },
        delete: |iam, user, id| {
            Box::pin(async move {
                iam.delete_ssh_public_key()
                    .user_name(user)
                    .ssh_public_key_id(id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteSSHPublicKey", &e))
            })
        },
    },
    Step {
        what: "signing certificates",
        list: |iam, user| {
            Box::pin(async move {
                let certs = iam
                    .list_signing_certificates()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListSigningCertificates", &e))?;
                Ok(certs.into_iter().map(|c| c.certificate_id).collect())
            })
        },
        delete: |iam, user, id| {
            Box::pin(async move {
                iam.delete_signing_certificate()
                    .user_name(user)
                    .certificate_id(id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteSigningCertificate", &e))
            })
        },
    },
    Step {
        what: "service-specific credentials",
        list: |iam, user| Box::pin(list_service_specific_credentials(iam, user)),
        delete: |iam, user, id| {
            Box::pin(async move {
                iam.delete_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteServiceSpecificCredential", &e))
            })
        },
    },
    Step {
        what: "inline policies",
        list: |iam, user| {
            Box::pin(async move {
                iam.list_user_policies()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListUserPolicies", &e))
            })
        },
        delete: |iam, user, name| Box::pin(delete_inline_policy(iam, user, name)),
    },
    Step {
        what: "attached policies",
        list: |iam, user| {
            Box::pin(async move {
                let policies = iam
                    .list_attached_user_policies()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListAttachedUserPolicies", &e))?;
                Ok(policies.into_iter().filter_map(|p| p.policy_arn).collect())
            })
        },
        delete: |iam, user, arn| Box::pin(detach_policy(iam, user, arn)),
    },
    Step {
        what: "group memberships",
        list: |iam, user| {
            Box::pin(async move {
                let groups = iam
                    .list_groups_for_user()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| iam_err("ListGroupsForUser", &e))?;
                Ok(groups.into_iter().map(|g| g.group_name).collect())
            })
        },
        delete: |iam, user, group| Box::pin(leave_group(iam, user, group)),
    },
];

impl AwsAdmin {
    /// Deletes the user and everything AWS requires to be gone first, found
    /// by listing (one row of `FULL_TEARDOWN` per kind). The removals run concurrently;
    /// DeleteUser runs only after all of them succeeded. Idempotent: a
    /// missing piece (or user) counts as deleted.
    pub async fn teardown_user(&self, user_name: &str) -> Result<(), AwsError> {
        // Boxed: see `AwsAdmin::caller_identity`.
        Box::pin(self.teardown_by_discovery(user_name)).await
    }

    async fn teardown_by_discovery(&self, user_name: &str) -> Result<(), AwsError> {
        tracing::debug!(user = user_name, "tearing down IAM user (discovery)");
        let iam = self.iam();
        let results = join_all(FULL_TEARDOWN.iter().map(|step| async move {
            let list = async {
                match (step.list)(iam, user_name).await {
                    Err(err) if is_unimplemented_action(&err) => Ok(Vec::new()),
                    listed => listed,
                }
            };
            let result = delete_each(list, |item| (step.delete)(iam, user_name, item)).await;
            if let Err(err) = &result {
                tracing::debug!(user = user_name, what = step.what, error = %err, "teardown step failed");
            }
            result
        }))
        .await;
        if let Some(err) = pick_error(results.into_iter().filter_map(Result::err)) {
            return Err(err);
        }
        match self.delete_user(user_name).await {
            // Something was attached between our listing and now (or AWS has
            // not caught up); the next teardown attempt lists again.
            Err(mut err) if err.has_code("DeleteConflict") => {
                err.kind = AwsErrorKind::Retryable;
                Err(err)
            }
            other => other,
        }
    }

    /// Deletes exactly what one issuance created, concurrently, then
    /// DeleteUser: for a user with one key, one policy and one group that is
    /// four calls, where the discovery teardown makes thirteen. When
    /// DeleteUser answers DeleteConflict (someone added something to the
    /// user since), falls back to [`AwsAdmin::teardown_user`], so nothing is
    /// left behind either way. Idempotent, like the discovery teardown.
    pub async fn teardown_created(
        &self,
        created: &CreatedIamUser,
    ) -> Result<TeardownPath, AwsError> {
        // Boxed: see `AwsAdmin::caller_identity`.
        Box::pin(self.teardown_as_created(created)).await
    }

    async fn teardown_as_created(
        &self,
        created: &CreatedIamUser,
    ) -> Result<TeardownPath, AwsError> {
        let user = created.user_name.as_str();
        tracing::debug!(user, "tearing down IAM user (as created)");
        let iam = self.iam();
        let key = async {
            match &created.access_key_id {
                Some(id) => gone_is_done(
                    iam.delete_access_key()
                        .user_name(user)
                        .access_key_id(id)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| iam_err("DeleteAccessKey", &e)),
                ),
                None => Ok(()),
            }
        };
        let login = async {
            if !created.login_profile {
                return Ok(());
            }
            gone_is_done(
                iam.delete_login_profile()
                    .user_name(user)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| iam_err("DeleteLoginProfile", &e)),
            )
        };
        let inline = async {
            match &created.inline_policy {
                Some(name) => gone_is_done(delete_inline_policy(iam, user, name.clone()).await),
                None => Ok(()),
            }
        };
        let detach = join_all(
            created
                .attached_policies
                .iter()
                .map(|arn| async { gone_is_done(detach_policy(iam, user, arn.clone()).await) }),
        );
        let leave = join_all(
            created
                .groups
                .iter()
                .map(|group| async { gone_is_done(leave_group(iam, user, group.clone()).await) }),
        );
        let (key, login, inline, detach, leave) = futures::join!(key, login, inline, detach, leave);
        let errors = [key, login, inline]
            .into_iter()
            .chain(detach)
            .chain(leave)
            .filter_map(Result::err);
        if let Some(err) = pick_error(errors) {
            return Err(err);
        }
        match self.delete_user(user).await {
            Ok(()) => Ok(TeardownPath::AsCreated),
            Err(err) if err.has_code("DeleteConflict") => {
                tracing::info!(user, error = %err, "the user gained something after issuance; tearing down by discovery");
                self.teardown_user(user).await?;
                Ok(TeardownPath::Discovered)
            }
            Err(err) => Err(err),
        }
    }

    /// DeleteUser; a user already gone counts as deleted.
    async fn delete_user(&self, user: &str) -> Result<(), AwsError> {
        gone_is_done(
            self.iam()
                .delete_user()
                .user_name(user)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_err("DeleteUser", &e)),
        )
    }
}

async fn delete_inline_policy(iam: &Client, user: &str, name: String) -> Result<(), AwsError> {
    iam.delete_user_policy()
        .user_name(user)
        .policy_name(name)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_err("DeleteUserPolicy", &e))
}

async fn detach_policy(iam: &Client, user: &str, arn: String) -> Result<(), AwsError> {
    iam.detach_user_policy()
        .user_name(user)
        .policy_arn(arn)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_err("DetachUserPolicy", &e))
}

async fn leave_group(iam: &Client, user: &str, group: String) -> Result<(), AwsError> {
    iam.remove_user_from_group()
        .user_name(user)
        .group_name(group)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_err("RemoveUserFromGroup", &e))
}

/// ListServiceSpecificCredentials is not paginated in the IAM API. An
/// emulator that has not implemented it (see
/// [`crate::quirks::is_emulator_crash`]) counts as "nothing to delete": on
/// AWS such an answer never occurs, and if it did, DeleteUser would still
/// refuse with DeleteConflict while a credential remains.
async fn list_service_specific_credentials(
    iam: &Client,
    user: &str,
) -> Result<Vec<String>, AwsError> {
    const OP: &str = "ListServiceSpecificCredentials";
    let listed = iam
        .list_service_specific_credentials()
        .user_name(user)
        .customize()
        .config_override(
            aws_sdk_iam::config::Builder::default().retry_classifier(EmulatorCrashNoRetry),
        )
        .send()
        .await;
    match listed {
        Ok(out) => Ok(out
            .service_specific_credentials
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.service_specific_credential_id)
            .collect()),
        Err(e) if e.raw_response().is_some_and(is_emulator_crash) => {
            tracing::debug!(
                user,
                "{OP} answered with an emulator's generic 500; assuming it is unimplemented"
            );
            Ok(Vec::new())
        }
        Err(e) => Err(iam_err(OP, &e)),
    }
}

/// In teardown, a missing piece is a deleted piece.
fn gone_is_done(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Lists (a missing user means nothing to delete), then deletes every item
/// concurrently, treating already-gone items as deleted. The whole list is
/// read before anything is deleted, because deleting shifts later pages.
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
pub(crate) fn pick_error(errors: impl IntoIterator<Item = AwsError>) -> Option<AwsError> {
    let mut first = None;
    for err in errors {
        if !err.is_retryable() {
            return Some(err);
        }
        first.get_or_insert(err);
    }
    first
}

fn is_virtual_mfa(serial: &str) -> bool {
    serial.starts_with("arn:") && serial.contains(":mfa/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::IAM;

    #[test]
    fn full_teardown_follows_awss_order() {
        let order: Vec<_> = FULL_TEARDOWN.iter().map(|s| s.what).collect();
        assert_eq!(
            order,
            [
                "access keys",
                "login profile",
                "MFA devices",
                "SSH public keys",
                "signing certificates",
                "service-specific credentials",
                "inline policies",
                "attached policies",
                "group memberships",
            ]
        );
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
    async fn delete_each_treats_missing_things_as_deleted() {
        let missing = |op| AwsError::new(AwsErrorKind::NotFound, IAM, op, None, "gone");
        // The user is gone: nothing to delete.
        let deleted = std::cell::Cell::new(0);
        delete_each(async { Err(missing("ListThings")) }, |_| async {
            deleted.set(deleted.get() + 1);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(deleted.get(), 0);
        // An item vanished meanwhile; the other failure is reported.
        let err = delete_each(
            async { Ok(vec!["a".to_string(), "b".to_string()]) },
            |item| async move {
                if item == "a" {
                    Err(missing("DeleteThing"))
                } else {
                    Err(AwsError::new(
                        AwsErrorKind::Retryable,
                        IAM,
                        "DeleteThing",
                        None,
                        "slow down",
                    ))
                }
            },
        )
        .await
        .unwrap_err();
        assert!(err.is_retryable());
    }
}
