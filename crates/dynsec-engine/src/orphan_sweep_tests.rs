//! The orphan sweep (`housekeeping.rs::sweep_orphans`) over the in-memory AWS
//! and a real SQLite store, in held tokio time: it removes the IAM users this
//! gateway tagged whose expiry has passed and that no live lease claims, and
//! nothing else; a failing listing or teardown skips only that scope or
//! user, which the next pass picks up; every connection and IAM path in use
//! is swept (a re-registered target is enough after losing the database);
//! a pass tears down at most 100 users.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fake_aws::{FakeAws, FakeUser, Fault};
use crate::telemetry::SweepOutcome;
use crate::test_support::{self, admin, fake_engine, inline_producer, lease, target_input};
use crate::{Engine, ProducerTargetInput};
use chrono::{DateTime, SecondsFormat, Utc};
use dynsec_aws::AwsErrorKind;
use dynsec_core::iam_names::{EXPIRES_AT_TAG, LEASE_ID_TAG, MANAGED_BY_TAG};
use dynsec_core::LeaseState;
use std::collections::BTreeSet;
use std::time::Duration;

const ACCOUNT: &str = "111111111111";
const OTHER_ACCOUNT: &str = "222222222222";
/// `EngineConfig::default()`'s IAM path and `managed_by`.
const MANAGED_PATH: &str = "/dynsec/";
const US: &str = "dynsec";

/// The target `/aws/t` (an admin of `account`) and the iam_user secret
/// `/ds/a` over it; returns the secret's id.
async fn secret_over_target(engine: &Engine, aws: &FakeAws, account: &str) -> i64 {
    test_support::secret_over_target(engine, aws.add_admin(account, "dynsec-admin")).await
}

fn tag_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A user as issuance tags it: ours, for lease `lease_id`, expiring at
/// `expires`, under `path`.
fn tagged(path: &str, lease_id: &str, expires: DateTime<Utc>) -> FakeUser {
    FakeUser {
        path: path.into(),
        tags: vec![
            (MANAGED_BY_TAG.into(), US.into()),
            (LEASE_ID_TAG.into(), lease_id.into()),
            (EXPIRES_AT_TAG.into(), tag_time(expires)),
        ],
        ..FakeUser::default()
    }
}

fn without_tag(mut user: FakeUser, key: &str) -> FakeUser {
    user.tags.retain(|(k, _)| k != key);
    user
}

fn user_names(aws: &FakeAws, account: &str) -> BTreeSet<String> {
    aws.users(account).into_keys().collect()
}

