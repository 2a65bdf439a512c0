//! Revocation over the in-memory AWS and a real SQLite store, in held
//! tokio time: the moved-account guard, the backoff and its cap, and the
//! take-over of a dead gateway's intents and claims.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fake_aws::{FakeAws, Fault};
use crate::test_support::{
    self, admin, fake_engine, fake_engine_with, issue_iam_user, next_attempt, path, stored_lease,
    target_input,
};
use crate::{Engine, EngineConfig, EngineError};
use dynsec_aws::AwsErrorKind;
use dynsec_core::{AwsConnection, LeaseState};
use dynsec_store::InstanceRecord;
use std::time::Duration;

const ACCOUNT: &str = "111111111111";
const OTHER_ACCOUNT: &str = "222222222222";

/// A dynamic secret `/ds/a` over the target `/aws/t`, whose admin is in
/// [`ACCOUNT`]; returns its connection.
async fn secret_over_target(engine: &Engine, aws: &FakeAws) -> AwsConnection {
    let conn = aws.add_admin(ACCOUNT, "dynsec-admin");
    test_support::secret_over_target(engine, conn.clone()).await;
    conn
}

#[tokio::test(start_paused = true)]
async fn a_connection_moved_to_another_account_tears_nothing_down_there() {
    let (engine, store, aws) = fake_engine().await;
    let original = secret_over_target(&engine, &aws).await;
    let lease_id = issue_iam_user(&engine).await;
    let user = stored_lease(store.as_ref(), &lease_id).await.principal;
    assert_eq!(
        stored_lease(store.as_ref(), &lease_id)
            .await
            .account_id
            .as_deref(),
        Some(ACCOUNT)
    );

    // The target is edited to an admin key of another account.
    let elsewhere = aws.add_admin(OTHER_ACCOUNT, "dynsec-admin");
    engine
        .update_target(&admin(), &path("/aws/t"), target_input("/aws/t", elsewhere))
        .await
        .unwrap();
    let err = engine
        .revoke_lease(&admin(), &path("/ds/a"), &lease_id)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Unavailable(_)), "{err:?}");
    let lease = stored_lease(store.as_ref(), &lease_id).await;
    assert_eq!(lease.state, LeaseState::Failed);
    let reason = lease.last_error.unwrap();
    assert!(
        reason.contains(&format!("now reaches account {OTHER_ACCOUNT}"))
            && reason.contains(&format!("issued in account {ACCOUNT}")),
        "{reason}"
    );
    assert_eq!(aws.count("DeleteUser"), 0, "nothing deleted anywhere");
    assert!(
        aws.users(ACCOUNT).contains_key(&user),
        "the user still works"
    );

    // Pointed back, the next attempt revokes it where it lives.
    engine
        .update_target(&admin(), &path("/aws/t"), target_input("/aws/t", original))
        .await
        .unwrap();
    let lease = next_attempt(&engine, store.as_ref(), &lease_id).await;
    assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
    assert!(aws.users(ACCOUNT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn revocation_backs_off_exponentially_up_to_the_cap_and_never_gives_up() {
    let cap = Duration::from_secs(20);
    let (engine, store, aws) = fake_engine_with(EngineConfig {
        max_retry_backoff: cap,
        ..EngineConfig::default()
    })
    .await;
    secret_over_target(&engine, &aws).await;
    let lease_id = issue_iam_user(&engine).await;
    aws.inject_times("DeleteUser", Fault::Fail(AwsErrorKind::Retryable), 8);

    engine
        .revoke_lease(&admin(), &path("/ds/a"), &lease_id)
        .await
        .unwrap_err();
    let mut lease = stored_lease(store.as_ref(), &lease_id).await;
    for attempt in 1..=8u32 {
        assert_eq!(lease.state, LeaseState::Failed, "attempt {attempt}");
        assert_eq!(lease.attempts, attempt);
        // 2^n s, at most the cap, with jitter in its upper half.
        let full = Duration::from_secs(1 << attempt).min(cap);
        let wait = (lease.next_attempt_at.unwrap() - engine.now())
            .to_std()
            .unwrap();
        assert!(
            wait >= full / 2 && wait <= full,
            "attempt {attempt}: {wait:?} not within {:?}..={full:?}",
            full / 2
        );
        // Not due a moment before its time.
        tokio::time::advance(wait.saturating_sub(Duration::from_millis(10))).await;
        engine.reap_pass().await;
        assert_eq!(
            stored_lease(store.as_ref(), &lease_id).await.attempts,
            attempt
        );
        lease = next_attempt(&engine, store.as_ref(), &lease_id).await;
    }
    assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
    assert_eq!(lease.attempts, 9);
    assert!(aws.users(ACCOUNT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_silent_gateways_intents_and_claims_are_taken_over_after_three_heartbeats() {
    let (engine, store, aws) = fake_engine().await;
    secret_over_target(&engine, &aws).await;
    let producer = store.producer_by_name("/ds/a").await.unwrap().unwrap().id;
    // Another gateway wrote an intent and created its user, and claimed the
    // revocation of a lease whose user exists too; then it went silent.
    let other = "gw-b.epoch1";
    store
        .heartbeat(&InstanceRecord {
            id: other.into(),
            heartbeat_at: engine.now(),
            master_keys: vec![],
        })
        .await
        .unwrap();
    let mut intent = crate::test_support::lease(
        "intent1",
        producer,
        LeaseState::Pending,
        engine.now() + chrono::Duration::hours(1),
    );
    intent.owner = other.into();
    intent.created_at = engine.now();
    let mut claimed =
        crate::test_support::lease("claimed1", producer, LeaseState::Revoking, engine.now());
    claimed.owner = other.into();
    claimed.next_attempt_at = Some(engine.now() + chrono::Duration::seconds(60));
    for lease in [&intent, &claimed] {
        store.insert_lease(lease).await.unwrap();
        aws.put_user(ACCOUNT, &lease.principal, Default::default());
    }

    let interval = EngineConfig::default().heartbeat_interval;
    tokio::time::advance(interval * 3).await;
    assert_eq!(engine.recover_intents().await.unwrap(), 0, "not dead yet");
    assert_eq!(stored_lease(store.as_ref(), "intent1").await.owner, other);

    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(engine.recover_intents().await.unwrap(), 2);
    for id in ["intent1", "claimed1"] {
        let lease = stored_lease(store.as_ref(), id).await;
        assert_eq!(lease.state, LeaseState::Revoking, "{id}");
        assert_eq!(lease.owner, engine.instance_id(), "{id}");
        assert!(
            lease.next_attempt_at.unwrap() <= engine.now(),
            "{id} due now"
        );
    }
    engine.reap_pass().await;
    for id in ["intent1", "claimed1"] {
        assert_eq!(
            stored_lease(store.as_ref(), id).await.state,
            LeaseState::Revoked,
            "{id}"
        );
    }
    assert!(aws.users(ACCOUNT).is_empty(), "both users torn down");
    assert_eq!(engine.recover_intents().await.unwrap(), 0);
}
