//! `access-mode` federation_token and session_token through the gateway.
//! moto's GetFederationToken / GetSessionToken credentials fail once auth is
//! on, so the modes are proven end to end on ministack (auth on), whose
//! credentials work and whose policies bind; the gateway's own rules (TTL
//! bounds, refusals for session-token connections, MFA arguments, expiry-
//! only leases) are checked there too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ministack::{allow, MiniWorld, MINI_ADMIN, MINI_TARGET};
use dynsec_testkit::MINISTACK_ACCOUNT_ID;
use serde_json::{json, Value};

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn federation_tokens_are_limited_to_the_secrets_policies() {
    let world = MiniWorld::start().await;
    let gw = &world.gateway;
    let created = gw
        .ok(
            "dynamic-secret-create-aws",
            json!({"name": "/sts/fed", "target-name": MINI_TARGET,
                   "access-mode": "federation_token", "user-ttl": "15m",
                   "session-policy": allow("iam:ListUsers")}),
        )
        .await;
    let details = &created["dynamic_secret_details"];
    assert_eq!(details["aws_access_mode"], json!("federation_token"));
    assert_eq!(details["session_policy"], json!(allow("iam:ListUsers")));

    let value = gw
        .ok("get-dynamic-secret-value", json!({"name": "/sts/fed"}))
        .await;
    assert_eq!(value["access_mode"], json!("federation_token"));
    let fed_arn = value["federated_user_arn"].as_str().unwrap();
    let id = value["id"].as_str().unwrap();
    assert!(
        fed_arn.ends_with(&format!(":federated-user/dynsec-{id}")),
        "{fed_arn}"
    );
    // The inline session policy binds: ListUsers yes, ListRoles no.
    assert!(world.may_list_users(&value).await);
    assert!(!world.works(&value).await, "ListRoles was allowed");

    // The lease is listed, and (like every STS session but an early-revocable
    // assumed role) only expires.
    let leases = gw
        .ok("dynamic-secret-tmp-creds-get", json!({"name": "/sts/fed"}))
        .await;
    assert_eq!(leases[0]["id"], json!(id));
    assert_eq!(leases[0]["access_mode"], json!("federation_token"));
    let (status, body) = gw
        .call(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/sts/fed", "tmp-creds-id": id}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        error_of(&body).contains("cannot be revoked before they expire"),
        "{body}"
    );
    let (status, body) = gw
        .call(
            "dynamic-secret-tmp-creds-update",
            json!({"name": "/sts/fed", "tmp-creds-id": id, "new-ttl-min": 30}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    // Revoke-all leaves it alone, and deleting the secret is not held up.
    gw.ok(
        "dynamic-secret-tmp-creds-delete",
        json!({"name": "/sts/fed", "revoke-all": true}),
    )
    .await;
    assert!(world.may_list_users(&value).await);
    gw.ok("dynamic-secret-delete", json!({"name": "/sts/fed"}))
        .await;
}

#[tokio::test]
async fn session_tokens_act_as_the_admin_user_with_an_mfa_code_when_asked() {
    let world = MiniWorld::start().await;
    let gw = &world.gateway;
    gw.ok(
        "dynamic-secret-create-aws",
        json!({"name": "/sts/session", "target-name": MINI_TARGET,
               "access-mode": "session_token", "user-ttl": "36h"}),
    )
    .await;
    let value = gw
        .ok("get-dynamic-secret-value", json!({"name": "/sts/session"}))
        .await;
    assert_eq!(value["access_mode"], json!("session_token"));
    assert_eq!(
        world.identity_of(&value).await,
        format!("arn:aws:iam::{MINISTACK_ACCOUNT_ID}:user/{MINI_ADMIN}")
    );
    assert!(world.may_list_users(&value).await);
    let (status, body) = gw
        .call(
            "get-dynamic-secret-value",
            json!({"name": "/sts/session", "args": ["mfa-code=123456"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("mfa-serial"), "{body}");

    // With an MFA device, the code is a get-value argument (ministack does
    // not check codes: this proves the gateway's rules, not AWS's).
    gw.ok(
        "dynamic-secret-create-aws",
        json!({"name": "/sts/mfa", "target-name": MINI_TARGET,
               "access-mode": "session_token", "user-ttl": "15m",
               "mfa-serial": format!("arn:aws:iam::{MINISTACK_ACCOUNT_ID}:mfa/{MINI_ADMIN}")}),
    )
    .await;
    let (status, body) = gw
        .call("get-dynamic-secret-value", json!({"name": "/sts/mfa"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        error_of(&body).contains("args") && error_of(&body).contains("mfa-code"),
        "{body}"
    );
    let value = gw
        .ok(
            "get-dynamic-secret-value",
            json!({"name": "/sts/mfa", "args": [r#"{"mfa-code": "123456"}"#]}),
        )
        .await;
    assert!(world.may_list_users(&value).await);
}

#[tokio::test]
async fn the_gateway_checks_what_aws_would_refuse() {
    let world = MiniWorld::start().await;
    let gw = &world.gateway;
    for (mode, ttl) in [
        ("federation_token", "14m"),
        ("federation_token", "37h"),
        ("session_token", "899s"),
        ("session_token", "129601s"),
    ] {
        let (status, body) = gw
            .call(
                "dynamic-secret-create-aws",
                json!({"name": "/sts/bad", "target-name": MINI_TARGET,
                       "access-mode": mode, "user-ttl": ttl}),
            )
            .await;
        assert_eq!(status, 400, "{mode} {ttl}: {body}");
        assert!(
            error_of(&body).contains("user-ttl") && error_of(&body).contains("900-129600"),
            "{body}"
        );
    }
    for (extra, field) in [
        (
            json!({"access-mode": "session_token", "session-policy": allow("s3:*")}),
            "session-policy",
        ),
        (
            json!({"access-mode": "federation_token", "session-policy": "{not json"}),
            "session-policy",
        ),
        (
            json!({"access-mode": "federation_token", "mfa-serial": "arn:aws:iam::000000000000:mfa/x"}),
            "mfa-serial",
        ),
    ] {
        let mut body = json!({"name": "/sts/bad", "target-name": MINI_TARGET, "user-ttl": "15m"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, answer) = gw.call("dynamic-secret-create-aws", body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(error_of(&answer).contains(field), "{answer}");
    }

    // A connection with a session token cannot get either kind of token.
    let session = world
        .ms
        .root_iam()
        .create_access_key()
        .user_name(MINI_ADMIN)
        .send()
        .await
        .unwrap();
    let key = session.access_key().unwrap();
    let sts = world
        .ms
        .sts(key.access_key_id(), key.secret_access_key(), None)
        .get_session_token()
        .send()
        .await
        .unwrap();
    let creds = sts.credentials().unwrap();
    for mode in ["federation_token", "session_token"] {
        let (status, body) = gw
            .call(
                "dynamic-secret-create-aws",
                json!({"name": "/sts/chained", "access-mode": mode, "user-ttl": "15m",
                       "aws-access-key-id": creds.access_key_id(),
                       "aws-access-secret-key": creds.secret_access_key(),
                       "aws-session-token": creds.session_token(),
                       "region": "us-east-1", "iam-endpoint": world.ms.endpoint,
                       "sts-endpoint": world.ms.endpoint}),
            )
            .await;
        assert_eq!(status, 400, "{mode}: {body}");
        assert!(
            error_of(&body).contains("access-mode") && error_of(&body).contains("session token"),
            "{body}"
        );
    }
}
