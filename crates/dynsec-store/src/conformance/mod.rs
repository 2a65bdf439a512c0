//! The store contract as named cases, each a function taking a fresh, empty
//! store. Every implementation's tests run all of them through
//! [`conformance_tests!`](crate::conformance_tests), which makes one test per
//! case, so a failure names the broken promise and the backend:
//!
//! ```ignore
//! dynsec_store::conformance_tests!(async {
//!     (Arc::new(SqliteStore::in_memory().await.unwrap()) as Arc<dyn Store>, ())
//! });
//! ```
//!
//! Feature `conformance`; test code only (it panics on any failure). The
//! paged listings' cases are in `pages.rs`, the lease pages', issuance
//! records' and retention's in `leases.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod connections;
mod leases;
mod pages;

pub use connections::*;
pub use leases::*;
pub use pages::*;

use crate::{
    ApiKeyRecord, AssocRecord, ConnectionColumns, InstanceRecord, KeyHandover, ProducerRecord,
    ProtectionKeyRecord, RoleRecord, SealedKind, Store, StoreError, TargetRecord, TokenRecord,
};
use chrono::{DateTime, TimeZone, Utc};
use dynsec_core::access::{Capability, PathRule, RuleType};
use dynsec_core::{AccessMode, Lease, LeaseState, NewLease, PasswordPolicy, ProducerSettings};
use std::collections::HashSet;

/// Makes one `#[tokio::test]` per conformance case. `$fresh` is an async
/// expression yielding a fresh, empty `Arc<dyn Store>` and a guard kept
/// until the case ends (e.g. one that drops the test database).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@cases $fresh;
            api_keys_and_tokens,
            targets_round_trip_and_unique_names,
            producers_with_a_target_or_inline,
            the_due_index_drives_the_reaper,
            live_leases_are_counted_by_state,
            conditional_lease_writes_see_the_stored_state,
            claimed_leases_are_pending_or_revoking,
            concurrent_claims_never_share_a_lease,
            a_claim_holds_until_it_lapses_or_is_finished,
            a_dead_instances_claims_are_taken_over_once,
            instances_report_heartbeats_and_keys,
            a_duty_has_one_holder_at_a_time,
            a_lock_has_one_holder_until_unlocked_or_lapsed,
            auth_failures_are_counted_per_key_and_window,
            roles_rules_and_associations,
            a_live_lease_keeps_its_dynamic_secret,
            protection_keys_round_trip,
            master_key_check_and_handovers,
            sealed_blobs_are_listed_and_swapped_atomically,
            a_protection_key_in_use_cannot_be_deleted,
            scrubbing_keeps_the_data,
            folder_pages_return_each_entry_once_while_items_come_and_go,
            folder_listings_follow_the_items_they_hold,
            folders_stay_exact_under_concurrent_writes,
            name_pages_order_bytewise_and_filter_ignoring_ascii_case,
            connections_in_use_name_each_connection_once,
            a_page_brings_its_associations_in_one_call,
            a_secrets_lease_pages_are_newest_first_live_or_all,
            leases_under_a_prefix_follow_the_secrets_current_names,
            leases_record_what_issuance_created,
            retention_purges_only_revoked_leases_older_than_the_retention,
            a_connection_is_replaced_only_while_it_is_as_expected
        );
    };
    (@cases $fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard): (std::sync::Arc<dyn $crate::Store>, _) = $fresh.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

pub fn connection(key: &str) -> ConnectionColumns {
    ConnectionColumns {
        access_key_id: key.into(),
        region: "us-east-1".into(),
        iam_endpoint: Some("http://127.0.0.1:5000".into()),
        sts_endpoint: None,
        sealed_secret: vec![1, 2, 3, 0, 255],
        admin_json: "{}".into(),
    }
}

pub fn settings() -> ProducerSettings {
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
        permissions_boundary_arn: None,
        user_tags: vec![],
        user_inline_policy: None,
        session_policy_arns: vec![],
        session_policy: None,
        max_ttl_secs: None,
        max_ttl_text: String::new(),
        early_revocation: false,
        secure_access_delay_secs: 0,
        mfa_serial: None,
    }
}

