//! dynsec-aws against ministack with authentication on, for what moto cannot
//! show: ministack evaluates policy conditions (`aws:userid`,
//! `aws:TokenIssueTime`, `sts:ExternalId`), session policies and permissions
//! boundaries, and its GetSessionToken / GetFederationToken credentials work.
//! Each test starts its own ministack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_iam::error::SdkError;
use dynsec_aws::{
    AssumeRoleRequest, AwsAdmin, FederationTokenRequest, NewIamUser, RevokedSession,
    SessionCredentials, SessionTokenRequest, TeardownPath, REVOKED_SESSIONS_POLICY,
};
use dynsec_core::{AwsConnection, SecretString};
use dynsec_testkit::{Ministack, MINISTACK_ACCOUNT_ID};
use std::time::{Duration, Instant, SystemTime};

fn allow(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whether a call went through; a refusal must be AccessDenied.
fn allowed<T, E: std::fmt::Debug>(result: Result<T, SdkError<E>>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let body = e
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            assert_eq!(status, Some(403), "{e:?}");
            assert!(body.contains("AccessDenied"), "{body}");
            false
        }
    }
}

fn iam_as(ms: &Ministack, creds: &SessionCredentials) -> aws_sdk_iam::Client {
    ms.iam(
        &creds.access_key_id,
        creds.secret_access_key.expose(),
        Some(creds.session_token.expose()),
    )
}

/// A role the root account may assume (optionally only with an external id),
/// whose own policy allows `action`; returns its ARN.
async fn role(ms: &Ministack, name: &str, action: &str, external_id: Option<&str>) -> String {
    let condition = external_id
        .map(|id| format!(r#","Condition":{{"StringEquals":{{"sts:ExternalId":"{id}"}}}}"#))
        .unwrap_or_default();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{MINISTACK_ACCOUNT_ID}:root"}},"Action":"sts:AssumeRole"{condition}}}]}}"#
    );
    let iam = ms.root_iam();
    let out = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(name)
        .policy_name("role-permissions")
        .policy_document(allow(action))
        .send()
        .await
        .unwrap();
    out.role().unwrap().arn().to_string()
}

/// A customer-managed policy allowing one action; returns its ARN.
async fn managed_policy(ms: &Ministack, name: &str, action: &str) -> String {
    let out = ms
        .root_iam()
        .create_policy()
        .policy_name(name)
        .policy_document(allow(action))
        .send()
        .await
        .unwrap();
    out.policy().unwrap().arn().unwrap().to_string()
}

async fn session(admin: &AwsAdmin, role_arn: &str, name: &str) -> SessionCredentials {
    admin
        .assume_role(&AssumeRoleRequest {
            role_arn,
            session_name: name,
            duration_secs: 900,
            ..AssumeRoleRequest::default()
        })
        .await
        .unwrap()
}

/// Retries `check` until it is true or `within` has passed.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn revoking_one_session_denies_it_while_another_session_of_the_role_keeps_working() {
    let ms = Ministack::start().await;
    let admin = AwsAdmin::new(&ms.root_connection(), 3);
    let role_arn = role(&ms, "dynsec-early", "iam:ListRoles", None).await;
    let a = session(&admin, &role_arn, "dynsec-lease-a").await;
    let b = session(&admin, &role_arn, "dynsec-lease-b").await;
    assert!(allowed(iam_as(&ms, &a).list_roles().send().await));
    assert!(allowed(iam_as(&ms, &b).list_roles().send().await));

    let now = unix_now();
    let write = admin
        .revoke_role_sessions(
            &role_arn,
            &[RevokedSession {
                session_name: "dynsec-lease-a".into(),
                expires_at: now + 900,
            }],
            now,
        )
        .await
        .unwrap();
    assert_eq!(write.role_name, "dynsec-early");
    assert_eq!(
        (write.listed, write.fell_back, write.deleted),
        (1, false, false)
    );
    // The role's other inline policy counts against the budget.
    assert_eq!(
        write.budget,
        10_240 - dynsec_aws::policy_size(&allow("iam:ListRoles"))
    );
    let stored = admin
        .get_role_policy("dynsec-early", REVOKED_SESSIONS_POLICY)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.contains("*:dynsec-lease-a"), "{stored}");

    // A is denied, B of the same role is not.
    assert!(
        eventually(Duration::from_secs(5), || async {
            !allowed(iam_as(&ms, &a).list_roles().send().await)
        })
        .await,
        "session A still works"
    );
    assert!(allowed(iam_as(&ms, &b).list_roles().send().await));

    // Denying every dynsec session issued before now ends B too; a session
    // issued after the bound works.
    let now = unix_now();
    let write = admin.deny_all_role_sessions(&role_arn, now).await.unwrap();
    assert_eq!(write.listed, 0, "the fallback covers the list");
    assert!(!allowed(iam_as(&ms, &b).list_roles().send().await));
    assert!(
        eventually(Duration::from_secs(5), || async {
            let c = session(&admin, &role_arn, "dynsec-lease-c").await;
            allowed(iam_as(&ms, &c).list_roles().send().await)
        })
        .await,
        "a session issued after the bound is denied"
    );

    // Once every entry has expired, pruning deletes the policy.
    let write = admin
        .revoke_role_sessions(&role_arn, &[], now + 2 * dynsec_aws::MAX_SESSION_SECS)
        .await
        .unwrap();
    assert!(write.deleted);
    assert_eq!(
        admin
            .get_role_policy("dynsec-early", REVOKED_SESSIONS_POLICY)
            .await
            .unwrap(),
        None
    );
    assert!(allowed(iam_as(&ms, &b).list_roles().send().await));

    // A role in another account is refused before anything is written.
    let err = admin
        .revoke_role_sessions("arn:aws:iam::999999999999:role/dynsec-early", &[], now)
        .await
        .unwrap_err();
    assert!(err.message.contains("own account"), "{err}");
}

