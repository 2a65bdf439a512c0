//! Conformance cases of lease pages, what a lease records about issuance,
//! and the retention of revoked leases.

use super::{at, lease, lease_created, producer};
use crate::paging::listing::{LeasesOfSecret, LeasesUnderPrefix};
use crate::paging::PageToken;
use crate::{LeaseScope, Store};
use dynsec_core::{CreatedIamUser, Lease, LeaseState};
use std::collections::BTreeSet;

/// A lease of `producer_id` created at `created` (seconds after [`at`]).
/// A revoked one was revoked a minute after its creation: `Lease::of_state`
/// knows no revocation time (the engine sets it when AWS confirms).
fn lease_at(id: &str, producer_id: i64, state: LeaseState, created: i64) -> Lease {
    let mut lease = lease_created(id, producer_id, state, created, created + 3600);
    if state == LeaseState::Revoked {
        lease.revoked_at = Some(at(created + 60));
    }
    lease
}

async fn walk_secret(
    store: &dyn Store,
    producer_id: i64,
    scope: LeaseScope,
    limit: u32,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after: Option<PageToken<LeasesOfSecret>> = None;
    loop {
        let page = store
            .leases_of_secret(producer_id, scope, after.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        seen.extend(page.items.iter().map(|l| l.id.clone()));
        after = page
            .next
            .map(|t| PageToken::parse("pagination-token", &t.encode()).unwrap());
        if after.is_none() {
            return seen;
        }
    }
}

/// A dynamic secret's leases page newest first (creation time, then id for
/// leases created in the same millisecond): the live ones, or all. Leases
/// of other secrets never appear, and a lease existing throughout is
/// returned once while others are issued and purged between pages.
pub async fn a_secrets_lease_pages_are_newest_first_live_or_all(store: &dyn Store) {
    let pid = store
        .insert_producer(&producer("/p/busy", None))
        .await
        .unwrap();
    let other = store
        .insert_producer(&producer("/p/other", None))
        .await
        .unwrap();
    let states = [
        LeaseState::Active,
        LeaseState::Revoked,
        LeaseState::Failed,
        LeaseState::Pending,
        LeaseState::Revoking,
    ];
    let mut all = Vec::new();
    for i in 0..23i64 {
        // Pairs share a creation time: the id decides.
        let l = lease_at(&format!("l{i:02}"), pid, states[i as usize % 5], i / 2);
        store.insert_lease(&l).await.unwrap();
        all.push(l);
    }
    store
        .insert_lease(&lease_at("theirs", other, LeaseState::Active, 5))
        .await
        .unwrap();
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let newest_first: Vec<String> = all.iter().map(|l| l.id.clone()).collect();
    let live: Vec<String> = all
        .iter()
        .filter(|l| l.state.is_live())
        .map(|l| l.id.clone())
        .collect();
    assert_eq!(
        walk_secret(store, pid, LeaseScope::All, 4).await,
        newest_first
    );
    assert_eq!(walk_secret(store, pid, LeaseScope::Live, 4).await, live);
    assert_eq!(walk_secret(store, pid, LeaseScope::Live, 1000).await, live);

    // Issued and purged between pages.
    let mut seen = Vec::new();
    let mut after: Option<PageToken<LeasesOfSecret>> = None;
    let mut round = 0;
    loop {
        let page = store
            .leases_of_secret(pid, LeaseScope::All, after.as_ref(), 5)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|l| l.id.clone()));
        after = page.next;
        if after.is_none() {
            break;
        }
        round += 1;
        if round == 1 {
            // Newer than the cursor: belongs before it, not listed.
            store
                .insert_lease(&lease_at("fresh", pid, LeaseState::Active, 100))
                .await
                .unwrap();
            // Older revoked leases purged before being reached.
            assert_eq!(store.purge_revoked_leases(at(1000), 1000).await.unwrap(), 5);
        }
    }
    let purged: Vec<&str> = all
        .iter()
        .filter(|l| l.state == LeaseState::Revoked && !seen[..5].contains(&l.id))
        .map(|l| l.id.as_str())
        .collect();
    let expected: Vec<&String> = newest_first
        .iter()
        .filter(|id| !purged.contains(&id.as_str()))
        .collect();
    let seen_refs: Vec<&String> = seen.iter().collect();
    assert_eq!(seen_refs, expected);
}

