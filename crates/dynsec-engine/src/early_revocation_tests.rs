//! Early revocation of assumed_role leases over the in-memory AWS and a real
//! SQLite store, in held tokio time: revoking denies the session in the
//! role's policy (and only it), a failed write is retried in place or by the
//! reaper (never lost), one role's writes take turns under its lock (which
//! a crashed holder cannot keep), the fallback when the list does not fit is
//! said in the lease's state, expired entries are pruned, deleting the
//! secret denies its live sessions first, and roles outside the
//! connection's account are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fake_aws::{FakeAws, Fault};
use crate::test_support::{
    admin, advance_until_finished, fake_engine, inline_producer, next_attempt, path, stored_lease,
};
use crate::{Engine, EngineError, IssuedValue, ProducerTargetInput, DENY_WRITTEN};
use dynsec_aws::{policy_size, AwsErrorKind, ROLE_INLINE_POLICY_BUDGET};
use dynsec_core::{AccessMode, LeaseState};
use dynsec_store::Store;
use std::time::Duration;

const ACCOUNT: &str = "111111111111";
const ROLE: &str = "arn:aws:iam::111111111111:role/app";
const NAME: &str = "/ds/r";

/// An assumed_role dynamic secret [`NAME`] of [`ROLE`], through an admin of
/// [`ACCOUNT`], with `early-revocation` as given.
async fn role_secret(engine: &Engine, aws: &FakeAws, early: bool) -> Result<i64, EngineError> {
    role_secret_of(engine, aws, ROLE, early).await
}

async fn role_secret_of(
    engine: &Engine,
    aws: &FakeAws,
    role: &str,
    early: bool,
) -> Result<i64, EngineError> {
    let mut input = inline_producer(NAME);
    input.target = ProducerTargetInput::Inline(aws.add_admin(ACCOUNT, "dynsec-admin"));
    input.settings.access_mode = AccessMode::AssumedRole;
    input.settings.role_arns = vec![role.into()];
    input.settings.early_revocation = early;
    Ok(engine.create_producer(&admin(), input).await?.id)
}

/// Issues a session; returns its lease id and session name.
async fn issue(engine: &Engine, store: &dyn Store) -> (String, String) {
    match engine.get_value(&admin(), &path(NAME), &[]).await.unwrap() {
        IssuedValue::AssumedRole { lease_id, .. } => {
            let session = stored_lease(store, &lease_id).await.principal;
            (lease_id, session)
        }
        other => panic!("an assumed_role credential, not {other:?}"),
    }
}

async fn revoke(engine: &Engine, lease_id: &str) -> Result<dynsec_core::Lease, EngineError> {
    engine.revoke_lease(&admin(), &path(NAME), lease_id).await
}

fn names<const N: usize>(sessions: [&str; N]) -> std::collections::BTreeSet<String> {
    sessions.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn revoking_a_lease_denies_its_session_and_no_other() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, session_a) = issue(&engine, store.as_ref()).await;
    let (b, session_b) = issue(&engine, store.as_ref()).await;
    assert!(session_a.starts_with("dynsec-"), "{session_a}");

    let lease = revoke(&engine, &a).await.unwrap();
    assert_eq!(lease.state, LeaseState::Revoked);
    assert_eq!(lease.last_error.as_deref(), Some(DENY_WRITTEN));
    assert!(lease.revoked_at.is_some());
    assert_eq!(stored_lease(store.as_ref(), &a).await, lease);
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a]));
    assert_eq!(aws.denied_all_before(ROLE), None, "nobody else is denied");
    assert_eq!(
        stored_lease(store.as_ref(), &b).await.state,
        LeaseState::Active
    );

    // The role's lock was let go: revoking the other session (through
    // revoke-all) goes at once, not after the 30 s wait for a holder.
    let all = tokio::spawn({
        let engine = engine.clone();
        async move { engine.revoke_all(&admin(), &path(NAME)).await }
    });
    advance_until_finished(&all, Duration::from_millis(10), Duration::from_secs(1)).await;
    assert!(all.is_finished(), "the role's lock was still held");
    let all = all.await.unwrap().unwrap();
    assert_eq!(all.remaining, 0);
    assert_eq!(all.sessions_denied.len(), 1);
    assert_eq!(all.sessions_denied[0].id, b);
    assert_eq!(
        all.sessions_denied[0].last_error.as_deref(),
        Some(DENY_WRITTEN)
    );
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a, &session_b]));
}

