//! What the gateway costs AWS, against one moto (auth on) with the real
//! gateway binary. Run: `cargo bench -p dynsec --bench aws_calls` (moto_server
//! on PATH or `DYNSEC_MOTO_SERVER`; `DYNSEC_BENCH_STORM=N` shrinks the storm).
//! Prints:
//! - new TCP connections per issuance and per revocation once warm, and IAM
//!   calls per revocation, counted by a keep-alive proxy in front of moto;
//! - an expiry storm of `STORM` leases (one key, one policy, one group each),
//!   all due at once: revocations per second of the gateway's reaper, beside
//!   two replays issued straight with the SDK against the same moto at the
//!   reaper's concurrency — the discovery teardown every revocation used to
//!   make (13 calls) and the minimal one (4 calls).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{World, GROUP_NAME, TARGET};
use dynsec_testkit::KeepAliveProxy;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WARM_UP: usize = 3;
const ROUNDS: usize = 20;
const STORM: usize = 500;
/// The gateway's default `--reaper-concurrency`; the replays use it too.
const CONCURRENCY: usize = 8;
const REPLAY_PATH: &str = "/bench-replay/";

#[tokio::main]
async fn main() {
    let storm: usize = std::env::var("DYNSEC_BENCH_STORM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STORM);
    let mut world = World::start().await;
    connections_per_call(&world).await;

    let gateway_rate = gateway_storm(&mut world, storm).await;
    // No SDK retries: moto answers the one action it lacks
    // (ListServiceSpecificCredentials) with a crash page the SDK would retry
    // with backoff, which the gateway's teardown never did (`quirks.rs`).
    let admin = world.moto.admin_iam(&world.admin);
    let iam = aws_sdk_iam::Client::from_conf(
        admin
            .config()
            .to_builder()
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .build(),
    );
    let users = create_replay_users(&world, storm, "discovery").await;
    let discovery_rate = replay(&iam, users, "discovery", teardown_by_discovery).await;
    let users = create_replay_users(&world, storm, "minimal").await;
    let minimal_rate = replay(&iam, users, "minimal", teardown_minimal).await;
    assert!(!any_user_under(&world, REPLAY_PATH).await);
    println!(
        "expiry storm of {storm} leases, concurrency {CONCURRENCY}: gateway {gateway_rate:.1}/s, \
         13-call replay {discovery_rate:.1}/s, minimal 4-call replay {minimal_rate:.1}/s \
         => the gateway at {:.2}x the minimal replay's time, {:.1}x faster than the 13-call replay",
        minimal_rate / gateway_rate,
        gateway_rate / discovery_rate
    );
}

/// Issuances and revocations through a counting proxy after `WARM_UP`
/// rounds: new connections per call and IAM calls per revocation.
async fn connections_per_call(world: &World) {
    let proxy = KeepAliveProxy::start(&world.moto.endpoint).await;
    world
        .gw()
        .ok(
            "create-aws-target",
            json!({
                "name": "/aws/proxied",
                "access-key-id": world.admin.access_key_id,
                "access-key": world.admin.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": proxy.endpoint,
                "sts-endpoint": proxy.endpoint,
            }),
        )
        .await;
    let name = "/bench/proxied";
    world
        .iam_user_secret(name, json!({"target-name": "/aws/proxied"}))
        .await;
    let issue = || async {
        world
            .gw()
            .ok("get-dynamic-secret-value", json!({"name": name}))
            .await
    };
    let revoke = |value: Value| async move {
        world
            .gw()
            .ok(
                "gateway-revoke-producer-tmp-creds",
                json!({"name": name, "tmp-creds-id": value["id"]}),
            )
            .await;
    };
    for _ in 0..WARM_UP {
        let value = issue().await;
        revoke(value).await;
    }
    let (mut issuance, mut revocation, mut calls) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let before = proxy.connections();
        let value = issue().await;
        let issued = proxy.connections();
        issuance.push(issued - before);
        proxy.clear_requests();
        revoke(value).await;
        revocation.push(proxy.connections() - issued);
        let actions = proxy.actions();
        if actions.len() != 4 {
            println!("  a revocation made {} calls: {actions:?}", actions.len());
        }
        calls.push(actions.len());
    }
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    println!(
        "after {WARM_UP} warm-up rounds, over {ROUNDS} issuances and revocations through a keep-alive proxy: \
         new connections per issuance {:.2} (max {}), per revocation {:.2} (max {}); \
         IAM calls per revocation (1 key, 1 policy, 1 group) {:.2}",
        mean(&issuance),
        issuance.iter().max().unwrap(),
        mean(&revocation),
        revocation.iter().max().unwrap(),
        mean(&calls),
    );
}

