//! Use-case checks that need no AWS: input bounds, state conflicts, names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::test_support::{inline_producer, lease, memory_engine, path};
use crate::{AuthMethodInput, EngineError, ProtectionKeyInput};
use chrono::Utc;
use dynsec_core::LeaseState;

const MAX_MINUTES: u64 = 366 * 24 * 60;

fn field_of(err: &EngineError) -> &str {
    match err {
        EngineError::Invalid(v) => &v.field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn new_ttl_min_is_capped_instead_of_overflowing() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(inline_producer("/ds/a"))
        .await
        .unwrap();
    let expires = Utc::now() + chrono::Duration::hours(1);
    store
        .insert_lease(&lease("l1", producer.id, LeaseState::Active, expires))
        .await
        .unwrap();
    for too_long in [MAX_MINUTES + 1, u64::MAX / 60, u64::MAX] {
        let err = engine
            .update_lease_ttl(&path("/ds/a"), "l1", too_long)
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), "new-ttl-min", "{too_long}");
    }
    let lease = engine
        .update_lease_ttl(&path("/ds/a"), "l1", MAX_MINUTES)
        .await
        .unwrap();
    assert!(lease.expires_at > Utc::now() + chrono::Duration::days(365));
}

#[tokio::test]
async fn revoking_a_lease_still_being_issued_is_a_conflict() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(inline_producer("/ds/a"))
        .await
        .unwrap();
    let expires = Utc::now() + chrono::Duration::hours(1);
    store
        .insert_lease(&lease("p1", producer.id, LeaseState::Pending, expires))
        .await
        .unwrap();
    let err = engine.revoke_lease(&path("/ds/a"), "p1").await.unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "credential p1 is still being issued; try again in a moment"
    );
    // Untouched: the issuance (or its rollback) still owns it.
    let stored = store.lease("p1").await.unwrap().unwrap();
    assert_eq!(stored.state, LeaseState::Pending);
    assert_eq!(stored.attempts, 0);
}

#[tokio::test]
async fn jwt_ttl_is_capped() {
    let (engine, _store) = memory_engine().await;
    let input = |name: &str, minutes: u64| AuthMethodInput {
        name: path(name),
        access_expires: None,
        bound_ips: vec![],
        jwt_ttl_minutes: Some(minutes),
        description: String::new(),
        delete_protection: false,
    };
    for too_long in [MAX_MINUTES + 1, u64::MAX / 60 + 1, u64::MAX] {
        let err = engine
            .create_auth_method(input("/am/x", too_long))
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), "jwt-ttl", "{too_long}");
    }
    engine
        .create_auth_method(input("/am/year", MAX_MINUTES))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dynamic_secret_cannot_shadow_a_protection_key() {
    let (engine, store) = memory_engine().await;
    engine
        .create_protection_key(ProtectionKeyInput {
            name: path("/shared/name"),
            alg: "AES256GCM".into(),
            split_level: None,
            customer_fragment_id: None,
            description: String::new(),
            delete_protection: false,
        })
        .await
        .unwrap();
    let err = engine
        .create_producer(inline_producer("/shared/name"))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("protection key"), "{err}");
    assert!(store
        .producer_by_name("/shared/name")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn effective_iam_path_falls_back_to_the_gateways() {
    let (engine, _store) = memory_engine().await;
    let mut settings = inline_producer("/ds/a").settings;
    assert_eq!(engine.iam_path_of(&settings), "/dynsec/");
    settings.iam_path = "/team/".into();
    assert_eq!(engine.iam_path_of(&settings), "/team/");
}

#[tokio::test]
async fn role_rules_are_deleted_by_the_path_they_were_set_with() {
    use dynsec_core::access::{Capability, PathRule, RuleType};
    let (engine, _store) = memory_engine().await;
    engine
        .create_role(&path("/ops"), String::new())
        .await
        .unwrap();
    for (set, delete) in [("prod/*", "prod/*"), (" /dev/* ", "dev/*"), ("*", " * ")] {
        let rule = PathRule::new(RuleType::Item, set, vec![Capability::Read]).unwrap();
        engine.set_role_rule(&path("/ops"), rule).await.unwrap();
        engine
            .delete_role_rule(&path("/ops"), RuleType::Item, delete)
            .await
            .unwrap_or_else(|e| panic!("set as {set:?}, deleted as {delete:?}: {e}"));
    }
    assert!(engine
        .get_role(&path("/ops"))
        .await
        .unwrap()
        .rules
        .is_empty());
}

#[tokio::test]
async fn a_revocation_claimed_by_a_dead_process_is_released_at_once() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(inline_producer("/ds/a"))
        .await
        .unwrap();
    // An earlier process of this node claimed a revocation for a minute, then died.
    let mut claimed = lease("r1", producer.id, LeaseState::Revoking, Utc::now());
    claimed.next_attempt_at = Some(Utc::now() + chrono::Duration::seconds(60));
    store.insert_lease(&claimed).await.unwrap();
    let mut intent = lease("p1", producer.id, LeaseState::Pending, Utc::now());
    intent.owner = "node.dead".into();
    store.insert_lease(&intent).await.unwrap();

    assert_eq!(engine.recover_intents().await.unwrap(), 2);
    for id in ["r1", "p1"] {
        let recovered = store.lease(id).await.unwrap().unwrap();
        assert_eq!(recovered.state, LeaseState::Revoking, "{id}");
        assert_eq!(recovered.owner, engine.instance_id(), "{id}");
        assert!(
            recovered.next_attempt_at.unwrap() <= Utc::now(),
            "{id} is due now"
        );
    }
    // Our own claims are ours to finish: nothing more to recover.
    assert_eq!(engine.recover_intents().await.unwrap(), 0);
}

#[tokio::test]
async fn only_a_stalled_own_intent_is_taken_over() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(inline_producer("/ds/a"))
        .await
        .unwrap();
    let mut fresh = lease("fresh", producer.id, LeaseState::Pending, Utc::now());
    fresh.owner = engine.instance_id().to_string();
    let mut stalled = fresh.clone();
    stalled.id = "stalled".into();
    stalled.created_at = Utc::now() - chrono::Duration::minutes(11);
    store.insert_lease(&fresh).await.unwrap();
    store.insert_lease(&stalled).await.unwrap();

    assert_eq!(engine.recover_intents().await.unwrap(), 1);
    assert_eq!(
        store.lease("fresh").await.unwrap().unwrap().state,
        LeaseState::Pending
    );
    assert_eq!(
        store.lease("stalled").await.unwrap().unwrap().state,
        LeaseState::Revoking
    );
    // The stalled issuance, if it ever ends, can no longer activate its lease.
    let mut late = stalled.clone();
    late.state = LeaseState::Active;
    assert!(!store
        .update_lease_if(&late, LeaseState::Pending)
        .await
        .unwrap());
}
