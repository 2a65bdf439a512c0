//! Use-case checks that need no AWS: input bounds, state conflicts, names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::test_support::{admin, inline_producer, key_input, lease, memory_engine, path};
use crate::{AuthMethodInput, EngineError};
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
        .create_producer(&admin(), inline_producer("/ds/a"))
        .await
        .unwrap();
    let expires = Utc::now() + chrono::Duration::hours(1);
    store
        .insert_lease(&lease("l1", producer.id, LeaseState::Active, expires))
        .await
        .unwrap();
    for too_long in [MAX_MINUTES + 1, u64::MAX / 60, u64::MAX] {
        let err = engine
            .update_lease_ttl(&admin(), &path("/ds/a"), "l1", too_long)
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), "new-ttl-min", "{too_long}");
    }
    let lease = engine
        .update_lease_ttl(&admin(), &path("/ds/a"), "l1", MAX_MINUTES)
        .await
        .unwrap();
    assert!(lease.expires_at > Utc::now() + chrono::Duration::days(365));
}

#[tokio::test]
async fn revoking_a_lease_still_being_issued_is_a_conflict() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(&admin(), inline_producer("/ds/a"))
        .await
        .unwrap();
    let expires = Utc::now() + chrono::Duration::hours(1);
    store
        .insert_lease(&lease("p1", producer.id, LeaseState::Pending, expires))
        .await
        .unwrap();
    let err = engine
        .revoke_lease(&admin(), &path("/ds/a"), "p1")
        .await
        .unwrap_err();
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
            .create_auth_method(&admin(), input("/am/x", too_long))
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), "jwt-ttl", "{too_long}");
    }
    engine
        .create_auth_method(&admin(), input("/am/year", MAX_MINUTES))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dynamic_secret_cannot_shadow_a_protection_key() {
    let (engine, store) = memory_engine().await;
    engine
        .create_protection_key(&admin(), key_input("/shared/name", None, None))
        .await
        .unwrap();
    let err = engine
        .create_producer(&admin(), inline_producer("/shared/name"))
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
        .create_role(&admin(), &path("/ops"), String::new())
        .await
        .unwrap();
    for (set, delete) in [("prod/*", "prod/*"), (" /dev/* ", "dev/*"), ("*", " * ")] {
        let rule = PathRule::new(RuleType::Item, set, vec![Capability::Read]).unwrap();
        engine
            .set_role_rule(&admin(), &path("/ops"), rule)
            .await
            .unwrap();
        engine
            .delete_role_rule(&admin(), &path("/ops"), RuleType::Item, delete)
            .await
            .unwrap_or_else(|e| panic!("set as {set:?}, deleted as {delete:?}: {e}"));
    }
    assert!(engine
        .get_role(&admin(), &path("/ops"))
        .await
        .unwrap()
        .rules
        .is_empty());
}

#[tokio::test]
async fn a_revocation_claimed_by_a_dead_process_is_released_at_once() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(&admin(), inline_producer("/ds/a"))
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
        .create_producer(&admin(), inline_producer("/ds/a"))
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

/// A caller holding exactly `rules`.
fn caller_with(
    rules: &[(
        dynsec_core::access::RuleType,
        &str,
        &[dynsec_core::access::Capability],
    )],
) -> crate::Caller {
    use dynsec_core::access::PathRule;
    crate::Caller {
        access_id: "p-caller000001".into(),
        is_admin: false,
        rules: rules
            .iter()
            .map(|(t, p, c)| PathRule::new(*t, p, c.to_vec()).unwrap())
            .collect(),
    }
}