/// Issues `n` leases, makes them all due at once behind the stopped
/// gateway's back, starts it and times the reaper until every user is gone.
async fn gateway_storm(world: &mut World, n: usize) -> f64 {
    let name = "/bench/storm";
    world
        .iam_user_secret(name, json!({"target-name": TARGET}))
        .await;
    let token = world.gw().token().await;
    let url = format!("{}/api/v2/get-dynamic-secret-value", world.gw().url);
    let client = reqwest::Client::new();
    let issued_at = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |_| {
            let (client, url, token) = (&client, &url, &token);
            async move {
                let response = client
                    .post(url)
                    .json(&json!({"name": name, "token": token}))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_success(),
                    "{:?}",
                    response.text().await
                );
            }
        })
        .await;
    println!("storm: {n} leases issued in {:.2?}", issued_at.elapsed());

    assert!(world.gateway.take().unwrap().stop().await);
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        world.data_dir().join("dynsec.db").display()
    ))
    .await
    .unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let due = sqlx::query(
        "UPDATE leases SET expires_at = ?, due_at = ? WHERE producer_name = ? AND state = 'active'",
    )
    .bind(now_ms)
    .bind(now_ms)
    .bind(name)
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(due as usize, n);
    db.close().await;

    // From before the start: the gateway's start-up counts against it.
    let start = Instant::now();
    world.start_gateway().await;
    let started = start.elapsed();
    // Not more often: each look is a call moto serves beside the gateway's,
    // which the replays do not have to share it with.
    while any_user_under(world, "/dynsec/").await {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = start.elapsed();
    let rate = n as f64 / took.as_secs_f64();
    println!(
        "storm: the gateway revoked {n} due leases in {took:.2?} from its start (start-up, answering /health: {started:.2?}) => {rate:.1}/s"
    );
    rate
}

async fn any_user_under(world: &World, path: &str) -> bool {
    !world
        .moto
        .admin_iam(&world.admin)
        .list_users()
        .path_prefix(path)
        .max_items(1)
        .send()
        .await
        .unwrap()
        .users()
        .is_empty()
}

/// A user made for a replay, and what was created with it.
struct ReplayUser {
    name: String,
    access_key_id: String,
    policy_arn: String,
}