#[tokio::test(start_paused = true)]
async fn without_early_revocation_a_session_cannot_be_revoked() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, false).await.unwrap();
    let (a, _) = issue(&engine, store.as_ref()).await;

    let err = revoke(&engine, &a).await.unwrap_err();
    let EngineError::Invalid(err) = err else {
        panic!("a refusal, not {err:?}");
    };
    assert_eq!(err.field, "tmp-creds-id");
    assert!(err.reason.contains("early-revocation"), "{}", err.reason);
    assert_eq!(aws.count("PutRolePolicy"), 0);
    assert_eq!(aws.role_policy(ROLE), None);
    assert_eq!(
        stored_lease(store.as_ref(), &a).await.state,
        LeaseState::Active
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_deny_is_retried_in_place_then_by_the_reaper_until_it_lands() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, session_a) = issue(&engine, store.as_ref()).await;

    // Two transient failures: the read-modify-write goes again at once.
    aws.inject_times("PutRolePolicy", Fault::Fail(AwsErrorKind::Retryable), 2);
    let lease = revoke(&engine, &a).await.unwrap();
    assert_eq!(lease.state, LeaseState::Revoked);
    assert_eq!(lease.attempts, 1);
    assert_eq!(aws.count("PutRolePolicy"), 3);
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a]));

    // Transient failures past the attempts of one revocation: the lease is
    // failed with the reason and a next attempt, and the reaper lands it.
    let (b, session_b) = issue(&engine, store.as_ref()).await;
    aws.inject_times("PutRolePolicy", Fault::Fail(AwsErrorKind::Retryable), 3);
    let err = revoke(&engine, &b).await.unwrap_err();
    assert!(matches!(err, EngineError::Unavailable(_)), "{err:?}");
    let failed = stored_lease(store.as_ref(), &b).await;
    assert_eq!(failed.state, LeaseState::Failed);
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.last_error.as_deref().unwrap().contains("injected"),
        "{failed:?}"
    );
    assert!(failed.next_attempt_at.unwrap() > engine.now());
    assert_eq!(aws.count("PutRolePolicy"), 6);
    assert!(!aws.denied_sessions(ROLE).contains(&session_b));

    let lease = next_attempt(&engine, store.as_ref(), &b).await;
    assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
    assert_eq!(lease.attempts, 2);
    assert_eq!(lease.last_error.as_deref(), Some(DENY_WRITTEN));
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a, &session_b]));

    // A refusal is not retried in place (it would be refused again), but it
    // is not lost either: the reaper tries again after the backoff.
    let (c, session_c) = issue(&engine, store.as_ref()).await;
    aws.inject("PutRolePolicy", Fault::Fail(AwsErrorKind::Denied));
    revoke(&engine, &c).await.unwrap_err();
    assert_eq!(aws.count("PutRolePolicy"), 8);
    assert_eq!(
        stored_lease(store.as_ref(), &c).await.state,
        LeaseState::Failed
    );
    let lease = next_attempt(&engine, store.as_ref(), &c).await;
    assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
    assert!(aws.denied_sessions(ROLE).contains(&session_c));
}

#[tokio::test(start_paused = true)]
async fn a_deny_whose_reply_was_lost_is_written_again_and_listed_once() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, session_a) = issue(&engine, store.as_ref()).await;
    aws.inject("PutRolePolicy", Fault::LoseReply);

    let lease = revoke(&engine, &a).await.unwrap();
    assert_eq!(lease.state, LeaseState::Revoked);
    assert_eq!(aws.count("PutRolePolicy"), 2);
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a]));
    let policy = aws.role_policy(ROLE).unwrap();
    assert_eq!(policy.matches(&session_a).count(), 1, "{policy}");
}

