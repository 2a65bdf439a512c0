//! The web console end to end: the gateway binary serves it, headless
//! Chromium (Debian's `chromium`, driven by `playwright-core` from
//! `tests/console`) uses it against moto with authentication on, and at each
//! checkpoint of `tests/console/console.e2e.mjs` this test proves with the
//! AWS SDK what the browser was shown: the issued key works, and after
//! Revoke it is refused. `scripts/test.sh` installs Chromium and runs
//! `npm ci` in `tests/console`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{status_of, World, GROUP_NAME};
use dynsec_testkit::{Gateway, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The console's Content-Security-Policy, as the issue states it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
require-trusted-types-for 'script'; trusted-types 'none'";

/// The whole browser run may take this long (it takes ~30 s on 2 cores).
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn console_is_served_with_strict_headers_and_a_browser_at_root_is_sent_there() {
    let dir = TempDir::new("dynsec-console-headers");
    let gateway = Gateway::start(&common::bin(), &dir.path().join("data"), &[]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| http.get(format!("{}{path}", gateway.url)).send();

    let root = get("/").await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "console/");
    let bare = get("/console").await.unwrap();
    assert_eq!(bare.headers()["location"], "console/");

    for (path, content_type) in [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/js/main.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
    ] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["content-security-policy"], CSP, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let etag = headers["etag"].to_str().unwrap().to_string();
        // A cached copy is revalidated without sending the file again.
        let again = http
            .get(format!("{}{path}", gateway.url))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let index = get("/console/").await.unwrap().text().await.unwrap();
    assert!(index.contains(r#"<script type="module" src="js/main.js">"#));

    let missing = get("/console/js/nope.js").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-security-policy"], CSP);

    // The API is untouched: POST / is still an (unknown) operation, and the
    // console's new operations answer in Akeyless's shapes.
    let (status, _) = gateway.raw("", &json!({})).await;
    assert_eq!(status, 404);
    let token = gateway.token().await;
    let (status, valid) = gateway
        .raw("validate-token", &json!({"token": token}))
        .await;
    assert_eq!(status, 200, "{valid}");
    assert_eq!(valid["is_valid"], true);
    assert_eq!(valid["auth_method_name"], "/admin");
    assert!(valid["ttl"].as_i64().unwrap() > 3500);
    let (_, invalid) = gateway
        .raw("validate-token", &json!({"token": "t-nope"}))
        .await;
    assert_eq!(invalid["is_valid"], false);
    let (status, perms) = gateway
        .raw(
            "describe-permissions",
            &json!({"token": token, "path": "/x", "type": "item"}),
        )
        .await;
    assert_eq!(status, 200, "{perms}");
    assert_eq!(
        perms["client_permissions"],
        json!(["read", "list", "create", "update", "delete", "reveal"])
    );
    let (status, bad) = gateway
        .raw(
            "describe-permissions",
            &json!({"token": token, "path": "/x", "type": "sra"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(bad["error"].as_str().unwrap().starts_with("invalid type:"));
}

/// A key allowed to read and list dynamic secrets under `/prod` and the
/// target `/aws/console` (without `reveal`), nothing else.
async fn viewer_key(gateway: &Gateway) -> (String, String) {
    let created = gateway
        .ok(
            "auth-method-create-api-key",
            json!({"name": "/users/viewer"}),
        )
        .await;
    gateway
        .ok("create-role", json!({"name": "/roles/viewer"}))
        .await;
    gateway
        .ok(
            "set-role-rule",
            json!({"role-name": "/roles/viewer", "path": "/prod/*", "capability": ["read", "list"], "rule-type": "item-rule"}),
        )
        .await;
    gateway
        .ok(
            "set-role-rule",
            json!({"role-name": "/roles/viewer", "path": "/aws/console", "capability": ["read", "list"], "rule-type": "target-rule"}),
        )
        .await;
    gateway
        .ok(
            "assoc-role-am",
            json!({"role-name": "/roles/viewer", "am-name": "/users/viewer"}),
        )
        .await;
    (
        created["access_id"].as_str().unwrap().into(),
        created["access_key"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn console_flows_in_headless_chromium_against_moto() {
    let script_dir = repo_root().join("tests/console");
    assert!(
        script_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/test.sh (or `npm ci --prefix tests/console`)"
    );
    let chromium = std::env::var("DYNSEC_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/test.sh (it installs Debian's chromium) or set DYNSEC_CHROMIUM"
    );
    let mut world = World::start_with_moto_as_aws().await;
    // Pages of three, so "Load more" is needed in a folder of five: the
    // wizard adds /prod/aws/dev-creds to these four.
    world
        .gateway_env
        .push(("DYNSEC_LIST_PAGE_SIZE".into(), "3".into()));
    world.gateway.take().unwrap().stop().await;
    world.start_gateway().await;
    for i in 1..=4 {
        world
            .iam_user_secret(&format!("/prod/aws/page-{i}"), json!({}))
            .await;
    }
    let gw = world.gw();
    let (viewer_id, viewer_key) = viewer_key(gw).await;
    let screenshots = std::env::var("DYNSEC_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("test-output/console"));
    let _ = std::fs::remove_dir_all(&screenshots);

    let mut child = Command::new("node")
        .arg(script_dir.join("console.e2e.mjs"))
        .current_dir(&script_dir)
        .env("E2E_GATEWAY_URL", &gw.url)
        .env("E2E_ADMIN_ACCESS_ID", ADMIN_ACCESS_ID)
        .env("E2E_ADMIN_ACCESS_KEY", ADMIN_ACCESS_KEY)
        .env("E2E_VIEWER_ACCESS_ID", &viewer_id)
        .env("E2E_VIEWER_ACCESS_KEY", &viewer_key)
        .env("E2E_AWS_ACCESS_KEY_ID", &world.admin.access_key_id)
        .env("E2E_AWS_SECRET_ACCESS_KEY", &world.admin.secret_access_key)
        .env("E2E_POLICY_ARN", &world.policy_arn)
        .env("E2E_GROUP_NAME", GROUP_NAME)
        .env("E2E_ROLE_ARN", &world.role_arn)
        .env("E2E_SECOND_ROLE_ARN", &world.second_role_arn)
        .env("E2E_EXPECTED_CSP", CSP)
        .env("E2E_CHROMIUM", &chromium)
        .env("DYNSEC_CONSOLE_SCREENSHOTS", &screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node is needed for the console tests");
    let mut to_script = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Some(checkpoint) = line.strip_prefix("@@checkpoint ") else {
                println!("{line}");
                continue;
            };
            let data: Value = serde_json::from_str(checkpoint).unwrap();
            let name = data["checkpoint"].as_str().unwrap().to_string();
            check(&world, &name, &data).await;
            seen.push(name);
            to_script.write_all(b"ok\n").await.unwrap();
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(BROWSER_DEADLINE, run)
        .await
        .unwrap_or_else(|_| panic!("the browser run did not finish within {BROWSER_DEADLINE:?}"));
    assert!(
        status.success(),
        "console.e2e.mjs failed ({status}); gateway log:\n{}",
        gw.log()
    );
    assert_eq!(
        seen,
        [
            "moto-target-edited",
            "iam-user-key-issued",
            "iam-user-key-revoked",
            "all-revoked",
            "assumed-role-session-issued"
        ]
    );
    let shots: Vec<String> = std::fs::read_dir(&screenshots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for screen in [
        "sign-in",
        "targets",
        "target",
        "target-form",
        "wizard-type",
        "wizard-settings",
        "wizard-target-properties",
        "wizard-error",
        "issued-value",
        "dynamic-secret",
        "secrets-and-keys",
        "restricted-dynamic-secret",
        "restricted-target",
        "restricted-403",
        "dynamic-secret-dark",
        "wizard-edit",
        "target-delete",
    ] {
        assert!(
            shots.iter().any(|s| s.ends_with(&format!("-{screen}.png"))),
            "no screenshot of {screen} in {}",
            screenshots.display()
        );
    }
}

/// What the Rust side proves at each checkpoint, with the AWS SDK against moto.
async fn check(world: &World, name: &str, data: &Value) {
    let text = |k: &str| data[k].as_str().unwrap_or_default().to_string();
    match name {
        "iam-user-key-issued" => {
            let me = world
                .sts_as(data)
                .get_caller_identity()
                .send()
                .await
                .expect("the key the browser showed works");
            assert!(
                me.arn()
                    .unwrap()
                    .ends_with(&format!("/{}", text("user_name"))),
                "{:?}",
                me.arn()
            );
            // The policy chosen in the wizard is what the user may do.
            world.iam_as(data).list_users().send().await.unwrap();
            let denied = world.iam_as(data).list_roles().send().await.unwrap_err();
            assert_eq!(status_of(&denied), Some(403));
        }
        "iam-user-key-revoked" => {
            let refused = world
                .sts_as(data)
                .get_caller_identity()
                .send()
                .await
                .expect_err("a revoked key is refused");
            assert_eq!(
                refused.raw_response().map(|r| r.status().as_u16()),
                Some(403)
            );
            assert!(!world.temp_users().await.contains(&text("user_name")));
        }
        "all-revoked" => {
            let users = world.temp_users().await;
            for user in data["user_names"].as_array().unwrap() {
                assert!(!users.contains(&user.as_str().unwrap().to_string()));
            }
        }
        "assumed-role-session-issued" => {
            assert_eq!(text("role_arn"), world.second_role_arn);
            let me = world
                .sts_as(data)
                .get_caller_identity()
                .send()
                .await
                .expect("the session the browser showed works");
            assert!(
                me.arn()
                    .unwrap()
                    .contains(&format!(":assumed-role/{}/", common::SECOND_ROLE_NAME)),
                "{:?}",
                me.arn()
            );
        }
        "moto-target-edited" => {
            let target = world
                .gw()
                .ok("target-get", json!({"name": text("name")}))
                .await;
            assert_eq!(target["comment"], data["description"]);
            assert_eq!(target["iam_endpoint"], world.moto.endpoint.as_str());
            assert_eq!(target["sts_endpoint"], world.moto.endpoint.as_str());
        }
        other => panic!("unknown checkpoint {other}"),
    }
}