/// [`lease_created`] at [`at`]`(0)`, expiring `expires` seconds after.
pub fn lease(id: &str, producer_id: i64, state: LeaseState, expires: i64) -> Lease {
    lease_created(id, producer_id, state, 0, expires)
}

/// An iam_user lease of `producer_id` in `state`, created and expiring at
/// those seconds after [`at`], in a known account (which every store keeps).
/// Built by core's constructor; the account is the one field it leaves
/// unset (only a session's lease knows it from the start).
pub(crate) fn lease_created(
    id: &str,
    producer_id: i64,
    state: LeaseState,
    created: i64,
    expires: i64,
) -> Lease {
    let new = NewLease {
        id: id.into(),
        producer_id,
        producer_name: "/p".into(),
        mode: AccessMode::IamUser,
        principal: format!("tmp.p.{id}"),
        owner: "node-a.1".into(),
        created_at: at(created),
        expires_at: at(expires),
    };
    let mut lease = Lease::of_state(new, state);
    lease.account_id = Some("123456789012".into());
    lease
}

pub(crate) fn target(name: &str, key: Option<&str>) -> TargetRecord {
    TargetRecord {
        id: 0,
        uid: format!("uid-{name}"),
        name: name.into(),
        description: "desc".into(),
        connection: connection("AKIA1"),
        protection_key: key.map(str::to_string),
        delete_protection: true,
        created_at: at(0),
        modified_at: at(0),
    }
}

pub(crate) fn producer(name: &str, target_id: Option<i64>) -> ProducerRecord {
    ProducerRecord {
        id: 0,
        uid: format!("uid-{name}"),
        name: name.into(),
        target_id,
        inline_connection: target_id.is_none().then(|| connection("AKIA2")),
        settings: settings(),
        delete_protection: false,
        created_at: at(0),
        modified_at: at(0),
    }
}

fn key_record(name: &str) -> ProtectionKeyRecord {
    ProtectionKeyRecord {
        id: 0,
        uid: format!("uid-{name}"),
        name: name.into(),
        alg: "AES256GCM".into(),
        split_level: 2,
        customer_fragment_id: Some("cf-1".into()),
        key_id: "0011223344556677".into(),
        sealed_fragments: vec![2, 9, 9, 9],
        description: "d".into(),
        delete_protection: false,
        created_at: at(0),
        modified_at: at(1),
    }
}

/// A dynamic secret to hang leases on; returns its id.
async fn some_producer(store: &dyn Store) -> i64 {
    store
        .insert_producer(&producer("/prod/leases", None))
        .await
        .unwrap()
}

fn ids(leases: &[Lease]) -> Vec<&str> {
    leases.iter().map(|l| l.id.as_str()).collect()
}

pub async fn api_keys_and_tokens(store: &dyn Store) {
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
    assert!(matches!(
        store.insert_api_key(&key).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.api_key("p-1").await.unwrap(), Some(key.clone()));
    assert_eq!(store.api_key_by_name("/admin").await.unwrap(), Some(key));
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
    assert!(store.token("th").await.unwrap().is_none());
    // Deleting the key ends its tokens: what revokes them on every gateway.
    store
        .insert_token(&TokenRecord {
            token_hash: "t2".into(),
            access_id: "p-1".into(),
            expires_at: at(100),
        })
        .await
        .unwrap();
    store.delete_api_key("p-1").await.unwrap();
    assert!(store.token("t2").await.unwrap().is_none());
    assert_eq!(store.list_api_keys().await.unwrap(), vec![]);
}

pub async fn targets_round_trip_and_unique_names(store: &dyn Store) {
    let mut t = target("/aws/t", None);
    t.id = store.insert_target(&t).await.unwrap();
    assert_eq!(
        store.target_by_name("/aws/t").await.unwrap(),
        Some(t.clone())
    );
    let duplicate = TargetRecord {
        uid: "u2".into(),
        ..t.clone()
    };
    assert!(matches!(
        store.insert_target(&duplicate).await,
        Err(StoreError::Conflict(_))
    ));
    t.name = "/aws/renamed".into();
    t.modified_at = at(5);
    store.update_target(&t).await.unwrap();
    assert_eq!(store.target_by_id(t.id).await.unwrap(), Some(t.clone()));
    assert!(store.target_by_name("/aws/t").await.unwrap().is_none());
    let other = store.insert_target(&target("/aws/a", None)).await.unwrap();
    let names: Vec<String> = store
        .list_targets()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["/aws/a", "/aws/renamed"], "by name");
    store.delete_target(other).await.unwrap();
    assert!(store.target_by_id(other).await.unwrap().is_none());
}

