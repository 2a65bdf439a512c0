//! Paged listings end to end, through the gateway binary with a small page
//! size (`DYNSEC_LIST_PAGE_SIZE=3`): `list-items` walks a folder exactly
//! once while items are added and deleted between pages; targets, dynamic
//! secrets, auth methods and roles page alike; a foreign token is a 400
//! naming `pagination-token`; tmp-creds answers are capped and walk further
//! with `limit` and `after`; the CLI follows `next_page`.
//!
//! No AWS is needed: listings never call it (connections point at a closed
//! port), and leases are seeded straight into the gateway's store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as Span, Utc};
use dynsec_core::{AccessMode, Lease, LeaseState};
use dynsec_store::{SqliteStore, Store};
use dynsec_testkit::{Gateway, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

const PAGE: usize = 3;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dynsec"))
}

async fn gateway(dir: &TempDir) -> Gateway {
    Gateway::start(
        &bin(),
        &dir.path().join("data"),
        &[("DYNSEC_LIST_PAGE_SIZE", "3")],
    )
    .await
}

async fn create_target(gw: &Gateway, name: &str) {
    gw.ok(
        "create-aws-target",
        json!({
            "name": name,
            "access-key-id": "AKIAIOSFODNN7EXAMPLE",
            "access-key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "region": "us-east-1",
            "iam-endpoint": "http://127.0.0.1:9",
            "sts-endpoint": "http://127.0.0.1:9",
        }),
    )
    .await;
}

async fn create_secret(gw: &Gateway, name: &str) {
    gw.ok(
        "gateway-create-producer-aws",
        json!({"name": name, "target-name": "/aws/t0", "access-mode": "iam_user"}),
    )
    .await;
}

fn strings(answer: &Value, list: &str, field: Option<&str>) -> Vec<String> {
    answer[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {answer}"))
        .iter()
        .map(|v| match field {
            Some(f) => v[f].as_str().unwrap().to_string(),
            None => v.as_str().unwrap().to_string(),
        })
        .collect()
}

/// Every page of `op` (`list`'s entries named by `field`), following
/// `next_page`; each page at most [`PAGE`] entries.
async fn walk(gw: &Gateway, op: &str, body: Value, list: &str, field: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let mut request = body.clone();
        if let Some(token) = &token {
            request["pagination-token"] = json!(token);
        }
        let answer = gw.ok(op, request).await;
        let page = strings(&answer, list, Some(field));
        assert!(page.len() <= PAGE, "{op}: {answer}");
        seen.extend(page);
        token = answer["next_page"].as_str().map(str::to_string);
        if op == "list-items" {
            assert_eq!(answer["has_next"], json!(token.is_some()), "{answer}");
        }
        if token.is_none() {
            return seen;
        }
    }
    panic!("{op} did not end");
}

fn once(seen: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(set.len(), seen.len(), "seen twice: {seen:?}");
    set
}

