//! End-to-end audit log: the gateway binary against moto; every request of a
//! sequence (auth ok and refused, create, issue, unknown op, malformed JSON,
//! garbage token) leaves exactly one JSON line with the right fields, and no
//! access key, token, target secret or issued secret is ever written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, TARGET};
use dynsec_testkit::{ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};

const SECRET: &str = "/prod/aws/audited";

#[tokio::test]
async fn every_request_is_audited_once_without_secrets() {
    let mut world = World::start().await;
    // World::start made two requests: auth, then create-aws-target.
    let gw = world.gw();

    let wrong_key = "wrong-access-key-0123456789abcdef";
    let (status, _) = gw
        .raw(
            "auth",
            &json!({"access-id": ADMIN_ACCESS_ID, "access-key": wrong_key}),
        )
        .await;
    assert_eq!(status, 401);

    let create_token = gw.token().await;
    let (status, body) = gw
        .raw(
            "gateway-create-producer-aws",
            &json!({
                "token": create_token,
                "name": "prod//aws/audited/",
                "target-name": TARGET,
                "access-mode": "iam_user",
                "aws-user-policies": world.policy_arn,
                "user-ttl": "60m",
            }),
        )
        .await;
    assert!((200..300).contains(&status), "{body}");

    let value_token = gw.token().await;
    let (status, value) = gw
        .raw(
            "get-dynamic-secret-value",
            &json!({"token": value_token, "name": SECRET}),
        )
        .await;
    assert_eq!(status, 200, "{value}");
    let lease_id = value["id"].as_str().unwrap().to_string();
    let issued_secret = value["secret_access_key"].as_str().unwrap().to_string();

    let (status, _) = gw
        .raw("no-such-operation", &json!({"token": value_token}))
        .await;
    assert_eq!(status, 404);

    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/list-items", gw.url))
        .header("content-type", "application/json")
        .body(format!("{{\"token\": \"{value_token}\", "))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    let garbage_token = "garbage-token-that-resolves-to-nobody";
    let (status, _) = gw.raw("list-items", &json!({"token": garbage_token})).await;
    assert_eq!(status, 401);

    // A graceful stop drains the writer; the log must then be complete.
    let data_dir = world.data_dir();
    let stopped = world.gateway.take().unwrap().stop().await;
    assert!(stopped);
    let path = data_dir.join("audit.log");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the audit log is private");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let summary: Vec<(&str, u64)> = records
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("auth", 200),
            ("create-aws-target", 200),
            ("auth", 401),
            ("auth", 200),
            ("gateway-create-producer-aws", 201),
            ("auth", 200),
            ("get-dynamic-secret-value", 200),
            ("no-such-operation", 404),
            ("list-items", 400),
            ("list-items", 401),
        ],
        "one record per request, in order:\n{text}"
    );

    let keys = [
        "time",
        "access_id",
        "client",
        "operation",
        "path",
        "outcome",
        "status",
        "error",
        "lease_id",
        "warning",
        "token_hmac",
    ];
    for record in &records {
        let fields: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), keys.len(), "{record}");
        assert!(keys.iter().all(|k| fields.contains(k)), "{record}");
        assert_eq!(record["client"], "127.0.0.1", "{record}");
        chrono::DateTime::parse_from_rfc3339(record["time"].as_str().unwrap()).unwrap();
        let ok = record["status"].as_u64().unwrap() < 400;
        assert_eq!(
            record["outcome"],
            if ok { "ok" } else { "error" },
            "{record}"
        );
        assert_eq!(record["error"].is_null(), ok, "{record}");
    }
    let [auth0, target, refused, auth1, create, auth2, get_value, unknown, malformed, garbage] =
        &records[..]
    else {
        unreachable!()
    };

    assert_eq!(auth0["access_id"], ADMIN_ACCESS_ID);
    assert_eq!(target["access_id"], ADMIN_ACCESS_ID);
    assert_eq!(target["path"], TARGET);
    // A refused auth names the access id it was attempted for.
    assert_eq!(refused["access_id"], ADMIN_ACCESS_ID);
    assert!(refused["token_hmac"].is_null());
    assert!(!refused["error"].as_str().unwrap().is_empty());
    // Paths are normalized like item paths.
    assert_eq!(create["path"], SECRET);
    assert_eq!(create["access_id"], ADMIN_ACCESS_ID);
    assert_eq!(get_value["path"], SECRET);
    assert_eq!(get_value["lease_id"], lease_id.as_str());
    assert!(records
        .iter()
        .filter(|r| !std::ptr::eq(*r, get_value))
        .all(|r| r["lease_id"].is_null()));
    // A token's requests can be correlated with the auth that issued it.
    for (auth, used) in [(auth0, target), (auth1, create), (auth2, get_value)] {
        let hmac = auth["token_hmac"].as_str().unwrap();
        assert_eq!(hmac.len(), 64);
        assert!(hmac.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(used["token_hmac"], hmac, "{auth}\n{used}");
    }
    assert_ne!(auth1["token_hmac"], auth2["token_hmac"]);
    assert_eq!(unknown["token_hmac"], get_value["token_hmac"]);
    assert!(unknown["access_id"].is_null() && unknown["path"].is_null());
    // Malformed JSON yields nothing to attribute; the error is recorded.
    assert!(malformed["access_id"].is_null() && malformed["token_hmac"].is_null());
    assert!(malformed["error"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    // A token that resolves to nobody: no access id, but its fingerprint.
    assert!(garbage["access_id"].is_null());
    assert!(garbage["token_hmac"].is_string());
    assert_ne!(garbage["token_hmac"], get_value["token_hmac"]);

    // Nothing secret, anywhere in the file.
    for (what, secret) in [
        ("the admin access key", ADMIN_ACCESS_KEY),
        ("a refused access key", wrong_key),
        ("a token", create_token.as_str()),
        ("a token", value_token.as_str()),
        ("a garbage token", garbage_token),
        (
            "the target's secret",
            world.admin.secret_access_key.as_str(),
        ),
        ("the issued secret", issued_secret.as_str()),
    ] {
        assert!(
            !text.contains(secret),
            "{what} is in the audit log:\n{text}"
        );
    }
}

/// After a run that used every kind of secret, none of them is found in
/// plaintext anywhere in the data dir — database, WAL, audit log — except the
/// master key in its own key file.
#[tokio::test]
async fn no_secret_is_left_in_plaintext_in_the_data_dir() {
    let mut world = common::World::start().await;
    let gw = world.gateway.take().unwrap();
    let user = gw
        .ok(
            "auth-method-create-api-key",
            serde_json::json!({"name": "/users/scan"}),
        )
        .await;
    let user_key = user["access_key"].as_str().unwrap().to_string();
    let (_, auth) = gw
        .raw(
            "auth",
            &serde_json::json!({"access-id": user["access_id"], "access-key": user_key}),
        )
        .await;
    let user_token = auth["token"].as_str().unwrap().to_string();
    let admin_token = gw.token().await;
    gw.ok(
        "gateway-create-producer-aws",
        serde_json::json!({"name": "/scan/creds", "target-name": common::TARGET, "access-mode": "iam_user"}),
    )
    .await;
    let value = gw
        .raw(
            "get-dynamic-secret-value",
            &serde_json::json!({"name": "/scan/creds", "token": admin_token}),
        )
        .await
        .1;
    let issued = value["secret_access_key"].as_str().unwrap().to_string();
    let needles = [
        (
            "admin access key",
            dynsec_testkit::ADMIN_ACCESS_KEY.to_string(),
        ),
        ("user access key", user_key),
        ("user token", user_token),
        ("admin token", admin_token),
        ("target secret", world.admin.secret_access_key.clone()),
        ("issued secret", issued),
    ];
    let data_dir = world.data_dir();
    let scan = |stage: &str| {
        for entry in std::fs::read_dir(&data_dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "master.key") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for (what, secret) in &needles {
                assert!(
                    !text.contains(secret.as_str()),
                    "{stage}: {what} found in {}",
                    path.display()
                );
            }
        }
    };
    scan("while running (WAL not checkpointed)");
    assert!(gw.stop().await);
    scan("after shutdown");
}
