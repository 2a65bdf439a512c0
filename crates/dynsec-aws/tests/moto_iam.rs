//! dynsec-aws against a real moto server with authentication on: issued keys are
//! really checked, policies really evaluated, revoked keys really rejected.
//! Each test starts its own moto so they can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_iam::error::SdkError;
use dynsec_aws::{
    AssumeRoleRequest, AwsAdmin, AwsErrorKind, AwsHttp, CreatedIamUser, FederationTokenRequest,
    MfaCode, NewIamUser, SessionTokenRequest, TeardownPath, INLINE_USER_POLICY,
};
use dynsec_core::{AwsConnection, SecretString};
use dynsec_testkit::{AdminKey, KeepAliveProxy, Moto, ACCOUNT_ID};
use std::time::{Duration, Instant, SystemTime};

const SSH_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDUgDK3nZMzTXEXL5cf7UudETT/u/ddEknIJL92oZk/K dynsec-test";

/// Self-signed, public part only (moto parses uploaded signing certificates).
const SIGNING_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDDzCCAfegAwIBAgIUeJvpuowinJlOKu17fClFlIfnH14wDQYJKoZIhvcNAQEL
BQAwFjEUMBIGA1UEAwwLZHluc2VjLXRlc3QwIBcNMjYxMTIzMjMyMTE5WhgPMjEy
NjEwMzAyMzIxMTlaMBYxFDASBgNVBAMMC2R5bnNlYy10ZXN0MIIBIjANBgkqhkiG
9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3KueJI8OsQYFmlQVlayX3jcSHHZCs6oUp7Uz
9JLE208DPZpBO2Yi1/YVNynNqyZvHSVdjRAuJ53STk6FXjdOkQ9CCBWr6o/sE36Q
82lJ4UdzfmrqRJwXLv+EsjIPP94U6wa0P42fsERB8CHi4nJhYRYMV55zKaaQDdqY
2QNRPORtZeLaTsGDwg5PMLDhlkaqfywk49wvukqnOyyru/sp3qLTQRYC1XQ2PUqk
Ve5zwZMLAZ/snt6780q3yKVFSBuXVmFeaa9zrGldY4c7Xl9aeHxO92LDtj1XERDw
0+6viTDhwIcPk+0/O+MJw3syEnK+IllT9dVhDSrQ60dOoVwP2QIDAQABo1MwUTAd
BgNVHQ4EFgQUb42z5CM2IhwB5q+FlpGjv7YEgSEwHwYDVR0jBBgwFoAUb42z5CM2
IhwB5q+FlpGjv7YEgSEwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOC
AQEAh5BILbP1VNJomhoKt2khLjFLlO73redvDWMo79RPDeG5gnbGDV7xdQl5aT90
dGNpsmFgR+4wziMDW6lXKyEJaMxlFpeWORNH5aUJTSUfc5NxaDvENgMkXoQ4xdWO
xpv5hQCi0DWf3EcTPnDuGtzCkuooD/PcOVdXUY7iT2esAVeSYybFDEH9EQhrnsue
J3uX9s62Nvv9idoSUgIKbEc3DjyLXXsmIKRQJfwuwGTunuBs4t6Ocdk/MRpXmW8O
qFBMbfz9pAQFQUNxMU4xuxkqE0pW/dyFH25UzkwgXNcXfSSAwHYmz0xf7q/0z2+C
v4jqbotNIxcuNf0dIT2LBV883w==
-----END CERTIFICATE-----
";

