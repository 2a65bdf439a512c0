//! Cluster benchmark: gateways on one PostgreSQL database against one moto
//! (auth on), side by side with one gateway on SQLite, in the same run.
//! Run: `cargo bench -p dynsec --bench cluster` (moto_server on PATH or
//! `DYNSEC_MOTO_SERVER`; PostgreSQL on 127.0.0.1:5432). Prints:
//! - issuance throughput with 1, 2 and 3 gateways on PostgreSQL and with one
//!   on SQLite (12 clients spread over the gateways);
//! - the drain of an expiry storm (100 leases) with 2 gateways on
//!   PostgreSQL and with one on SQLite;
//! - start-up time and memory of a gateway over 0 and 1M leases, on
//!   PostgreSQL and on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::cluster::{random_master_key, Cluster};
use dynsec_testkit::{Gateway, PgDatabase};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISSUANCES: usize = 150;
const CLIENTS: usize = 12;
const STORM: usize = 100;
const STORM_TTL_SECS: u64 = 15;
const MANY_LEASES: u64 = 1_000_000;

/// A set of gateways on one store, named for the report.
struct Setup {
    label: String,
    gateways: Vec<Gateway>,
    _db: Option<PgDatabase>,
}

#[tokio::main]
async fn main() {
    let cluster = Cluster::start().await;
    let key = random_master_key(9);
    let mut run = 0;
    let mut setup = |n: usize, postgres: bool| {
        run += 1;
        let names: Vec<String> = (0..n).map(|i| format!("run{run}-gw{i}")).collect();
        for name in &names {
            cluster.give_key_file(name, &key);
        }
        (names, postgres)
    };

    println!("issuance throughput ({ISSUANCES} issuances, {CLIENTS} clients, one moto):");
    let configs = [(1, false), (1, true), (2, true), (3, true)];
    for (n, postgres) in configs {
        let (names, postgres) = setup(n, postgres);
        let s = start(&cluster, &names, postgres).await;
        cluster
            .create_target_and_secret(&s.gateways[0], "/bench/tp", "1h")
            .await;
        let start = Instant::now();
        issue(&s.gateways, "/bench/tp", ISSUANCES).await;
        let took = start.elapsed();
        println!(
            "  {:<24} {:>6.1} issuances/s ({took:.2?})",
            s.label,
            ISSUANCES as f64 / took.as_secs_f64()
        );
        for g in s.gateways {
            g.stop().await;
        }
    }

    println!(
        "expiry storm ({STORM} leases, TTL {STORM_TTL_SECS}s, reaper concurrency 8 per gateway):"
    );
    for (n, postgres) in [(1, false), (2, true)] {
        let (names, postgres) = setup(n, postgres);
        let s = start(&cluster, &names, postgres).await;
        // Users of earlier runs would be counted; start from an empty IAM.
        revoke_leftovers(&cluster).await;
        cluster
            .create_target_and_secret(
                &s.gateways[0],
                "/bench/storm",
                &format!("{STORM_TTL_SECS}s"),
            )
            .await;
        let issued_at = Instant::now();
        issue(&s.gateways, "/bench/storm", STORM).await;
        let issuing = issued_at.elapsed();
        let first_expiry = issued_at + Duration::from_secs(STORM_TTL_SECS);
        tokio::time::sleep_until(first_expiry.into()).await;
        while !cluster.temp_users().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let span = first_expiry.elapsed();
        println!(
            "  {:<24} issued in {issuing:.2?}, all revoked {span:.2?} after the first expiry => {:.0} revocations/s",
            s.label,
            STORM as f64 / span.as_secs_f64().max(issuing.as_secs_f64())
        );
        for g in s.gateways {
            g.stop().await;
        }
    }

    println!("start-up over many leases (time to listening; peak RSS):");
    for postgres in [true, false] {
        for leases in [0, MANY_LEASES] {
            let (names, postgres) = setup(1, postgres);
            let s = start(&cluster, &names, postgres).await;
            let url = s._db.as_ref().map(|db| db.url.clone());
            let data_dir = s.gateways[0].data_dir.clone();
            for g in s.gateways {
                g.stop().await;
            }
            if leases > 0 {
                fill_leases(url.as_deref(), &data_dir, leases).await;
            }
            let started = Instant::now();
            let g = gateway(&cluster, &names[0], url.as_deref()).await;
            let took = started.elapsed();
            // Let the first heartbeat, recovery and reaper pass run.
            tokio::time::sleep(Duration::from_secs(2)).await;
            println!(
                "  {:<10} {:>9} leases: listening after {took:.2?}, peak RSS {} MiB",
                if postgres { "PostgreSQL" } else { "SQLite" },
                leases,
                peak_rss_mib(&g)
            );
            g.stop().await;
            drop(s._db);
        }
    }
}

