//! End-to-end lease lifecycle against moto with authentication on: expiry,
//! expiry while the gateway is down, kill -9 in the middle of issuance bursts,
//! AWS throttling, and the orphan sweep. The promise under test: access ends
//! on time and no IAM user is left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{eventually, status_of, World, TARGET};
use dynsec_testkit::Gateway;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Waits until the dynamic secret lists no live lease. (A user goes a
/// moment before its lease is recorded revoked.)
async fn no_live_lease_remains(world: &World, name: &str) {
    eventually(Duration::from_secs(10), "no live lease", || async {
        world
            .gw()
            .ok("gateway-get-producer-tmp-creds", json!({"name": name}))
            .await
            == json!([])
    })
    .await;
}

#[tokio::test]
async fn a_short_ttl_ends_with_the_user_gone_and_its_key_rejected() {
    let world = World::start().await;
    world
        .iam_user_secret("/short/ttl", json!({"user-ttl": "3s"}))
        .await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/short/ttl"}))
        .await;
    world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .expect("key works before expiry");
    assert_eq!(world.temp_users().await.len(), 1);

    eventually(Duration::from_secs(20), "expiry revocation", || async {
        world.temp_users().await.is_empty()
    })
    .await;
    let rejected = world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&rejected), Some(403));
    no_live_lease_remains(&world, "/short/ttl").await;
}

#[tokio::test]
async fn leases_that_expire_while_the_gateway_is_down_are_revoked_after_start() {
    let mut world = World::start().await;
    world
        .iam_user_secret("/down/ttl", json!({"user-ttl": "2s"}))
        .await;
    for _ in 0..3 {
        world
            .gw()
            .ok("get-dynamic-secret-value", json!({"name": "/down/ttl"}))
            .await;
    }
    assert!(world.gateway.take().unwrap().stop().await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        world.temp_users().await.len(),
        3,
        "nobody revoked them while down"
    );

    world.start_gateway().await;
    let took = eventually(
        Duration::from_secs(20),
        "revocation after start",
        || async { world.temp_users().await.is_empty() },
    )
    .await;
    eprintln!("expired-while-down leases revoked {took:?} after start");
}

#[tokio::test]
async fn kill_9_during_issuance_bursts_leaves_no_iam_user_behind() {
    let mut world = World::start().await;
    world
        .iam_user_secret("/crash/burst", json!({"user-ttl": "4s"}))
        .await;
    let issued = Arc::new(AtomicUsize::new(0));
    let mut recovered_intents = 0;
    for round in 0..3usize {
        let gateway = world.gateway.take().unwrap();
        let token = gateway.token().await;
        let before = issued.load(Ordering::SeqCst);
        let workers = common::issuance_workers(&gateway, &token, "/crash/burst", 8, &issued);
        // Kill while 8 issuances are in flight, a little later each round.
        let target = before + 4 + 4 * round;
        eventually(Duration::from_secs(20), "issuance under way", || {
            let issued = issued.clone();
            async move { issued.load(Ordering::SeqCst) >= target }
        })
        .await;
        gateway.kill9().await;
        for worker in workers {
            worker.await.unwrap();
        }
        world.start_gateway().await;
        recovered_intents += world
            .gw()
            .log()
            .matches("rolling back intent of a stopped gateway")
            .count();
    }
    eprintln!(
        "{} credentials handed out; {recovered_intents} interrupted intents rolled back",
        issued.load(Ordering::SeqCst)
    );
    let took = eventually(Duration::from_secs(40), "zero IAM users", || async {
        world.temp_users().await.is_empty()
    })
    .await;
    eprintln!("all users gone {took:?} after the last restart");
    // Every lease ends revoked — none stuck pending or failed.
    no_live_lease_remains(&world, "/crash/burst").await;
}