pub async fn producers_with_a_target_or_inline(store: &dyn Store) {
    let target_id = store.insert_target(&target("/aws/t", None)).await.unwrap();
    let mut with_target = producer("/prod/a", Some(target_id));
    with_target.id = store.insert_producer(&with_target).await.unwrap();
    let mut inline = producer("/prod/b", None);
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
        store.producers_using_target(target_id).await.unwrap(),
        vec![with_target.clone()]
    );
    assert!(matches!(
        store.insert_producer(&inline).await,
        Err(StoreError::Conflict(_))
    ));
    with_target.settings.ttl_secs = 120;
    with_target.name = "/prod/c".into();
    store.update_producer(&with_target).await.unwrap();
    assert_eq!(
        store.producer_by_id(with_target.id).await.unwrap(),
        Some(with_target)
    );
}

pub async fn the_due_index_drives_the_reaper(store: &dyn Store) {
    let pid = some_producer(store).await;
    for l in [
        lease("l1", pid, LeaseState::Active, 100),
        lease("l2", pid, LeaseState::Active, 50),
        lease("l3", pid, LeaseState::Pending, 10),
    ] {
        store.insert_lease(&l).await.unwrap();
    }
    assert!(matches!(
        store
            .insert_lease(&lease("l1", pid, LeaseState::Active, 1))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(at(50)),
        "pending intents are not due"
    );
    let due = store.due_leases(at(100), 10).await.unwrap();
    assert_eq!(ids(&due), ["l2", "l1"], "soonest first, inclusive bound");
    assert_eq!(store.due_leases(at(100), 1).await.unwrap().len(), 1);

    let mut failed = store.lease("l2").await.unwrap().unwrap();
    failed.state = LeaseState::Failed;
    failed.attempts = 2;
    failed.last_error = Some("Throttling".into());
    failed.next_attempt_at = Some(at(200));
    store.update_lease(&failed).await.unwrap();
    assert_eq!(store.lease("l2").await.unwrap(), Some(failed.clone()));
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
    assert_eq!(ids(&store.due_leases(at(1000), 10).await.unwrap()), ["l1"]);
}

pub async fn live_leases_are_counted_by_state(store: &dyn Store) {
    let pid = some_producer(store).await;
    assert!(store.live_lease_counts().await.unwrap().is_empty());
    let mut failed = lease("f", pid, LeaseState::Failed, 10);
    failed.next_attempt_at = Some(at(20));
    let mut revoking = lease("r", pid, LeaseState::Revoking, 10);
    revoking.next_attempt_at = Some(at(30));
    for l in [
        lease("a1", pid, LeaseState::Active, 100),
        lease("a2", pid, LeaseState::Active, 50),
        lease("p", pid, LeaseState::Pending, 10),
        lease("gone", pid, LeaseState::Revoked, 10),
        failed,
        revoking,
    ] {
        store.insert_lease(&l).await.unwrap();
    }
    let mut counts = store.live_lease_counts().await.unwrap();
    counts.sort_by_key(|(state, _)| state.as_str());
    assert_eq!(
        counts,
        [
            (LeaseState::Active, 2),
            (LeaseState::Failed, 1),
            (LeaseState::Pending, 1),
            (LeaseState::Revoking, 1),
        ],
        "revoked leases are not live"
    );
}

pub async fn conditional_lease_writes_see_the_stored_state(store: &dyn Store) {
    let pid = some_producer(store).await;
    let mut l = lease("l", pid, LeaseState::Pending, 100);
    store.insert_lease(&l).await.unwrap();
    l.state = LeaseState::Active;
    assert!(store
        .update_lease_if(&l, LeaseState::Pending)
        .await
        .unwrap());
    let mut stale = l.clone();
    stale.access_key_id = Some("AKIA".into());
    assert!(
        !store
            .update_lease_if(&stale, LeaseState::Pending)
            .await
            .unwrap(),
        "no longer pending"
    );
    assert_eq!(store.lease("l").await.unwrap(), Some(l));
}

pub async fn claimed_leases_are_pending_or_revoking(store: &dyn Store) {
    let pid = some_producer(store).await;
    for (id, state) in [
        ("p", LeaseState::Pending),
        ("a", LeaseState::Active),
        ("r", LeaseState::Revoking),
        ("f", LeaseState::Failed),
        ("x", LeaseState::Revoked),
    ] {
        store
            .insert_lease(&lease(id, pid, state, 100))
            .await
            .unwrap();
    }
    let mut claimed = store.claimed_leases().await.unwrap();
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ids(&claimed), ["p", "r"]);
}

