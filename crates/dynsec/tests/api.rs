//! End-to-end: the gateway binary against moto with authentication on, driven
//! through its HTTP API. Proves issued credentials work, are least-privilege,
//! and stop working when revoked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{status_of, World, GROUP_NAME, TARGET};
use serde_json::json;

#[tokio::test]
async fn iam_user_key_works_is_least_privilege_and_dies_on_revoke() {
    let world = World::start().await;
    world
        .iam_user_secret("/prod/aws/dev-creds", json!({}))
        .await;
    let value = world
        .gw()
        .ok(
            "get-dynamic-secret-value",
            json!({"name": "/prod/aws/dev-creds"}),
        )
        .await;
    let user_name = value["user_name"].as_str().unwrap();
    assert!(user_name.starts_with("tmp.dev-creds."), "{value}");
    assert!(user_name.len() <= 64);

    // The key is a real key of that user, under the managed path.
    let me = world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn().unwrap(),
        format!("arn:aws:iam::123456789012:user/dynsec/{user_name}")
    );
    // Allowed by the attached policy, by the group, and nothing else.
    let iam = world.iam_as(&value);
    iam.list_users()
        .send()
        .await
        .expect("policy grants iam:ListUsers");
    iam.list_groups()
        .send()
        .await
        .expect("group grants iam:ListGroups");
    let denied = iam.list_roles().send().await.unwrap_err();
    assert_eq!(
        status_of(&denied),
        Some(403),
        "iam:ListRoles must be denied"
    );

    // The user carries its tags from the CreateUser call.
    let tags = world
        .moto
        .admin_iam(&world.admin)
        .list_user_tags()
        .user_name(user_name)
        .send()
        .await
        .unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(tag("dynsec:managed-by").as_deref(), Some("dynsec"));
    assert_eq!(
        tag("dynsec:dynamic-secret").as_deref(),
        Some("/prod/aws/dev-creds")
    );
    assert_eq!(tag("dynsec:lease-id").as_deref(), value["id"].as_str());
    assert!(tag("dynsec:expires-at").is_some());

    // The lease is listed; revoking it kills the key and removes the user.
    let leases = world
        .gw()
        .ok(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/prod/aws/dev-creds"}),
        )
        .await;
    assert_eq!(leases[0]["id"], value["id"]);
    assert_eq!(leases[0]["state"], "active");
    world
        .gw()
        .ok(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/prod/aws/dev-creds", "tmp-creds-id": value["id"]}),
        )
        .await;
    let rejected = world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&rejected),
        Some(403),
        "revoked key must be rejected"
    );
    assert!(world.temp_users().await.is_empty());
    let leases = world
        .gw()
        .ok(
            "dynamic-secret-tmp-creds-get",
            json!({"name": "/prod/aws/dev-creds"}),
        )
        .await;
    assert_eq!(leases, json!([]));
}

#[tokio::test]
async fn console_access_gets_a_login_profile_with_the_requested_password() {
    let world = World::start().await;
    world
        .iam_user_secret(
            "/console/creds",
            json!({
                "aws-user-console-access": true,
                "aws-user-programmatic-access": false,
                "password-length": "14",
                "use-special-characters": "false",
            }),
        )
        .await;
    let value = world
        .gw()
        .ok(
            "dynamic-secret-get-value",
            json!({"name": "/console/creds"}),
        )
        .await;
    assert!(
        value.get("access_key_id").is_none(),
        "no programmatic access: {value}"
    );
    let password = value["console_password"].as_str().unwrap();
    assert_eq!(password.len(), 14);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert_eq!(
        value["console_sign_in_url"],
        "https://123456789012.signin.aws.amazon.com/console"
    );
    let admin = world.moto.admin_iam(&world.admin);
    let user = value["user_name"].as_str().unwrap();
    admin
        .get_login_profile()
        .user_name(user)
        .send()
        .await
        .expect("login profile exists");

    // Revoking removes the login profile with the user.
    world
        .gw()
        .ok(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/console/creds", "revoke-all": true}),
        )
        .await;
    assert!(admin.get_user().user_name(user).send().await.is_err());
}