#[tokio::test]
async fn throttling_delays_revocation_but_does_not_lose_it() {
    let world = World::start().await;
    // microburst forwards with its own Host header, which breaks SigV4 checks;
    // this test is about retries, so moto's authentication is off here.
    world.moto.set_auth(false).await;
    let proxy = Microburst::start(&world.moto.endpoint).await;
    world
        .gw()
        .ok(
            "create-aws-target",
            json!({
                "name": "/aws/throttled",
                "access-key-id": world.admin.access_key_id,
                "access-key": world.admin.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": proxy.endpoint,
                "sts-endpoint": proxy.endpoint,
            }),
        )
        .await;
    world
        .gw()
        .ok(
            "gateway-create-producer-aws",
            json!({"name": "/throttled/x", "target-name": "/aws/throttled", "access-mode": "iam_user", "user-ttl": "2s"}),
        )
        .await;
    world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/throttled/x"}))
        .await;
    // Every DeleteUser is throttled until the test lifts it: more than one
    // revocation attempt's worth of SDK retries, so the lease must fail, stay
    // visibly failed, wait, and retry. (A fixed number of throttles would
    // leave a failed state only a backoff long, which a loaded machine's
    // polling could miss.)
    proxy
        .rules(
            json!([{"service": "iam", "operation": "DeleteUser", "error": {"code": "Throttling"}}]),
        )
        .await;

    eventually(
        Duration::from_secs(30),
        "a visible failed revocation",
        || async {
            let leases = world
                .gw()
                .ok(
                    "gateway-get-producer-tmp-creds",
                    json!({"name": "/throttled/x"}),
                )
                .await;
            leases.as_array().unwrap().iter().any(|l| {
                l["state"] == "failed"
                    && l["last_error"].as_str().unwrap().contains("Throttling")
                    && !l["next_attempt"].as_str().unwrap().is_empty()
            })
        },
    )
    .await;
    // AWS stops throttling: the next retry lands.
    proxy.rules(json!([])).await;
    let took = eventually(
        Duration::from_secs(60),
        "revocation despite throttling",
        || async { world.temp_users().await.is_empty() },
    )
    .await;
    eprintln!("revoked {took:?} after the throttling ended");
    assert!(
        world.gw().log().contains("revocation failed"),
        "failures are logged"
    );
}