async fn walk_prefix(store: &dyn Store, prefix: &str, scope: LeaseScope) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut after: Option<PageToken<LeasesUnderPrefix>> = None;
    loop {
        let page = store
            .leases_under_prefix(prefix, scope, after.as_ref(), 2)
            .await
            .unwrap();
        seen.extend(
            page.items
                .iter()
                .map(|l| (l.producer_name.clone(), l.id.clone())),
        );
        after = page
            .next
            .map(|t| PageToken::parse("pagination-token", &t.encode()).unwrap());
        if after.is_none() {
            return seen;
        }
    }
}

/// The leases of every dynamic secret whose current name starts with a
/// prefix, grouped by secret (in creation order of the secrets), newest
/// first within each, across page boundaries; each carries its secret's
/// current name. A secret renamed into the prefix ahead of the cursor is
/// listed, one renamed out is no longer.
pub async fn leases_under_a_prefix_follow_the_secrets_current_names(store: &dyn Store) {
    let mut ids = Vec::new();
    for name in ["/prod/a", "/production/x", "/prod/b/c", "/dev/y", "/prod/d"] {
        let p = store.insert_producer(&producer(name, None)).await.unwrap();
        ids.push((name, p));
        for (n, state) in [
            (1, LeaseState::Active),
            (2, LeaseState::Revoked),
            (3, LeaseState::Failed),
        ] {
            store
                .insert_lease(&lease_at(&format!("{p}-{n}"), p, state, n))
                .await
                .unwrap();
        }
    }
    let listed = |id: i64, ns: &[i64], name: &str| -> Vec<(String, String)> {
        ns.iter()
            .map(|n| (name.to_string(), format!("{id}-{n}")))
            .collect()
    };
    let (a, x, bc, y, d) = (ids[0].1, ids[1].1, ids[2].1, ids[3].1, ids[4].1);
    let mut expected = listed(a, &[3, 1], "/prod/a");
    expected.extend(listed(bc, &[3, 1], "/prod/b/c"));
    expected.extend(listed(d, &[3, 1], "/prod/d"));
    assert_eq!(
        walk_prefix(store, "/prod/", LeaseScope::Live).await,
        expected
    );
    let mut everything = listed(a, &[3, 2, 1], "/prod/a");
    everything.extend(listed(x, &[3, 2, 1], "/production/x"));
    assert_eq!(
        walk_prefix(store, "/prod", LeaseScope::All).await[..6],
        everything[..],
        "a bare string prefix takes /production too"
    );
    assert_eq!(walk_prefix(store, "", LeaseScope::Live).await.len(), 10);
    assert_eq!(
        walk_prefix(store, "/prod/b/c", LeaseScope::Live).await,
        listed(bc, &[3, 1], "/prod/b/c")
    );

    // Renamed between pages: /dev/y into the prefix (after the cursor, so
    // listed under its new name), /prod/d out of it.
    let mut seen = Vec::new();
    let mut after: Option<PageToken<LeasesUnderPrefix>> = None;
    let mut round = 0;
    loop {
        let page = store
            .leases_under_prefix("/prod/", LeaseScope::Live, after.as_ref(), 3)
            .await
            .unwrap();
        seen.extend(
            page.items
                .iter()
                .map(|l| (l.producer_name.clone(), l.id.clone())),
        );
        after = page.next;
        if after.is_none() {
            break;
        }
        round += 1;
        if round == 1 {
            for (id, new_name) in [(y, "/prod/y"), (d, "/elsewhere/d")] {
                let mut p = store.producer_by_id(id).await.unwrap().unwrap();
                p.name = new_name.into();
                store.update_producer(&p).await.unwrap();
            }
        }
    }
    let mut expected = listed(a, &[3, 1], "/prod/a");
    expected.extend(listed(bc, &[3, 1], "/prod/b/c"));
    expected.extend(listed(y, &[3, 1], "/prod/y"));
    assert_eq!(seen, expected);
}