fn allow(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

struct Fixture {
    moto: Moto,
    key: AdminKey,
    admin: AwsAdmin,
    iam: aws_sdk_iam::Client,
}

async fn fixture() -> Fixture {
    let moto = Moto::start().await;
    let key = moto.bootstrap_admin().await;
    let admin = AwsAdmin::new(&moto.connection(&key), 3);
    let iam = moto.admin_iam(&key);
    Fixture {
        moto,
        key,
        admin,
        iam,
    }
}

impl Fixture {
    /// The admin's connection, sent through `endpoint` (a proxy) instead.
    fn connection_via(&self, endpoint: &str) -> AwsConnection {
        let mut conn = self.moto.connection(&self.key);
        conn.iam_endpoint = Some(endpoint.to_string());
        conn.sts_endpoint = Some(endpoint.to_string());
        conn
    }

    /// Whether a user of this name still exists.
    async fn user_exists(&self, name: &str) -> bool {
        match self.iam.get_user().user_name(name).send().await {
            Ok(_) => true,
            Err(e) => {
                assert_eq!(
                    aws_sdk_iam::error::ProvideErrorMetadata::code(&e),
                    Some("NoSuchEntity"),
                    "{e:?}"
                );
                false
            }
        }
    }

    /// Whether moto still accepts this access key (auth is on).
    async fn key_works(&self, key_id: &str, secret: &str) -> bool {
        match self
            .moto
            .sts(key_id, secret, None)
            .get_caller_identity()
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) => {
                assert_eq!(status(&e), 403, "{e:?}");
                assert!(body(&e).contains("InvalidClientTokenId"), "{}", body(&e));
                false
            }
        }
    }

    /// Members of a group, by user name.
    async fn group_members(&self, group: &str) -> Vec<String> {
        let out = self.iam.get_group().group_name(group).send().await.unwrap();
        out.users()
            .iter()
            .map(|u| u.user_name().to_string())
            .collect()
    }

    /// How many users, groups and roles a managed policy is attached to.
    async fn attachments(&self, policy_arn: &str) -> i32 {
        let out = self
            .iam
            .get_policy()
            .policy_arn(policy_arn)
            .send()
            .await
            .unwrap();
        out.policy().unwrap().attachment_count().unwrap_or_default()
    }

    /// A customer-managed policy allowing one action; returns its ARN.
    async fn policy(&self, name: &str, action: &str) -> String {
        let out = self
            .iam
            .create_policy()
            .policy_name(name)
            .policy_document(allow(action))
            .send()
            .await
            .unwrap();
        out.policy().unwrap().arn().unwrap().to_string()
    }

    /// A group whose inline policy allows one action.
    async fn group(&self, name: &str, action: &str) {
        self.iam
            .create_group()
            .group_name(name)
            .send()
            .await
            .unwrap();
        self.iam
            .put_group_policy()
            .group_name(name)
            .policy_name(format!("{name}-inline"))
            .policy_document(allow(action))
            .send()
            .await
            .unwrap();
    }
}

/// HTTP status of a failed call, whether or not the SDK could decode the body.
fn status<E>(err: &SdkError<E>) -> u16 {
    err.raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default()
}

