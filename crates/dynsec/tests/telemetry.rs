//! The gateway's telemetry end to end: `/metrics` on `--metrics-listen`
//! after real issuances and revocations against moto (auth on), one JSON log
//! line per request with `--log-format json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, GROUP_NAME, TARGET};
use dynsec_testkit::{Gateway, TempDir, ADMIN_ACCESS_ID};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One scrape: every sample, keyed by its series as exposed
/// (`name{label="value",...}`), and the raw text.
struct Scrape {
    samples: HashMap<String, f64>,
    text: String,
}

impl Scrape {
    /// A sample's value; 0 when the series does not exist (yet).
    fn value(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

/// Parses the text exposition: `# ...` lines are metadata, every other line
/// is `<series> <value>`.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in: {line}"));
        samples.insert(series.to_string(), value);
    }
    samples
}

/// The metrics address the gateway logged at start.
fn metrics_url(gw: &Gateway) -> String {
    let log = gw.log();
    let rest = log
        .split("metrics on ")
        .nth(1)
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"));
    rest.split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches("/metrics")
        .to_string()
}

async fn scrape(base: &str) -> Scrape {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        dynsec_api::METRICS_CONTENT_TYPE
    );
    let text = response.text().await.unwrap();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    Scrape {
        samples: parse_exposition(&text),
        text,
    }
}

