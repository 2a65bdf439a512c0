//! dynsec-aws against a real moto server with authentication on: issued keys are
//! really checked, policies really evaluated, revoked keys really rejected.
//! Each test starts its own moto so they can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_iam::error::SdkError;
use dynsec_aws::{AssumeRoleRequest, AwsAdmin, AwsErrorKind, NewIamUser};
use dynsec_core::{AwsConnection, SecretString};
use dynsec_testkit::{AdminKey, Moto, ACCOUNT_ID};
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

    // CreateUser itself failing: the name is taken.
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
    assert_eq!(err.kind, AwsErrorKind::Invalid, "{err}");
    assert_eq!(err.operation, "CreateUser");
    assert_eq!(err.code.as_deref(), Some("EntityAlreadyExists"));
    f.admin.teardown_user("dynsec-tmp-3").await.unwrap();
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