/// `n` users under [`REPLAY_PATH`] as an issuance leaves them: the test
/// policy, the test group, an access key.
async fn create_replay_users(world: &World, n: usize, label: &str) -> Vec<ReplayUser> {
    let iam = world.moto.admin_iam(&world.admin);
    let policy = world.policy_arn.clone();
    stream::iter(0..n)
        .map(|i| {
            let (iam, policy) = (&iam, &policy);
            async move {
                let user = format!("replay.{label}.{i}");
                iam.create_user()
                    .user_name(&user)
                    .path(REPLAY_PATH)
                    .send()
                    .await
                    .unwrap();
                let (a, b, c) = tokio::join!(
                    iam.attach_user_policy()
                        .user_name(&user)
                        .policy_arn(policy)
                        .send(),
                    iam.add_user_to_group()
                        .user_name(&user)
                        .group_name(GROUP_NAME)
                        .send(),
                    iam.create_access_key().user_name(&user).send(),
                );
                a.unwrap();
                b.unwrap();
                let access_key_id = c.unwrap().access_key().unwrap().access_key_id().to_string();
                ReplayUser {
                    name: user,
                    access_key_id,
                    policy_arn: policy.clone(),
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// Tears down `n` replay users with `teardown`, `CONCURRENCY` at a time;
/// returns users per second.
async fn replay<F, Fut>(
    iam: &aws_sdk_iam::Client,
    users: Vec<ReplayUser>,
    label: &str,
    teardown: F,
) -> f64
where
    F: Fn(aws_sdk_iam::Client, ReplayUser) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let n = users.len();
    let start = Instant::now();
    let calls: usize = stream::iter(users)
        .map(|user| teardown(iam.clone(), user))
        .buffer_unordered(CONCURRENCY)
        .fold(0, |sum, calls| async move { sum + calls })
        .await;
    let took = start.elapsed();
    let rate = n as f64 / took.as_secs_f64();
    println!(
        "storm: {label} replay tore down {n} users in {took:.2?} ({:.1} IAM calls each) => {rate:.1}/s",
        calls as f64 / n as f64
    );
    rate
}

/// The discovery teardown as every revocation made it: list each kind AWS
/// requires gone (keys, MFA devices, SSH keys, signing certificates,
/// service-specific credentials, inline and attached policies, groups),
/// delete what was listed and the login profile, all kinds at once, then
/// DeleteUser. Returns the calls made (13 for 1 key, 1 policy, 1 group).
async fn teardown_by_discovery(iam: aws_sdk_iam::Client, user: ReplayUser) -> usize {
    let u = user.name.as_str();
    let keys = async {
        let keys = iam.list_access_keys().user_name(u).send().await.unwrap();
        let ids: Vec<String> = keys
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id().map(str::to_string))
            .collect();
        for id in &ids {
            iam.delete_access_key()
                .user_name(u)
                .access_key_id(id)
                .send()
                .await
                .unwrap();
        }
        1 + ids.len()
    };
    let login = async {
        // No login profile: NoSuchEntity, as the teardown took it.
        let _ = iam.delete_login_profile().user_name(u).send().await;
        1
    };
    let others = async {
        let (mfa, ssh, certs, service, inline) = tokio::join!(
            iam.list_mfa_devices().user_name(u).send(),
            iam.list_ssh_public_keys().user_name(u).send(),
            iam.list_signing_certificates().user_name(u).send(),
            iam.list_service_specific_credentials().user_name(u).send(),
            iam.list_user_policies().user_name(u).send(),
        );
        assert!(mfa.unwrap().mfa_devices().is_empty());
        assert!(ssh.unwrap().ssh_public_keys().is_empty());
        assert!(certs.unwrap().certificates().is_empty());
        // moto may not implement this one; the call is made either way.
        let _ = service;
        assert!(inline.unwrap().policy_names().is_empty());
        5
    };
    let policies = async {
        let listed = iam
            .list_attached_user_policies()
            .user_name(u)
            .send()
            .await
            .unwrap();
        let arns: Vec<String> = listed
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect();
        for arn in &arns {
            iam.detach_user_policy()
                .user_name(u)
                .policy_arn(arn)
                .send()
                .await
                .unwrap();
        }
        1 + arns.len()
    };
    let groups = async {
        let listed = iam
            .list_groups_for_user()
            .user_name(u)
            .send()
            .await
            .unwrap();
        let names: Vec<String> = listed
            .groups()
            .iter()
            .map(|g| g.group_name().to_string())
            .collect();
        for group in &names {
            iam.remove_user_from_group()
                .user_name(u)
                .group_name(group)
                .send()
                .await
                .unwrap();
        }
        1 + names.len()
    };
    let (k, l, o, p, g) = tokio::join!(keys, login, others, policies, groups);
    iam.delete_user().user_name(u).send().await.unwrap();
    k + l + o + p + g + 1
}

/// The minimal teardown of a user with one key, one policy and one group,
/// knowing what was created: the three deletions at once, then DeleteUser.
async fn teardown_minimal(iam: aws_sdk_iam::Client, user: ReplayUser) -> usize {
    let u = user.name.as_str();
    let (key, policy, group) = tokio::join!(
        iam.delete_access_key()
            .user_name(u)
            .access_key_id(&user.access_key_id)
            .send(),
        iam.detach_user_policy()
            .user_name(u)
            .policy_arn(&user.policy_arn)
            .send(),
        iam.remove_user_from_group()
            .user_name(u)
            .group_name(GROUP_NAME)
            .send(),
    );
    key.unwrap();
    policy.unwrap();
    group.unwrap();
    iam.delete_user().user_name(u).send().await.unwrap();
    4
}
