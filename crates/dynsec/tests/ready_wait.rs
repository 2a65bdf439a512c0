//! `secure-access-delay` against moto with auth on: the gateway hands a
//! credential out as soon as it is seen working (GetCallerIdentity signed
//! with it), never later than the delay, and says how long that took; the
//! delay is validated and named in errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, TARGET};
use serde_json::{json, Value};

fn waited_ms(value: &Value) -> u64 {
    value["ready_wait_ms"]
        .as_str()
        .unwrap_or_else(|| panic!("no ready_wait_ms: {value:?}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn issued_credentials_are_handed_out_once_seen_working_within_the_delay() {
    let world = World::start().await;
    world
        .iam_user_secret("/ready/users", json!({"secure-access-delay": 20}))
        .await;
    let got = world
        .gw()
        .ok("dynamic-secret-get", json!({"name": "/ready/users"}))
        .await;
    assert_eq!(got["secure_access_delay"], json!(20), "{got}");

    let mut waits = Vec::new();
    for _ in 0..10 {
        let value = world
            .gw()
            .ok("get-dynamic-secret-value", json!({"name": "/ready/users"}))
            .await;
        assert_eq!(value["seen_working"], json!("true"), "{value}");
        let waited = waited_ms(&value);
        assert!(waited < 20_000, "waited past the delay: {waited} ms");
        // It works the moment it is handed out.
        world
            .sts_as(&value)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        waits.push(waited);
    }
    waits.sort_unstable();
    eprintln!(
        "ready-wait on moto, iam_user, 10 issuances: min {} ms, median {} ms, max {} ms",
        waits[0], waits[5], waits[9]
    );

    // assumed_role sessions are waited for the same way.
    world
        .gw()
        .ok(
            "dynamic-secret-create-aws",
            json!({"name": "/ready/role", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": world.role_arn, "user-ttl": "15m", "secure-access-delay": "5"}),
        )
        .await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/ready/role"}))
        .await;
    assert_eq!(value["seen_working"], json!("true"), "{value}");
    assert!(waited_ms(&value) < 5_000);

    // Without a delay nothing is waited for, and the answer says nothing.
    world.iam_user_secret("/ready/none", json!({})).await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/ready/none"}))
        .await;
    assert!(value.get("ready_wait_ms").is_none(), "{value}");
    assert!(value.get("seen_working").is_none(), "{value}");

    // An update without the field keeps it; one with it changes it.
    let updated = world
        .gw()
        .ok(
            "dynamic-secret-update-aws",
            json!({"name": "/ready/users", "target-name": TARGET, "access-mode": "iam_user",
                   "aws-user-policies": world.policy_arn, "user-ttl": "60m"}),
        )
        .await;
    assert_eq!(
        updated["dynamic_secret_details"]["secure_access_delay"],
        json!(20)
    );
    let updated = world
        .gw()
        .ok(
            "dynamic-secret-update-aws",
            json!({"name": "/ready/users", "target-name": TARGET, "access-mode": "iam_user",
                   "aws-user-policies": world.policy_arn, "user-ttl": "60m", "secure-access-delay": 0}),
        )
        .await;
    assert_eq!(
        updated["dynamic_secret_details"]["secure_access_delay"],
        json!(0)
    );
}

#[tokio::test]
async fn the_delay_is_0_to_120_seconds_and_errors_name_it() {
    let world = World::start().await;
    for bad in [json!(121), json!("500"), json!(-1), json!("soon")] {
        let (status, body) = world
            .gw()
            .call(
                "dynamic-secret-create-aws",
                json!({"name": "/ready/bad", "target-name": TARGET, "access-mode": "iam_user",
                       "aws-user-policies": world.policy_arn, "secure-access-delay": bad}),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("secure-access-delay"),
            "{bad}: {body}"
        );
    }
    world
        .iam_user_secret("/ready/max", json!({"secure-access-delay": 120}))
        .await;
}