#[tokio::test]
async fn moves_and_grants_cannot_raise_anyones_rights() {
    use dynsec_core::access::{Capability::*, PathRule, RuleType::*};
    let (engine, _store) = memory_engine().await;
    let ok = |r: Result<(), EngineError>| r.unwrap();
    let denied = |r: Result<(), EngineError>| {
        let err = r.unwrap_err();
        assert!(matches!(err, EngineError::Forbidden(_)), "{err:?}");
        err.to_string()
    };
    // Moving: delete on the old name, create on the new, nothing gained.
    let mover = caller_with(&[
        (Target, "/shared/*", &[Update, Delete]),
        (Target, "/team/*", &[Create, Read, Reveal, Delete, Update]),
    ]);
    let msg = denied(engine.may_move(&mover, Target, &path("/shared/aws"), &path("/team/stolen")));
    assert!(msg.contains("'read'"), "{msg}");
    ok(engine.may_move(&mover, Target, &path("/team/a"), &path("/team/b")));
    let no_delete = caller_with(&[(Item, "/prod/*", &[Update]), (Item, "/team/*", &[Create])]);
    denied(engine.may_move(&no_delete, Item, &path("/prod/x"), &path("/team/x")));

    // Granting: only what the granter holds, on all of the pattern.
    let granter = caller_with(&[
        (Role, "/roles/own", &[Update]),
        (Item, "/team/*", &[Read, List]),
        (Item, "/team/locked/*", &[Deny]),
    ]);
    let rule = |t, p: &str, c: &[dynsec_core::access::Capability]| {
        PathRule::new(t, p, c.to_vec()).unwrap()
    };
    denied(engine.may_grant(&granter, &rule(Target, "*", &[Read, Reveal])));
    denied(engine.may_grant(&granter, &rule(Item, "/team/*", &[Read])));
    denied(engine.may_grant(&granter, &rule(Item, "/team/a/*", &[Update])));
    ok(engine.may_grant(&granter, &rule(Item, "/team/a/*", &[Read, List])));
    ok(engine.may_grant(&granter, &rule(Item, "*", &[Deny])));
    ok(engine.may_grant(&admin(), &rule(Target, "*", &[Read, Reveal])));

    // Lifting a deny frees what the remaining rules grant under it.
    let deny = [rule(Item, "/prod/secret/*", &[Deny])];
    let remaining = [rule(Item, "/prod/*", &[Read])];
    denied(engine.may_lift_denies(&granter, &deny, &remaining));
    let holder = caller_with(&[(Item, "/prod/*", &[Read])]);
    ok(engine.may_lift_denies(&holder, &deny, &remaining));
    ok(engine.may_lift_denies(&granter, &deny, &[rule(Item, "/dev/*", &[Read])]));
}

#[tokio::test]
async fn role_changes_go_through_the_grant_rules() {
    use dynsec_core::access::{Capability::*, PathRule, RuleType::*};
    let (engine, _store) = memory_engine().await;
    let rule = |t, p: &str, c: &[dynsec_core::access::Capability]| {
        PathRule::new(t, p, c.to_vec()).unwrap()
    };
    engine
        .create_role(&admin(), &path("/roles/own"), String::new())
        .await
        .unwrap();
    let me = engine
        .create_auth_method(
            &admin(),
            AuthMethodInput {
                name: path("/am/me"),
                access_expires: None,
                bound_ips: vec![],
                jwt_ttl_minutes: None,
                description: String::new(),
                delete_protection: false,
            },
        )
        .await
        .unwrap();
    // The admin sets up: read on /prod, denied below /prod/secret.
    for r in [
        rule(Item, "/prod/*", &[Read]),
        rule(Item, "/prod/secret/*", &[Deny]),
    ] {
        engine
            .set_role_rule(&admin(), &path("/roles/own"), r)
            .await
            .unwrap();
    }
    let assoc = engine
        .assoc_role_am(&admin(), &path("/roles/own"), &path("/am/me"))
        .await
        .unwrap();
    // A second role grants /prod too: without /roles/own's deny, it would
    // reach /prod/secret.
    engine
        .create_role(&admin(), &path("/roles/reader"), String::new())
        .await
        .unwrap();
    engine
        .set_role_rule(
            &admin(),
            &path("/roles/reader"),
            rule(Item, "/prod/*", &[Read]),
        )
        .await
        .unwrap();
    engine
        .assoc_role_am(&admin(), &path("/roles/reader"), &path("/am/me"))
        .await
        .unwrap();
    let mut caller = caller_with(&[(Role, "/roles/own", &[Update, Delete])]);
    caller.access_id = me.access_id.clone();
    caller.rules.extend(
        engine
            .store()
            .rules_for_access_id(&me.access_id)
            .await
            .unwrap(),
    );

    // A self-grant, a deny removed or replaced, the role unlinked or deleted:
    // each would widen /am/me's rights, so each is refused.
    let forbidden = |r: Result<(), EngineError>| {
        assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    };
    forbidden(
        engine
            .set_role_rule(
                &caller,
                &path("/roles/own"),
                rule(Target, "*", &[Read, Reveal]),
            )
            .await,
    );
    forbidden(
        engine
            .delete_role_rule(&caller, &path("/roles/own"), Item, "/prod/secret/*")
            .await,
    );
    forbidden(
        engine
            .set_role_rule(
                &caller,
                &path("/roles/own"),
                rule(Item, "/prod/secret/*", &[List]),
            )
            .await,
    );
    forbidden(engine.delete_assoc(&caller, &assoc).await);
    forbidden(engine.delete_role(&caller, &path("/roles/own")).await);
    forbidden(
        engine
            .assoc_role_am(&caller, &path("/roles/own"), &path("/am/me"))
            .await
            .map(drop),
    );
    // Narrowing is fine.
    engine
        .set_role_rule(
            &caller,
            &path("/roles/own"),
            rule(Item, "/prod/x/*", &[Deny]),
        )
        .await
        .unwrap();
    assert_eq!(
        engine
            .get_role(&admin(), &path("/roles/own"))
            .await
            .unwrap()
            .rules
            .len(),
        3
    );
}

