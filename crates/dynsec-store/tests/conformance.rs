//! The store contract, written once against `dyn Store` so every
//! implementation (SQLite now, PostgreSQL next) runs the same checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use dynsec_core::access::{Capability, PathRule, RuleType};
use dynsec_core::{AccessMode, Lease, LeaseState, PasswordPolicy, ProducerSettings};
use dynsec_store::{
    ApiKeyRecord, AssocRecord, ConnectionColumns, ProducerRecord, RoleRecord, SqliteStore, Store,
    StoreError, TargetRecord, TokenRecord,
};

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn connection(key: &str) -> ConnectionColumns {
    ConnectionColumns {
        access_key_id: key.into(),
        region: "us-east-1".into(),
        iam_endpoint: Some("http://127.0.0.1:5000".into()),
        sts_endpoint: None,
        sealed_secret: vec![1, 2, 3, 0, 255],
    }
}

fn settings() -> ProducerSettings {
    ProducerSettings {
        access_mode: AccessMode::IamUser,
        user_policies: vec!["arn:aws:iam::1:policy/p".into()],
        user_groups: vec!["g".into()],
        role_arns: vec![],
        programmatic_access: true,
        console_access: false,
        password: PasswordPolicy::default(),
        ttl_secs: 60,
        ttl_text: "1m".into(),
        iam_path: String::new(),
        external_id: None,
        session_tags: vec![("k".into(), "v".into())],
        transitive_tag_keys: vec![],
        username_template: None,
        tags: vec!["t".into()],
        description: "d".into(),
        protection_key: None,
    }
}

fn lease(id: &str, producer_id: i64, state: LeaseState, expires: i64) -> Lease {
    Lease {
        id: id.into(),
        producer_id,
        producer_name: "/p".into(),
        mode: AccessMode::IamUser,
        principal: format!("tmp.p.{id}"),
        access_key_id: None,
        role_arn: None,
        account_id: Some("123456789012".into()),
        state,
        owner: "node-a.1".into(),
        created_at: at(0),
        expires_at: at(expires),
        attempts: 0,
        last_error: None,
        next_attempt_at: None,
    }
}