/// Scrapes until `check` holds (the lease gauges are cached for a few
/// seconds), or panics with the last scrape after `limit`.
async fn scrape_until(base: &str, limit: Duration, what: &str, check: impl Fn(&Scrape) -> bool) {
    let start = Instant::now();
    loop {
        let scrape = scrape(base).await;
        if check(&scrape) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn metrics_count_issuances_revocations_aws_calls_and_requests_with_their_labels() {
    let mut world = World::start().await;
    world.gateway.take().unwrap().stop().await;
    world
        .gateway_env
        .push(("DYNSEC_METRICS_LISTEN".into(), "127.0.0.1:0".into()));
    world.start_gateway().await;
    let gw = world.gw();
    let base = metrics_url(gw);
    world.iam_user_secret("/metrics/creds", json!({})).await;
    gw.ok(
        "gateway-create-producer-aws",
        json!({
            "name": "/metrics/broken",
            "target-name": TARGET,
            "access-mode": "iam_user",
            "aws-user-policies": "arn:aws:iam::123456789012:policy/does-not-exist",
            "aws-user-groups": GROUP_NAME,
        }),
    )
    .await;
    let before = scrape(&base).await;

    // One issuance, its revocation, one issuance AWS refuses, one unknown
    // operation, one wrong key.
    let value = gw
        .ok(
            "get-dynamic-secret-value",
            json!({"name": "/metrics/creds"}),
        )
        .await;
    let (status, refused) = gw
        .call(
            "get-dynamic-secret-value",
            json!({"name": "/metrics/broken"}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    scrape_until(&base, Duration::from_secs(15), "one active lease", |s| {
        s.value(r#"dynsec_leases{state="active"}"#) == 1.0
    })
    .await;
    gw.ok(
        "gateway-revoke-producer-tmp-creds",
        json!({"name": "/metrics/creds", "tmp-creds-id": value["id"]}),
    )
    .await;
    let (status, _) = gw.raw("no-such-operation", &json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = gw
        .raw(
            "auth",
            &json!({"access-id": ADMIN_ACCESS_ID, "access-key": "wrong-key-0123456789"}),
        )
        .await;
    assert_eq!(status, 401);

    let after = scrape(&base).await;
    let moved = |series: &str| after.value(series) - before.value(series);
    assert_eq!(
        moved(r#"dynsec_issuances_total{mode="iam_user",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"dynsec_issuances_total{mode="iam_user",outcome="aws_invalid"}"#),
        1.0,
        "the unknown policy is the request's fault:\n{}",
        after.text
    );
    assert_eq!(
        moved(r#"dynsec_issuance_duration_seconds_count{mode="iam_user"}"#),
        2.0
    );
    assert!(moved(r#"dynsec_issuance_duration_seconds_sum{mode="iam_user"}"#) > 0.0);
    assert_eq!(
        moved(r#"dynsec_issuance_duration_seconds_bucket{le="+Inf",mode="iam_user"}"#),
        2.0,
        "{}",
        after.text
    );
    assert!(
        moved(r#"dynsec_revocations_total{mode="iam_user",outcome="revoked"}"#) >= 1.0,
        "{}",
        after.text
    );
    assert!(moved(r#"dynsec_revocation_duration_seconds_count{mode="iam_user"}"#) >= 1.0);
    // AWS calls at the SDK: the user created and deleted, the missing
    // policy classified as not found.
    assert!(
        moved(r#"dynsec_aws_calls_total{service="iam",operation="CreateUser",outcome="ok"}"#)
            >= 2.0
    );
    assert!(
        moved(r#"dynsec_aws_calls_total{service="iam",operation="DeleteUser",outcome="ok"}"#)
            >= 1.0
    );
    assert_eq!(
        moved(
            r#"dynsec_aws_calls_total{service="iam",operation="AttachUserPolicy",outcome="not_found"}"#
        ),
        1.0,
        "{}",
        after.text
    );
    assert!(
        moved(r#"dynsec_aws_call_duration_seconds_count{service="iam",operation="CreateUser"}"#)
            >= 2.0
    );
    // Requests by operation and status; unknown operations share one label.
    assert_eq!(
        moved(r#"dynsec_requests_total{operation="get-dynamic-secret-value",status="200"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"dynsec_requests_total{operation="get-dynamic-secret-value",status="400"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"dynsec_requests_total{operation="unknown",status="404"}"#),
        1.0
    );
    assert!(moved(r#"dynsec_requests_total{operation="auth",status="401"}"#) >= 1.0);
    assert!(moved(r#"dynsec_request_duration_seconds_count{operation="auth"}"#) >= 1.0);
    assert!(moved(r#"dynsec_auth_failures_total{reason="wrong_key"}"#) >= 1.0);
    scrape_until(&base, Duration::from_secs(15), "no live lease", |s| {
        s.value(r#"dynsec_leases{state="active"}"#) == 0.0
            && s.samples.contains_key(r#"dynsec_leases{state="failed"}"#)
    })
    .await;
    assert_eq!(
        after.value("dynsec_reaper_lag_seconds"),
        0.0,
        "nothing overdue"
    );

    // No names, ids or secrets in any label.
    for secret in [
        value["secret_access_key"].as_str().unwrap(),
        value["access_key_id"].as_str().unwrap(),
        value["id"].as_str().unwrap(),
        value["user_name"].as_str().unwrap(),
        "/metrics/creds",
        ADMIN_ACCESS_ID,
        "no-such-operation",
    ] {
        assert!(!after.text.contains(secret), "{secret} is exposed");
    }
    // The metrics address answers probes too; the API's address has no metrics.
    for probe in ["health", "ready"] {
        let response = reqwest::get(format!("{base}/{probe}")).await.unwrap();
        assert_eq!(response.status(), 200, "{probe}");
    }
    let response = reqwest::get(format!("{}/metrics", gw.url)).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("--metrics-listen"),
        "{body}"
    );
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_with_operation_status_and_duration() {
    let dir = TempDir::new("dynsec-json-log");
    let gw = Gateway::start_with_args(
        &common::bin(),
        &dir.path().join("data"),
        &[],
        &["--log-format", "json"],
    )
    .await;
    let token = gw.token().await;
    let (status, _) = gw.raw("list-targets", &json!({"token": token})).await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .raw(
            "auth",
            &json!({"access-id": ADMIN_ACCESS_ID, "access-key": "wrong-key-0123456789"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = gw.raw("no-such-operation", &json!({})).await;
    assert_eq!(status, 404);

    let requests = |log: &str| -> Vec<Value> {
        log.lines()
            .map(|line| {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
            })
            .filter(|line| line["target"] == "dynsec::request")
            .collect()
    };
    // Lines reach the log as requests end: wait for the fourth.
    let start = Instant::now();
    while requests(&gw.log()).len() < 4 {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = gw.log();
    let lines = requests(&log);
    let seen: Vec<(String, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["operation"].as_str().unwrap().to_string(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("auth".to_string(), 200),
            ("list-targets".to_string(), 200),
            ("auth".to_string(), 401),
            ("unknown".to_string(), 404),
        ],
        "{log}"
    );
    for line in &lines {
        assert_eq!(line["level"], "INFO");
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0, "{line}");
        assert_eq!(line["client"], "127.0.0.1");
        assert!(line["timestamp"].is_string(), "{line}");
    }
    assert!(!log.contains(&token), "no token in the log");
    assert!(!log.contains("wrong-key-0123456789"), "no key in the log");
    assert!(!log.contains(dynsec_testkit::ADMIN_ACCESS_KEY));
}

#[tokio::test]
async fn a_busy_metrics_port_stops_the_first_start_before_anything_is_created() {
    let dir = TempDir::new("dynsec-busy-metrics");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data_dir = dir.path().join("data");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(common::bin())
            .arg("gateway")
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", &addr])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("a refused start ends at once")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (--metrics-listen)")),
        "the flag and the address are named: {stderr}"
    );
    assert!(
        !stdout.contains("access key"),
        "no admin key printed: {stdout}"
    );
    assert!(!data_dir.exists(), "nothing stored: {}", data_dir.display());
    drop(taken);
}
