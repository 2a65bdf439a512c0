//! Listing benchmark through the real gateway binary (no AWS involved: the
//! listings never call it). Run: `cargo bench -p dynsec --bench listings`
//! (`DYNSEC_BENCH_QUICK=1`: a hundredth of the data, to try it out in a
//! debug build: `cargo run`-free, `cargo test -p dynsec --bench listings`).
//! Prints:
//! - a tmp-creds answer (the default cap, 1000) of a secret with 100k live
//!   leases (and 100k revoked ones retained beside them): time, and the
//!   gateway's peak RSS growth during the call (`clear_refs` resets the
//!   peak, `VmHWM` reads it);
//! - `list-items` on a 1-item folder with 20k secrets elsewhere;
//! - a 10k folder walked page by page (default page size, 100);
//! - start-up time (spawn to "listening") and RSS with 0, 100k and 1M leases.
//!
//! The data is seeded while the gateway is stopped, through the store's own
//! API (`dynsec_store::SqliteStore`: targets come from the gateway's API,
//! dynamic secrets and a thousand template leases from `insert_*`); the
//! leases are then multiplied in SQL by copying the template rows the store
//! wrote, column for column, under new ids (a million single-row inserts
//! would take longer than the run). The data dir is on `/dev/shm` when it
//! exists so seeding does not wait on fsync; reads are served from the page
//! cache either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as Span, Utc};
use dynsec_core::{AccessMode, Lease, LeaseState, PasswordPolicy, ProducerSettings};
use dynsec_store::{ProducerRecord, SqliteStore, Store};
use dynsec_testkit::{ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const RUNS: usize = 50;
const TEMPLATES: usize = 1000;

struct Sizes {
    elsewhere: usize,
    big_folder: usize,
    live: usize,
    revoked: usize,
    startup: [usize; 3],
}

fn sizes() -> Sizes {
    let quick = std::env::var_os("DYNSEC_BENCH_QUICK").is_some();
    let d = if quick { 100 } else { 1 };
    Sizes {
        elsewhere: 20_000 / d,
        big_folder: 10_000 / d,
        live: 100_000 / d,
        revoked: 100_000 / d,
        startup: [0, 100_000 / d, 1_000_000 / d],
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dynsec"))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A gateway process this bench started, with its address.
struct Running {
    child: Child,
    url: String,
    http: reqwest::Client,
    token: String,
}

/// Starts the gateway on `data`; returns it and how long until it listened.
async fn start(data: &Path) -> (Running, Duration) {
    let log = data.with_extension(format!("log-{}", Utc::now().timestamp_micros()));
    let started = Instant::now();
    let child = Command::new(bin())
        .args(["gateway", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("DYNSEC_ADMIN_ACCESS_ID", ADMIN_ACCESS_ID)
        .env("DYNSEC_ADMIN_ACCESS_KEY", ADMIN_ACCESS_KEY)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("listening on ").nth(1) {
            break rest
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect::<String>();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no start:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let took = started.elapsed();
    let http = reqwest::Client::new();
    let auth: Value = http
        .post(format!("{url}/api/v2/auth"))
        .json(&json!({"access-id": ADMIN_ACCESS_ID, "access-key": ADMIN_ACCESS_KEY}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = auth["token"].as_str().unwrap().to_string();
    (
        Running {
            child,
            url,
            http,
            token,
        },
        took,
    )
}

impl Running {
    async fn call(&self, op: &str, mut body: Value) -> Value {
        body["token"] = json!(self.token);
        let response = self
            .http
            .post(format!("{}/api/v2/{op}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{op}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// (VmRSS, VmHWM) in KiB.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Resets the peak RSS to the current RSS (Linux `clear_refs` 5).
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").unwrap();
    }

    async fn stop(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// Median and 95th percentile of `RUNS` runs of `f`.
async fn timed<F: AsyncFnMut()>(mut f: F) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 95 / 100])
}

fn settings() -> ProducerSettings {
    ProducerSettings {
        access_mode: AccessMode::IamUser,
        user_policies: vec![],
        user_groups: vec![],
        role_arns: vec![],
        programmatic_access: true,
        console_access: false,
        password: PasswordPolicy::default(),
        ttl_secs: 3600,
        ttl_text: "60m".into(),
        iam_path: String::new(),
        external_id: None,
        session_tags: vec![],
        transitive_tag_keys: vec![],
        username_template: None,
        tags: vec![],
        description: String::new(),
        protection_key: None,
        permissions_boundary_arn: None,
        user_tags: vec![],
        user_inline_policy: None,
        session_policy_arns: vec![],
        session_policy: None,
        max_ttl_secs: None,
        max_ttl_text: String::new(),
        early_revocation: false,
        secure_access_delay_secs: 0,
        mfa_serial: None,
    }
}

async fn seed_secrets(store: &SqliteStore, target_id: i64, s: &Sizes) -> i64 {
    let now = Utc::now();
    let record = |name: String| ProducerRecord {
        id: 0,
        uid: dynsec_crypto::random_id(16),
        name,
        target_id: Some(target_id),
        inline_connection: None,
        settings: settings(),
        delete_protection: false,
        created_at: now,
        modified_at: now,
    };
    store
        .insert_producer(&record("/lonely/only".into()))
        .await
        .unwrap();
    let busy = store
        .insert_producer(&record("/busy/secret".into()))
        .await
        .unwrap();
    for i in 0..s.elsewhere {
        store
            .insert_producer(&record(format!("/else/g{}/s{i:06}", i % 100)))
            .await
            .unwrap();
    }
    for i in 0..s.big_folder {
        store
            .insert_producer(&record(format!("/big/s{i:06}")))
            .await
            .unwrap();
    }
    busy
}

/// Writes `TEMPLATES` leases of `busy` in `state` through the store, ids
/// `<prefix>-t<n>`.
async fn seed_templates(store: &SqliteStore, busy: i64, prefix: &str, state: LeaseState) {
    let base = Utc::now() - Span::days(1);
    for n in 0..TEMPLATES {
        let id = format!("{prefix}-t{n:04}");
        store
            .insert_lease(&Lease {
                id: id.clone(),
                producer_id: busy,
                producer_name: "/busy/secret".into(),
                mode: AccessMode::IamUser,
                principal: format!("tmp.secret.{id}"),
                access_key_id: Some(format!("AKIA{n:016}")),
                role_arn: None,
                account_id: Some("123456789012".into()),
                state,
                owner: "bench.1".into(),
                created_at: base + Span::milliseconds(i64::try_from(n).unwrap()),
                expires_at: Utc::now() + Span::days(365),
                attempts: 0,
                last_error: None,
                next_attempt_at: None,
                created: None,
                revoked_at: (state == LeaseState::Revoked).then(Utc::now),
            })
            .await
            .unwrap();
    }
}

/// Copies the template leases `<prefix>-t*` until `total` leases have that
/// prefix: every column as the store wrote it, the id and creation time
/// shifted per copy.
async fn multiply(db: &Path, prefix: &str, total: usize) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('leases')")
        .fetch_all(&pool)
        .await
        .unwrap();
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM leases WHERE id LIKE ?")
        .bind(format!("{prefix}-%"))
        .fetch_one(&pool)
        .await
        .unwrap();
    let have = usize::try_from(have).unwrap();
    let first_copy = have / TEMPLATES;
    let copies = total / TEMPLATES;
    if copies > first_copy {
        let select: Vec<String> = columns
            .iter()
            .map(|c| match c.as_str() {
                "id" => "l.id || '-c' || k.k".to_string(),
                "created_at" => "l.created_at + k.k * 1000".to_string(),
                other => format!("l.{other}"),
            })
            .collect();
        let sql = format!(
            "WITH RECURSIVE k(k) AS (SELECT {first_copy} UNION ALL SELECT k + 1 FROM k WHERE k + 1 < {copies}) \
             INSERT INTO leases ({}) SELECT {} FROM leases l, k WHERE l.id GLOB '{prefix}-t[0-9][0-9][0-9][0-9]' AND k.k > 0",
            columns.join(", "),
            select.join(", ")
        );
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = sizes();
    let root = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = root.join(format!("dynsec-bench-listings-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("dynsec.db");
    println!(
        "listing benchmark, gateway binary ({} secrets; {} live + {} revoked leases on one)",
        s.elsewhere + s.big_folder + 2,
        s.live,
        s.revoked
    );

    // An installation: master key, admin, one target (through the API).
    let (gw, _) = start(&data).await;
    gw.call(
        "create-aws-target",
        json!({"name": "/aws/bench", "access-key-id": "AKIAIOSFODNN7EXAMPLE",
               "access-key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "region": "us-east-1",
               "iam-endpoint": "http://127.0.0.1:9", "sts-endpoint": "http://127.0.0.1:9"}),
    )
    .await;
    gw.stop().await;

    let seeding = Instant::now();
    let store = SqliteStore::open(&db).await.unwrap();
    let target = store
        .target_by_name("/aws/bench")
        .await
        .unwrap()
        .unwrap()
        .id;
    let busy = seed_secrets(&store, target, &s).await;
    drop(store);
    println!("seeded secrets in {}", ms(seeding.elapsed()));

    // Start-up with no leases (after one start that warms the caches, as
    // the later ones find them).
    start(&data).await.0.stop().await;
    let mut startups = Vec::new();
    let (gw, took) = start(&data).await;
    startups.push((0, took, gw.memory().0));
    gw.stop().await;

    let store = SqliteStore::open(&db).await.unwrap();
    seed_templates(&store, busy, "live", LeaseState::Active).await;
    seed_templates(&store, busy, "gone", LeaseState::Revoked).await;
    drop(store);

    let seeding = Instant::now();
    multiply(&db, "live", s.live).await;
    multiply(&db, "gone", s.revoked).await;
    println!("multiplied leases in {}", ms(seeding.elapsed()));
    let (gw, took) = start(&data).await;
    startups.push((s.live + s.revoked, took, gw.memory().0));

    // tmp-creds with 100k live leases: the default answer (1000).
    let (before, _) = gw.memory();
    gw.reset_peak();
    let t = Instant::now();
    let first = gw
        .call(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/busy/secret"}),
        )
        .await;
    let first_took = t.elapsed();
    let (_, peak) = gw.memory();
    let listed = first.as_array().unwrap().len();
    let body_bytes = first.to_string().len();
    let (p50, p95) = timed(async || {
        gw.call(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/busy/secret"}),
        )
        .await;
    })
    .await;
    let (_, peak_after_runs) = gw.memory();
    println!(
        "tmp-creds, {} live + {} revoked leases: {listed} listed ({} KiB): p50 {}, p95 {}; first call {}; \
         gateway RSS {} KiB before, peak +{} KiB during the first call, +{} KiB over {RUNS} more",
        s.live,
        s.revoked,
        body_bytes / 1024,
        ms(p50),
        ms(p95),
        ms(first_took),
        before,
        peak.saturating_sub(before),
        peak_after_runs.saturating_sub(before)
    );
    let (p50, _) = timed(async || {
        gw.call(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/busy/secret", "limit": 100}),
        )
        .await;
    })
    .await;
    println!("  with limit 100: p50 {}", ms(p50));

    // list-items, a 1-item folder, 20k secrets elsewhere.
    let one = gw.call("list-items", json!({"path": "/lonely"})).await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let (p50, p95) = timed(async || {
        gw.call("list-items", json!({"path": "/lonely"})).await;
    })
    .await;
    println!(
        "list-items, 1-item folder, {} secrets elsewhere: p50 {}, p95 {}",
        s.elsewhere + s.big_folder + 1,
        ms(p50),
        ms(p95)
    );

    // A 10k folder, page by page.
    let t = Instant::now();
    let (mut pages, mut items, mut slowest) = (0u32, 0, Duration::ZERO);
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"path": "/big"});
        if let Some(token) = &token {
            body["pagination-token"] = json!(token);
        }
        let page_start = Instant::now();
        let page = gw.call("list-items", body).await;
        slowest = slowest.max(page_start.elapsed());
        pages += 1;
        items += page["items"].as_array().unwrap().len();
        token = page["next_page"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(items, s.big_folder);
    let total = t.elapsed();
    println!(
        "list-items, {}-item folder: {pages} pages of 100 in {} ({} per page, slowest {})",
        s.big_folder,
        ms(total),
        ms(total / pages),
        ms(slowest)
    );
    gw.stop().await;

    // Start-up with a million leases.
    multiply(&db, "live", s.startup[2] / 2).await;
    multiply(&db, "gone", s.startup[2] / 2).await;
    let (gw, took) = start(&data).await;
    startups.push((s.startup[2], took, gw.memory().0));
    gw.stop().await;
    for (leases, took, rss) in startups {
        println!(
            "start-up with {leases} leases: {} to listening, RSS {:.1} MiB",
            ms(took),
            rss as f64 / 1024.0
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