async fn start(cluster: &Cluster, names: &[String], postgres: bool) -> Setup {
    let db = if postgres {
        Some(PgDatabase::create().await)
    } else {
        None
    };
    let url = db.as_ref().map(|db| db.url.clone());
    let gateways = futures::future::join_all(
        names
            .iter()
            .map(|name| gateway(cluster, name, url.as_deref())),
    )
    .await;
    Setup {
        label: if postgres {
            format!("{} on PostgreSQL", names.len())
        } else {
            "1 on SQLite".into()
        },
        gateways,
        _db: db,
    }
}

async fn gateway(cluster: &Cluster, name: &str, url: Option<&str>) -> Gateway {
    let mut args = vec!["--orphan-sweep-secs", "3600"];
    if let Some(url) = url {
        args.extend(["--database-url", url]);
    }
    Gateway::start_with_args(&common::bin(), &cluster.data_dir(name), &[], &args).await
}

/// `total` issuances by CLIENTS clients, client i on gateway i % n.
async fn issue(gateways: &[Gateway], name: &str, total: usize) {
    let left = Arc::new(AtomicUsize::new(total));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let g = &gateways[i % gateways.len()];
        let url = format!("{}/api/v2/get-dynamic-secret-value", g.url);
        let body = json!({"name": name, "token": g.token().await});
        let left = left.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let response = client.post(&url).json(&body).send().await.unwrap();
                assert!(
                    response.status().is_success(),
                    "{:?}",
                    response.text().await
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Deletes the users earlier runs left (their gateways are stopped).
async fn revoke_leftovers(cluster: &Cluster) {
    let iam = cluster.moto.admin_iam(&cluster.admin);
    for user in cluster.temp_users().await {
        let keys = iam
            .list_access_keys()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        for key in keys.access_key_metadata() {
            let _ = iam
                .delete_access_key()
                .user_name(&user)
                .access_key_id(key.access_key_id().unwrap_or_default())
                .send()
                .await;
        }
        let policies = iam
            .list_attached_user_policies()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        for p in policies.attached_policies() {
            let _ = iam
                .detach_user_policy()
                .user_name(&user)
                .policy_arn(p.policy_arn().unwrap_or_default())
                .send()
                .await;
        }
        let _ = iam
            .remove_user_from_group()
            .user_name(&user)
            .group_name(common::GROUP_NAME)
            .send()
            .await;
        iam.delete_user().user_name(&user).send().await.unwrap();
    }
}

/// Writes `n` leases straight into the store: 1% active far in the future,
/// the rest revoked — a long-running installation's history.
async fn fill_leases(url: Option<&str>, data_dir: &std::path::Path, n: u64) {
    // The same rows in both dialects, from a generated sequence.
    let columns = "INSERT INTO leases (id, producer_id, producer_name, mode, principal, state, \
         owner, created_at, expires_at, attempts, due_at) \
         SELECT 'bench' || i, 1, '/bench/history', 'iam_user', 'tmp.history.' || i, \
           CASE WHEN i % 100 = 0 THEN 'active' ELSE 'revoked' END, 'node-old.1', \
           1700000000000, 4102444800000, 1, \
           CASE WHEN i % 100 = 0 THEN 4102444800000 ELSE NULL END FROM seq";
    match url {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let sql = format!("WITH seq(i) AS (SELECT generate_series(1, {n})) {columns}");
            sqlx::query(&sql).execute(&pool).await.unwrap();
            sqlx::query("ANALYZE leases").execute(&pool).await.unwrap();
            pool.close().await;
        }
        None => {
            let path = data_dir.join("dynsec.db");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let sql = format!(
                "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) {columns}"
            );
            sqlx::query(&sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// Peak resident memory of the gateway process (VmHWM), in MiB.
fn peak_rss_mib(g: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", g.pid().unwrap_or(0)))
        .unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
