//! An admin connection from the gateway host's own identity (the SDK's
//! default credential chain) against moto with auth on: here the host's
//! credentials come from the process environment, as on a host whose
//! operator exports them or whose runtime injects them.
//!
//! One test in its own binary: it sets the process environment, which the
//! other tests must not see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dynsec_aws::{AwsAdmin, AwsErrorKind, AwsHttp, HostIdentity, HostRole, NewIamUser};
use dynsec_testkit::{KeepAliveProxy, Moto, REGION};

#[tokio::test]
async fn the_hosts_own_identity_acts_as_itself_or_assumes_a_role() {
    let moto = Moto::start().await;
    let key = moto.bootstrap_admin().await;
    // Only the environment may provide credentials: no profile, token file
    // or container endpoint of the machine running the tests.
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_ACCESS_KEY_ID", &key.access_key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &key.secret_access_key);
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    let proxy = KeepAliveProxy::start(&moto.endpoint).await;
    let host = HostIdentity {
        region: REGION.to_string(),
        iam_endpoint: Some(proxy.endpoint.clone()),
        sts_endpoint: Some(proxy.endpoint.clone()),
        assume_role: None,
    };
    let admin = AwsAdmin::from_host_identity(&host, 3, &AwsHttp::shared()).await;
    assert!(format!("{admin:?}").contains("the gateway host's identity"));
    assert_eq!(admin.caller_identity().await.unwrap().arn, moto.admin_arn());
    let issued = admin
        .create_user(&NewIamUser {
            user_name: "tmp.host.1",
            path: "/dynsec/",
            access_key: true,
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    admin.teardown_created(&issued.created).await.unwrap();
    // No stored key, so none to rotate.
    let err = admin.own_access_keys().await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    assert!(err.message.contains("the gateway host's identity"), "{err}");

    // The host assumes a role (with an external id) and acts as it.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        moto.admin_arn()
    );
    let iam = moto.admin_iam(&key);
    let role = iam
        .create_role()
        .role_name("dynsec-gateway")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("dynsec-gateway")
        .policy_name("iam")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    let host = HostIdentity {
        assume_role: Some(HostRole {
            role_arn: role_arn.clone(),
            external_id: Some("ext-gw-1".to_string()),
            session_name: "dynsec-gateway".to_string(),
        }),
        ..host
    };
    proxy.clear_requests();
    let admin = AwsAdmin::from_host_identity(&host, 3, &AwsHttp::shared()).await;
    let me = admin.caller_identity().await.unwrap();
    assert!(
        me.arn
            .ends_with(":assumed-role/dynsec-gateway/dynsec-gateway"),
        "{}",
        me.arn
    );
    let issued = admin
        .create_user(&NewIamUser {
            user_name: "tmp.host.2",
            path: "/dynsec/",
            access_key: true,
            ..NewIamUser::default()
        })
        .await
        .unwrap();
    admin.teardown_created(&issued.created).await.unwrap();
    // moto ignores ExternalId; it went out with AssumeRole (ministack's
    // trust-policy check of it: tests/ministack.rs), once for both clients.
    let requests = proxy.requests();
    let assumed: Vec<_> = requests
        .iter()
        .filter(|r| r.action == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 1, "{:?}", proxy.actions());
    assert_eq!(assumed[0].param("ExternalId"), Some("ext-gw-1"));
    assert_eq!(assumed[0].param("RoleArn"), Some(role_arn.as_str()));
    assert_eq!(assumed[0].param("RoleSessionName"), Some("dynsec-gateway"));
}