#[tokio::test]
async fn a_stored_connection_the_sdk_cannot_sign_fails_its_lease_instead_of_the_reaper() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(&admin(), inline_producer("/ds/poisoned"))
        .await
        .unwrap();
    // Written behind the API's back, as an older version or a hand edit could.
    let mut record = store.producer_by_id(producer.id).await.unwrap().unwrap();
    record.inline_connection.as_mut().unwrap().access_key_id = "AKIA\nFAKE".into();
    store.update_producer(&record).await.unwrap();
    let past = Utc::now() - chrono::Duration::minutes(1);
    store
        .insert_lease(&lease("l1", producer.id, LeaseState::Active, past))
        .await
        .unwrap();

    let revoked = engine
        .revoke_now(store.lease("l1").await.unwrap().unwrap())
        .await;
    assert_eq!(revoked.state, LeaseState::Failed);
    let error = revoked.last_error.unwrap();
    assert!(
        error.contains("aws-access-key-id") && error.contains("gateway-update-producer-aws"),
        "{error}"
    );
    // Issuing from it is refused the same way, before any AWS call.
    let err = engine
        .get_value(&admin(), &path("/ds/poisoned"), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn soft_delete_is_for_the_admin_and_forgets_without_aws() {
    let (engine, store) = memory_engine().await;
    let producer = engine
        .create_producer(&admin(), inline_producer("/ds/a"))
        .await
        .unwrap();
    let future = Utc::now() + chrono::Duration::hours(1);
    for (id, state) in [("l1", LeaseState::Failed), ("l2", LeaseState::Pending)] {
        store
            .insert_lease(&lease(id, producer.id, state, future))
            .await
            .unwrap();
    }
    let someone = caller_with(&[(
        dynsec_core::access::RuleType::Item,
        "*",
        &[dynsec_core::access::Capability::Update],
    )]);
    let err = engine
        .forget_lease(&someone, &path("/ds/a"), "l1")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err:?}");
    let forgotten = engine
        .forget_lease(&admin(), &path("/ds/a"), "l1")
        .await
        .unwrap();
    assert_eq!(forgotten.state, LeaseState::Revoked);
    assert!(forgotten
        .last_error
        .unwrap()
        .contains("soft-delete by p-testadmin0001"));
    let err = engine
        .forget_lease(&admin(), &path("/ds/a"), "l2")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.lease("l1").await.unwrap().unwrap().state,
        LeaseState::Revoked
    );
}

#[tokio::test]
async fn conflicts_say_what_exists_and_why() {
    let (engine, _store) = memory_engine().await;
    engine
        .create_role(&admin(), &path("/ci"), String::new())
        .await
        .unwrap();
    let err = engine
        .create_role(&admin(), &path("/ci"), String::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "role '/ci' already exists: names are unique, so choose another name (or delete or rename the existing one first)"
    );
}
