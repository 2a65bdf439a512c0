//! iam_user issuance over the in-memory AWS and a real SQLite store, in
//! paused tokio time: the intent is durable before CreateUser, every
//! failing step after it is rolled back (nothing is left in IAM), a lost
//! reply is rolled back too, and a store that fails after CreateUser leaves
//! no handed-out credential and no user behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fake_aws::{FakeAws, Fault};
use crate::test_support::{
    admin, advance_until_finished, fake_engine, fake_engine_over, hold_time, inline_producer, path,
    temp_dir,
};
use crate::{Engine, EngineConfig, EngineError, IssuedValue, ProducerTargetInput};
use dynsec_aws::AwsErrorKind;
use dynsec_core::LeaseState;
use dynsec_store::{SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT: &str = "111111111111";
const POLICY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const INLINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;

/// A dynamic secret whose issuance takes every step CreateUser has: a
/// policy, a group, an access key, a console password, an inline policy.
async fn every_step_secret(engine: &Engine, aws: &FakeAws) -> i64 {
    let mut input = inline_producer("/ds/a");
    input.target = ProducerTargetInput::Inline(aws.add_admin(ACCOUNT, "dynsec-admin"));
    input.settings.user_policies = vec![POLICY.into()];
    input.settings.user_groups = vec!["readers".into()];
    input.settings.console_access = true;
    input.settings.user_inline_policy = Some(INLINE.into());
    engine.create_producer(&admin(), input).await.unwrap().id
}

async fn issue(engine: &Engine) -> Result<IssuedValue, EngineError> {
    engine.get_value(&admin(), &path("/ds/a"), &[]).await
}

async fn only_lease(store: &dyn Store, producer: i64) -> dynsec_core::Lease {
    let mut leases = store.leases_of_producer(producer, true).await.unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    leases.remove(0)
}

#[tokio::test(start_paused = true)]
async fn the_intent_is_durable_before_create_user_is_sent() {
    let (engine, store, aws) = fake_engine().await;
    let producer = every_step_secret(&engine, &aws).await;
    let gate = aws.hold("CreateUser");
    let issuing = tokio::spawn({
        let engine = engine.clone();
        async move { issue(&engine).await }
    });
    gate.reached().await;
    // CreateUser is about to be sent: the intent naming its user is stored.
    let intent = only_lease(store.as_ref(), producer).await;
    assert_eq!(intent.state, LeaseState::Pending);
    assert_eq!(intent.owner, engine.instance_id());
    assert!(
        intent.principal.starts_with("tmp.a."),
        "{}",
        intent.principal
    );
    assert!(aws.users(ACCOUNT).is_empty(), "nothing exists in IAM yet");
    gate.release();

    let issued = issuing.await.unwrap().unwrap();
    let IssuedValue::IamUser { user_name, .. } = issued else {
        panic!("an iam_user credential");
    };
    let lease = only_lease(store.as_ref(), producer).await;
    assert_eq!(lease.state, LeaseState::Active);
    assert_eq!(lease.principal, user_name);
    assert_eq!(lease.account_id.as_deref(), Some(ACCOUNT));
    let created = lease.created.expect("activation records what was created");
    let user = &aws.users(ACCOUNT)[&user_name];
    assert_eq!(created.attached_policies, vec![POLICY.to_string()]);
    assert_eq!(created.groups, vec!["readers".to_string()]);
    assert_eq!(
        user.access_keys.iter().next().cloned(),
        created.access_key_id
    );
    assert!(created.login_profile && user.login_profile);
    assert_eq!(created.inline_policy.as_deref(), Some("dynsec-inline"));
    let tag = |key: &str| {
        user.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(tag("dynsec:lease-id").as_deref(), Some(lease.id.as_str()));
    assert_eq!(tag("dynsec:managed-by").as_deref(), Some("dynsec"));
    assert_eq!(tag("dynsec:dynamic-secret").as_deref(), Some("/ds/a"));
    assert!(tag("dynsec:expires-at").is_some());
}

#[tokio::test(start_paused = true)]
async fn a_failure_at_any_step_after_create_user_leaves_nothing_in_iam() {
    let (engine, store, aws) = fake_engine().await;
    let producer = every_step_secret(&engine, &aws).await;
    let steps = [
        "AttachUserPolicy",
        "AddUserToGroup",
        "CreateAccessKey",
        "CreateLoginProfile",
        "PutUserPolicy",
    ];
    let kinds = [
        AwsErrorKind::Retryable,
        AwsErrorKind::Invalid,
        AwsErrorKind::Denied,
        AwsErrorKind::NotFound,
    ];
    let mut failed = 0;
    for step in steps {
        for kind in kinds {
            aws.inject(step, Fault::Fail(kind));
            let err = issue(&engine).await.unwrap_err();
            assert!(
                matches!(err, EngineError::Aws(ref e) if e.operation == step && e.kind == kind),
                "{step} {kind:?}: {err:?}"
            );
            failed += 1;
            assert!(
                aws.users(ACCOUNT).is_empty(),
                "{step} {kind:?}: rolled back, nothing left"
            );
        }
    }
    let leases = store.leases_of_producer(producer, true).await.unwrap();
    assert_eq!(leases.len(), failed);
    for lease in &leases {
        assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
        assert!(
            lease
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("issuance failed")),
            "{lease:?}"
        );
        assert!(lease.created.is_none(), "never activated");
    }
    // The next issuance is unaffected.
    assert!(issue(&engine).await.is_ok());
    assert_eq!(aws.users(ACCOUNT).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rollback_that_fails_is_finished_by_the_reaper_after_its_backoff() {
    let (engine, store, aws) = fake_engine().await;
    let producer = every_step_secret(&engine, &aws).await;
    aws.inject("CreateAccessKey", Fault::Fail(AwsErrorKind::Retryable));
    aws.inject("DeleteUser", Fault::Fail(AwsErrorKind::Retryable));
    issue(&engine).await.unwrap_err();
    let lease = only_lease(store.as_ref(), producer).await;
    assert_eq!(lease.state, LeaseState::Revoking);
    assert_eq!(lease.attempts, 1);
    assert_eq!(aws.users(ACCOUNT).len(), 1, "the user is still there");
    let due = lease.next_attempt_at.expect("due again after a backoff");
    let wait = (due - engine.now()).to_std().unwrap();
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&wait),
        "{wait:?}"
    );

    tokio::time::advance(wait).await;
    engine.reap_pass().await;
    assert!(aws.users(ACCOUNT).is_empty());
    let lease = only_lease(store.as_ref(), producer).await;
    assert_eq!(lease.state, LeaseState::Revoked);
}

#[tokio::test(start_paused = true)]
async fn create_user_refused_closes_the_intent_without_a_teardown() {
    let (engine, store, aws) = fake_engine().await;
    let producer = every_step_secret(&engine, &aws).await;
    for kind in [AwsErrorKind::Denied, AwsErrorKind::Invalid] {
        aws.inject("CreateUser", Fault::Fail(kind));
        issue(&engine).await.unwrap_err();
    }
    assert_eq!(aws.count("DeleteUser"), 0, "nothing to tear down");
    for lease in store.leases_of_producer(producer, true).await.unwrap() {
        assert_eq!(lease.state, LeaseState::Revoked);
        assert!(lease
            .last_error
            .unwrap()
            .starts_with("issuance refused by AWS before the user existed"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_create_user_whose_reply_is_lost_is_rolled_back() {
    let (engine, store, aws) = fake_engine().await;
    let producer = every_step_secret(&engine, &aws).await;
    // The user exists in IAM, but the gateway saw a timeout.
    aws.inject("CreateUser", Fault::LoseReply);
    let err = issue(&engine).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Aws(ref e) if e.kind == AwsErrorKind::Retryable),
        "{err:?}"
    );
    assert!(aws.users(ACCOUNT).is_empty(), "torn down by discovery");
    assert_eq!(aws.count("DeleteUser"), 1);
    let lease = only_lease(store.as_ref(), producer).await;
    assert_eq!(lease.state, LeaseState::Revoked);
}

#[tokio::test(start_paused = true)]
async fn a_slow_aws_delays_issuance_without_breaking_it() {
    let (engine, store, aws) = fake_engine().await;
    let producer = every_step_secret(&engine, &aws).await;
    aws.inject("CreateUser", Fault::Delay(Duration::from_secs(30)));
    let started = tokio::time::Instant::now();
    let issuing = tokio::spawn({
        let engine = engine.clone();
        async move { issue(&engine).await }
    });
    advance_until_finished(&issuing, Duration::from_secs(1), Duration::from_secs(120)).await;
    issuing.await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(30));
    let lease = only_lease(store.as_ref(), producer).await;
    assert_eq!(lease.state, LeaseState::Active);
    // Its clock moved with tokio's: the lease was created before the delay.
    assert!(engine.now() - lease.created_at >= chrono::Duration::seconds(30));
}

#[tokio::test(start_paused = true)]
async fn a_store_failing_after_create_user_hands_nothing_out_and_leaves_no_user() {
    let hold = hold_time();
    let dir = temp_dir("issuance-store-failure");
    let db = dir.join("dynsec.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await.unwrap());
    let (engine, aws) = fake_engine_over(store.clone(), EngineConfig::default(), hold).await;
    let producer = every_step_secret(&engine, &aws).await;
    let gate = aws.hold("CreateUser");
    let issuing = tokio::spawn({
        let engine = engine.clone();
        async move { issue(&engine).await }
    });
    gate.reached().await;
    // While AWS creates the user, the disk starts refusing lease updates:
    // the activation cannot be written.
    let behind = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_lease_updates BEFORE UPDATE ON leases \
         BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    )
    .execute(&behind)
    .await
    .unwrap();
    gate.release();
    let err = issuing.await.unwrap().unwrap_err();
    assert!(
        matches!(err, EngineError::Internal(_) | EngineError::Unavailable(_)),
        "the store's error: {err:?}"
    );
    assert!(
        aws.users(ACCOUNT).is_empty(),
        "the user was torn down before the error was returned"
    );
    // Not even the rollback could be recorded: the intent stays pending,
    // so nothing was ever recorded as handed out.
    let intent = only_lease(store.as_ref(), producer).await;
    assert_eq!(intent.state, LeaseState::Pending);

    // Once the store recovers, the stalled intent is taken over and closed.
    sqlx::query("DROP TRIGGER refuse_lease_updates")
        .execute(&behind)
        .await
        .unwrap();
    behind.close().await;
    assert_eq!(
        engine.recover_intents().await.unwrap(),
        0,
        "not stalled yet"
    );
    tokio::time::advance(Duration::from_secs(601)).await;
    assert_eq!(engine.recover_intents().await.unwrap(), 1);
    engine.reap_pass().await;
    let closed = only_lease(store.as_ref(), producer).await;
    assert_eq!(closed.state, LeaseState::Revoked, "{closed:?}");
    assert!(aws.users(ACCOUNT).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