/// A lease carries what issuance created (and when it was revoked) through
/// every write, and a lease recorded without it reads back without it (its
/// revocation then discovers what the user has).
pub async fn leases_record_what_issuance_created(store: &dyn Store) {
    let pid = store
        .insert_producer(&producer("/p/created", None))
        .await
        .unwrap();
    let mut l = lease("l", pid, LeaseState::Pending, 100);
    store.insert_lease(&l).await.unwrap();
    assert_eq!(store.lease("l").await.unwrap().unwrap().created, None);
    let created = CreatedIamUser {
        user_name: "tmp.created.l".into(),
        access_key_id: Some("AKIAEXAMPLE".into()),
        login_profile: true,
        attached_policies: vec![
            "arn:aws:iam::1:policy/a".into(),
            "arn:aws:iam::1:policy/b".into(),
        ],
        groups: vec!["devs".into()],
        inline_policy: Some("dynsec-inline".into()),
        permissions_boundary: Some("arn:aws:iam::1:policy/boundary".into()),
    };
    l.state = LeaseState::Active;
    l.created = Some(created.clone());
    assert!(store
        .update_lease_if(&l, LeaseState::Pending)
        .await
        .unwrap());
    assert_eq!(store.lease("l").await.unwrap(), Some(l.clone()));
    // A claim, its take-over and its outcome keep it.
    let claimed = store
        .claim_lease("l", "a.1", at(0), at(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.created.as_ref(), Some(&created));
    let taken = store
        .take_over_claims("a.1", "b.1", at(1), "gone", None)
        .await
        .unwrap();
    assert_eq!(taken[0].created.as_ref(), Some(&created));
    let mut revoked = taken[0].clone();
    revoked.state = LeaseState::Revoked;
    revoked.next_attempt_at = None;
    revoked.revoked_at = Some(at(30));
    assert!(store.update_claimed_lease(&revoked, "b.1").await.unwrap());
    assert_eq!(store.lease("l").await.unwrap(), Some(revoked));

    let mut minimal = lease("m", pid, LeaseState::Active, 100);
    minimal.created = Some(CreatedIamUser {
        user_name: "tmp.created.m".into(),
        ..CreatedIamUser::default()
    });
    store.insert_lease(&minimal).await.unwrap();
    assert_eq!(store.lease("m").await.unwrap(), Some(minimal));
}

/// Only revoked leases retained since before the bound are purged: from
/// their revocation time, or their expiry when it was not recorded; live
/// leases never, however old. Purges are bounded and say how many went.
pub async fn retention_purges_only_revoked_leases_older_than_the_retention(store: &dyn Store) {
    let pid = store
        .insert_producer(&producer("/p/retained", None))
        .await
        .unwrap();
    let old = |id: &str, state| {
        let mut l = lease(id, pid, state, -10_000);
        l.created_at = at(-20_000);
        l
    };
    let mut purgeable = BTreeSet::new();
    let mut kept = BTreeSet::new();
    for state in [
        LeaseState::Active,
        LeaseState::Failed,
        LeaseState::Pending,
        LeaseState::Revoking,
    ] {
        let l = old(&format!("live-{state}"), state);
        store.insert_lease(&l).await.unwrap();
        kept.insert(l.id);
    }
    for i in 0..5 {
        let mut l = old(&format!("revoked-long-ago-{i}"), LeaseState::Revoked);
        l.revoked_at = Some(at(-9_000 + i));
        store.insert_lease(&l).await.unwrap();
        purgeable.insert(l.id);
    }
    // Expired long ago but revoked recently: kept from its revocation.
    let mut late = old("revoked-late", LeaseState::Revoked);
    late.revoked_at = Some(at(-10));
    store.insert_lease(&late).await.unwrap();
    kept.insert(late.id);
    // Revoked before revocation times were kept: from its expiry.
    let unknown_old = old("revoked-unknown-old", LeaseState::Revoked);
    store.insert_lease(&unknown_old).await.unwrap();
    purgeable.insert(unknown_old.id);
    let mut unknown_recent = lease("revoked-unknown-recent", pid, LeaseState::Revoked, -10);
    unknown_recent.created_at = at(-20);
    store.insert_lease(&unknown_recent).await.unwrap();
    kept.insert(unknown_recent.id);
    // Revoked through an update, like the engine does.
    let mut updated = old("revoked-by-update", LeaseState::Active);
    store.insert_lease(&updated).await.unwrap();
    updated.state = LeaseState::Revoked;
    updated.revoked_at = Some(at(-5_000));
    store.update_lease(&updated).await.unwrap();
    purgeable.insert(updated.id);

    let retention_bound = at(-1_000);
    let mut purged = 0;
    loop {
        let n = store
            .purge_revoked_leases(retention_bound, 3)
            .await
            .unwrap();
        assert!(n <= 3, "bounded: {n}");
        purged += n;
        if n < 3 {
            break;
        }
    }
    assert_eq!(purged, purgeable.len() as u64);
    for id in &purgeable {
        assert!(store.lease(id).await.unwrap().is_none(), "{id} purged");
    }
    for id in &kept {
        assert!(store.lease(id).await.unwrap().is_some(), "{id} kept");
    }
    assert_eq!(
        store
            .purge_revoked_leases(retention_bound, 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.purge_revoked_leases(at(0), 100).await.unwrap(),
        2,
        "later, the recently revoked go too"
    );
}