#[tokio::test]
async fn session_and_federation_tokens_work_and_their_policies_bind() {
    let ms = Ministack::start().await;
    let root = ms.root_iam();
    root.create_user()
        .user_name("dynsec-admin")
        .send()
        .await
        .unwrap();
    root.put_user_policy()
        .user_name("dynsec-admin")
        .policy_name("everything")
        .policy_document(allow("*"))
        .send()
        .await
        .unwrap();
    let key = root
        .create_access_key()
        .user_name("dynsec-admin")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let conn = AwsConnection {
        access_key_id: key.access_key_id().to_string(),
        secret_access_key: SecretString::new(key.secret_access_key()),
        ..ms.root_connection()
    };
    let admin = AwsAdmin::new(&conn, 3);
    let admin_arn = format!("arn:aws:iam::{MINISTACK_ACCOUNT_ID}:user/dynsec-admin");

    // GetSessionToken: a working session acting as the admin user.
    let session = admin
        .get_session_token(&SessionTokenRequest {
            duration_secs: 900,
            mfa: None,
        })
        .await
        .unwrap();
    let wait = admin
        .wait_until_usable(&session.credential(), Duration::from_secs(5))
        .await;
    assert_eq!(wait.outcome.unwrap().arn, admin_arn);
    assert!(allowed(iam_as(&ms, &session).list_users().send().await));

    // GetFederationToken: the inline session policy limits the session.
    let fed = admin
        .get_federation_token(&FederationTokenRequest {
            name: "dynsec-fed-1",
            duration_secs: 900,
            policy: Some(&allow("iam:ListUsers")),
            ..FederationTokenRequest::default()
        })
        .await
        .unwrap();
    assert!(fed
        .assumed_role_arn
        .as_deref()
        .unwrap()
        .ends_with(":federated-user/dynsec-fed-1"));
    let fed_iam = iam_as(&ms, &fed);
    assert!(allowed(fed_iam.list_users().send().await));
    assert!(!allowed(fed_iam.list_roles().send().await));

    // ... and so do managed session policies.
    let list_roles = managed_policy(&ms, "list-roles", "iam:ListRoles").await;
    let fed = admin
        .get_federation_token(&FederationTokenRequest {
            name: "dynsec-fed-2",
            duration_secs: 900,
            policy_arns: std::slice::from_ref(&list_roles),
            ..FederationTokenRequest::default()
        })
        .await
        .unwrap();
    let fed_iam = iam_as(&ms, &fed);
    assert!(allowed(fed_iam.list_roles().send().await));
    assert!(!allowed(fed_iam.list_users().send().await));
}