#[tokio::test(start_paused = true)]
async fn revocations_of_one_role_take_turns_under_its_lock() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, session_a) = issue(&engine, store.as_ref()).await;
    let (b, session_b) = issue(&engine, store.as_ref()).await;
    let revoking = |id: String| {
        let engine = engine.clone();
        tokio::spawn(async move { revoke(&engine, &id).await })
    };

    // A's write is under way (held before it reaches the fake's role).
    let gate = aws.hold("PutRolePolicy");
    let first = revoking(a.clone());
    gate.reached().await;
    let second = revoking(b.clone());
    // B claims its lease (however slowly the store answers), then gets as
    // far as it can in a few seconds of (held) time, well within its wait.
    for _ in 0..1000 {
        if stored_lease(store.as_ref(), &b).await.state == LeaseState::Revoking {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        stored_lease(store.as_ref(), &b).await.state,
        LeaseState::Revoking,
        "B's revocation has started"
    );
    advance_until_finished(&second, Duration::from_millis(50), Duration::from_secs(5)).await;
    assert!(!second.is_finished(), "B waits for A's write");
    assert_eq!(
        aws.count("PutRolePolicy"),
        0,
        "B wrote while A held the role"
    );

    gate.release();
    advance_until_finished(&second, Duration::from_millis(50), Duration::from_secs(5)).await;
    assert!(first.is_finished() && second.is_finished());
    for (task, id) in [(first, &a), (second, &b)] {
        let lease = task.await.unwrap().unwrap();
        assert_eq!(&lease.id, id);
        assert_eq!(lease.state, LeaseState::Revoked);
    }
    // Neither write lost the other's session.
    assert_eq!(aws.count("PutRolePolicy"), 2);
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a, &session_b]));
}

#[tokio::test(start_paused = true)]
async fn a_holder_that_died_blocks_the_role_only_until_its_lock_lapses() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, session_a) = issue(&engine, store.as_ref()).await;
    let (b, session_b) = issue(&engine, store.as_ref()).await;

    // A's revocation dies while it holds the role's lock (mid-write).
    let gate = aws.hold("PutRolePolicy");
    let first = tokio::spawn({
        let engine = engine.clone();
        let a = a.clone();
        async move { revoke(&engine, &a).await }
    });
    gate.reached().await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let died_at = engine.now();

    // B waits for the lock, gives up after a while, and says it is retried.
    let second = tokio::spawn({
        let engine = engine.clone();
        let b = b.clone();
        async move { revoke(&engine, &b).await }
    });
    advance_until_finished(&second, Duration::from_millis(500), Duration::from_secs(60)).await;
    assert!(second.is_finished(), "B gave up waiting");
    let err = second.await.unwrap().unwrap_err();
    assert!(matches!(err, EngineError::Unavailable(_)), "{err:?}");
    let failed = stored_lease(store.as_ref(), &b).await;
    assert_eq!(failed.state, LeaseState::Failed);
    let reason = failed.last_error.unwrap();
    assert!(
        reason.contains(&format!("another revocation of role {ROLE}"))
            && reason.contains("retried automatically"),
        "{reason}"
    );
    assert_eq!(aws.count("PutRolePolicy"), 0);

    // Once the dead holder's lock has lapsed (two minutes), the reaper
    // lands both: B's retry, and A's revocation once its claim lapsed.
    let lapsed = died_at + chrono::Duration::seconds(121);
    tokio::time::advance((lapsed - engine.now()).to_std().unwrap()).await;
    let pass = tokio::spawn({
        let engine = engine.clone();
        async move { engine.reap_pass().await }
    });
    advance_until_finished(&pass, Duration::from_millis(50), Duration::from_secs(10)).await;
    assert!(pass.is_finished());
    for id in [&a, &b] {
        let lease = stored_lease(store.as_ref(), id).await;
        assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
        assert_eq!(lease.last_error.as_deref(), Some(DENY_WRITTEN));
    }
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a, &session_b]));
}

