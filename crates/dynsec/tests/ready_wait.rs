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

/// An STS endpoint that refuses every credential (`InvalidClientTokenId`,
/// as AWS does while a new key propagates); counts the calls.
struct RefusingSts {
    endpoint: String,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RefusingSts {
    async fn start() -> RefusingSts {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    // Read the head and the body it announces, then refuse.
                    let mut request = Vec::new();
                    let mut buf = [0u8; 8192];
                    loop {
                        let Ok(n) = socket.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>refusing</RequestId></ErrorResponse>"#;
                    let answer = format!(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        RefusingSts { endpoint, calls }
    }
}

#[tokio::test]
async fn a_credential_never_seen_working_comes_after_the_delay_and_a_client_that_leaves_ends_the_wait(
) {
    let world = World::start().await;
    let sts = RefusingSts::start().await;
    // IAM is moto; STS (where the ready-wait asks) refuses everything.
    let secret = |delay: u64| {
        json!({"name": "/ready/slow", "access-mode": "iam_user",
               "aws-user-policies": world.policy_arn, "user-ttl": "60m",
               "aws-access-key-id": world.admin.access_key_id,
               "aws-access-secret-key": world.admin.secret_access_key,
               "region": "us-east-1", "iam-endpoint": world.moto.endpoint,
               "sts-endpoint": sts.endpoint, "secure-access-delay": delay})
    };
    world.gw().ok("dynamic-secret-create-aws", secret(2)).await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/ready/slow"}))
        .await;
    assert_eq!(value["seen_working"], json!("false"), "{value}");
    assert!(waited_ms(&value) >= 2_000, "{value}");
    assert!(sts.calls.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    // Handed out anyway, and real: moto accepts it.
    world.iam_as(&value).list_users().send().await.unwrap();

    // A client that gives up mid-wait ends it; the credential it never got
    // stays a correct, active lease (revoked at its expiry or on request).
    world.gw().ok("dynamic-secret-update-aws", secret(60)).await;
    let token = world.gw().token().await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(1_500))
        .build()
        .unwrap();
    let gave_up = client
        .post(format!("{}/get-dynamic-secret-value", world.gw().url))
        .json(&json!({"name": "/ready/slow", "token": token}))
        .send()
        .await;
    assert!(gave_up.is_err(), "the gateway answered within 1.5 s");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !world
        .gw()
        .log()
        .contains("the client went away during the ready-wait")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the wait went on after the client left; log:\n{}",
            world.gw().log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let leases = world
        .gw()
        .ok(
            "dynamic-secret-tmp-creds-get",
            json!({"name": "/ready/slow"}),
        )
        .await;
    let states: Vec<&str> = leases
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["active", "active"], "{leases}");
}
