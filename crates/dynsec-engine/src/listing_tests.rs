//! Listings and retention, over a real SQLite store: folder pages walk every
//! entry exactly once and show only what the caller may list, tmp-creds
//! answers are capped and walk every live lease once, retention purges only
//! revoked leases past the retention time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::items::ItemQuery;
use crate::test_support::{admin, engine_over, inline_producer, lease, path};
use crate::{Caller, Engine, EngineConfig, EngineError};
use chrono::{DateTime, Duration as Span, Utc};
use dynsec_core::access::{Capability, PathRule, RuleType};
use dynsec_core::LeaseState;
use dynsec_store::{SqliteStore, Store};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

async fn engine_with(config: EngineConfig) -> (Engine, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    (engine_over(store.clone(), config).await, store)
}

fn caller(rules: &[(&str, &[Capability])]) -> Caller {
    Caller {
        access_id: "p-lister000001".into(),
        is_admin: false,
        rules: rules
            .iter()
            .map(|(p, c)| PathRule::new(RuleType::Item, p, c.to_vec()).unwrap())
            .collect(),
    }
}

fn field_of(err: &EngineError) -> &str {
    match err {
        EngineError::Invalid(v) => &v.field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Every answer of folder `folder` for `who`, following `next_page`:
/// (items, folders), each answer at most `page` entries.
async fn walk(
    gw: &Engine,
    who: &Caller,
    folder: &str,
    current_folder: bool,
    page: usize,
) -> (Vec<String>, Vec<String>) {
    let (mut items, mut folders) = (Vec::new(), Vec::new());
    let mut token = None;
    for _ in 0..100 {
        let query = ItemQuery {
            path: folder.into(),
            current_folder,
            page_token: token.clone(),
            ..Default::default()
        };
        let answer = gw.list_items(who, &query).await.unwrap();
        assert!(answer.items.len() + answer.folders.len() <= page);
        items.extend(answer.items.into_iter().map(|i| i.name));
        folders.extend(answer.folders);
        token = answer.next_page;
        if token.is_none() {
            return (items, folders);
        }
    }
    panic!("the listing of {folder} did not end");
}

fn names(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:02}")).collect()
}

#[tokio::test]
async fn folder_pages_walk_every_entry_once_and_only_what_the_caller_may_list() {
    let (gw, _) = engine_with(EngineConfig {
        list_page_size: 3,
        ..EngineConfig::default()
    })
    .await;
    let a = names("/app/a", 1..=7);
    let b = names("/app/b", 1..=5);
    let elsewhere = names("/other/o", 1..=20);
    let nested = ["/app/sub/x", "/app/secret/y", "/app/secret/z"];
    for name in a
        .iter()
        .chain(&b)
        .chain(&elsewhere)
        .map(String::as_str)
        .chain(nested)
    {
        gw.create_producer(&admin(), inline_producer(name))
            .await
            .unwrap();
    }

    let (items, folders) = walk(&gw, &admin(), "/app", false, 3).await;
    let expected: Vec<String> = a.iter().chain(&b).cloned().collect();
    assert_eq!(items, expected, "in name order, each once");
    assert_eq!(folders, ["/app/secret", "/app/sub"]);

    // current-folder: the items directly in it, no sub-folders.
    let (items, folders) = walk(&gw, &admin(), "/app", true, 3).await;
    assert_eq!(items, expected);
    assert!(folders.is_empty());

    // Only `/app/a*` listable: short pages, but the token still walks
    // everything once; no sub-folder is reachable by the rules.
    let only_a = caller(&[("/app/a*", &[Capability::List, Capability::Read])]);
    let (items, folders) = walk(&gw, &only_a, "/app", false, 3).await;
    assert_eq!(items, a);
    assert!(folders.is_empty(), "{folders:?}");

    // The whole folder but a denied sub-folder: that one stays hidden.
    let most = caller(&[
        ("/app/*", &[Capability::List]),
        ("/app/secret/*", &[Capability::Deny]),
    ]);
    let (items, folders) = walk(&gw, &most, "/app", false, 3).await;
    assert_eq!(items, expected);
    assert_eq!(folders, ["/app/sub"]);
    let (root_items, root_folders) = walk(&gw, &most, "/", false, 3).await;
    assert!(root_items.is_empty());
    assert_eq!(root_folders, ["/app"], "/other holds nothing it may list");

    // Nothing listable: every answer empty, the walk still ends.
    let nobody = caller(&[("/nowhere/*", &[Capability::List])]);
    assert_eq!(walk(&gw, &nobody, "/other", false, 3).await.0.len(), 0);
}

#[tokio::test]
async fn foreign_or_malformed_page_tokens_are_the_clients_error() {
    let (gw, _) = engine_with(EngineConfig {
        list_page_size: 1,
        ..EngineConfig::default()
    })
    .await;
    for name in ["/t/x", "/t/y"] {
        gw.create_producer(&admin(), inline_producer(name))
            .await
            .unwrap();
    }
    let secrets = gw.list_producers(&admin(), "", None).await.unwrap();
    let foreign = secrets.next_page.expect("two secrets, pages of one");
    let query = ItemQuery {
        path: "/t".into(),
        page_token: Some(foreign.clone()),
        ..Default::default()
    };
    let err = gw.list_items(&admin(), &query).await.unwrap_err();
    assert_eq!(field_of(&err), "pagination-token");
    let err = gw
        .list_roles(&admin(), "", Some("not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "pagination-token");
    let rest = gw
        .list_producers(&admin(), "", Some(&foreign))
        .await
        .unwrap();
    assert_eq!(rest.items[0].name, "/t/y");
}

#[tokio::test]
async fn tmp_creds_answers_are_capped_and_walk_every_live_lease_once() {
    let (gw, store) = engine_with(EngineConfig::default()).await;
    let secret = gw
        .create_producer(&admin(), inline_producer("/busy"))
        .await
        .unwrap();
    let far = Utc::now() + Span::days(1);
    let base = Utc::now() - Span::hours(1);
    let mut live = BTreeSet::new();
    for i in 0..2300i64 {
        // Every tenth revoked: kept by retention, never listed.
        let state = if i % 10 == 0 {
            LeaseState::Revoked
        } else {
            LeaseState::Active
        };
        let mut l = lease(&format!("l{i:05}"), secret.id, state, far);
        l.created_at = base + Span::milliseconds(i);
        if state != LeaseState::Revoked {
            live.insert(l.id.clone());
        }
        store.insert_lease(&l).await.unwrap();
    }
    let name = path("/busy");
    let first = gw.list_leases(&admin(), &name, None, None).await.unwrap();
    assert_eq!(
        first.len(),
        crate::TMP_CREDS_MAX as usize,
        "the default cap"
    );
    assert_eq!(first[0].id, "l02299", "newest first");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = gw
            .list_leases(&admin(), &name, after.as_deref(), Some(700))
            .await
            .unwrap();
        assert!(page.len() <= 700);
        seen.extend(page.iter().map(|l| l.id.clone()));
        match page.last() {
            Some(last) if page.len() == 700 => after = Some(last.id.clone()),
            _ => break,
        }
    }
    assert_eq!(seen.len(), live.len(), "each live lease once");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), live);

    for limit in [0, crate::TMP_CREDS_MAX + 1] {
        let err = gw
            .list_leases(&admin(), &name, None, Some(limit))
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), "limit");
    }
    let err = gw
        .list_leases(&admin(), &name, Some("no-such-lease"), None)
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "after");
}