/// Four claimants race for 40 due leases, 5 at a time: each lease is claimed
/// exactly once, and a claimed lease is no longer due.
pub async fn concurrent_claims_never_share_a_lease(store: &dyn Store) {
    let pid = some_producer(store).await;
    for i in 0..40 {
        store
            .insert_lease(&lease(&format!("l{i:02}"), pid, LeaseState::Active, i))
            .await
            .unwrap();
    }
    let claims = futures::future::join_all(
        (0..4)
            .map(|n| async move {
                let me = format!("gw-{n}.1");
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_due_leases(at(100), 5, &me, at(1000))
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    assert!(got.len() <= 5, "at most the limit: {}", got.len());
                    for l in got {
                        assert_eq!(l.state, LeaseState::Revoking);
                        assert_eq!(l.owner, me);
                        assert_eq!(l.next_attempt_at, Some(at(1000)));
                        mine.push(l.id);
                    }
                }
            })
            .collect::<Vec<_>>(),
    )
    .await;
    let all: Vec<&String> = claims.iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 40, "every due lease claimed");
    assert_eq!(unique.len(), 40, "none claimed twice");
    assert!(store.due_leases(at(999), 100).await.unwrap().is_empty());
    assert_eq!(
        store.due_leases(at(1000), 100).await.unwrap().len(),
        40,
        "claims lapse"
    );
}

pub async fn a_claim_holds_until_it_lapses_or_is_finished(store: &dyn Store) {
    let pid = some_producer(store).await;
    store
        .insert_lease(&lease("l", pid, LeaseState::Active, 500))
        .await
        .unwrap();
    store
        .insert_lease(&lease("p", pid, LeaseState::Pending, 500))
        .await
        .unwrap();
    assert!(
        store
            .claim_lease("p", "a.1", at(0), at(60))
            .await
            .unwrap()
            .is_none(),
        "an intent is its issuer's"
    );
    let claimed = store.claim_lease("l", "a.1", at(0), at(60)).await.unwrap();
    assert_eq!(claimed.map(|l| l.owner), Some("a.1".into()), "due or not");
    assert!(
        store
            .claim_lease("l", "b.1", at(30), at(90))
            .await
            .unwrap()
            .is_none(),
        "held by a.1 until 60"
    );
    assert!(
        store
            .claim_lease("l", "a.1", at(30), at(90))
            .await
            .unwrap()
            .is_none(),
        "not twice by one gateway either"
    );
    assert!(store.renew_claim("l", "a.1", at(120)).await.unwrap());
    assert!(!store.renew_claim("l", "b.1", at(500)).await.unwrap());
    assert!(store
        .claim_lease("l", "b.1", at(90), at(150))
        .await
        .unwrap()
        .is_none());
    // Lapsed: another revoker may take it, and the first can no longer finish.
    let mut taken = store
        .claim_lease("l", "b.1", at(120), at(180))
        .await
        .unwrap()
        .expect("lapsed claims can be taken");
    let mut late = taken.clone();
    late.owner = "a.1".into();
    late.state = LeaseState::Revoked;
    assert!(!store.update_claimed_lease(&late, "a.1").await.unwrap());
    taken.state = LeaseState::Revoked;
    taken.next_attempt_at = None;
    assert!(store.update_claimed_lease(&taken, "b.1").await.unwrap());
    assert!(
        !store.update_claimed_lease(&taken, "b.1").await.unwrap(),
        "finished once"
    );
    assert_eq!(store.lease("l").await.unwrap(), Some(taken));
    assert!(store
        .claim_lease("l", "c.1", at(999), at(1999))
        .await
        .unwrap()
        .is_none());
}