#[tokio::test]
async fn session_policies_external_ids_and_permissions_boundaries_bind() {
    let ms = Ministack::start().await;
    let admin = AwsAdmin::new(&ms.root_connection(), 3);
    let role_arn = role(&ms, "dynsec-wide", "*", None).await;
    let list_users = managed_policy(&ms, "list-users", "iam:ListUsers").await;

    // AssumeRole with an inline session policy, then with a managed one.
    let narrowed = admin
        .assume_role(&AssumeRoleRequest {
            role_arn: &role_arn,
            session_name: "dynsec-narrow-1",
            duration_secs: 900,
            session_policy: Some(&allow("iam:ListRoles")),
            ..AssumeRoleRequest::default()
        })
        .await
        .unwrap();
    assert!(allowed(iam_as(&ms, &narrowed).list_roles().send().await));
    assert!(!allowed(iam_as(&ms, &narrowed).list_users().send().await));
    let narrowed = admin
        .assume_role(&AssumeRoleRequest {
            role_arn: &role_arn,
            session_name: "dynsec-narrow-2",
            duration_secs: 900,
            session_policy_arns: std::slice::from_ref(&list_users),
            ..AssumeRoleRequest::default()
        })
        .await
        .unwrap();
    assert!(allowed(iam_as(&ms, &narrowed).list_users().send().await));
    assert!(!allowed(iam_as(&ms, &narrowed).list_roles().send().await));

    // The external id reaches the trust policy.
    let guarded = role(&ms, "dynsec-guarded", "*", Some("ext-123")).await;
    let request = |external_id| AssumeRoleRequest {
        role_arn: &guarded,
        session_name: "dynsec-guarded-1",
        duration_secs: 900,
        external_id,
        ..AssumeRoleRequest::default()
    };
    let refused = admin.assume_role(&request(None)).await.unwrap_err();
    assert_eq!(refused.kind, dynsec_aws::AwsErrorKind::Denied, "{refused}");
    admin.assume_role(&request(Some("ext-123"))).await.unwrap();

    // A permissions boundary set at CreateUser caps what the user's own
    // policies allow.
    let everything = managed_policy(&ms, "everything", "*").await;
    let list_roles = managed_policy(&ms, "boundary-list-roles", "iam:ListRoles").await;
    let issued = admin
        .create_user(&NewIamUser {
            user_name: "tmp.bounded.1",
            path: "/dynsec/",
            policy_arns: std::slice::from_ref(&everything),
            access_key: true,
            permissions_boundary: Some(&list_roles),
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    let user_iam = ms.iam(
        issued.access_key_id.as_deref().unwrap(),
        issued.secret_access_key.as_ref().unwrap().expose(),
        None,
    );
    assert!(allowed(user_iam.list_roles().send().await));
    assert!(!allowed(user_iam.list_users().send().await));

    // ministack's DeleteUser refuses while a key remains (as AWS does), so a
    // key added after issuance sends teardown by what was created into
    // discovery; the boundary itself does not stand in DeleteUser's way.
    let extra = ms
        .root_iam()
        .create_access_key()
        .user_name("tmp.bounded.1")
        .send()
        .await
        .unwrap();
    let path = admin.teardown_created(&issued.created).await.unwrap();
    assert_eq!(path, TeardownPath::Discovered);
    let gone = ms
        .root_iam()
        .get_user()
        .user_name("tmp.bounded.1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&gone),
        Some("NoSuchEntity")
    );
    let extra = extra.access_key().unwrap();
    let rejected = ms
        .sts(extra.access_key_id(), extra.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await;
    assert!(rejected.is_err(), "the added key still works");
}