#[tokio::test]
async fn list_items_walks_a_folder_once_while_items_come_and_go() {
    let dir = TempDir::new("dynsec-listings");
    let gw = gateway(&dir).await;
    create_target(&gw, "/aws/t0").await;
    for i in 1..=9 {
        create_secret(&gw, &format!("/app/s{i:02}")).await;
    }
    create_secret(&gw, "/app/sub/inner").await;
    for i in 1..=6 {
        create_secret(&gw, &format!("/elsewhere/e{i}")).await;
    }

    // Walk /app by hand, changing the folder between pages.
    let mut items = Vec::new();
    let mut folders = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"path": "/app"});
        if let Some(token) = &token {
            body["pagination-token"] = json!(token);
        }
        let answer = gw.ok("list-items", body).await;
        let page_items = strings(&answer, "items", Some("item_name"));
        let page_folders = strings(&answer, "folders", None);
        assert!(page_items.len() + page_folders.len() <= PAGE, "{answer}");
        items.extend(page_items);
        folders.extend(page_folders);
        pages += 1;
        if pages == 1 {
            // Ahead of the cursor: one deleted, one added; behind it: one
            // deleted (already seen), one added (never to be seen).
            gw.ok("delete-item", json!({"name": "/app/s08"})).await;
            create_secret(&gw, "/app/s99").await;
            gw.ok("delete-item", json!({"name": "/app/s01"})).await;
            create_secret(&gw, "/app/s00").await;
        }
        token = answer["next_page"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let seen = once(&items);
    for kept in ["/app/s02", "/app/s05", "/app/s09"] {
        assert!(seen.contains(kept), "{kept} missing from {items:?}");
    }
    assert!(seen.contains("/app/s01"), "read on the first page");
    assert!(seen.contains("/app/s99"), "added ahead of the cursor");
    assert!(!seen.contains("/app/s08"), "deleted before its page");
    assert!(!seen.contains("/app/s00"), "added behind the cursor");
    assert_eq!(items.len(), 9, "{items:?}");
    assert_eq!(
        folders,
        ["/app/sub"],
        "sub-folders once, before their items"
    );
    assert!(pages >= 4, "pages of {PAGE}: {pages}");

    // current-folder: only the items directly in it.
    let direct = walk(
        &gw,
        "list-items",
        json!({"path": "/app", "current-folder": true}),
        "items",
        "item_name",
    )
    .await;
    assert_eq!(direct.len(), 9);
    let answer = gw
        .ok(
            "list-items",
            json!({"path": "/app", "current-folder": true}),
        )
        .await;
    assert_eq!(answer["folders"], json!([]));

    // A token of another listing is refused, naming the field.
    let targets = gw.ok("list-targets", json!({})).await;
    let (status, refused) = gw
        .call(
            "list-items",
            json!({"path": "/app", "pagination-token": "bm9wZQ"}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("pagination-token"),
        "{refused}"
    );
    assert!(targets.get("next_page").is_none(), "one target: {targets}");

    // The CLI follows next_page unless given a token.
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(bin());
        command
            .args(args)
            .env("DYNSEC_HOME", dir.path().join("cli-home"))
            .env("DYNSEC_GATEWAY_URL", &gw.url)
            .env("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID)
            .env("DYNSEC_ACCESS_KEY", ADMIN_ACCESS_KEY);
        command
    };
    let output = cli(&["list-items", "--path", "/app"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let all: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(strings(&all, "items", Some("item_name")).len(), 9, "{all}");
    assert_eq!(all["folders"], json!(["/app/sub"]));
    assert!(all.get("next_page").is_none(), "{all}");
    let first = gw.ok("list-items", json!({"path": "/app"})).await;
    let token = first["next_page"].as_str().unwrap();
    let output = cli(&["list-items", "--path", "/app", "--pagination-token", token])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let one: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        strings(&one, "items", Some("item_name")).len(),
        PAGE,
        "{one}"
    );
    assert!(one["next_page"].is_string(), "{one}");
}

#[tokio::test]
async fn targets_secrets_auth_methods_and_roles_page_alike() {
    let dir = TempDir::new("dynsec-listings");
    let gw = gateway(&dir).await;
    for i in 0..7 {
        create_target(&gw, &format!("/aws/t{i}")).await;
    }
    for i in 0..8 {
        create_secret(&gw, &format!("/ds/d{i}")).await;
    }
    for i in 0..5 {
        gw.ok(
            "auth-method-create-api-key",
            json!({"name": format!("/am/m{i}")}),
        )
        .await;
        gw.ok("create-role", json!({"name": format!("/roles/r{i}")}))
            .await;
    }
    gw.ok(
        "set-role-rule",
        json!({"role-name": "/roles/r3", "path": "/ds/*", "capability": ["list"]}),
    )
    .await;

    let targets = walk(&gw, "list-targets", json!({}), "targets", "target_name").await;
    assert_eq!(once(&targets).len(), 7);
    let secrets = walk(&gw, "dynamic-secret-list", json!({}), "producers", "name").await;
    assert_eq!(once(&secrets).len(), 8);
    let methods = walk(
        &gw,
        "auth-method-list",
        json!({}),
        "auth_methods",
        "auth_method_name",
    )
    .await;
    assert_eq!(once(&methods).len(), 6, "five and the admin: {methods:?}");
    let roles = walk(&gw, "list-roles", json!({}), "roles", "role_name").await;
    assert_eq!(once(&roles).len(), 5);
    // A filter pages too.
    let filtered = walk(
        &gw,
        "list-targets",
        json!({"filter": "t1"}),
        "targets",
        "target_name",
    )
    .await;
    assert_eq!(filtered, ["/aws/t1"]);
    // Batch-read details survive paging: the target's users, the role's rules.
    let t0 = gw.ok("list-targets", json!({"filter": "/aws/t0"})).await;
    assert_eq!(
        t0["targets"][0]["target_items_assoc"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    let r3 = gw.ok("list-roles", json!({"filter": "r3"})).await;
    assert_eq!(
        r3["roles"][0]["rules"]["path_rules"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{r3}"
    );
}

#[tokio::test]
async fn tmp_creds_answers_are_capped_and_walk_further_with_limit_and_after() {
    let dir = TempDir::new("dynsec-listings");
    let gw = gateway(&dir).await;
    create_target(&gw, "/aws/t0").await;
    create_secret(&gw, "/busy").await;
    // The store the gateway runs on (SQLite in WAL mode takes a second writer).
    let store = SqliteStore::open(&dir.path().join("data").join("dynsec.db"))
        .await
        .unwrap();
    let producer_id = store.producer_by_name("/busy").await.unwrap().unwrap().id;
    let base = Utc::now() - Span::minutes(10);
    let total = 1200;
    for i in 0..total {
        store
            .insert_lease(&Lease {
                id: format!("l{i:05}"),
                producer_id,
                producer_name: "/busy".into(),
                mode: AccessMode::IamUser,
                principal: format!("tmp.busy.l{i:05}"),
                access_key_id: Some(format!("AKIA{i:016}")),
                role_arn: None,
                account_id: None,
                state: LeaseState::Active,
                owner: "seed".into(),
                created_at: base + Span::milliseconds(i),
                expires_at: Utc::now() + Span::days(1),
                attempts: 0,
                last_error: None,
                next_attempt_at: None,
                created: None,
                revoked_at: None,
            })
            .await
            .unwrap();
    }
    let first = gw
        .ok("gateway-get-producer-tmp-creds", json!({"name": "/busy"}))
        .await;
    let first = first.as_array().expect("a bare list");
    assert_eq!(first.len(), 1000, "the default cap");
    assert_eq!(first[0]["id"], "l01199", "newest first");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = json!({"name": "/busy", "limit": 500});
        if let Some(after) = &after {
            body["after"] = json!(after);
        }
        let page = gw.ok("dynamic-secret-tmp-creds-get", body).await;
        let page: Vec<String> = page
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect();
        seen.extend(page.iter().cloned());
        if page.len() < 500 {
            break;
        }
        after = page.last().cloned();
    }
    assert_eq!(once(&seen).len(), total as usize);

    for (body, field) in [
        (json!({"name": "/busy", "limit": 0}), "limit"),
        (json!({"name": "/busy", "limit": 5000}), "limit"),
        (json!({"name": "/busy", "after": "nope"}), "after"),
    ] {
        let (status, refused) = gw.call("gateway-get-producer-tmp-creds", body).await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().contains(field),
            "{refused}"
        );
    }
}