#[tokio::test]
async fn the_orphan_sweep_removes_expired_unclaimed_users_and_nothing_else() {
    let mut world = World::start().await;
    // The sweep runs often so the test doesn't wait for it.
    let gateway = world.gateway.take().unwrap();
    assert!(gateway.stop().await);
    world.gateway = Some(
        Gateway::start_with_args(
            &common::bin(),
            &world.data_dir(),
            &[],
            &["--orphan-sweep-secs", "1"],
        )
        .await,
    );
    let admin = world.moto.admin_iam(&world.admin);
    let tag = |k: &str, v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    // As if issued by this gateway before its database was lost: expired, ours.
    admin
        .create_user()
        .user_name("tmp.lost.aaaaaaaaaaaaaaaa")
        .path("/dynsec/")
        .tags(tag("dynsec:managed-by", "dynsec"))
        .tags(tag("dynsec:lease-id", "aaaaaaaaaaaaaaaa"))
        .tags(tag("dynsec:expires-at", "2020-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    admin
        .create_access_key()
        .user_name("tmp.lost.aaaaaaaaaaaaaaaa")
        .send()
        .await
        .unwrap();
    // Not expired yet: left alone until it is.
    admin
        .create_user()
        .user_name("tmp.future.bbbbbbbbbbbbbbbb")
        .path("/dynsec/")
        .tags(tag("dynsec:managed-by", "dynsec"))
        .tags(tag("dynsec:expires-at", "2999-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    // Named by a custom-username-template: recognised by dynsec's tags alone.
    admin
        .create_user()
        .user_name("svc-lost.cccccccccccccccc")
        .path("/dynsec/")
        .tags(tag("dynsec:managed-by", "dynsec"))
        .tags(tag("dynsec:lease-id", "cccccccccccccccc"))
        .tags(tag("dynsec:expires-at", "2020-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    // Same path and name shape but not managed by dynsec: never touched.
    admin
        .create_user()
        .user_name("tmp.someone-else")
        .path("/dynsec/")
        .tags(tag("dynsec:expires-at", "2020-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    // A live lease of ours whose user must survive the sweep.
    world.iam_user_secret("/sweep/live", json!({})).await;
    let live = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/sweep/live"}))
        .await;

    let expected = {
        let mut names = vec![
            "tmp.future.bbbbbbbbbbbbbbbb".to_string(),
            "tmp.someone-else".to_string(),
            live["user_name"].as_str().unwrap().to_string(),
        ];
        names.sort();
        names
    };
    eventually(Duration::from_secs(30), "the sweep", || async {
        let mut users = world.temp_users().await;
        users.sort();
        users == expected
    })
    .await;
    let _ = TARGET;
}

#[tokio::test]
async fn a_connection_moved_to_another_account_cannot_fake_a_revocation() {
    let world = World::start().await;
    world.iam_user_secret("/moved/x", json!({})).await;
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/moved/x"}))
        .await;
    let user = value["user_name"].as_str().unwrap().to_string();

    // Session credentials acting in another account (moto's AssumeRole puts
    // them in the role's account; the role itself needn't exist with auth off).
    world.moto.set_auth(false).await;
    let other = world
        .moto
        .sts(
            &world.admin.access_key_id,
            &world.admin.secret_access_key,
            None,
        )
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/elsewhere")
        .role_session_name("moved")
        .send()
        .await
        .unwrap();
    world.moto.set_auth(true).await;
    let creds = other.credentials().unwrap();
    let point_target_at = |key: &str, secret: &str, token: Option<&str>| {
        json!({
            "name": TARGET,
            "access-key-id": key,
            "access-key": secret,
            "session-token": token.unwrap_or_default(),
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
        })
    };
    world
        .gw()
        .ok(
            "update-aws-target",
            point_target_at(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token()),
            ),
        )
        .await;

    // In account 222222222222 the user "doesn't exist" — that must not count.
    let (status, body) = world
        .gw()
        .call(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/moved/x", "tmp-creds-id": value["id"]}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("issued in account 123456789012"),
        "{body}"
    );
    assert!(
        world.temp_users().await.contains(&user),
        "the real user is untouched"
    );
    let leases = world
        .gw()
        .ok(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/moved/x"}),
        )
        .await;
    assert_eq!(leases[0]["state"], "failed");

    // Pointed back at the right account, the retry completes.
    world
        .gw()
        .ok(
            "update-aws-target",
            point_target_at(
                &world.admin.access_key_id,
                &world.admin.secret_access_key,
                None,
            ),
        )
        .await;
    eventually(
        Duration::from_secs(30),
        "the retried revocation",
        || async { world.temp_users().await.is_empty() },
    )
    .await;
    let rejected = world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&rejected), Some(403));
}

/// The microburst fault-injection proxy in front of moto.
struct Microburst {
    endpoint: String,
    _child: tokio::process::Child,
}

impl Microburst {
    async fn start(upstream: &str) -> Microburst {
        let program = std::env::var("DYNSEC_MICROBURST").unwrap_or_else(|_| {
            std::env::var("DYNSEC_MOTO_SERVER")
                .ok()
                .and_then(|moto| {
                    let dir = std::path::Path::new(&moto).parent()?.to_path_buf();
                    Some(dir.join("microburst").to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "microburst".into())
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(&program)
            .args([
                "--upstream",
                upstream,
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--no-resign",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} (pip install microburst): {e}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        let health = format!("{endpoint}/_microburst/health");
        eventually(Duration::from_secs(20), "microburst to start", || async {
            reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        Microburst {
            endpoint,
            _child: child,
        }
    }

    async fn rules(&self, rules: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_microburst/rules", self.endpoint))
            .json(&rules)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
}