#[tokio::test]
async fn assumed_role_credentials_act_as_the_chosen_role() {
    let world = World::start().await;
    let roles = format!("{},{}", world.role_arn, world.second_role_arn);
    world
        .gw()
        .ok(
            "dynamic-secret-create-aws",
            json!({
                "name": "/roles/ops",
                "target-name": TARGET,
                "access-mode": "assume_role",
                "aws-role-arns": roles,
                "user-ttl": "15m",
                "aws-external-id": "ext-123",
                "session-tags": "team=platform,env=test",
                "transitive-tag-keys": "team",
            }),
        )
        .await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/roles/ops"}))
        .await;
    assert!(value["session_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let me = world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let arn = me.arn().unwrap();
    assert!(
        arn.contains("assumed-role/dynsec-test-role/dynsec-"),
        "{arn}"
    );
    assert!(
        arn.ends_with(value["id"].as_str().unwrap()),
        "session names the lease: {arn}"
    );
    world
        .iam_as(&value)
        .list_roles()
        .send()
        .await
        .expect("role policy allows ListRoles");

    // The caller picks another configured role...
    let second = world
        .gw()
        .ok(
            "get-dynamic-secret-value",
            json!({"name": "/roles/ops", "args": [format!("role-arn={}", world.second_role_arn)]}),
        )
        .await;
    let arn = world
        .sts_as(&second)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(arn
        .arn()
        .unwrap()
        .contains("assumed-role/dynsec-test-role-2/"));

    // Akeyless's JSON form of args picks it too, also combined with k=v.
    for args in [
        json!([format!(r#"{{"role-arn": "{}"}}"#, world.second_role_arn)]),
        json!([
            format!(r#"{{"role-arn": "{}"}}"#, world.role_arn),
            format!("role-arn={}", world.second_role_arn)
        ]),
    ] {
        let value = world
            .gw()
            .ok(
                "get-dynamic-secret-value",
                json!({"name": "/roles/ops", "args": args}),
            )
            .await;
        assert_eq!(value["role_arn"], json!(world.second_role_arn), "{args}");
    }
    let (status, body) = world
        .gw()
        .call(
            "get-dynamic-secret-value",
            json!({"name": "/roles/ops", "args": [r#"{"role-arn": 7}"#]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("args"), "{body}");

    // ...but never one outside the list.
    let (status, body) = world
        .gw()
        .call(
            "get-dynamic-secret-value",
            json!({"name": "/roles/ops", "args": ["role-arn=arn:aws:iam::123456789012:role/admin"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("args"), "{body}");
    // Sessions can't be revoked early: the API says so instead of pretending.
    let (status, body) = world
        .gw()
        .call(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/roles/ops", "tmp-creds-id": value["id"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot be revoked"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_problem() {
    let world = World::start().await;
    let gw = world.gw();
    let cases = [
        (
            json!({"name": "/a", "target-name": TARGET, "access-mode": "root_user"}),
            400,
            "access-mode",
        ),
        (
            json!({"name": "/a", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": world.role_arn, "user-ttl": "5m"}),
            400,
            "user-ttl",
        ),
        (
            json!({"name": "/a", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": world.role_arn, "user-ttl": "13h"}),
            400,
            "user-ttl",
        ),
        (
            json!({"name": "/a", "target-name": "/aws/nope", "access-mode": "iam_user"}),
            400,
            "target-name",
        ),
        (
            json!({"target-name": TARGET, "access-mode": "iam_user"}),
            400,
            "name",
        ),
        (
            json!({"name": "/a", "target-name": TARGET, "access-mode": "iam_user", "user-ttl": "soon"}),
            400,
            "user-ttl",
        ),
        (
            json!({"name": "/a", "target-name": TARGET, "access-mode": "iam_user", "password-length": "many"}),
            400,
            "password-length",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = gw.call("gateway-create-producer-aws", body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{body}: '{message}' should name {field}"
        );
    }
    // Nothing was created by the refused requests.
    let listed = gw.ok("gateway-list-producers", json!({})).await;
    assert_eq!(listed["producers"], json!([]));

    // Malformed JSON, a wrong token, a missing token, an unknown operation.
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v2/list-items", gw.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(answer["error"].as_str().unwrap().contains("malformed JSON"));
    let (status, answer) = gw.raw("list-items", &json!({"token": "t-forged"})).await;
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = gw.raw("list-items", &json!({})).await;
    assert_eq!(status, 401);
    assert!(answer["error"].as_str().unwrap().contains("token"));
    let (status, _) = gw
        .raw("auth", &json!({"access-id": dynsec_testkit::ADMIN_ACCESS_ID, "access-key": "wrong-key-wrong-key"}))
        .await;
    assert_eq!(status, 401);
    let (status, answer) = gw.call("no-such-op", json!({})).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = gw
        .call("gateway-get-producer", json!({"name": "/missing"}))
        .await;
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().unwrap().contains("/missing"));
}

#[tokio::test]
async fn failed_issuance_leaves_nothing_behind() {
    let world = World::start().await;
    world
        .gw()
        .ok(
            "gateway-create-producer-aws",
            json!({
                "name": "/broken",
                "target-name": TARGET,
                "access-mode": "iam_user",
                "aws-user-policies": world.policy_arn,
                "aws-user-groups": format!("{GROUP_NAME},no-such-group"),
            }),
        )
        .await;
    let (status, answer) = world
        .gw()
        .call("get-dynamic-secret-value", json!({"name": "/broken"}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("no-such-group"),
        "{answer}"
    );
    // CreateUser had succeeded; the rollback removed the user again.
    assert!(world.temp_users().await.is_empty());
    let leases = world
        .gw()
        .ok("gateway-get-producer-tmp-creds", json!({"name": "/broken"}))
        .await;
    assert_eq!(leases, json!([]));
}

#[tokio::test]
async fn folders_protection_and_target_lifecycle() {
    let world = World::start().await;
    let gw = world.gw();
    world.iam_user_secret("/prod/aws/a", json!({})).await;
    world
        .iam_user_secret("/prod/aws/locked", json!({"delete_protection": "true"}))
        .await;
    world.iam_user_secret("/prod/db/b", json!({})).await;
    world.iam_user_secret("/top", json!({})).await;

    let root = gw.ok("list-items", json!({"path": "/"})).await;
    assert_eq!(root["folders"], json!(["/prod"]));
    assert_eq!(root["items"][0]["item_name"], "/top");
    let prod = gw.ok("list-items", json!({"path": "/prod"})).await;
    assert_eq!(prod["folders"], json!(["/prod/aws", "/prod/db"]));
    assert_eq!(prod["items"], json!([]));
    let aws = gw
        .ok(
            "list-items",
            json!({"path": "/prod/aws/", "type": ["dynamic-secret"]}),
        )
        .await;
    let names: Vec<&str> = aws["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/prod/aws/a", "/prod/aws/locked"]);
    let described = gw
        .ok("describe-item", json!({"name": "/prod/aws/locked"}))
        .await;
    assert_eq!(described["delete_protection"], true);
    assert_eq!(described["item_type"], "DYNAMIC_SECRET");

    // Delete protection holds until turned off.
    let (status, answer) = gw
        .call("delete-item", json!({"name": "/prod/aws/locked"}))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("delete protection"));
    gw.ok(
        "gateway-update-producer-aws",
        json!({"name": "/prod/aws/locked", "target-name": TARGET, "access-mode": "iam_user", "delete_protection": "false"}),
    )
    .await;
    gw.ok("delete-item", json!({"name": "/prod/aws/locked"}))
        .await;

    // A target in use can't be deleted; its details reveal the secret, get doesn't.
    let (status, answer) = gw.call("delete-target", json!({"name": TARGET})).await;
    assert_eq!(status, 409, "{answer}");
    let target = gw.ok("get-target", json!({"name": TARGET})).await;
    assert_eq!(target["target_items_assoc"].as_array().unwrap().len(), 3);
    assert!(!target.to_string().contains(&world.admin.secret_access_key));
    let details = gw.ok("target-get-details", json!({"name": TARGET})).await;
    assert_eq!(
        details["value"]["aws_target_details"]["aws_secret_access_key"],
        world.admin.secret_access_key
    );
    for name in ["/prod/aws/a", "/prod/db/b", "/top"] {
        gw.ok("dynamic-secret-delete", json!({"name": name})).await;
    }
    gw.ok("target-delete", json!({"name": TARGET})).await;
    let targets = gw.ok("target-list", json!({})).await;
    assert_eq!(targets["targets"], json!([]));
}

#[tokio::test]
async fn data_survives_a_restart_and_secrets_are_encrypted_at_rest() {
    let mut world = World::start().await;
    world.iam_user_secret("/keep/me", json!({})).await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/keep/me"}))
        .await;
    let gateway = world.gateway.take().unwrap();
    assert!(gateway.stop().await, "graceful shutdown on SIGTERM");

    // Neither the target's secret nor the issued one is in the data dir in clear.
    for entry in std::fs::read_dir(world.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&world.admin.secret_access_key));
        assert!(!text.contains(value["secret_access_key"].as_str().unwrap()));
    }

    world.start_gateway().await;
    let details = world
        .gw()
        .ok("gateway-get-producer", json!({"name": "/keep/me"}))
        .await;
    assert_eq!(details["dynamic_secret_name"], "/keep/me");
    let leases = world
        .gw()
        .ok(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/keep/me"}),
        )
        .await;
    assert_eq!(leases[0]["id"], value["id"]);
    // The restarted gateway can still decrypt the target and revoke.
    world
        .gw()
        .ok(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/keep/me", "tmp-creds-id": value["id"]}),
        )
        .await;
    assert!(world.temp_users().await.is_empty());
}

#[tokio::test]
async fn lease_ttl_can_be_changed() {
    let world = World::start().await;
    world
        .iam_user_secret("/ttl/x", json!({"user-ttl": "10m"}))
        .await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/ttl/x"}))
        .await;
    world
        .gw()
        .ok(
            "gateway-update-producer-tmp-creds",
            json!({"name": "/ttl/x", "tmp-creds-id": value["id"], "new-ttl-min": 120}),
        )
        .await;
    let leases = world
        .gw()
        .ok("gateway-get-producer-tmp-creds", json!({"name": "/ttl/x"}))
        .await;
    let expiry =
        chrono::DateTime::parse_from_rfc3339(leases[0]["expiration"].as_str().unwrap()).unwrap();
    let minutes = (expiry.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((118..=120).contains(&minutes), "expires in {minutes} min");
    // The user's expiry tag follows, so an orphan sweep won't cut it short.
    let tags = world
        .moto
        .admin_iam(&world.admin)
        .list_user_tags()
        .user_name(value["user_name"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let tagged = tags
        .tags()
        .iter()
        .find(|t| t.key() == "dynsec:expires-at")
        .map(|t| t.value().to_string())
        .unwrap();
    assert_eq!(tagged, leases[0]["expiration"].as_str().unwrap());
    let (status, answer) = world
        .gw()
        .call(
            "gateway-update-producer-tmp-creds",
            json!({"name": "/ttl/x", "tmp-creds-id": "nope", "new-ttl-min": 5}),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
}