pub async fn a_dead_instances_claims_are_taken_over_once(store: &dyn Store) {
    let pid = some_producer(store).await;
    let mut intent = lease("intent", pid, LeaseState::Pending, 500);
    intent.owner = "dead.1".into();
    let mut old_intent = lease("old-intent", pid, LeaseState::Pending, 500);
    old_intent.owner = "dead.1".into();
    old_intent.created_at = at(-1000);
    let mut revoking = lease("revoking", pid, LeaseState::Revoking, 500);
    revoking.owner = "dead.1".into();
    revoking.next_attempt_at = Some(at(60));
    let mut other = lease("other", pid, LeaseState::Pending, 500);
    other.owner = "alive.1".into();
    for l in [&intent, &old_intent, &revoking, &other] {
        store.insert_lease(l).await.unwrap();
    }
    // Only stalled intents: those created before the bound, no revocations.
    let stalled = store
        .take_over_claims("dead.1", "me.1", at(10), "stalled", Some(at(-500)))
        .await
        .unwrap();
    assert_eq!(ids(&stalled), ["old-intent"]);
    assert_eq!(stalled[0].state, LeaseState::Revoking);
    assert_eq!(stalled[0].last_error.as_deref(), Some("stalled"));
    // Everything else the dead instance held; a second taker finds nothing.
    let mut taken = store
        .take_over_claims("dead.1", "me.1", at(10), "its gateway stopped", None)
        .await
        .unwrap();
    taken.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ids(&taken), ["intent", "revoking"]);
    for l in &taken {
        assert_eq!((l.state, l.owner.as_str()), (LeaseState::Revoking, "me.1"));
        assert_eq!(l.next_attempt_at, Some(at(10)), "due at once");
    }
    assert_eq!(
        taken[0].last_error.as_deref(),
        Some("its gateway stopped"),
        "the intent says why"
    );
    assert_eq!(taken[1].last_error, None, "a revocation keeps its error");
    assert!(store
        .take_over_claims("dead.1", "you.1", at(11), "x", None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.lease("other").await.unwrap(), Some(other));
    assert_eq!(store.due_leases(at(10), 10).await.unwrap().len(), 3);
}

pub async fn instances_report_heartbeats_and_keys(store: &dyn Store) {
    let beat = |id: &str, secs, keys: &[&str]| InstanceRecord {
        id: id.into(),
        heartbeat_at: at(secs),
        master_keys: keys.iter().map(|k| k.to_string()).collect(),
    };
    store.heartbeat(&beat("a.1", 1, &["k1"])).await.unwrap();
    store
        .heartbeat(&beat("a.1", 2, &["k2", "k1"]))
        .await
        .unwrap();
    store.heartbeat(&beat("b.1", 10, &[])).await.unwrap();
    assert_eq!(store.instance_heartbeat("a.1").await.unwrap(), Some(at(2)));
    assert_eq!(
        store.instances_since(at(2)).await.unwrap(),
        vec![beat("a.1", 2, &["k2", "k1"]), beat("b.1", 10, &[])]
    );
    assert_eq!(
        store.instances_since(at(3)).await.unwrap(),
        vec![beat("b.1", 10, &[])]
    );
    store.remove_instance("a.1").await.unwrap();
    assert_eq!(store.instance_heartbeat("a.1").await.unwrap(), None);
}