#[tokio::test]
async fn retention_purges_only_revoked_leases_older_than_the_retention_time() {
    let (gw, store) = engine_with(EngineConfig {
        lease_retention: Duration::from_secs(86_400),
        ..EngineConfig::default()
    })
    .await;
    let secret = gw
        .create_producer(&admin(), inline_producer("/kept"))
        .await
        .unwrap();
    let now = Utc::now();
    let ago = |hours: i64| now - Span::hours(hours);
    let put = |id: &str, state: LeaseState, expires: DateTime<Utc>, revoked: Option<i64>| {
        let mut l = lease(id, secret.id, state, expires);
        l.created_at = ago(24 * 10);
        l.revoked_at = revoked.map(ago);
        l
    };
    for l in [
        put("old-revoked", LeaseState::Revoked, ago(40), Some(30)),
        put("fresh-revoked", LeaseState::Revoked, ago(40), Some(1)),
        // No revocation time recorded: retained since its expiry.
        put("old-untimed", LeaseState::Revoked, ago(72), None),
        // Long expired but live (its revocation keeps failing): never purged.
        put("old-failed", LeaseState::Failed, ago(24 * 9), None),
        put("old-active", LeaseState::Active, ago(24 * 9), None),
    ] {
        store.insert_lease(&l).await.unwrap();
    }
    assert_eq!(gw.purge_retained_leases(now).await.unwrap(), 2);
    let exists = |id: &'static str| {
        let store = store.clone();
        async move { store.lease(id).await.unwrap().is_some() }
    };
    assert!(!exists("old-revoked").await);
    assert!(!exists("old-untimed").await);
    for id in ["fresh-revoked", "old-failed", "old-active"] {
        assert!(exists(id).await, "{id} must stay");
    }
    // A day later the fresh one is past retention too.
    assert_eq!(
        gw.purge_retained_leases(now + Span::hours(24))
            .await
            .unwrap(),
        1
    );
    assert!(!exists("fresh-revoked").await);

    // A backlog larger than one batch drains in one pass (bounded batches).
    for i in 0..2500 {
        store
            .insert_lease(&put(
                &format!("b{i}"),
                LeaseState::Revoked,
                ago(40),
                Some(30),
            ))
            .await
            .unwrap();
    }
    assert_eq!(gw.purge_retained_leases(now).await.unwrap(), 2500);
    assert!(exists("old-failed").await && exists("old-active").await);
}