#[tokio::test(start_paused = true)]
async fn when_the_list_does_not_fit_every_earlier_session_is_denied_and_the_lease_says_so() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, _) = issue(&engine, store.as_ref()).await;
    let (b, _) = issue(&engine, store.as_ref()).await;
    let lease = revoke(&engine, &a).await.unwrap();
    assert_eq!(lease.last_error.as_deref(), Some(DENY_WRITTEN));

    // The role's other inline policies leave room for about this list and
    // no more.
    let size = policy_size(&aws.role_policy(ROLE).unwrap());
    aws.set_other_role_policies(ROLE, ROLE_INLINE_POLICY_BUDGET - size - 5);
    let lease = revoke(&engine, &b).await.unwrap();
    assert_eq!(lease.state, LeaseState::Revoked);
    let text = lease.last_error.unwrap();
    assert!(
        text.starts_with(DENY_WRITTEN)
            && text.contains("every dynsec session of the role issued before now is denied"),
        "{text}"
    );
    // The role now denies every dynsec session issued up to now: A's and B's.
    assert!(aws.denied_sessions(ROLE).is_empty());
    let fallback = aws.denied_all_before(ROLE).expect("the fallback deny");
    let now = u64::try_from(engine.now().timestamp()).unwrap();
    assert!(fallback.issued_before > now, "{fallback:?}");
}

#[tokio::test(start_paused = true)]
async fn at_expiry_nothing_is_denied_and_expired_entries_are_pruned() {
    let (engine, store, aws) = fake_engine().await;
    role_secret(&engine, &aws, true).await.unwrap();
    let (a, session_a) = issue(&engine, store.as_ref()).await;
    let (b, _) = issue(&engine, store.as_ref()).await;
    revoke(&engine, &a).await.unwrap();
    assert_eq!(aws.denied_sessions(ROLE), names([&session_a]));

    // Past both sessions' end (and the hour A's entry is bucketed in), the
    // reaper ends B: its session is over, so nothing is denied for it, and
    // A's entry, which can match nothing now, is dropped on the way.
    tokio::time::advance(Duration::from_secs(2 * 3600 + 1)).await;
    engine.reap_pass().await;
    let lease = stored_lease(store.as_ref(), &b).await;
    assert_eq!(lease.state, LeaseState::Revoked, "{lease:?}");
    assert_eq!(lease.last_error, None, "no deny was written for it");
    assert_eq!(aws.role_policy(ROLE), None, "nothing left: policy deleted");
    assert_eq!(aws.count("PutRolePolicy"), 2, "A's deny, then the prune");
}

#[tokio::test(start_paused = true)]
async fn deleting_the_secret_denies_its_live_sessions_first_and_stays_while_one_fails() {
    let (engine, store, aws) = fake_engine().await;
    let producer = role_secret(&engine, &aws, true).await.unwrap();
    let (a, _) = issue(&engine, store.as_ref()).await;
    revoke(&engine, &a).await.unwrap();
    // A's entry expires; then B is issued and still live.
    tokio::time::advance(Duration::from_secs(2 * 3600 + 1)).await;
    let (b, session_b) = issue(&engine, store.as_ref()).await;

    // B's deny fails: the secret stays, so B can still be denied.
    aws.inject("PutRolePolicy", Fault::Fail(AwsErrorKind::Denied));
    let err = engine
        .delete_producer(&admin(), &path(NAME))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Conflict(m) if m.contains(&b)),
        "{err:?}"
    );
    assert!(store.producer_by_id(producer).await.unwrap().is_some());

    engine.delete_producer(&admin(), &path(NAME)).await.unwrap();
    assert!(store.producer_by_id(producer).await.unwrap().is_none());
    let lease = stored_lease(store.as_ref(), &b).await;
    assert_eq!(lease.state, LeaseState::Revoked);
    assert_eq!(lease.last_error.as_deref(), Some(DENY_WRITTEN));
    // B is denied; A's expired entry was pruned by that write.
    assert_eq!(aws.denied_sessions(ROLE), names([&session_b]));
}

#[tokio::test(start_paused = true)]
async fn a_role_outside_the_connections_account_is_refused_with_early_revocation_only() {
    let (engine, store, aws) = fake_engine().await;
    let elsewhere = "arn:aws:iam::222222222222:role/app";
    let err = role_secret_of(&engine, &aws, elsewhere, true)
        .await
        .unwrap_err();
    let EngineError::Invalid(err) = err else {
        panic!("a refusal, not {err:?}");
    };
    assert_eq!(err.field, "early-revocation");
    assert!(
        err.reason.contains("222222222222") && err.reason.contains(ACCOUNT),
        "{}",
        err.reason
    );
    assert!(store.producer_by_name(NAME).await.unwrap().is_none());

    // Without it, the role is AssumeRole's business (cross-account is fine).
    role_secret_of(&engine, &aws, elsewhere, false)
        .await
        .unwrap();
}
