//! The gateway binary and its files: SIGHUP reopens the audit log after a
//! rename (logrotate) and the process keeps serving; a busy port stops the
//! first start before anything is created or printed; a database from a
//! newer dynsec is refused in plain words (SQLite and PostgreSQL); an upgrade backs the SQLite file
//! up first; a data dir inside a git checkout stays out of git; SIGTERM
//! stops accepting, answers and audits the requests in flight (those of
//! clients that hung up too) before the duties stop, and exits 0.
//! (Certificate reloads and the `CA:TRUE` hint: `tls.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bin;
use dynsec_testkit::{Gateway, PgDatabase, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Polls `check` until it holds (at most 30 s), then panics with `what`.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn operations_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["operation"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Runs `dynsec gateway` with `args` (no preset admin) until it exits.
async fn gateway_exits(args: &[&str]) -> std::process::Output {
    let out = tokio::process::Command::new(bin())
        .arg("gateway")
        .args(args)
        .env_remove("DYNSEC_ADMIN_ACCESS_ID")
        .env_remove("DYNSEC_ADMIN_ACCESS_KEY")
        .env_remove("DYNSEC_DATA_DIR")
        .env_remove("DYNSEC_DATABASE_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the gateway should have exited")
        .unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn sighup_reopens_the_audit_log_after_a_rename_and_keeps_serving() {
    let dir = TempDir::new("dynsec-sighup");
    let gw = Gateway::start(&bin(), &dir.path().join("data"), &[]).await;
    let log = gw.data_dir.join("audit.log");
    let rotated = gw.data_dir.join("audit.log.1");
    gw.ok("list-items", json!({})).await;
    wait_until("the first records are written", || {
        operations_in(&log) == ["auth", "list-items"]
    })
    .await;

    // What logrotate does: rename, then HUP.
    std::fs::rename(&log, &rotated).unwrap();
    let pid = gw.pid().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_until("the gateway reopened its audit log", || {
        gw.log().contains("reopened the audit log")
    })
    .await;
    assert!(log.exists(), "a new file at the path, created at once");
    #[cfg(unix)]
    assert_eq!(mode(&log), 0o600);

    gw.ok("list-targets", json!({})).await;
    wait_until("the new file has the request made after the HUP", || {
        operations_in(&log) == ["auth", "list-targets"]
    })
    .await;
    assert_eq!(
        operations_in(&rotated),
        ["auth", "list-items"],
        "the renamed file keeps what was written before, and nothing after"
    );
    // Still the same process, still serving, still stopping cleanly.
    assert_eq!(gw.pid().unwrap().to_string(), pid);
    gw.ok("list-items", json!({})).await;
    assert!(gw.stop().await, "a clean stop after the HUP");
}

/// `auth` as the preset admin from `client` (the gateway trusts the test's
/// `X-Forwarded-For`); returns the status and the answer.
async fn auth_from(url: &str, client: &str, access_key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v2/auth"))
        .header("X-Forwarded-For", client)
        .json(&json!({"access-id": ADMIN_ACCESS_ID, "access-key": access_key}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// How many `auth` answers the gateway has started holding back.
async fn auth_delays(metrics: &str) -> u64 {
    let text = reqwest::get(format!("{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("dynsec_auth_delays_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn registered_instances(data_dir: &Path) -> i64 {
    let db = common::database(data_dir).await;
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM instances")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    count
}

#[tokio::test]
async fn sigterm_answers_and_audits_the_requests_in_flight_before_the_duties_stop_then_exits_0() {
    let dir = TempDir::new("dynsec-sigterm-drain");
    let gw = Gateway::start_with_args(
        &bin(),
        &dir.path().join("data"),
        &[],
        &[
            "--trusted-proxies",
            "127.0.0.1/32",
            "--auth-max-delay-ms",
            "4000",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
    .await;
    let log = gw.log();
    let metrics = log
        .split("metrics on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
        .trim_end_matches("/metrics")
        .to_string();
    // Wrong keys hold the next answers back (auth.rs): five failures from
    // `waits` make its next answer wait 1 s, seven from `hangs_up` 4 s.
    let (waits, hangs_up) = ("198.51.100.10", "198.51.100.11");
    let fail = |client: &'static str, times: usize| {
        let url = gw.url.clone();
        async move {
            for _ in 0..times {
                let (status, body) = auth_from(&url, client, "wrong-key-0123456789").await;
                assert_eq!(status, 401, "{body}");
            }
        }
    };
    tokio::join!(fail(waits, 5), fail(hangs_up, 7));
    let delayed_so_far = auth_delays(&metrics).await;
    assert_eq!(delayed_so_far, 2 + 4, "the 4th and later failures waited");

    // Two right-key requests in flight: one client waits for its answer,
    // the other hangs up while its answer is held back.
    let url = gw.url.clone();
    let answered = tokio::spawn(async move { auth_from(&url, waits, ADMIN_ACCESS_KEY).await });
    let url = gw.url.clone();
    let abandoned = tokio::spawn(async move { auth_from(&url, hangs_up, ADMIN_ACCESS_KEY).await });
    common::eventually(
        Duration::from_secs(10),
        "both requests are held back",
        || {
            let metrics = metrics.clone();
            async move { auth_delays(&metrics).await == delayed_so_far + 2 }
        },
    )
    .await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());

    let pid = gw.pid().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    wait_until("the gateway stops accepting", || {
        gw.log().contains("stopped accepting connections")
    })
    .await;
    // Step 1: new clients are refused at once, while requests are in flight.
    let refused = reqwest::Client::new()
        .post(format!("{}/api/v2/list-items", gw.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_connect(), "{refused}");
    // The duties still run (the instance is registered: no other gateway
    // may take its work over) while a request is being answered.
    assert_eq!(registered_instances(&gw.data_dir).await, 1);

    // Step 2: the waiting client gets its answer.
    let (status, body) = answered.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );

    let data_dir = gw.data_dir.clone();
    let (exited_0, log) = gw.stop_with_log().await;
    assert!(exited_0, "SIGTERM ends the gateway with 0:\n{log}");
    // Steps 1-4 in their order, each once.
    let steps = [
        "shutting down: stopped accepting connections",
        "shutting down: requests in flight drained",
        "shutting down: background duties stopped",
        "shutdown complete",
    ];
    let at: Vec<usize> = steps
        .iter()
        .map(|step| {
            assert_eq!(log.matches(step).count(), 1, "{step}:\n{log}");
            log.find(step).unwrap()
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{log}");
    // Deregistered, last.
    assert_eq!(registered_instances(&data_dir).await, 0);

    // Both right-key requests are in the audit log with their real outcome,
    // the abandoned one too (its task outlived its client).
    let records: Vec<Value> = std::fs::read_to_string(data_dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for client in [waits, hangs_up] {
        let of_client: Vec<&Value> = records.iter().filter(|r| r["client"] == client).collect();
        let last = of_client.last().unwrap();
        assert_eq!(last["operation"], "auth", "{last}");
        assert_eq!(last["status"], 200, "{client}: {last}");
        assert_eq!(last["access_id"], ADMIN_ACCESS_ID, "{last}");
    }
}

#[tokio::test]
async fn a_busy_port_stops_the_first_start_before_anything_is_created() {
    let dir = TempDir::new("dynsec-busy-port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data_dir = dir.path().join("data");
    let out = gateway_exits(&["--listen", &addr, "--data-dir", data_dir.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("already in use"),
        "a clear error naming the address: {stderr}"
    );
    assert!(
        !stdout.contains("access key") && !stdout.contains("access id"),
        "no admin key printed: {stdout}"
    );
    assert!(!data_dir.exists(), "nothing stored: {}", data_dir.display());
    drop(taken);
}

/// The SQLite migrations in the source tree, sorted: (version, file).
fn sqlite_migrations() -> Vec<(i64, PathBuf)> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dynsec-store/migrations/sqlite");
    let mut migrations: Vec<(i64, PathBuf)> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name.split('_').next().unwrap().parse().unwrap(), p)
        })
        .collect();
    migrations.sort();
    migrations
}

async fn sqlite(db: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_database_from_a_newer_dynsec_is_refused_in_plain_words() {
    let dir = TempDir::new("dynsec-newer-schema");
    let gw = Gateway::start(&bin(), &dir.path().join("data"), &[]).await;
    let data_dir = gw.data_dir.clone();
    assert!(gw.stop().await);
    let known = sqlite_migrations().last().unwrap().0;
    let future = known + 1;
    let db = data_dir.join("dynsec.db");
    let pool = sqlite(&db).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'from a newer dynsec', 1, x'00', 0)",
    )
    .bind(future)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let out = gateway_exits(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "written by a newer dynsec: schema {future}, this binary knows 1–{known}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(
        !data_dir.join("backups").exists(),
        "no backup: nothing was migrated"
    );
}

#[tokio::test]
async fn a_postgresql_database_from_a_newer_dynsec_is_refused_in_plain_words() {
    let dir = TempDir::new("dynsec-newer-schema-pg");
    let db = PgDatabase::create().await;
    let data_dir = dir.path().join("data");
    let gw = Gateway::start_with_args(&bin(), &data_dir, &[], &["--database-url", &db.url]).await;
    assert!(gw.stop().await);
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let known: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer dynsec', true, '\\x00'::bytea, 0)",
    )
    .bind(known + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let out = gateway_exits(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--database-url",
        &db.url,
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "written by a newer dynsec: schema {}, this binary knows 1–{known}",
            known + 1
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[tokio::test]
async fn an_upgrade_backs_the_sqlite_database_up_first_and_only_then() {
    let dir = TempDir::new("dynsec-upgrade-backup");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    // A database as the previous schema's gateway left it.
    let migrations = sqlite_migrations();
    let (old, _) = migrations[migrations.len() - 2];
    let scratch = dir.path().join("old-migrations");
    std::fs::create_dir_all(&scratch).unwrap();
    for (_, file) in &migrations[..migrations.len() - 1] {
        std::fs::copy(file, scratch.join(file.file_name().unwrap())).unwrap();
    }
    let db = data_dir.join("dynsec.db");
    let pool = sqlite(&db).await;
    sqlx::migrate::Migrator::new(scratch.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;

    // The old installation's master key, supplied by the operator (the old
    // database holds no record yet that it would have to open).
    let key = [(
        "DYNSEC_MASTER_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )];
    let gw = Gateway::start(&bin(), &data_dir, &key).await;
    assert!(
        gw.log()
            .contains("backed up the database before upgrading its schema"),
        "{}",
        gw.log()
    );
    let backups: Vec<PathBuf> = std::fs::read_dir(data_dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let backup = &backups[0];
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("dynsec-{old}-")) && name.ends_with(".db"),
        "{name}"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(backup), 0o600, "the backup holds sealed secrets");
        assert_eq!(mode(&data_dir.join("backups")), 0o700);
    }
    // The backup is the old schema, whole: restoring it means copying it back.
    let copy = sqlite(backup).await;
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(version, old);
    copy.close().await;
    gw.ok("list-items", json!({})).await;
    assert!(gw.stop().await);

    // Up to date now: a restart takes no backup.
    let gw = Gateway::start(&bin(), &data_dir, &key).await;
    assert!(!gw.log().contains("backed up the database"), "{}", gw.log());
    assert_eq!(
        std::fs::read_dir(data_dir.join("backups")).unwrap().count(),
        1
    );
    assert!(gw.stop().await);
}

#[tokio::test]
async fn a_data_dir_inside_a_git_checkout_stays_out_of_git() {
    let dir = TempDir::new("dynsec-git");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run git (needed by this test): {e}"));
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "--quiet"]);
    // The quickstart's `--data-dir ./data`, in a checkout.
    let gw = Gateway::start(&bin(), &dir.path().join("data"), &[]).await;
    gw.ok("list-items", json!({})).await;
    assert!(gw.data_dir.join("master.key").exists());
    // (The test harness's own log of the gateway, `data.log-*`, lies beside
    // the data dir, not in it.)
    let status = git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        !status.contains("data/"),
        "git sees nothing of the data dir:\n{status}"
    );
    git(&["add", "--all"]);
    let staged = git(&["diff", "--cached", "--name-only"]);
    assert!(!staged.contains("data/"), "{staged}");
    assert!(gw.stop().await);
}
