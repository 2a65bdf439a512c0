//! End-to-end hardening: what no stored record, client or bad file may do to
//! the gateway — stop revocation for other tenants, hide that a duty or the
//! store is down, exhaust its descriptors, leave zombie leases, start afresh
//! over a data dir in use, or answer outside the API's JSON shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, database, eventually, World, TARGET};
use dynsec_testkit::{Gateway, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs `dynsec gateway` on `data_dir` expecting it to refuse to start;
/// returns what it printed.
async fn refused_start(data_dir: &Path, args: &[&str]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(bin())
            .arg("gateway")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("DYNSEC_ADMIN_ACCESS_ID", ADMIN_ACCESS_ID)
            .env("DYNSEC_ADMIN_ACCESS_KEY", ADMIN_ACCESS_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("a refused start ends at once")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "the gateway started:\n{stderr}");
    stderr
}

/// Sends `request` as is on a fresh connection; returns everything answered.
async fn raw_exchange(url: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    // The gateway may answer (and close) before all of it is sent.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the gateway answers and closes")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET /<probe>` (`health` or `ready`): its status and answer.
async fn probe(gw: &Gateway, probe: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}/{probe}", gw.url)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn ready(gw: &Gateway) -> (u16, Value) {
    probe(gw, "ready").await
}

async fn user_exists(world: &World, user: &str) -> bool {
    world
        .moto
        .admin_iam(&world.admin)
        .get_user()
        .user_name(user)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_poisoned_record_cannot_stop_revocation_for_other_tenants() {
    let mut world = World::start().await;
    let gw = world.gw();
    let inline = |key_id: &str| {
        json!({
            "name": "/tenant-b/poisoned",
            "access-mode": "iam_user",
            "aws-access-key-id": key_id,
            "aws-access-secret-key": world.admin.secret_access_key,
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
        })
    };
    // At the edge, every face refuses what the SDK cannot sign, naming the field.
    for (op, body, field) in [
        (
            "create-aws-target",
            json!({"name": "/t/nl", "access-key-id": "AKIA\nFAKEFAKEFAKE", "access-key": "x", "region": "us-east-1"}),
            "access-key-id",
        ),
        (
            "update-aws-target",
            json!({"name": TARGET, "access-key-id": "AKIAFAKE\rFAKEFAKE", "access-key": "x"}),
            "access-key-id",
        ),
        (
            "create-aws-target",
            json!({"name": "/t/sp", "access-key-id": "AKIAFAKEFAKEFAKE", "access-key": "se cret", "region": "us-east-1"}),
            "access-key",
        ),
        (
            "create-aws-target",
            json!({"name": "/t/rg", "access-key-id": "AKIAFAKEFAKEFAKE", "access-key": "x", "region": "us east"}),
            "region",
        ),
        (
            "gateway-create-producer-aws",
            inline("AKIA\nFAKEFAKEFAKE"),
            "aws-access-key-id",
        ),
    ] {
        let (status, answer) = gw.call(op, body).await;
        assert_eq!(status, 400, "{op}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("invalid {field}:")),
            "{op}: {error}"
        );
    }

    // Tenant B's dynamic secret, valid when written; one live credential.
    gw.ok(
        "gateway-create-producer-aws",
        inline(&world.admin.access_key_id),
    )
    .await;
    let b = gw
        .ok(
            "get-dynamic-secret-value",
            json!({"name": "/tenant-b/poisoned"}),
        )
        .await;
    // Tenant A's credential, due a few seconds from now.
    world
        .iam_user_secret("/tenant-a/app", json!({"user-ttl": "8s"}))
        .await;
    let a = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/tenant-a/app"}))
        .await;
    let a_user = a["user_name"].as_str().unwrap().to_string();
    let a_expires = Instant::now() + Duration::from_secs(8);

    // Behind the API's back (an older version, a restored backup, a hand
    // edit): B's stored key id gets a newline, and B's lease falls due.
    assert!(world.gateway.take().unwrap().stop().await);
    let db = database(&world.data_dir()).await;
    sqlx::query(
        "UPDATE producers SET inline_access_key_id = 'AKIA' || char(10) || 'FAKEFAKEFAKE' \
         WHERE name = '/tenant-b/poisoned'",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE leases SET expires_at = 0, due_at = 0 WHERE producer_name = '/tenant-b/poisoned'",
    )
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    world.start_gateway().await;
    let gw = world.gw();

    // A's credential is revoked on time all the same.
    eventually(
        a_expires.saturating_duration_since(Instant::now()) + Duration::from_secs(10),
        "tenant A's user to be torn down on time",
        || async { !user_exists(&world, &a_user).await },
    )
    .await;
    // B's lease fails with a clear error, and is retried.
    let b_id = b["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let b_lease = loop {
        let leases = gw
            .ok(
                "gateway-get-producer-tmp-creds",
                json!({"name": "/tenant-b/poisoned"}),
            )
            .await;
        let lease = leases
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == b_id)
            .cloned()
            .unwrap_or_default();
        if lease["state"] == "failed" {
            break lease;
        }
        assert!(Instant::now() < deadline, "B's lease did not fail: {lease}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let error = b_lease["last_error"].as_str().unwrap();
    assert!(
        error.contains("aws-access-key-id") && error.contains("gateway-update-producer-aws"),
        "{error}"
    );
    assert!(b_lease["next_attempt"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    // Issuing from B is refused the same way; the duties keep running.
    let (status, answer) = gw
        .call(
            "get-dynamic-secret-value",
            json!({"name": "/tenant-b/poisoned"}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    let (status, report) = ready(gw).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["duties"]["reaper"], "running");
    assert_eq!(report["duties"]["housekeeper"], "running");
    assert!(!gw.log().contains("panicked"), "{}", gw.log());
}

#[tokio::test]
async fn ready_is_503_while_the_store_refuses_writes_and_such_a_store_is_refused_at_start() {
    let mut world = World::start().await;
    let (status, report) = ready(world.gw()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ready");
    assert_eq!(report["store"], "writable");

    // The disk stops taking writes (as a full or read-only one would).
    // One connection: a second one of the pool could prepare the later
    // CREATE on a schema read before the DROP ("trigger already exists",
    // seen under load).
    let pool = database(&world.data_dir()).await;
    let mut db = pool.acquire().await.unwrap();
    let refuse = [
        "CREATE TRIGGER refuse_insert BEFORE INSERT ON instances BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        "CREATE TRIGGER refuse_update BEFORE UPDATE ON instances BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    ];
    for sql in refuse {
        sqlx::query(sql).execute(&mut *db).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let last = loop {
        let (status, report) = ready(world.gw()).await;
        if status == 503 {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "/ready stayed {status}: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(last["status"], "not ready");
    assert_eq!(last["store"], "refusing writes");
    // Alive all the same: a restart would not mend the disk.
    let (status, alive) = probe(world.gw(), "health").await;
    assert_eq!(status, 200, "{alive}");
    assert_eq!(alive["status"], "ok");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("store refuses writes"),
        "{last}"
    );
    // And back once it does.
    for sql in ["DROP TRIGGER refuse_insert", "DROP TRIGGER refuse_update"] {
        sqlx::query(sql).execute(&mut *db).await.unwrap();
    }
    eventually(Duration::from_secs(20), "/ready to recover", || async {
        ready(world.gw()).await.0 == 200
    })
    .await;

    // A gateway does not start on a store it cannot write.
    assert!(world.gateway.take().unwrap().stop().await);
    for sql in refuse {
        sqlx::query(sql).execute(&mut *db).await.unwrap();
    }
    drop(db);
    pool.close().await;
    let stderr = refused_start(&world.data_dir(), &[]).await;
    assert!(stderr.contains("cannot be written"), "{stderr}");
    assert!(stderr.contains("dynsec.db"), "{stderr}");
}

#[tokio::test]
async fn a_missing_database_is_not_silently_replaced_and_every_file_is_private() {
    let mut world = World::start().await;
    world.iam_user_secret("/kept/app", json!({})).await;
    // Everything the gateway created is 0600 (directories 0700), WAL and
    // shared memory included, while it runs.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let names: Vec<String> = std::fs::read_dir(world.data_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for name in [
            "dynsec.db",
            "dynsec.db-wal",
            "dynsec.db-shm",
            "gateway.lock",
            "node-id",
            "master.key",
            "audit.log",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
        }
        for name in &names {
            let mode = std::fs::metadata(world.data_dir().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name} is {:o}", mode & 0o777);
        }
    }
    assert!(world.gateway.take().unwrap().stop().await);

    // The database goes missing (or empty) while the rest of the data dir
    // stays: no fresh start that would forget every lease.
    let db = world.data_dir().join("dynsec.db");
    let aside = world.dir.path().join("backup");
    std::fs::create_dir_all(&aside).unwrap();
    let files = ["dynsec.db", "dynsec.db-wal", "dynsec.db-shm"];
    let move_all = |from: &Path, to: &Path| {
        for name in files {
            if from.join(name).exists() {
                std::fs::rename(from.join(name), to.join(name)).unwrap();
            }
        }
    };
    // Only the database file itself goes missing; its journal stays.
    std::fs::rename(&db, aside.join("dynsec.db")).unwrap();
    let stderr = refused_start(&world.data_dir(), &[]).await;
    assert!(
        stderr.contains("dynsec.db is missing or empty") && stderr.contains("--allow-new-database"),
        "{stderr}"
    );
    assert!(!db.exists(), "nothing was created");
    std::fs::write(&db, b"").unwrap();
    let stderr = refused_start(&world.data_dir(), &[]).await;
    assert!(stderr.contains("dynsec.db is missing or empty"), "{stderr}");

    // The operator may start afresh on purpose (the lost database's journal
    // is not replayed into the new one)...
    let journal = world.data_dir().join("dynsec.db-wal");
    let kept_journal = world.dir.path().join("old.wal");
    if journal.exists() {
        std::fs::copy(&journal, &kept_journal).unwrap();
    }
    let fresh =
        Gateway::start_with_args(&bin(), &world.data_dir(), &[], &["--allow-new-database"]).await;
    let (status, _) = fresh
        .call("describe-item", json!({"name": "/kept/app"}))
        .await;
    assert_eq!(status, 404);
    assert!(fresh.stop().await);
    // ...or put the database back, and everything is there.
    let discarded = world.dir.path().join("discarded");
    std::fs::create_dir_all(&discarded).unwrap();
    move_all(&world.data_dir(), &discarded);
    if kept_journal.exists() {
        std::fs::rename(&kept_journal, aside.join("dynsec.db-wal")).unwrap();
    }
    move_all(&aside, &world.data_dir());
    world.start_gateway().await;
    world
        .gw()
        .ok("describe-item", json!({"name": "/kept/app"}))
        .await;
}

#[tokio::test]
async fn idle_connections_cannot_exhaust_the_gateway_or_starve_revocation() {
    let world = World::start().await;
    world
        .iam_user_secret("/fd/app", json!({"user-ttl": "60m"}))
        .await;
    // A second gateway on its own data dir, under a 256-descriptor limit.
    let wrapper = world.dir.path().join("dynsec-256-fds");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nulimit -n 256 || exit 1\nexec '{}' \"$@\"\n",
            bin().display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let data = world.dir.path().join("limited");
    let gw = Gateway::start_with_args(
        &wrapper,
        &data,
        &[],
        &[
            "--header-read-timeout-secs",
            "1",
            "--reaper-concurrency",
            "2",
        ],
    )
    .await;
    assert!(
        gw.log().contains("open_files_limit=Some(256)"),
        "{}",
        gw.log()
    );
    gw.ok(
        "create-aws-target",
        json!({
            "name": TARGET,
            "access-key-id": world.admin.access_key_id,
            "access-key": world.admin.secret_access_key,
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
        }),
    )
    .await;
    gw.ok(
        "gateway-create-producer-aws",
        json!({"name": "/fd/short", "target-name": TARGET, "access-mode": "iam_user",
               "aws-user-policies": world.policy_arn, "user-ttl": "6s"}),
    )
    .await;
    let lease = gw
        .ok("get-dynamic-secret-value", json!({"name": "/fd/short"}))
        .await;
    let user = lease["user_name"].as_str().unwrap().to_string();
    let due = Instant::now() + Duration::from_secs(6);
    let token = gw.token().await;

    // 300 silent connections: more than the descriptor limit itself.
    let addr = gw.url.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // A new request still gets its answer...
    let started = Instant::now();
    let (status, answer) = tokio::time::timeout(
        Duration::from_secs(60),
        gw.raw("list-items", &json!({"token": token, "path": "/"})),
    )
    .await
    .expect("a new request is answered despite the idle connections");
    assert_eq!(status, 200, "{answer}");
    eprintln!(
        "answered after {:?} behind 300 idle connections",
        started.elapsed()
    );
    // ...and the due revocation happens on time, AWS calls and all.
    eventually(
        due.saturating_duration_since(Instant::now()) + Duration::from_secs(10),
        "the due revocation",
        || async { !user_exists(&world, &user).await },
    )
    .await;
    let log = gw.log();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("every connection slot is taken"), "{log}");
    drop(idle);
    assert!(gw.stop().await, "graceful stop");
}

#[tokio::test]
async fn a_refused_issuance_leaves_no_zombie_and_an_admin_can_soft_delete_the_unrevocable() {
    let world = World::start().await;
    let gw = world.gw();
    // A target whose admin key AWS refuses outright.
    gw.ok(
        "create-aws-target",
        json!({
            "name": "/aws/refused",
            "access-key-id": world.admin.access_key_id,
            "access-key": "not-the-secret-at-all",
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
        }),
    )
    .await;
    gw.ok(
        "gateway-create-producer-aws",
        json!({"name": "/zombie/refused", "target-name": "/aws/refused", "access-mode": "iam_user"}),
    )
    .await;
    let (status, answer) = gw
        .call(
            "get-dynamic-secret-value",
            json!({"name": "/zombie/refused"}),
        )
        .await;
    assert_eq!(status, 502, "{answer}");
    // CreateUser never succeeded: no lease is left revoking forever...
    let leases = gw
        .ok(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/zombie/refused"}),
        )
        .await;
    assert_eq!(leases, json!([]));
    // ...so the secret can be deleted at once.
    gw.ok("delete-item", json!({"name": "/zombie/refused"}))
        .await;

    // A credential whose connection broke after it was issued cannot be
    // revoked: the revocation fails and is retried.
    world.iam_user_secret("/zombie/stuck", json!({})).await;
    let value = gw
        .ok("get-dynamic-secret-value", json!({"name": "/zombie/stuck"}))
        .await;
    let id = value["id"].as_str().unwrap();
    let user = value["user_name"].as_str().unwrap();
    gw.ok(
        "update-aws-target",
        json!({"name": TARGET, "access-key-id": world.admin.access_key_id, "access-key": "broken-for-good"}),
    )
    .await;
    let (status, answer) = gw
        .call(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": "/zombie/stuck", "tmp-creds-id": id}),
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    let (status, _) = gw
        .call("delete-item", json!({"name": "/zombie/stuck"}))
        .await;
    assert_eq!(status, 409);

    // Only the admin may forget it.
    let created = gw
        .ok("auth-method-create-api-key", json!({"name": "/users/ops"}))
        .await;
    gw.ok("create-role", json!({"name": "/roles/ops"})).await;
    gw.ok(
        "set-role-rule",
        json!({"role-name": "/roles/ops", "path": "/zombie/*", "capability": ["read", "update", "delete"]}),
    )
    .await;
    gw.ok(
        "assoc-role-am",
        json!({"role-name": "/roles/ops", "am-name": "/users/ops"}),
    )
    .await;
    let (_, auth) = gw
        .raw(
            "auth",
            &json!({"access-id": created["access_id"], "access-key": created["access_key"]}),
        )
        .await;
    let soft = json!({"name": "/zombie/stuck", "tmp-creds-id": id, "soft-delete": true});
    let mut as_ops = soft.clone();
    as_ops["token"] = auth["token"].clone();
    let (status, answer) = gw.raw("gateway-revoke-producer-tmp-creds", &as_ops).await;
    assert_eq!(status, 403, "{answer}");
    let answer = gw.ok("gateway-revoke-producer-tmp-creds", soft).await;
    let warning = answer["warning"].as_str().unwrap();
    assert!(
        warning.contains("without touching AWS") && warning.contains(user),
        "{warning}"
    );
    assert_eq!(
        gw.ok(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/zombie/stuck"})
        )
        .await,
        json!([])
    );
    gw.ok("delete-item", json!({"name": "/zombie/stuck"})).await;
    // AWS was not touched: the user is still there, for the sweep or a human.
    assert!(user_exists(&world, user).await);
    // Audited, with the lease and the warning (once the writer got to it).
    let soft_deleted = || {
        std::fs::read_to_string(world.data_dir().join("audit.log"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .rfind(|r| r["operation"] == "gateway-revoke-producer-tmp-creds" && r["status"] == 200)
    };
    eventually(
        Duration::from_secs(5),
        "the soft-delete's audit record",
        || async { soft_deleted().is_some() },
    )
    .await;
    let record = soft_deleted().unwrap();
    assert_eq!(record["lease_id"], id);
    assert!(
        record["warning"].as_str().unwrap().contains("soft-delete"),
        "{record}"
    );
}

#[tokio::test]
async fn every_answer_is_json_uncacheable_and_audited() {
    let world = World::start().await;
    let gw = world.gw();
    let http = reqwest::Client::new();
    let audit_path = world.data_dir().join("audit.log");
    let audited = || {
        std::fs::read_to_string(&audit_path)
            .unwrap()
            .lines()
            .count()
    };
    let before = audited();
    let long_uri = format!("{}/{}", gw.url, "x".repeat(10_000));
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (http.post(format!("{}/health", gw.url)), 405),
        (http.post(format!("{}/ready", gw.url)), 405),
        (http.get(format!("{}/metrics", gw.url)), 404),
        (http.get(format!("{}/auth", gw.url)), 405),
        (http.post(format!("{}/no-such-op", gw.url)).body("{}"), 404),
        (
            http.post(format!("{}/auth", gw.url))
                .body(vec![b' '; 2 * 1024 * 1024]),
            413,
        ),
        (http.post(format!("{}/auth", gw.url)).body("{not json"), 400),
        (http.post(format!("{}/auth", gw.url)).body("[1]"), 400),
        (http.post(long_uri), 414),
        (
            (0..150).fold(http.post(format!("{}/auth", gw.url)), |r, i| {
                r.header(format!("x-filler-{i}"), "v")
            }),
            431,
        ),
    ];
    let count = cases.len();
    for (request, expected) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected);
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    // Past hyper's own limits (a URI over 64 KiB), where it would answer
    // with an empty body of its own; no HTTP client sends that, so by hand.
    let raw = format!("POST /{} HTTP/1.1\r\nhost: x\r\n\r\n", "x".repeat(70_000));
    let answer = raw_exchange(&gw.url, raw.as_bytes()).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 414 "), "{head}");
    assert!(
        head.contains("content-type: application/json") && head.contains("cache-control: no-store")
    );
    let body: Value = serde_json::from_str(body).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("longer than"),
        "{body}"
    );
    let response = http.get(format!("{}/health", gw.url)).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    // Records reach the file through the writer thread: wait for them.
    eventually(Duration::from_secs(5), "the audit records", || async {
        audited() > before + count
    })
    .await;
    assert_eq!(
        audited(),
        before + count + 1,
        "one record per refused request"
    );
    let text = std::fs::read_to_string(&audit_path).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["status"].as_u64(), last["outcome"].as_str()),
        (Some(414), Some("error"))
    );

    // Free text is capped (10), naming the field.
    let huge = "x".repeat(600_000);
    for (op, body, field) in [
        (
            "create-role",
            json!({"name": "/r/big", "description": huge}),
            "description",
        ),
        (
            "gateway-create-producer-aws",
            json!({"name": "/big/t", "target-name": TARGET, "access-mode": "iam_user", "aws-external-id": huge}),
            "aws-external-id",
        ),
        (
            "create-aws-target",
            json!({"name": "/aws/big", "access-key-id": "AKIAFAKEFAKEFAKE", "access-key": "x", "description": huge}),
            "description",
        ),
    ] {
        let (status, answer) = gw.call(op, body).await;
        assert_eq!(status, 400, "{op}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("invalid {field}: longer than")),
            "{op}: {answer}"
        );
    }
    gw.ok("create-role", json!({"name": "/r/rules"})).await;
    let (status, answer) = gw
        .call(
            "set-role-rule",
            json!({"role-name": "/r/rules", "path": format!("/{huge}"), "capability": ["read"]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid path:"),
        "{answer}"
    );

    // One item namespace, renames included (12); conflicts say why (13).
    gw.ok("create-dfc-key", json!({"name": "/ns/key"})).await;
    world.iam_user_secret("/ns/secret", json!({})).await;
    let (status, answer) = gw
        .call(
            "gateway-update-producer-aws",
            json!({"name": "/ns/secret", "new-name": "/ns/key", "target-name": TARGET, "access-mode": "iam_user"}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("taken by a protection key"),
        "{answer}"
    );
    let (status, answer) = gw.call("create-role", json!({"name": "/r/rules"})).await;
    assert_eq!(status, 409);
    assert_eq!(
        answer["error"],
        "role '/r/rules' already exists: names are unique, so choose another name (or delete or rename the existing one first)"
    );

    // Access id and key swapped (14): the key is not written anywhere.
    let (status, _) = gw
        .raw(
            "auth",
            &json!({"access-id": ADMIN_ACCESS_KEY, "access-key": ADMIN_ACCESS_ID}),
        )
        .await;
    assert_eq!(status, 401);
    let before = audited();
    let (status, _) = gw.call("list-roles", json!({})).await;
    assert_eq!(status, 200);
    // The auth of that call, and the call.
    eventually(Duration::from_secs(5), "the audit records", || async {
        audited() >= before + 2
    })
    .await;
    let text = std::fs::read_to_string(&audit_path).unwrap();
    assert!(
        !text.contains(ADMIN_ACCESS_KEY),
        "the access key is in the audit log"
    );
    let swapped: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|r| r["operation"] == "auth" && r["status"] == 401)
        .unwrap();
    assert!(swapped["access_id"].is_null(), "{swapped}");
}
