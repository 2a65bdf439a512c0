//! Lease lifecycle benchmark against one moto (auth on), with the real gateway
//! binary. Run: `cargo bench -p dynsec --bench lifecycle` (moto_server on PATH
//! or `DYNSEC_MOTO_SERVER`). Prints:
//! - issuance latency (p50/p95) straight to moto, and through a proxy adding
//!   `DELAY` to every AWS call, which exposes the AWS calls on the critical path;
//! - revocation throughput of an expiry storm (the reaper, bounded concurrency);
//! - what a kill -9 mid-burst costs: how long after restart the interrupted
//!   intents are rolled back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::World;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SAMPLES: usize = 40;
const DELAY: Duration = Duration::from_millis(50);
const STORM: usize = 100;

#[tokio::main]
async fn main() {
    let world = World::start().await;
    world.iam_user_secret("/bench/direct", json!({})).await;

    let direct = issue_latencies(&world, "/bench/direct").await;
    report(
        "issuance, direct to moto (policy + group + access key)",
        &direct,
    );

    let proxy = delay_proxy(world.moto.endpoint.trim_start_matches("http://"), DELAY).await;
    world
        .gw()
        .ok(
            "create-aws-target",
            json!({
                "name": "/aws/delayed",
                "access-key-id": world.admin.access_key_id,
                "access-key": world.admin.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": proxy,
                "sts-endpoint": proxy,
            }),
        )
        .await;
    world
        .gw()
        .ok(
            "gateway-create-producer-aws",
            json!({"name": "/bench/delayed", "target-name": "/aws/delayed", "access-mode": "iam_user",
                   "aws-user-policies": world.policy_arn, "aws-user-groups": common::GROUP_NAME}),
        )
        .await;
    let delayed = issue_latencies(&world, "/bench/delayed").await;
    report(&format!("issuance, {DELAY:?} added per AWS call"), &delayed);
    let p50 = percentile(&delayed, 50.0);
    println!(
        "  => AWS round trips on the critical path ≈ {:.1} (p50 / delay)",
        p50.as_secs_f64() / DELAY.as_secs_f64()
    );
    world
        .gw()
        .ok(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/bench/delayed", "revoke-all": true}),
        )
        .await;
    world
        .gw()
        .ok(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/bench/direct", "revoke-all": true}),
        )
        .await;

    expiry_storm(&world).await;
    kill_9_cost(world).await;
}

async fn issue_latencies(world: &World, name: &str) -> Vec<Duration> {
    let token = world.gw().token().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v2/get-dynamic-secret-value", world.gw().url);
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let response = client
            .post(&url)
            .json(&json!({"name": name, "token": token}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
        samples.push(start.elapsed());
    }
    samples
}

async fn expiry_storm(world: &World) {
    world
        .iam_user_secret("/bench/storm", json!({"user-ttl": "15s"}))
        .await;
    let token = world.gw().token().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v2/get-dynamic-secret-value", world.gw().url);
    let issued_at = Instant::now();
    for _ in 0..STORM {
        let response = client
            .post(&url)
            .json(&json!({"name": "/bench/storm", "token": token}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let issuing = issued_at.elapsed();
    assert!(
        issuing < Duration::from_secs(15),
        "issuance slower than the TTL: {issuing:?}"
    );
    // All leases expire within `issuing` of each other, starting 15 s after the first.
    let first_expiry = issued_at + Duration::from_secs(15);
    tokio::time::sleep_until(first_expiry.into()).await;
    loop {
        if world.temp_users().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let span = first_expiry.elapsed();
    println!(
        "expiry storm: {STORM} leases issued in {issuing:.2?}, all revoked {span:.2?} after the first expired \
         => {:.0} revocations/s (a teardown is ~13 IAM calls: list and delete keys, login profile, MFA, SSH keys, certificates, service credentials, policies, groups, user)",
        STORM as f64 / span.as_secs_f64().max(issuing.as_secs_f64())
    );
}

async fn kill_9_cost(mut world: World) {
    world
        .iam_user_secret("/bench/crash", json!({"user-ttl": "1h"}))
        .await;
    let gateway = world.gateway.take().unwrap();
    let token = gateway.token().await;
    let issued = Arc::new(AtomicUsize::new(0));
    let workers = common::issuance_workers(&gateway, &token, "/bench/crash", 8, &issued);
    while issued.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gateway.kill9().await;
    for worker in workers {
        worker.await.unwrap();
    }
    let handed_out = issued.load(Ordering::SeqCst);
    let leftover = world.temp_users().await.len();
    let restart = Instant::now();
    world.start_gateway().await;
    let started = restart.elapsed();
    while world.temp_users().await.len() > handed_out {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "kill -9 mid-burst: {handed_out} credentials handed out, {} interrupted issuances left users; \
         restart took {started:.2?}, interrupted intents rolled back {:.2?} after restart",
        leftover.saturating_sub(handed_out),
        restart.elapsed()
    );
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index]
}

fn report(label: &str, samples: &[Duration]) {
    println!(
        "{label}: p50 {:.1?}, p95 {:.1?}, max {:.1?} over {} issuances",
        percentile(samples, 50.0),
        percentile(samples, 95.0),
        samples.iter().max().unwrap(),
        samples.len()
    );
}

/// A TCP proxy that holds every request chunk for `delay` before forwarding
/// it, like a distant AWS endpoint. moto closes each connection after one
/// answer, so every AWS call pays the delay once.
async fn delay_proxy(upstream: &str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let upstream = upstream.to_string();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let to_server = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut first = true;
                    while let Ok(n) = client_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if first {
                            tokio::time::sleep(delay).await;
                            first = false;
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let to_client = async {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(to_server, to_client);
            });
        }
    });
    format!("http://{address}")
}