fn body<E>(err: &SdkError<E>) -> String {
    err.raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn issued_user_works_as_granted_and_teardown_removes_everything() {
    let f = fixture().await;
    let policy_arn = f.policy("dynsec-list-users", "iam:ListUsers").await;
    f.group("dynsec-readers", "iam:ListGroups").await;

    let password = SecretString::new("Console-Pa55word!x");
    let tags = vec![("dynsec-lease".to_string(), "lease-1".to_string())];
    let issued = f
        .admin
        .create_user(&NewIamUser {
            user_name: "dynsec-tmp-1",
            path: "/dynsec/",
            tags: &tags,
            policy_arns: std::slice::from_ref(&policy_arn),
            groups: &["dynsec-readers".to_string()],
            access_key: true,
            console_password: Some(&password),
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    assert_eq!(issued.user_name, "dynsec-tmp-1");
    assert_eq!(
        issued.user_arn,
        format!("arn:aws:iam::{ACCOUNT_ID}:user/dynsec/dynsec-tmp-1")
    );
    let key_id = issued.access_key_id.clone().unwrap();
    let secret = issued.secret_access_key.clone().unwrap();
    assert!(!format!("{issued:?}").contains(secret.expose()));

    // The admin sees what was created.
    let tags_out = f
        .iam
        .list_user_tags()
        .user_name("dynsec-tmp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_out.tags()[0].key(), "dynsec-lease");
    f.iam
        .get_login_profile()
        .user_name("dynsec-tmp-1")
        .send()
        .await
        .unwrap();

    // The issued key is a working identity with exactly the granted rights.
    let sts = f.moto.sts(&key_id, secret.expose(), None);
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(issued.user_arn.as_str()));
    let user_iam = f.moto.iam(&key_id, secret.expose(), None);
    user_iam.list_users().send().await.unwrap(); // attached policy
    user_iam.list_groups().send().await.unwrap(); // group's inline policy
    let denied = user_iam.list_roles().send().await.unwrap_err(); // neither
    assert_eq!(status(&denied), 403, "{denied:?}");
    assert!(body(&denied).contains("AccessDenied"), "{}", body(&denied));

    // Give the user one of everything moto supports that blocks DeleteUser on AWS.
    // Auth goes off meanwhile: moto 5.2.1 re-encodes form bodies before checking
    // signatures, so any parameter with a space (SSH key, PEM header) signed by the
    // Rust SDK fails with SignatureDoesNotMatch.
    f.moto.set_auth(false).await;
    f.iam
        .upload_ssh_public_key()
        .user_name("dynsec-tmp-1")
        .ssh_public_key_body(SSH_PUBLIC_KEY)
        .send()
        .await
        .unwrap();
    f.iam
        .upload_signing_certificate()
        .user_name("dynsec-tmp-1")
        .certificate_body(SIGNING_CERT)
        .send()
        .await
        .unwrap();
    f.iam
        .put_user_policy()
        .user_name("dynsec-tmp-1")
        .policy_name("extra-inline")
        .policy_document(allow("iam:GetUser"))
        .send()
        .await
        .unwrap();
    let mfa = f
        .iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("dynsec-tmp-1-mfa")
        .send()
        .await
        .unwrap();
    let serial = mfa
        .virtual_mfa_device()
        .unwrap()
        .serial_number()
        .to_string();
    f.iam
        .enable_mfa_device()
        .user_name("dynsec-tmp-1")
        .serial_number(&serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    f.iam
        .create_access_key()
        .user_name("dynsec-tmp-1")
        .send()
        .await
        .unwrap();

    f.moto.set_auth(true).await;

    let started = Instant::now();
    f.admin.teardown_user("dynsec-tmp-1").await.unwrap();
    // Guards the no-retry handling of moto's unimplemented
    // ListServiceSpecificCredentials (retries would add ~1.5 s of backoff).
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "teardown took {:?}",
        started.elapsed()
    );

    let gone = f
        .iam
        .get_user()
        .user_name("dynsec-tmp-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&gone),
        Some("NoSuchEntity")
    );
    let rejected = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(status(&rejected), 403);
    assert!(body(&rejected).contains("InvalidClientTokenId"));
    let devices = f.iam.list_virtual_mfa_devices().send().await.unwrap();
    assert!(devices
        .virtual_mfa_devices()
        .iter()
        .all(|d| d.serial_number() != serial));
    // Shared things survive: the policy and the group (now without the user).
    let group = f
        .iam
        .get_group()
        .group_name("dynsec-readers")
        .send()
        .await
        .unwrap();
    assert!(group.users().is_empty());
    f.iam
        .get_policy()
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();

    // Idempotent.
    f.admin.teardown_user("dynsec-tmp-1").await.unwrap();
    f.admin.teardown_user("never-existed").await.unwrap();
}

#[tokio::test]
async fn create_user_reports_missing_group_and_policy_as_invalid() {
    let f = fixture().await;
    let policy_arn = f.policy("dynsec-ok", "iam:ListUsers").await;

    let err = f
        .admin
        .create_user(&NewIamUser {
            user_name: "dynsec-tmp-2",
            path: "/dynsec/",
            tags: &[],
            policy_arns: std::slice::from_ref(&policy_arn),
            groups: &["no-such-group".to_string()],
            access_key: true,
            console_password: None,
            ..NewIamUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid, "{err}");
    assert_eq!(err.operation, "AddUserToGroup");
    assert!(err.message.contains("no-such-group"), "{err}");
    assert!(
        err.to_string()
            .starts_with("IAM AddUserToGroup failed: NoSuchEntity: group no-such-group"),
        "{err}"
    );
    // No rollback: the user exists until the caller tears it down.
    f.iam
        .get_user()
        .user_name("dynsec-tmp-2")
        .send()
        .await
        .unwrap();
    f.admin.teardown_user("dynsec-tmp-2").await.unwrap();

    let missing_policy = format!("arn:aws:iam::{ACCOUNT_ID}:policy/no-such-policy");
    let err = f
        .admin
        .create_user(&NewIamUser {
            user_name: "dynsec-tmp-3",
            path: "/dynsec/",
            tags: &[],
            policy_arns: std::slice::from_ref(&missing_policy),
            groups: &[],
            access_key: false,
            console_password: None,
            ..NewIamUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid, "{err}");
    assert_eq!(err.operation, "AttachUserPolicy");
    assert!(err.message.contains(&missing_policy), "{err}");

    // CreateUser itself failing: the name is taken by a user that is not
    // this credential's (no lease tag): transient, never taken over.
    let err = f
        .admin
        .create_user(&NewIamUser {
            user_name: "dynsec-tmp-3",
            path: "/dynsec/",
            tags: &[],
            policy_arns: &[],
            groups: &[],
            access_key: true,
            console_password: None,
            ..NewIamUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Retryable, "{err}");
    assert_eq!(err.operation, "CreateUser");
    assert_eq!(err.code.as_deref(), Some("EntityAlreadyExists"));
    f.admin.teardown_user("dynsec-tmp-3").await.unwrap();
}

#[tokio::test]
async fn a_lost_create_user_reply_continues_with_the_users_own_lease_tag() {
    let f = fixture().await;
    let policy_arn = f.policy("dynsec-lost-reply", "iam:ListUsers").await;
    let tags = |lease: &str| {
        vec![
            ("dynsec:managed-by".to_string(), "dynsec".to_string()),
            (dynsec_aws::LEASE_ID_TAG.to_string(), lease.to_string()),
        ]
    };
    // The first CreateUser reached IAM, its reply was lost.
    f.iam
        .create_user()
        .user_name("tmp.lost.lease0000000001")
        .path("/dynsec/")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(dynsec_aws::LEASE_ID_TAG)
                .value("lease0000000001")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let request = |tags| NewIamUser {
        user_name: "tmp.lost.lease0000000001",
        path: "/dynsec/",
        tags,
        policy_arns: std::slice::from_ref(&policy_arn),
        groups: &[],
        access_key: true,
        console_password: None,
        ..NewIamUser::default()
    };
    // Another lease's issuance must not take it.
    let others = tags("lease0000000002");
    let err = f.admin.create_user(&request(&others)).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Retryable, "{err}");
    assert_eq!(err.code.as_deref(), Some("EntityAlreadyExists"));
    // The retry of the same issuance carries on with it.
    let own = tags("lease0000000001");
    let created = f.admin.create_user(&request(&own)).await.unwrap();
    assert!(
        created
            .user_arn
            .ends_with("/dynsec/tmp.lost.lease0000000001"),
        "{}",
        created.user_arn
    );
    let issued = f.moto.iam(
        created.access_key_id.as_deref().unwrap(),
        created.secret_access_key.as_ref().unwrap().expose(),
        None,
    );
    issued
        .list_users()
        .send()
        .await
        .expect("the policy was attached and the key works");
    f.admin
        .teardown_user("tmp.lost.lease0000000001")
        .await
        .unwrap();
}

#[tokio::test]
async fn assume_role_returns_credentials_that_act_as_the_role() {
    let f = fixture().await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#,
        f.moto.admin_arn()
    );
    let role = f
        .iam
        .create_role()
        .role_name("dynsec-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    f.iam
        .put_role_policy()
        .role_name("dynsec-role")
        .policy_name("list-roles")
        .policy_document(allow("iam:ListRoles"))
        .send()
        .await
        .unwrap();

    let before = SystemTime::now();
    let creds = f
        .admin
        .assume_role(&AssumeRoleRequest {
            role_arn: &role_arn,
            session_name: "dynsec-sess-1",
            duration_secs: 900,
            external_id: Some("ext-123"),
            session_tags: &[("team".to_string(), "a".to_string())],
            transitive_tag_keys: &["team".to_string()],
            ..AssumeRoleRequest::default()
        })
        .await
        .unwrap();
    assert!(!format!("{creds:?}").contains(creds.secret_access_key.expose()));
    assert!(creds.expiration.unwrap() > before);
    assert!(creds
        .assumed_role_arn
        .as_deref()
        .unwrap()
        .contains("assumed-role/dynsec-role/dynsec-sess-1"));

    let sts = f.moto.sts(
        &creds.access_key_id,
        creds.secret_access_key.expose(),
        Some(creds.session_token.expose()),
    );
    let me = sts.get_caller_identity().send().await.unwrap();
    assert!(
        me.arn()
            .unwrap()
            .contains("assumed-role/dynsec-role/dynsec-sess-1"),
        "{:?}",
        me.arn()
    );
    let role_iam = f.moto.iam(
        &creds.access_key_id,
        creds.secret_access_key.expose(),
        Some(creds.session_token.expose()),
    );
    role_iam.list_roles().send().await.unwrap();
    let denied = role_iam.list_users().send().await.unwrap_err();
    assert_eq!(status(&denied), 403, "{denied:?}");
}

#[tokio::test]
async fn list_users_with_tags_filters_by_path() {
    let f = fixture().await;
    for (name, path, lease) in [
        ("dynsec-a", "/dynsec/", "lease-a"),
        ("dynsec-b", "/dynsec/", "lease-b"),
        ("other-c", "/other/", "lease-c"),
    ] {
        f.admin
            .create_user(&NewIamUser {
                user_name: name,
                path,
                tags: &[
                    ("dynsec-lease".to_string(), lease.to_string()),
                    ("owner".to_string(), "dynsec".to_string()),
                ],
                policy_arns: &[],
                groups: &[],
                access_key: false,
                console_password: None,
                ..NewIamUser::default()
            })
            .await
            .unwrap();
    }
    let mut users = f.admin.list_users_with_tags("/dynsec/").await.unwrap();
    users.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    let names: Vec<_> = users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["dynsec-a", "dynsec-b"]);
    assert_eq!(users[0].path, "/dynsec/");
    assert!(users[1]
        .tags
        .contains(&("dynsec-lease".to_string(), "lease-b".to_string())));
    assert_eq!(users[1].tags.len(), 2);
}

#[tokio::test]
async fn bad_credentials_are_denied() {
    let f = fixture().await;
    let mut conn = f.moto.connection(&f.key);
    conn.secret_access_key = SecretString::new("not-the-secret");
    let err = AwsAdmin::new(&conn, 3)
        .list_users_with_tags("/")
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Denied, "{err}");
    assert_eq!(err.code.as_deref(), Some("SignatureDoesNotMatch"));
    assert!(!err.to_string().contains("not-the-secret"));

    conn.access_key_id = "AKIAUNKNOWNKEY000000".to_string();
    let err = AwsAdmin::new(&conn, 3)
        .teardown_user("anyone")
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Denied, "{err}");
    assert_eq!(err.code.as_deref(), Some("InvalidClientTokenId"));
}

#[tokio::test]
async fn unreachable_endpoint_is_retryable() {
    // A port nobody listens on: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conn = AwsConnection {
        access_key_id: "AKIAEXAMPLE000000000".into(),
        secret_access_key: SecretString::new("secret"),
        session_token: None,
        region: "us-east-1".into(),
        iam_endpoint: Some(format!("http://127.0.0.1:{port}")),
        sts_endpoint: Some(format!("http://127.0.0.1:{port}")),
    };
    let admin = AwsAdmin::new(&conn, 1);
    let err = admin.teardown_user("u").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let err = admin
        .assume_role(&AssumeRoleRequest {
            role_arn: "arn:aws:iam::123456789012:role/r",
            session_name: "s",
            duration_secs: 900,
            external_id: None,
            session_tags: &[],
            transitive_tag_keys: &[],
            ..AssumeRoleRequest::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        err.to_string().split(':').next(),
        Some("STS AssumeRole failed")
    );
}

/// Issues `name` with a key, one attached policy, one group and an inline
/// policy, through `admin`.
async fn issue_full(
    admin: &AwsAdmin,
    name: &str,
    policy_arn: &str,
    group: &str,
) -> dynsec_aws::IssuedIamUser {
    let policies = [policy_arn.to_string()];
    let groups = [group.to_string()];
    let inline = allow("iam:ListRoles");
    admin
        .create_user(&NewIamUser {
            user_name: name,
            path: "/dynsec/",
            policy_arns: &policies,
            groups: &groups,
            access_key: true,
            inline_policy: Some(&inline),
            permissions_boundary: Some(policy_arn),
            ..NewIamUser::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn teardown_by_what_was_created_makes_one_call_per_created_thing() {
    let f = fixture().await;
    let policy_arn = f.policy("dynsec-list-users", "iam:ListUsers").await;
    f.group("dynsec-readers", "iam:ListGroups").await;
    let proxy = KeepAliveProxy::start(&f.moto.endpoint).await;
    let admin = AwsAdmin::new(&f.connection_via(&proxy.endpoint), 3);

    let issued = issue_full(&admin, "tmp.exact.1", &policy_arn, "dynsec-readers").await;
    assert_eq!(
        issued.created,
        CreatedIamUser {
            user_name: "tmp.exact.1".into(),
            access_key_id: issued.access_key_id.clone(),
            login_profile: false,
            attached_policies: vec![policy_arn.clone()],
            groups: vec!["dynsec-readers".into()],
            inline_policy: Some(INLINE_USER_POLICY.into()),
            permissions_boundary: Some(policy_arn.clone()),
        }
    );
    // The boundary went out in CreateUser itself (moto drops it; ministack
    // enforces it: tests/ministack.rs).
    let create = proxy
        .requests()
        .into_iter()
        .find(|r| r.action == "CreateUser")
        .unwrap();
    assert_eq!(
        create.param("PermissionsBoundary"),
        Some(policy_arn.as_str())
    );
    // The inline policy is in force: moto evaluates user inline policies.
    let secret = issued.secret_access_key.clone().unwrap();
    let key_id = issued.access_key_id.clone().unwrap();
    let user_iam = f.moto.iam(&key_id, secret.expose(), None);
    user_iam.list_roles().send().await.unwrap();

    proxy.clear_requests();
    let path = admin.teardown_created(&issued.created).await.unwrap();
    assert_eq!(path, TeardownPath::AsCreated);
    let mut calls = proxy.actions();
    calls.sort();
    assert_eq!(
        calls,
        [
            "DeleteAccessKey",
            "DeleteUser",
            "DeleteUserPolicy",
            "DetachUserPolicy",
            "RemoveUserFromGroup"
        ],
        "one call per created thing, then DeleteUser"
    );
    assert_eq!(
        proxy.actions().last().map(String::as_str),
        Some("DeleteUser")
    );
    assert!(!f.user_exists("tmp.exact.1").await);
    assert!(!f.key_works(&key_id, secret.expose()).await);
    assert!(f.group_members("dynsec-readers").await.is_empty());
    assert_eq!(f.attachments(&policy_arn).await, 0);

    // Idempotent: a second revocation finds everything gone.
    assert_eq!(
        admin.teardown_created(&issued.created).await.unwrap(),
        TeardownPath::AsCreated
    );
}

#[tokio::test]
async fn teardown_by_what_was_created_also_removes_what_was_added_after_issuance() {
    let f = fixture().await;
    let policy_arn = f.policy("dynsec-list-users", "iam:ListUsers").await;
    let extra_policy = f.policy("added-later", "iam:ListPolicies").await;
    f.group("dynsec-readers", "iam:ListGroups").await;
    f.group("added-later", "iam:GetUser").await;
    // AWS refuses DeleteUser while keys or group memberships remain; moto
    // does not (it checks policies only), so the proxy gives it AWS's rule.
    let proxy = KeepAliveProxy::start_strict(&f.moto.endpoint, f.moto.admin_iam(&f.key)).await;
    let admin = AwsAdmin::new(&f.connection_via(&proxy.endpoint), 3);
    let issued = issue_full(&admin, "tmp.added.1", &policy_arn, "dynsec-readers").await;

    // Someone adds a second key, a policy and a group.
    let second = f
        .iam
        .create_access_key()
        .user_name("tmp.added.1")
        .send()
        .await
        .unwrap();
    let second = second.access_key().unwrap();
    f.iam
        .attach_user_policy()
        .user_name("tmp.added.1")
        .policy_arn(&extra_policy)
        .send()
        .await
        .unwrap();
    f.iam
        .add_user_to_group()
        .user_name("tmp.added.1")
        .group_name("added-later")
        .send()
        .await
        .unwrap();
    assert!(
        f.key_works(second.access_key_id(), second.secret_access_key())
            .await
    );

    proxy.clear_requests();
    let path = admin.teardown_created(&issued.created).await.unwrap();
    assert_eq!(path, TeardownPath::Discovered);
    let calls = proxy.actions();
    let first_delete_user = calls.iter().position(|a| a == "DeleteUser").unwrap();
    assert!(
        calls[first_delete_user + 1..].contains(&"ListAccessKeys".to_string()),
        "the DeleteConflict led to a discovery teardown: {calls:?}"
    );

    assert!(!f.user_exists("tmp.added.1").await);
    let first_secret = issued.secret_access_key.as_ref().unwrap();
    assert!(
        !f.key_works(
            issued.access_key_id.as_deref().unwrap(),
            first_secret.expose()
        )
        .await
    );
    assert!(
        !f.key_works(second.access_key_id(), second.secret_access_key())
            .await
    );
    assert!(f.group_members("dynsec-readers").await.is_empty());
    assert!(f.group_members("added-later").await.is_empty());
    assert_eq!(f.attachments(&policy_arn).await, 0);
    assert_eq!(f.attachments(&extra_policy).await, 0);
}

/// New TCP connections `work` opens through a keep-alive proxy.
async fn connections_opened<F: std::future::Future<Output = ()>>(
    proxy: &KeepAliveProxy,
    work: F,
) -> usize {
    let before = proxy.connections();
    work.await;
    proxy.connections() - before
}

/// One issuance (policy, group, key) and its revocation by what was created.
async fn issue_and_revoke(admin: &AwsAdmin, name: &str, policy_arn: &str) {
    let policies = [policy_arn.to_string()];
    let groups = ["dynsec-readers".to_string()];
    let issued = admin
        .create_user(&NewIamUser {
            user_name: name,
            path: "/dynsec/",
            policy_arns: &policies,
            groups: &groups,
            access_key: true,
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    admin.teardown_created(&issued.created).await.unwrap();
}

#[tokio::test]
async fn kept_admins_reuse_connections_for_issuance_and_revocation() {
    let f = fixture().await;
    let policy_arn = f.policy("dynsec-list-users", "iam:ListUsers").await;
    f.group("dynsec-readers", "iam:ListGroups").await;
    let proxy = KeepAliveProxy::start(&f.moto.endpoint).await;
    let conn = f.connection_via(&proxy.endpoint);

    // Without a shared pool (a client per call, as before): every issuance
    // and revocation connects anew. This also shows the proxy sees them.
    let mut fresh = Vec::new();
    for round in 0..3 {
        let admin = AwsAdmin::with_http(&conn, 3, &AwsHttp::new());
        fresh.push(
            connections_opened(
                &proxy,
                issue_and_revoke(&admin, &format!("tmp.fresh.{round}"), &policy_arn),
            )
            .await,
        );
    }
    assert!(fresh.iter().all(|&n| n >= 1), "{fresh:?}");

    // One kept admin on the process's shared client: after a warm-up that
    // fills the pool (two issuances at once), zero new connections.
    let http = AwsHttp::new();
    let admin = AwsAdmin::with_http(&conn, 3, &http);
    futures::join!(
        issue_and_revoke(&admin, "tmp.warm.1", &policy_arn),
        issue_and_revoke(&admin, "tmp.warm.2", &policy_arn),
    );
    let mut kept = Vec::new();
    for round in 0..5 {
        kept.push(
            connections_opened(
                &proxy,
                issue_and_revoke(&admin, &format!("tmp.kept.{round}"), &policy_arn),
            )
            .await,
        );
    }
    // An admin built anew per call but on the same shared client reuses
    // the same pool too; and so does the STS side (same endpoint here).
    let rebuilt = connections_opened(&proxy, async {
        let admin = AwsAdmin::with_http(&conn, 3, &http);
        issue_and_revoke(&admin, "tmp.rebuilt", &policy_arn).await;
        admin.account_id().await.unwrap();
    })
    .await;
    eprintln!(
        "new connections per issuance+revocation: fresh client {fresh:?}, kept admin {kept:?}, \
         rebuilt admin on the shared client {rebuilt}; TLS setups {}",
        http.tls_setups()
    );
    assert_eq!(kept, [0, 0, 0, 0, 0]);
    assert_eq!(rebuilt, 0);
    // The root store was parsed once for every SDK client built on it.
    assert_eq!(http.tls_setups(), 1);
}

#[tokio::test]
async fn a_new_key_is_reported_usable_as_soon_as_it_works() {
    let f = fixture().await;
    let issued = f
        .admin
        .create_user(&NewIamUser {
            user_name: "tmp.ready.1",
            path: "/dynsec/",
            access_key: true,
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    let wait = f
        .admin
        .wait_until_usable(&issued.credential().unwrap(), Duration::from_secs(10))
        .await;
    eprintln!(
        "ready-wait on moto: {:?} after {} attempt(s)",
        wait.waited, wait.attempts
    );
    assert!(wait.is_ready(), "{:?}", wait.outcome);
    assert_eq!(wait.attempts, 1, "moto accepts new keys at once");
    assert_eq!(wait.outcome.unwrap().arn, issued.user_arn);

    // A key that never works: retried with backoff until the limit, then
    // the last refusal is reported.
    let bogus = SecretString::new("not-a-secret");
    let never = dynsec_aws::CredentialRef {
        access_key_id: "AKIAUNKNOWNKEY000000",
        secret_access_key: &bogus,
        session_token: None,
    };
    let wait = f
        .admin
        .wait_until_usable(&never, Duration::from_millis(800))
        .await;
    assert!(!wait.is_ready());
    assert!(wait.attempts >= 3, "retried: {} attempts", wait.attempts);
    assert!(wait.waited >= Duration::from_millis(800));
    let err = wait.outcome.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Denied, "{err}");
    assert_eq!(err.code.as_deref(), Some("InvalidClientTokenId"));
    // No wait at all when the limit is zero.
    let wait = f.admin.wait_until_usable(&never, Duration::ZERO).await;
    assert_eq!(wait.attempts, 0);
    assert!(!wait.is_ready());
}

#[tokio::test]
async fn federation_and_session_tokens_send_their_parameters_and_need_a_user_key() {
    let f = fixture().await;
    let proxy = KeepAliveProxy::start(&f.moto.endpoint).await;
    let admin = AwsAdmin::new(&f.connection_via(&proxy.endpoint), 3);
    let policy_arn = f.policy("dynsec-list-users", "iam:ListUsers").await;
    let inline = allow("iam:ListUsers");

    // moto returns constant credentials that fail under auth (its gap):
    // here the calls and their parameters are proven; that the credentials
    // work and their policies bind is proven on ministack.
    let fed = admin
        .get_federation_token(&FederationTokenRequest {
            name: "dynsec-fed1",
            duration_secs: 900,
            policy_arns: std::slice::from_ref(&policy_arn),
            policy: Some(&inline),
            tags: &[("team".to_string(), "a".to_string())],
        })
        .await
        .unwrap();
    assert!(fed
        .assumed_role_arn
        .unwrap()
        .ends_with(":federated-user/dynsec-fed1"));
    let session = admin
        .get_session_token(&SessionTokenRequest {
            duration_secs: 3600,
            mfa: Some(MfaCode {
                serial_number: "arn:aws:iam::123456789012:mfa/dynsec-admin",
                code: "123456",
            }),
        })
        .await
        .unwrap();
    assert!(!session.session_token.expose().is_empty());
    let requests = proxy.requests();
    let call = |action: &str| {
        requests
            .iter()
            .find(|r| r.action == action)
            .unwrap()
            .clone()
    };
    let fed_call = call("GetFederationToken");
    assert_eq!(fed_call.param("Name"), Some("dynsec-fed1"));
    assert_eq!(fed_call.param("DurationSeconds"), Some("900"));
    assert_eq!(
        fed_call.param("PolicyArns.member.1.arn"),
        Some(policy_arn.as_str())
    );
    assert_eq!(fed_call.param("Policy"), Some(inline.as_str()));
    assert_eq!(fed_call.param("Tags.member.1.Key"), Some("team"));
    let session_call = call("GetSessionToken");
    assert_eq!(session_call.param("DurationSeconds"), Some("3600"));
    assert_eq!(
        session_call.param("SerialNumber"),
        Some("arn:aws:iam::123456789012:mfa/dynsec-admin")
    );
    assert_eq!(session_call.param("TokenCode"), Some("123456"));

    // A connection with a session token is refused before anything is sent.
    let mut conn = f.connection_via(&proxy.endpoint);
    conn.session_token = Some(SecretString::new("a-session-token"));
    let session_admin = AwsAdmin::new(&conn, 3);
    proxy.clear_requests();
    let err = session_admin
        .get_federation_token(&FederationTokenRequest {
            name: "dynsec-fed2",
            duration_secs: 900,
            ..FederationTokenRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    assert!(
        err.message
            .contains("needs the long-term access key of an IAM user")
            && err.message.contains("session credentials"),
        "{err}"
    );
    let err = session_admin
        .get_session_token(&SessionTokenRequest {
            duration_secs: 900,
            mfa: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid, "{err}");
    assert!(proxy.requests().is_empty());
}

#[tokio::test]
async fn the_admin_key_rotates_through_its_primitives() {
    let f = fixture().await;
    let old = f.admin.own_access_keys().await.unwrap();
    assert_eq!(old.len(), 1);
    assert!(old[0].in_use && old[0].active);
    assert_eq!(old[0].access_key_id, f.key.access_key_id);

    let new = f.admin.create_own_access_key().await.unwrap();
    assert_eq!(new.user_name, dynsec_testkit::ADMIN_USER);
    assert!(!format!("{new:?}").contains(new.secret_access_key.expose()));
    let proof = f
        .admin
        .prove_admin_key(&new.credential(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(proof.outcome.unwrap().arn, f.moto.admin_arn());

    // The connection switches to the new key, which deletes the old one.
    let mut conn = f.moto.connection(&f.key);
    conn.access_key_id = new.access_key_id.clone();
    conn.secret_access_key = new.secret_access_key.clone();
    let rotated = AwsAdmin::new(&conn, 3);
    let err = rotated
        .delete_own_access_key(&new.access_key_id)
        .await
        .unwrap_err();
    assert!(err.message.contains("signs with"), "{err}");
    rotated
        .delete_own_access_key(&f.key.access_key_id)
        .await
        .unwrap();
    assert!(
        !f.key_works(&f.key.access_key_id, &f.key.secret_access_key)
            .await
    );
    let keys = rotated.own_access_keys().await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.access_key_id.as_str(), k.in_use))
            .collect::<Vec<_>>(),
        [(new.access_key_id.as_str(), true)]
    );
    // Deleting it again is no error (a crashed rotation's retry).
    rotated
        .delete_own_access_key(&f.key.access_key_id)
        .await
        .unwrap();

    // Two keys already (one the operator's own): refused, naming it.
    let operators = rotated.create_own_access_key().await.unwrap();
    let err = rotated.create_own_access_key().await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    assert!(
        err.message.contains("already has 2 access keys")
            && err.message.contains(&operators.access_key_id),
        "{err}"
    );

    // A key that acts as someone else proves nothing.
    let other = rotated
        .create_user(&NewIamUser {
            user_name: "someone-else",
            path: "/",
            access_key: true,
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    let err = rotated
        .prove_admin_key(&other.credential().unwrap(), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(err.message.contains("not as the admin user"), "{err}");

    // Session credentials have no key of their own to rotate.
    conn.session_token = Some(SecretString::new("a-session-token"));
    let err = AwsAdmin::new(&conn, 3).own_access_keys().await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    assert!(
        err.message
            .contains("admin-key rotation needs the long-term access key"),
        "{err}"
    );
}