pub async fn a_duty_has_one_holder_at_a_time(store: &dyn Store) {
    let tries = futures::future::join_all(
        (0..4)
            .map(|n| async move {
                store
                    .try_hold_duty("sweep", &format!("gw-{n}.1"), at(0), at(60))
                    .await
                    .unwrap()
            })
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(tries.iter().filter(|held| **held).count(), 1, "{tries:?}");
    let holder = format!("gw-{}.1", tries.iter().position(|h| *h).unwrap());
    assert!(
        store
            .try_hold_duty("sweep", &holder, at(30), at(90))
            .await
            .unwrap(),
        "the holder renews"
    );
    assert!(!store
        .try_hold_duty("sweep", "other.1", at(60), at(120))
        .await
        .unwrap());
    assert!(
        store
            .try_hold_duty("rotation", "other.1", at(60), at(120))
            .await
            .unwrap(),
        "duties are independent"
    );
    assert!(
        store
            .try_hold_duty("sweep", "other.1", at(90), at(150))
            .await
            .unwrap(),
        "lapsed"
    );
    store.release_duty("sweep", &holder).await.unwrap();
    assert!(!store
        .try_hold_duty("sweep", &holder, at(91), at(150))
        .await
        .unwrap());
    store.release_duty("sweep", "other.1").await.unwrap();
    assert!(store
        .try_hold_duty("sweep", &holder, at(92), at(150))
        .await
        .unwrap());
}

pub async fn a_lock_has_one_holder_until_unlocked_or_lapsed(store: &dyn Store) {
    let tries = futures::future::join_all(
        (0..4)
            .map(|n| async move {
                store
                    .try_lock("role:a", &format!("gw-{n}.1/{n}"), at(0), at(60))
                    .await
                    .unwrap()
            })
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(tries.iter().filter(|held| **held).count(), 1, "{tries:?}");
    let n = tries.iter().position(|h| *h).unwrap();
    let holder = format!("gw-{n}.1/{n}");
    assert!(
        !store
            .try_lock("role:a", &holder, at(10), at(70))
            .await
            .unwrap(),
        "not re-entrant: a second acquisition by the same token waits too"
    );
    assert!(
        store
            .try_lock("role:b", "other", at(10), at(70))
            .await
            .unwrap(),
        "locks are independent"
    );
    assert!(
        !store.unlock("role:a", "other").await.unwrap(),
        "only the holder unlocks"
    );
    assert!(store.unlock("role:a", &holder).await.unwrap());
    assert!(!store.unlock("role:a", &holder).await.unwrap(), "once");
    assert!(store
        .try_lock("role:a", "next", at(11), at(71))
        .await
        .unwrap());
    // A holder that never unlocks (it crashed) blocks only until the lapse.
    assert!(!store
        .try_lock("role:a", "late", at(70), at(130))
        .await
        .unwrap());
    assert!(store
        .try_lock("role:a", "late", at(71), at(131))
        .await
        .unwrap());
    assert!(
        !store.unlock("role:a", "next").await.unwrap(),
        "the lapsed holder's unlock leaves the new holder's lock alone"
    );
    assert!(!store
        .try_lock("role:a", "third", at(100), at(160))
        .await
        .unwrap());
}

pub async fn auth_failures_are_counted_per_key_and_window(store: &dyn Store) {
    let keys = ["id:p-1".to_string(), "ip:10.0.0.1".to_string()];
    for secs in [0, 10, 20] {
        store.record_auth_failure(&keys, at(secs)).await.unwrap();
    }
    store
        .record_auth_failure(&["ip:10.0.0.1".into()], at(30))
        .await
        .unwrap();
    let id = store.auth_failures_since("id:p-1", at(5)).await.unwrap();
    assert_eq!((id.count, id.oldest), (2, Some(at(10))));
    let ip = store
        .auth_failures_since("ip:10.0.0.1", at(0))
        .await
        .unwrap();
    assert_eq!((ip.count, ip.oldest), (4, Some(at(0))));
    assert_eq!(
        store
            .auth_failures_since("id:p-2", at(0))
            .await
            .unwrap()
            .count,
        0
    );
    assert_eq!(store.purge_auth_failures(at(15)).await.unwrap(), 4);
    assert_eq!(
        store
            .auth_failures_since("id:p-1", at(0))
            .await
            .unwrap()
            .count,
        1
    );
}

pub async fn roles_rules_and_associations(store: &dyn Store) {
    let key = ApiKeyRecord {
        access_id: "p-1".into(),
        name: "/ci".into(),
        key_hash: "h".into(),
        is_admin: false,
        created_at: at(0),
        description: String::new(),
        access_expires: None,
        bound_ips: vec![],
        jwt_ttl_secs: None,
        delete_protection: false,
    };
    store.insert_api_key(&key).await.unwrap();
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
    assert_eq!(
        store.role_by_name("/ops").await.unwrap().map(|r| r.id),
        Some(role_id)
    );
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
    assert!(store.rules_for_access_id("p-1").await.unwrap().is_empty());
    let assoc = AssocRecord {
        id: "ra-1".into(),
        role_id,
        role_name: "/ops".into(),
        access_id: "p-1".into(),
        auth_method_name: "/ci".into(),
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
    assert!(!store.delete_assoc("ra-1").await.unwrap());
    assert!(store.rules_for_access_id("p-1").await.unwrap().is_empty());
    store.delete_role(role_id).await.unwrap();
    assert!(store.role_by_name("/ops").await.unwrap().is_none());
    assert!(store.list_roles().await.unwrap().is_empty());
}

pub async fn a_live_lease_keeps_its_dynamic_secret(store: &dyn Store) {
    let pid = some_producer(store).await;
    let empty = store
        .insert_producer(&producer("/prod/empty", None))
        .await
        .unwrap();
    let mut l = lease("l", pid, LeaseState::Active, 100);
    store.insert_lease(&l).await.unwrap();
    let mut session = lease("s", empty, LeaseState::Active, 100);
    session.mode = AccessMode::AssumedRole;
    store.insert_lease(&session).await.unwrap();
    assert!(!store.delete_producer(pid).await.unwrap());
    assert!(store.producer_by_id(pid).await.unwrap().is_some());
    l.state = LeaseState::Revoked;
    store.update_lease(&l).await.unwrap();
    assert!(store.delete_producer(pid).await.unwrap());
    assert!(
        store.delete_producer(empty).await.unwrap(),
        "sessions end by themselves"
    );
}

pub async fn protection_keys_round_trip(store: &dyn Store) {
    let mut k = key_record("/keys/b");
    k.id = store.insert_protection_key(&k).await.unwrap();
    assert_eq!(
        store.protection_key_by_name("/keys/b").await.unwrap(),
        Some(k.clone())
    );
    assert!(matches!(
        store
            .insert_protection_key(&ProtectionKeyRecord {
                uid: "other".into(),
                ..k.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let mut a = key_record("/keys/a");
    a.customer_fragment_id = None;
    a.id = store.insert_protection_key(&a).await.unwrap();
    let names: Vec<String> = store
        .list_protection_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["/keys/a", "/keys/b"]);
    store.delete_protection_key(a.id).await.unwrap();
    store.delete_protection_key(k.id).await.unwrap();
    assert!(store.list_protection_keys().await.unwrap().is_empty());
}

pub async fn master_key_check_and_handovers(store: &dyn Store) {
    assert_eq!(store.master_key_check().await.unwrap(), None);
    assert!(store.init_master_key_check(&[1, 1]).await.unwrap());
    assert!(
        !store.init_master_key_check(&[9, 9]).await.unwrap(),
        "the first gateway's check stays"
    );
    assert_eq!(store.master_key_check().await.unwrap(), Some(vec![1, 1]));
    store.set_master_key_check(&[2, 2]).await.unwrap();
    assert_eq!(store.master_key_check().await.unwrap(), Some(vec![2, 2]));

    let handover = |id: &str, secs| KeyHandover {
        key_id: id.into(),
        sealed_key: vec![2, 5, 5],
        created_at: at(secs),
    };
    store.put_key_handover(&handover("k2", 1)).await.unwrap();
    store.put_key_handover(&handover("k3", 2)).await.unwrap();
    store.put_key_handover(&handover("k2", 3)).await.unwrap();
    assert_eq!(
        store.key_handovers().await.unwrap(),
        vec![handover("k3", 2), handover("k2", 3)]
    );
    store.delete_key_handover("k2").await.unwrap();
    assert_eq!(
        store.key_handovers().await.unwrap(),
        vec![handover("k3", 2)]
    );
    assert!(
        store
            .sealed_blobs()
            .await
            .unwrap()
            .iter()
            .all(|b| b.sealed != [2, 5, 5]),
        "handovers are never re-wrapped"
    );
}

pub async fn sealed_blobs_are_listed_and_swapped_atomically(store: &dyn Store) {
    store.set_master_key_check(&[2, 2]).await.unwrap();
    let mut k = key_record("/keys/k");
    k.id = store.insert_protection_key(&k).await.unwrap();
    let mut t = target("/aws/t", None);
    t.connection.sealed_secret = vec![2, 1, 1];
    let target_id = store.insert_target(&t).await.unwrap();
    let inline_id = store
        .insert_producer(&producer("/prod/inline", None))
        .await
        .unwrap();
    store
        .insert_producer(&producer("/prod/uses-target", Some(target_id)))
        .await
        .unwrap();
    let blobs = store.sealed_blobs().await.unwrap();
    let kinds: Vec<(SealedKind, &str)> = blobs.iter().map(|b| (b.kind, b.uid.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (SealedKind::Target, "uid-/aws/t"),
            (SealedKind::ProducerInline, "uid-/prod/inline"),
            (SealedKind::ProtectionKey, "uid-/keys/k"),
            (SealedKind::MasterKeyCheck, ""),
        ]
    );
    assert_eq!(blobs[1].row_id, inline_id);
    // Compare-and-swap: replaced only while the row still holds what was read.
    let target_blob = blobs[0].clone();
    assert!(store
        .replace_sealed_blob(&target_blob, &[2, 7, 7])
        .await
        .unwrap());
    assert!(!store
        .replace_sealed_blob(&target_blob, &[2, 8, 8])
        .await
        .unwrap());
    let stored = store.target_by_id(target_id).await.unwrap().unwrap();
    assert_eq!(stored.connection.sealed_secret, vec![2, 7, 7]);
    for (i, new) in [(1, vec![3u8, 1]), (2, vec![3, 2]), (3, vec![3, 3])] {
        assert!(store.replace_sealed_blob(&blobs[i], &new).await.unwrap());
    }
    assert_eq!(store.master_key_check().await.unwrap(), Some(vec![3, 3]));
    let producer = store.producer_by_id(inline_id).await.unwrap().unwrap();
    assert_eq!(
        producer.inline_connection.unwrap().sealed_secret,
        vec![3, 1]
    );
    let key = store
        .protection_key_by_name("/keys/k")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.sealed_fragments, vec![3, 2]);
}

/// The foreign keys (not the engine's check) keep a key in use: with a
/// target or a dynamic secret naming it, deleting it is `InUse`.
pub async fn a_protection_key_in_use_cannot_be_deleted(store: &dyn Store) {
    let mut k = key_record("/keys/k");
    k.id = store.insert_protection_key(&k).await.unwrap();
    assert!(
        store
            .insert_target(&target("/aws/bad", Some("/keys/missing")))
            .await
            .is_err(),
        "an unknown key is refused"
    );
    let target_id = store
        .insert_target(&target("/aws/t", Some("/keys/k")))
        .await
        .unwrap();
    let mut p = producer("/prod/p", None);
    p.settings.protection_key = Some("/keys/k".into());
    p.id = store.insert_producer(&p).await.unwrap();
    assert_eq!(
        store
            .producer_by_id(p.id)
            .await
            .unwrap()
            .unwrap()
            .settings
            .protection_key,
        Some("/keys/k".into())
    );
    let deleted = store.delete_protection_key(k.id).await;
    assert!(matches!(deleted, Err(StoreError::InUse(_))), "{deleted:?}");
    store.delete_target(target_id).await.unwrap();
    assert!(
        matches!(
            store.delete_protection_key(k.id).await,
            Err(StoreError::InUse(_))
        ),
        "the dynamic secret still uses it"
    );
    p.settings.protection_key = None;
    store.update_producer(&p).await.unwrap();
    store.delete_protection_key(k.id).await.unwrap();
    assert!(store.list_protection_keys().await.unwrap().is_empty());
}

pub async fn scrubbing_keeps_the_data(store: &dyn Store) {
    let t = store.insert_target(&target("/aws/t", None)).await.unwrap();
    store.scrub_superseded().await.unwrap();
    assert!(store.target_by_id(t).await.unwrap().is_some());
}