async fn conformance(store: &dyn Store) {
    // API keys and tokens.
    assert_eq!(store.api_key_count().await.unwrap(), 0);
    let key = ApiKeyRecord {
        access_id: "p-1".into(),
        name: "/admin".into(),
        key_hash: "h".into(),
        is_admin: true,
        created_at: at(0),
        description: "first".into(),
        access_expires: Some(at(1000)),
        bound_ips: vec!["10.0.0.0/8".into(), "127.0.0.1".into()],
        jwt_ttl_secs: Some(600),
        delete_protection: true,
    };
    store.insert_api_key(&key).await.unwrap();
    assert_eq!(store.api_key("p-1").await.unwrap(), Some(key));
    assert!(store.api_key("p-2").await.unwrap().is_none());
    let token = TokenRecord {
        token_hash: "th".into(),
        access_id: "p-1".into(),
        expires_at: at(10),
    };
    store.insert_token(&token).await.unwrap();
    assert_eq!(store.token("th").await.unwrap(), Some(token));
    assert_eq!(store.purge_tokens(at(5)).await.unwrap(), 0);
    assert_eq!(store.purge_tokens(at(11)).await.unwrap(), 1);

    // Targets: unique names, round trip, rename.
    let mut target = TargetRecord {
        id: 0,
        uid: "u1".into(),
        name: "/aws/t".into(),
        description: "desc".into(),
        connection: connection("AKIA1"),
        protection_key: None,
        delete_protection: true,
        created_at: at(0),
        modified_at: at(0),
    };
    target.id = store.insert_target(&target).await.unwrap();
    assert_eq!(
        store.target_by_name("/aws/t").await.unwrap(),
        Some(target.clone())
    );
    let duplicate = TargetRecord {
        uid: "u2".into(),
        ..target.clone()
    };
    assert!(matches!(
        store.insert_target(&duplicate).await,
        Err(StoreError::Conflict(_))
    ));
    target.name = "/aws/renamed".into();
    target.modified_at = at(5);
    store.update_target(&target).await.unwrap();
    assert_eq!(
        store.target_by_id(target.id).await.unwrap(),
        Some(target.clone())
    );
    assert!(store.target_by_name("/aws/t").await.unwrap().is_none());

    // Producers: with a target, and inline.
    let mut with_target = ProducerRecord {
        id: 0,
        uid: "p1".into(),
        name: "/prod/a".into(),
        target_id: Some(target.id),
        inline_connection: None,
        settings: settings(),
        delete_protection: false,
        created_at: at(0),
        modified_at: at(0),
    };
    with_target.id = store.insert_producer(&with_target).await.unwrap();
    let mut inline = ProducerRecord {
        id: 0,
        uid: "p2".into(),
        name: "/prod/b".into(),
        target_id: None,
        inline_connection: Some(connection("AKIA2")),
        ..with_target.clone()
    };
    inline.id = store.insert_producer(&inline).await.unwrap();
    assert_eq!(
        store.producer_by_name("/prod/a").await.unwrap(),
        Some(with_target.clone())
    );
    assert_eq!(
        store.producer_by_id(inline.id).await.unwrap(),
        Some(inline.clone())
    );
    assert_eq!(store.list_producers().await.unwrap().len(), 2);
    assert_eq!(
        store.producers_using_target(target.id).await.unwrap(),
        vec![with_target.clone()]
    );
    with_target.settings.ttl_secs = 120;
    store.update_producer(&with_target).await.unwrap();
    assert_eq!(
        store
            .producer_by_id(with_target.id)
            .await
            .unwrap()
            .unwrap()
            .settings
            .ttl_secs,
        120
    );

    // Leases: the due index drives the reaper.
    let pid = with_target.id;
    store
        .insert_lease(&lease("l1", pid, LeaseState::Active, 100))
        .await
        .unwrap();
    store
        .insert_lease(&lease("l2", pid, LeaseState::Active, 50))
        .await
        .unwrap();
    store
        .insert_lease(&lease("l3", pid, LeaseState::Pending, 10))
        .await
        .unwrap();
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(at(50)),
        "pending intents are not due"
    );
    let due: Vec<String> = store
        .due_leases(at(100), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(due, ["l2", "l1"], "soonest first, inclusive bound");
    assert_eq!(
        store.due_leases(at(100), 1).await.unwrap().len(),
        1,
        "limit honoured"
    );

    let mut failed = store.lease("l2").await.unwrap().unwrap();
    failed.state = LeaseState::Failed;
    failed.attempts = 2;
    failed.last_error = Some("Throttling".into());
    failed.next_attempt_at = Some(at(200));
    store.update_lease(&failed).await.unwrap();
    assert_eq!(store.lease("l2").await.unwrap(), Some(failed.clone()));
    // Conditional writes see the stored state, not the caller's copy.
    let mut stale = failed.clone();
    stale.state = LeaseState::Active;
    assert!(!store
        .update_lease_if(&stale, LeaseState::Active)
        .await
        .unwrap());
    assert_eq!(store.lease("l2").await.unwrap(), Some(failed.clone()));
    assert!(store
        .update_lease_if(&failed, LeaseState::Failed)
        .await
        .unwrap());
    store.compact().await.unwrap();
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(at(100)),
        "a failed lease is due at its retry"
    );
    let mut revoked = failed;
    revoked.state = LeaseState::Revoked;
    revoked.next_attempt_at = None;
    store.update_lease(&revoked).await.unwrap();
    assert_eq!(store.leases_of_producer(pid, false).await.unwrap().len(), 2);
    assert_eq!(store.leases_of_producer(pid, true).await.unwrap().len(), 3);

    let claimed: Vec<String> = store
        .claimed_leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(claimed, ["l3"], "pending and revoking leases only");

    // Instances.
    store.heartbeat("node-a.1", at(1)).await.unwrap();
    store.heartbeat("node-a.1", at(2)).await.unwrap();
    assert_eq!(
        store.instance_heartbeat("node-a.1").await.unwrap(),
        Some(at(2))
    );
    store.remove_instance("node-a.1").await.unwrap();
    assert_eq!(store.instance_heartbeat("node-a.1").await.unwrap(), None);

    // Roles, rules, associations.
    let role = RoleRecord {
        id: 0,
        name: "/ops".into(),
        description: String::new(),
        created_at: at(0),
        modified_at: at(0),
    };
    let role_id = store.insert_role(&role).await.unwrap();
    assert!(matches!(
        store.insert_role(&role).await,
        Err(StoreError::Conflict(_))
    ));
    let read = PathRule::new(
        RuleType::Item,
        "/prod/*",
        vec![Capability::Read, Capability::List],
    )
    .unwrap();
    store.set_role_rule(role_id, &read).await.unwrap();
    let replaced = PathRule::new(RuleType::Item, "/prod/*", vec![Capability::Deny]).unwrap();
    store.set_role_rule(role_id, &replaced).await.unwrap();
    let target_rule = PathRule::new(RuleType::Target, "/aws/*", vec![Capability::Read]).unwrap();
    store.set_role_rule(role_id, &target_rule).await.unwrap();
    assert_eq!(
        store.role_rules(role_id).await.unwrap(),
        vec![replaced.clone(), target_rule.clone()]
    );
    assert!(
        store.rules_for_access_id("p-1").await.unwrap().is_empty(),
        "no association yet"
    );
    let assoc = AssocRecord {
        id: "ra-1".into(),
        role_id,
        role_name: "/ops".into(),
        access_id: "p-1".into(),
        auth_method_name: "/admin".into(),
    };
    store.insert_assoc(&assoc).await.unwrap();
    assert!(matches!(
        store
            .insert_assoc(&AssocRecord {
                id: "ra-2".into(),
                ..assoc.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.assocs_of_access_id("p-1").await.unwrap(),
        vec![assoc.clone()]
    );
    assert_eq!(store.assocs_of_role(role_id).await.unwrap(), vec![assoc]);
    assert_eq!(store.rules_for_access_id("p-1").await.unwrap().len(), 2);
    assert!(store
        .delete_role_rule(role_id, RuleType::Target, "/aws/*")
        .await
        .unwrap());
    assert!(!store
        .delete_role_rule(role_id, RuleType::Target, "/aws/*")
        .await
        .unwrap());
    assert!(store.delete_assoc("ra-1").await.unwrap());
    assert!(store.rules_for_access_id("p-1").await.unwrap().is_empty());
    store.delete_role(role_id).await.unwrap();
    assert!(store.role_by_name("/ops").await.unwrap().is_none());

    // Deletes.
    assert!(
        !store.delete_producer(with_target.id).await.unwrap(),
        "a live iam_user lease (l1) keeps its dynamic secret"
    );
    assert!(store
        .producer_by_id(with_target.id)
        .await
        .unwrap()
        .is_some());
    assert!(store.delete_producer(inline.id).await.unwrap());
    assert!(store.producer_by_id(inline.id).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_in_memory_meets_the_contract() {
    conformance(&SqliteStore::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_file_meets_the_contract_and_persists() {
    let dir = dynsec_testkit::TempDir::new("dynsec-store");
    let path = dir.path().join("db.sqlite");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        conformance(&store).await;
    }
    // Reopening applies no migration twice and keeps the data.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.api_key_count().await.unwrap(), 1);
    assert!(store
        .target_by_name("/aws/renamed")
        .await
        .unwrap()
        .is_some());
}