fn names<const N: usize>(users: [&str; N]) -> BTreeSet<String> {
    users.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn the_sweep_removes_expired_users_no_live_lease_claims_and_nothing_else() {
    let (engine, store, aws) = fake_engine().await;
    let producer = secret_over_target(&engine, &aws, ACCOUNT).await;
    let live = test_support::issue_iam_user(&engine).await;
    let live_user = store.lease(&live).await.unwrap().unwrap().principal;
    // A lease being revoked (the reaper owns it), and one revoked and gone
    // from dynsec's view while its user came back (a restored backup).
    let failing = lease("failing1", producer, LeaseState::Failed, engine.now());
    let revoked = lease("revoked1", producer, LeaseState::Revoked, engine.now());
    for lease in [&failing, &revoked] {
        store.insert_lease(lease).await.unwrap();
    }

    // Two hours on, the live lease's expiry tag has passed (the reaper has
    // not run yet): its user must stay all the same.
    tokio::time::advance(Duration::from_secs(2 * 3600)).await;
    let past = engine.now() - chrono::Duration::minutes(1);
    let future = engine.now() + chrono::Duration::hours(1);
    let put = |name: &str, user: FakeUser| aws.put_user(ACCOUNT, name, user);
    // Orphans: no lease knows it; its lease is revoked; its lease is live
    // but claims another user.
    put("tmp.a.unknown", tagged(MANAGED_PATH, "unknown1", past));
    put(&revoked.principal, tagged(MANAGED_PATH, &revoked.id, past));
    put("tmp.a.renamed", tagged(MANAGED_PATH, &live, past));
    // Not to be touched: still before its expiry; another gateway's; without
    // a lease id or an expiry (so not provably ours, or not provably over);
    // the reaper's; outside the managed path.
    put("tmp.a.fresh", tagged(MANAGED_PATH, "unknown2", future));
    let mut theirs = tagged(MANAGED_PATH, "unknown3", past);
    theirs.tags[0].1 = "another-gateway".into();
    put("tmp.a.theirs", theirs);
    put(
        "tmp.a.no-lease-tag",
        without_tag(tagged(MANAGED_PATH, "unknown4", past), LEASE_ID_TAG),
    );
    put(
        "tmp.a.no-expiry-tag",
        without_tag(tagged(MANAGED_PATH, "unknown5", past), EXPIRES_AT_TAG),
    );
    put(&failing.principal, tagged(MANAGED_PATH, &failing.id, past));
    put("tmp.a.elsewhere", tagged("/other/", "unknown6", past));
    let kept = names([
        live_user.as_str(),
        "tmp.a.fresh",
        "tmp.a.theirs",
        "tmp.a.no-lease-tag",
        "tmp.a.no-expiry-tag",
        failing.principal.as_str(),
        "tmp.a.elsewhere",
    ]);

    assert_eq!(engine.sweep_orphans().await.unwrap(), 3);
    assert_eq!(user_names(&aws, ACCOUNT), kept);
    assert_eq!(aws.count("DeleteUser"), 3);
    // The live lease is untouched in the store too.
    assert_eq!(
        store.lease(&live).await.unwrap().unwrap().state,
        LeaseState::Active
    );
    assert_eq!(engine.sweep_orphans().await.unwrap(), 0, "nothing left");
    assert_eq!(user_names(&aws, ACCOUNT), kept);
}

#[tokio::test(start_paused = true)]
async fn a_failing_teardown_skips_that_user_only_and_the_next_pass_retries_it() {
    let (engine, _store, aws) = fake_engine().await;
    secret_over_target(&engine, &aws, ACCOUNT).await;
    let past = engine.now() - chrono::Duration::minutes(1);
    for name in ["tmp.a.o1", "tmp.a.o2", "tmp.a.o3"] {
        aws.put_user(ACCOUNT, name, tagged(MANAGED_PATH, name, past));
    }
    // The first teardown fails; the sweep goes on with the others.
    aws.inject("DeleteUser", Fault::Fail(AwsErrorKind::Retryable));
    assert_eq!(engine.sweep_orphans().await.unwrap(), 2);
    assert_eq!(aws.count("DeleteUser"), 3);
    assert_eq!(user_names(&aws, ACCOUNT).len(), 1, "the failed one is left");
    // Recorded for the operator, not only logged.
    let count = |outcome| engine.metrics().orphan_sweep_count(outcome);
    assert_eq!(count(SweepOutcome::TeardownFailed), 1);
    assert_eq!(count(SweepOutcome::Removed), 2);

    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    assert!(aws.users(ACCOUNT).is_empty());
    assert_eq!(count(SweepOutcome::Removed), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failing_listing_skips_that_connection_only_and_the_next_pass_sweeps_it() {
    let (engine, _store, aws) = fake_engine().await;
    secret_over_target(&engine, &aws, ACCOUNT).await;
    engine
        .create_target(
            &admin(),
            target_input("/aws/u", aws.add_admin(OTHER_ACCOUNT, "dynsec-admin")),
        )
        .await
        .unwrap();
    let past = engine.now() - chrono::Duration::minutes(1);
    for account in [ACCOUNT, OTHER_ACCOUNT] {
        aws.put_user(account, "tmp.a.o1", tagged(MANAGED_PATH, "lost1", past));
    }

    aws.inject("ListUsers", Fault::Fail(AwsErrorKind::Retryable));
    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    let left = aws.users(ACCOUNT).len() + aws.users(OTHER_ACCOUNT).len();
    assert_eq!(left, 1, "the unlisted account's orphan waits");
    let failed_listings = engine
        .metrics()
        .orphan_sweep_count(SweepOutcome::ListingFailed);
    assert_eq!(failed_listings, 1);

    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    assert!(aws.users(ACCOUNT).is_empty() && aws.users(OTHER_ACCOUNT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn after_losing_the_database_re_registering_the_target_is_enough() {
    // A fresh store: no lease, no secret; IAM still holds what the lost
    // database's leases created.
    let (engine, _store, aws) = fake_engine().await;
    let past = engine.now() - chrono::Duration::minutes(1);
    let future = engine.now() + chrono::Duration::hours(1);
    aws.put_user(
        ACCOUNT,
        "tmp.a.expired",
        tagged(MANAGED_PATH, "lost1", past),
    );
    aws.put_user(
        ACCOUNT,
        "tmp.a.running",
        tagged(MANAGED_PATH, "lost2", future),
    );
    assert_eq!(
        engine.sweep_orphans().await.unwrap(),
        0,
        "nothing known yet"
    );

    engine
        .create_target(
            &admin(),
            target_input("/aws/t", aws.add_admin(ACCOUNT, "dynsec-admin")),
        )
        .await
        .unwrap();
    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    // The one still within its TTL stays until then: its credential was
    // handed out and may be in use.
    assert_eq!(user_names(&aws, ACCOUNT), names(["tmp.a.running"]));
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    assert!(aws.users(ACCOUNT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn each_secrets_own_iam_path_is_swept_through_its_connection() {
    let (engine, _store, aws) = fake_engine().await;
    let mut input = inline_producer("/ds/team");
    input.target = ProducerTargetInput::Inline(aws.add_admin(OTHER_ACCOUNT, "dynsec-admin"));
    input.settings.iam_path = "/team/".into();
    engine.create_producer(&admin(), input).await.unwrap();
    let past = engine.now() - chrono::Duration::minutes(1);
    aws.put_user(
        OTHER_ACCOUNT,
        "tmp.team.o1",
        tagged("/team/", "lost1", past),
    );

    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    assert!(aws.users(OTHER_ACCOUNT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pass_tears_down_at_most_a_hundred_users() {
    let (engine, _store, aws) = fake_engine().await;
    secret_over_target(&engine, &aws, ACCOUNT).await;
    let past = engine.now() - chrono::Duration::minutes(1);
    for i in 0..101 {
        let name = format!("tmp.a.o{i:03}");
        aws.put_user(ACCOUNT, &name, tagged(MANAGED_PATH, &name, past));
    }
    assert_eq!(engine.sweep_orphans().await.unwrap(), 100);
    assert_eq!(aws.users(ACCOUNT).len(), 1);
    assert_eq!(engine.sweep_orphans().await.unwrap(), 1);
    assert!(aws.users(ACCOUNT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pass_gives_up_after_ten_failed_teardowns_and_the_next_goes_on() {
    let (engine, _store, aws) = fake_engine().await;
    secret_over_target(&engine, &aws, ACCOUNT).await;
    let past = engine.now() - chrono::Duration::minutes(1);
    for i in 0..30 {
        let name = format!("tmp.a.o{i:03}");
        aws.put_user(ACCOUNT, &name, tagged(MANAGED_PATH, &name, past));
    }
    // AWS refuses every teardown for a while (a deny, throttling).
    aws.inject_times("DeleteUser", Fault::Fail(AwsErrorKind::Denied), 10);
    assert_eq!(engine.sweep_orphans().await.unwrap(), 0);
    assert_eq!(
        aws.count("DeleteUser"),
        10,
        "ten failures end the pass; the other twenty are not tried"
    );
    let failed = engine
        .metrics()
        .orphan_sweep_count(SweepOutcome::TeardownFailed);
    assert_eq!(failed, 10);

    assert_eq!(engine.sweep_orphans().await.unwrap(), 30);
    assert!(aws.users(ACCOUNT).is_empty());
}
