//! Conformance cases of the paged listings: folders, names, the connections
//! in use, and the batch lookups that go with a page. Every walk passes its
//! tokens through their wire form, as a client would.

use super::{at, connection, key_record, producer, target};
use crate::paging::listing::{ItemsInFolder, Targets};
use crate::paging::{Listing, Page, PageToken};
use crate::{
    ApiKeyRecord, AssocRecord, ConnectionOwner, FolderEntry, ItemKinds, RoleRecord, Store,
};
use dynsec_core::access::{Capability, PathRule, RuleType};
use dynsec_core::path::{placement, Placement};
use std::collections::{BTreeMap, BTreeSet};

const ALL_KINDS: ItemKinds = ItemKinds {
    dynamic_secrets: true,
    protection_keys: true,
};

/// An entry as compared here: its name and kind (0 folder, 1 dynamic
/// secret, 2 protection key — the folder order among equal names).
type Entry = (String, u8);

fn entry(e: &FolderEntry) -> Entry {
    let rank = match e {
        FolderEntry::Folder(_) => 0,
        FolderEntry::DynamicSecret(_) => 1,
        FolderEntry::ProtectionKey(_) => 2,
    };
    (e.name().to_string(), rank)
}

/// The token a client would send back for `page`.
fn resend<T, L: Listing>(page: &Page<T, L>) -> Option<PageToken<L>> {
    page.next
        .as_ref()
        .map(|t| PageToken::parse("pagination-token", &t.encode()).unwrap())
}

/// What a folder listing must show, computed from every item's name: the
/// folder's own items of the listed kinds and the sub-folders holding one.
fn expected_folder(
    secrets: &BTreeSet<String>,
    keys: &BTreeSet<String>,
    folder: &str,
    kinds: ItemKinds,
) -> Vec<Entry> {
    let mut entries = BTreeSet::new();
    let wanted = [
        (secrets, kinds.dynamic_secrets, 1),
        (keys, kinds.protection_keys, 2),
    ];
    for (names, listed, rank) in wanted {
        for name in names.iter().filter(|_| listed) {
            match placement(folder, name) {
                Placement::Direct => entries.insert((name.clone(), rank)),
                Placement::InSubfolder(sub) => entries.insert((sub, 0)),
                Placement::Outside => false,
            };
        }
    }
    entries.into_iter().collect()
}

/// Every page of `folder`, `limit` at a time, checking each page's size.
async fn walk_folder(
    store: &dyn Store,
    folder: &str,
    kinds: ItemKinds,
    filter: &str,
) -> Vec<Entry> {
    let mut seen = Vec::new();
    let mut after: Option<PageToken<ItemsInFolder>> = None;
    loop {
        let page = store
            .items_in_folder(folder, kinds, filter, after.as_ref(), 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(entry));
        after = resend(&page);
        if after.is_none() {
            return seen;
        }
        assert_eq!(page.items.len(), 3, "only the last page is short");
    }
}

/// A folder's entries come page by page in folder order (name, then folder
/// before secret before key), and every entry that exists from the first
/// page to the last is returned exactly once — while items are created,
/// renamed and deleted between pages, before and after the cursor.
pub async fn folder_pages_return_each_entry_once_while_items_come_and_go(store: &dyn Store) {
    let mut secrets = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut ids = BTreeMap::new();
    for name in [
        "/f/a",
        "/f/c",
        "/f/e",
        "/f/g",
        "/f/i",
        "/f/k",
        "/f/m",
        "/f/o",
        "/f/q",
        "/f/s",
        "/f/sub",
        "/f/sub/x",
        "/f/u/deep/y",
        "/f/w",
        "/fa",
        "/f-x",
        "/g/a",
        "/f/\u{e9}",
    ] {
        ids.insert(
            name,
            store.insert_producer(&producer(name, None)).await.unwrap(),
        );
        secrets.insert(name.to_string());
    }
    for name in ["/f/sub", "/f/b", "/f/keys/k", "/f/n"] {
        ids.insert(
            name,
            store
                .insert_protection_key(&key_record(name))
                .await
                .unwrap(),
        );
        keys.insert(name.to_string());
    }
    let before = expected_folder(&secrets, &keys, "/f", ALL_KINDS);

    let mut seen: Vec<Entry> = Vec::new();
    let mut after: Option<PageToken<ItemsInFolder>> = None;
    let mut round = 0;
    let mut deleted_unseen = Vec::new();
    loop {
        let page = store
            .items_in_folder("/f", ALL_KINDS, "", after.as_ref(), 4)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(entry));
        after = resend(&page);
        if after.is_none() {
            break;
        }
        round += 1;
        match round {
            1 => {
                // Before the cursor (never seen) and after it (seen later).
                store
                    .insert_producer(&producer("/f/b0", None))
                    .await
                    .unwrap();
                store
                    .insert_producer(&producer("/f/t", None))
                    .await
                    .unwrap();
                // Deleted before being reached: must not appear.
                assert!(store.delete_producer(ids["/f/q"]).await.unwrap());
                deleted_unseen.push(("/f/q".to_string(), 1));
                // Already seen: its absence changes nothing.
                assert!(store.delete_producer(ids["/f/a"]).await.unwrap());
            }
            2 => {
                // The only item in /f/u goes, so does the folder.
                assert!(store.delete_producer(ids["/f/u/deep/y"]).await.unwrap());
                deleted_unseen.push(("/f/u".to_string(), 0));
                let mut moved = producer("/f/w", None);
                moved.id = ids["/f/w"];
                moved.name = "/elsewhere/w".into();
                store.update_producer(&moved).await.unwrap();
                deleted_unseen.push(("/f/w".to_string(), 1));
                store
                    .insert_protection_key(&key_record("/f/zz"))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    let unique: BTreeSet<&Entry> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in folder order");
    for e in &before {
        let gone = deleted_unseen.contains(e);
        assert_eq!(seen.contains(e), !gone, "{e:?} (in seen: {seen:?})");
    }
    assert!(
        seen.contains(&("/f/t".into(), 1)),
        "created after the cursor"
    );
    assert!(seen.contains(&("/f/zz".into(), 2)));
    assert!(
        !seen.contains(&("/f/b0".into(), 1)),
        "created behind the cursor"
    );
    assert!(
        seen.iter().all(|(name, _)| name.starts_with("/f/")),
        "nothing from elsewhere: {seen:?}"
    );
    assert!(seen.contains(&("/f/sub".into(), 0)) && seen.contains(&("/f/sub".into(), 2)));
}

/// A folder lists its own items and its immediate sub-folders, exactly what
/// the item names imply, also after renames and deletions; `type` (kinds)
/// hides folders holding nothing listed, and the filter matches a name's
/// substring ignoring ASCII case (sub-folders are not filtered). A listed
/// dynamic secret carries its target's summary.
pub async fn folder_listings_follow_the_items_they_hold(store: &dyn Store) {
    let target_id = store.insert_target(&target("/aws/t", None)).await.unwrap();
    let mut secrets = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut ids = BTreeMap::new();
    for name in [
        "/top",
        "/prod/aws/Dev-Creds",
        "/prod/aws/ops",
        "/prod/db",
        "/prod/x/y/z",
    ] {
        let mut p = producer(name, None);
        if name == "/prod/aws/ops" {
            p = producer(name, Some(target_id));
        }
        ids.insert(name, store.insert_producer(&p).await.unwrap());
        secrets.insert(name.to_string());
    }
    for name in ["/prod/keys/k1", "/prod/keys/k2", "/k"] {
        ids.insert(
            name,
            store
                .insert_protection_key(&key_record(name))
                .await
                .unwrap(),
        );
        keys.insert(name.to_string());
    }
    let secrets_only = ItemKinds {
        dynamic_secrets: true,
        protection_keys: false,
    };
    let keys_only = ItemKinds {
        dynamic_secrets: false,
        protection_keys: true,
    };
    let check = |secrets: &BTreeSet<String>, keys: &BTreeSet<String>| {
        let mut cases = Vec::new();
        for folder in ["/", "/prod", "/prod/aws", "/prod/x", "/prod/keys", "/none"] {
            for kinds in [ALL_KINDS, secrets_only, keys_only] {
                cases.push((folder, kinds, expected_folder(secrets, keys, folder, kinds)));
            }
        }
        cases
    };
    for (folder, kinds, expected) in check(&secrets, &keys) {
        assert_eq!(
            walk_folder(store, folder, kinds, "").await,
            expected,
            "{folder} {kinds:?}"
        );
    }
    let filtered = walk_folder(store, "/prod/aws", ALL_KINDS, "dev-CREDS").await;
    assert_eq!(filtered, [("/prod/aws/Dev-Creds".to_string(), 1)]);
    let with_folders = walk_folder(store, "/prod", ALL_KINDS, "zzz").await;
    assert!(
        with_folders.iter().all(|(_, rank)| *rank == 0) && with_folders.len() == 3,
        "the filter leaves sub-folders: {with_folders:?}"
    );
    let listed = store
        .items_in_folder("/prod/aws", secrets_only, "", None, 10)
        .await
        .unwrap();
    let summaries: Vec<Option<(&str, &str)>> = listed
        .items
        .iter()
        .map(|e| match e {
            FolderEntry::DynamicSecret(l) => l
                .target
                .as_ref()
                .map(|t| (t.name.as_str(), t.access_key_id.as_str())),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(summaries, [None, Some(("/aws/t", "AKIA1"))]);

    // Moving and deleting items moves and removes folders.
    let mut moved = producer("/prod/x/y/z", None);
    moved.id = ids["/prod/x/y/z"];
    moved.name = "/new/place/z".into();
    store.update_producer(&moved).await.unwrap();
    secrets.remove("/prod/x/y/z");
    secrets.insert("/new/place/z".into());
    assert!(store.delete_producer(ids["/prod/db"]).await.unwrap());
    secrets.remove("/prod/db");
    store
        .delete_protection_key(ids["/prod/keys/k1"])
        .await
        .unwrap();
    store
        .delete_protection_key(ids["/prod/keys/k2"])
        .await
        .unwrap();
    keys.remove("/prod/keys/k1");
    keys.remove("/prod/keys/k2");
    for (folder, kinds, expected) in check(&secrets, &keys) {
        assert_eq!(
            walk_folder(store, folder, kinds, "").await,
            expected,
            "{folder} {kinds:?}"
        );
    }
    let root = walk_folder(store, "/", ALL_KINDS, "").await;
    assert!(root.contains(&("/new".into(), 0)) && !root.iter().any(|e| e.0 == "/prod/x"));
    assert_eq!(
        walk_folder(store, "/prod", ALL_KINDS, "").await,
        [("/prod/aws".to_string(), 0)],
        "emptied folders are gone"
    );
}

/// Many writers creating, renaming and deleting items in shared folders at
/// once leave every folder's listing exactly what the remaining names imply
/// (PostgreSQL: counts updated under row locks in one order, no deadlock).
pub async fn folders_stay_exact_under_concurrent_writes(store: &dyn Store) {
    let writers = (0..4).map(|w| async move {
        let mut names = BTreeSet::new();
        for i in 0..8 {
            let name = format!("/shared/w{w}/i{i}");
            let mut p = producer(&name, None);
            p.id = store.insert_producer(&p).await.unwrap();
            match i % 4 {
                0 => {
                    assert!(store.delete_producer(p.id).await.unwrap());
                }
                1 => {
                    p.name = format!("/shared/moved/w{w}i{i}");
                    store.update_producer(&p).await.unwrap();
                    names.insert(p.name);
                }
                2 => {
                    p.name = format!("/other/w{w}/i{i}");
                    store.update_producer(&p).await.unwrap();
                    names.insert(p.name);
                }
                _ => {
                    names.insert(name);
                }
            }
        }
        names
    });
    let secrets: BTreeSet<String> = futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let keys = BTreeSet::new();
    for folder in [
        "/",
        "/shared",
        "/shared/moved",
        "/shared/w0",
        "/other",
        "/other/w3",
    ] {
        assert_eq!(
            walk_folder(store, folder, ALL_KINDS, "").await,
            expected_folder(&secrets, &keys, folder, ALL_KINDS),
            "{folder}"
        );
    }
}

/// Name listings (targets, dynamic secrets, auth methods, roles) page in
/// byte order of the names, on every store whatever its collation, and the
/// filter matches a substring ignoring ASCII case only. Each name existing
/// throughout is returned once while others are added and deleted.
pub async fn name_pages_order_bytewise_and_filter_ignoring_ascii_case(store: &dyn Store) {
    let names = [
        "/a", "/A", "/B/x", "/a-b", "/a/b", "/aB", "/ab", "/\u{e9}", "/\u{c9}", "/a b",
    ];
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort();
    for (i, name) in names.iter().enumerate() {
        store.insert_target(&target(name, None)).await.unwrap();
        store.insert_producer(&producer(name, None)).await.unwrap();
        store
            .insert_api_key(&api_key(&format!("p-{i}"), name))
            .await
            .unwrap();
        store.insert_role(&role(name)).await.unwrap();
    }
    macro_rules! walk {
        ($method:ident, $filter:expr, $name:expr) => {{
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = store.$method($filter, after.as_ref(), 3).await.unwrap();
                seen.extend(page.items.iter().map($name));
                after = resend(&page);
                if after.is_none() {
                    break seen;
                }
            }
        }};
    }
    let targets: Vec<String> = walk!(targets_page, "", |t: &crate::TargetRecord| t.name.clone());
    let secrets: Vec<String> = walk!(dynamic_secrets_page, "", |p: &crate::ProducerListing| p
        .producer
        .name
        .clone());
    let methods: Vec<String> = walk!(auth_methods_page, "", |k: &ApiKeyRecord| k.name.clone());
    let roles: Vec<String> = walk!(roles_page, "", |r: &RoleRecord| r.name.clone());
    for listed in [&targets, &secrets, &methods, &roles] {
        assert_eq!(listed, &sorted, "byte order");
    }
    let ab = ["/aB", "/ab"];
    assert_eq!(
        walk!(targets_page, "AB", |t: &crate::TargetRecord| t.name.clone()),
        ab
    );
    assert_eq!(
        walk!(dynamic_secrets_page, "aB", |p: &crate::ProducerListing| p
            .producer
            .name
            .clone()),
        ab
    );
    assert_eq!(
        walk!(auth_methods_page, "ab", |k: &ApiKeyRecord| k.name.clone()),
        ab
    );
    assert_eq!(walk!(roles_page, "Ab", |r: &RoleRecord| r.name.clone()), ab);
    assert_eq!(
        walk!(targets_page, "\u{e9}", |t: &crate::TargetRecord| t
            .name
            .clone()),
        ["/\u{e9}"],
        "only ASCII letters fold"
    );

    // Added and deleted between pages: the rest come exactly once.
    let mut seen = Vec::new();
    let mut after: Option<PageToken<Targets>> = None;
    let mut round = 0;
    loop {
        let page = store.targets_page("", after.as_ref(), 3).await.unwrap();
        seen.extend(page.items.iter().map(|t| t.name.clone()));
        after = resend(&page);
        if after.is_none() {
            break;
        }
        round += 1;
        if round == 1 {
            let doomed = store.target_by_name("/a-b").await.unwrap().unwrap();
            store.delete_target(doomed.id).await.unwrap();
            store.insert_target(&target("/0", None)).await.unwrap();
            store.insert_target(&target("/zz", None)).await.unwrap();
        }
    }
    let mut expected: Vec<&str> = sorted.iter().copied().filter(|n| *n != "/a-b").collect();
    expected.push("/zz");
    expected.sort();
    assert_eq!(seen, expected);
}

fn api_key(access_id: &str, name: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        access_id: access_id.into(),
        name: name.into(),
        key_hash: "h".into(),
        is_admin: false,
        created_at: at(0),
        description: String::new(),
        access_expires: None,
        bound_ips: vec![],
        jwt_ttl_secs: None,
        delete_protection: false,
    }
}

fn role(name: &str) -> RoleRecord {
    RoleRecord {
        id: 0,
        name: name.into(),
        description: String::new(),
        created_at: at(0),
        modified_at: at(0),
    }
}

/// The orphan sweep's connections: each target once (with the IAM paths its
/// dynamic secrets use, none for an unused one), then each distinct inline
/// connection once, through its newest dynamic secret, with the paths of all
/// that share it — paged, each exactly once.
pub async fn connections_in_use_name_each_connection_once(store: &dyn Store) {
    let used = store
        .insert_target(&target("/aws/used", None))
        .await
        .unwrap();
    let unused = store
        .insert_target(&target("/aws/unused", None))
        .await
        .unwrap();
    let with_path = |name: &str, target_id: Option<i64>, path: &str| {
        let mut p = producer(name, target_id);
        p.settings.iam_path = path.into();
        p
    };
    store
        .insert_producer(&with_path("/t1", Some(used), ""))
        .await
        .unwrap();
    store
        .insert_producer(&with_path("/t2", Some(used), "/x/"))
        .await
        .unwrap();
    store
        .insert_producer(&with_path("/t3", Some(used), "/x/"))
        .await
        .unwrap();
    // Three inline secrets on one connection, one on another region.
    store
        .insert_producer(&with_path("/i1", None, "/a/"))
        .await
        .unwrap();
    store
        .insert_producer(&with_path("/i2", None, ""))
        .await
        .unwrap();
    let newest = store
        .insert_producer(&with_path("/i3", None, "/a/"))
        .await
        .unwrap();
    let mut elsewhere = with_path("/i4", None, "");
    elsewhere.inline_connection.as_mut().unwrap().region = "eu-west-1".into();
    elsewhere.id = store.insert_producer(&elsewhere).await.unwrap();

    let walk = || async {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.connections_in_use(after.as_ref(), 2).await.unwrap();
            seen.extend(page.items.clone());
            after = resend(&page);
            if after.is_none() {
                return seen;
            }
        }
    };
    let seen = walk().await;
    let summary: Vec<(ConnectionOwner, String, Vec<String>)> = seen
        .iter()
        .map(|c| {
            (
                c.owner.clone(),
                c.connection.region.clone(),
                c.iam_paths.clone(),
            )
        })
        .collect();
    let inline_owner = |id, name: &str| ConnectionOwner::DynamicSecret {
        id,
        name: name.into(),
    };
    assert_eq!(
        summary,
        vec![
            (
                ConnectionOwner::Target {
                    id: used,
                    name: "/aws/used".into()
                },
                "us-east-1".into(),
                vec!["".into(), "/x/".into()]
            ),
            (
                ConnectionOwner::Target {
                    id: unused,
                    name: "/aws/unused".into()
                },
                "us-east-1".into(),
                vec![]
            ),
            (
                inline_owner(elsewhere.id, "/i4"),
                "eu-west-1".into(),
                vec!["".into()]
            ),
            (
                inline_owner(newest, "/i3"),
                "us-east-1".into(),
                vec!["".into(), "/a/".into()]
            ),
        ]
    );
    assert_eq!(seen[3].uid, "uid-/i3", "the owner's record identity");
    assert_eq!(seen[3].connection, connection("AKIA2"));

    // Moving a secret to its own connection makes that one appear.
    elsewhere.inline_connection.as_mut().unwrap().iam_endpoint = Some("http://other".into());
    store.update_producer(&elsewhere).await.unwrap();
    let regions: Vec<Option<String>> = walk()
        .await
        .iter()
        .map(|c| c.connection.iam_endpoint.clone())
        .collect();
    assert_eq!(regions.len(), 4);
    assert!(regions.contains(&Some("http://other".into())));
}

/// The lookups that go with a page, one call for the whole page: the first
/// dynamic secrets of each target (capped per target), the associations of
/// auth methods and of roles, the rules of roles, one association by id.
pub async fn a_page_brings_its_associations_in_one_call(store: &dyn Store) {
    let a = store.insert_target(&target("/aws/a", None)).await.unwrap();
    let b = store.insert_target(&target("/aws/b", None)).await.unwrap();
    let none = store
        .insert_target(&target("/aws/none", None))
        .await
        .unwrap();
    for name in ["/s/3", "/s/1", "/s/2"] {
        store
            .insert_producer(&producer(name, Some(a)))
            .await
            .unwrap();
    }
    store
        .insert_producer(&producer("/s/b", Some(b)))
        .await
        .unwrap();
    let refs = store
        .dynamic_secrets_of_targets(&[b, none, a, a], 2)
        .await
        .unwrap();
    let summary: Vec<(i64, &str)> = refs
        .iter()
        .map(|r| (r.target_id, r.name.as_str()))
        .collect();
    let mut expected = vec![(a, "/s/1"), (a, "/s/2"), (b, "/s/b")];
    expected.sort();
    assert_eq!(summary, expected, "by target then name, at most 2 each");

    for (id, name) in [("p-1", "/ci"), ("p-2", "/ops"), ("p-3", "/idle")] {
        store.insert_api_key(&api_key(id, name)).await.unwrap();
    }
    let r1 = store.insert_role(&role("/r1")).await.unwrap();
    let r2 = store.insert_role(&role("/r2")).await.unwrap();
    let rule = |path: &str| PathRule::new(RuleType::Item, path, vec![Capability::List]).unwrap();
    store.set_role_rule(r1, &rule("/b/*")).await.unwrap();
    store.set_role_rule(r1, &rule("/a/*")).await.unwrap();
    store.set_role_rule(r2, &rule("/c/*")).await.unwrap();
    let assoc = |id: &str, role_id, role_name: &str, access_id: &str, am: &str| AssocRecord {
        id: id.into(),
        role_id,
        role_name: role_name.into(),
        access_id: access_id.into(),
        auth_method_name: am.into(),
    };
    let links = [
        assoc("ra-1", r2, "/r2", "p-1", "/ci"),
        assoc("ra-2", r1, "/r1", "p-1", "/ci"),
        assoc("ra-3", r1, "/r1", "p-2", "/ops"),
    ];
    for link in &links {
        store.insert_assoc(link).await.unwrap();
    }
    let ids = |list: Vec<AssocRecord>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .assocs_of_access_ids(&["p-2".into(), "p-1".into(), "p-3".into()])
            .await
            .unwrap()),
        ["ra-2", "ra-1", "ra-3"],
        "by access id, then role name"
    );
    assert_eq!(
        ids(store.assocs_of_roles(&[r2, r1]).await.unwrap()),
        ["ra-2", "ra-3", "ra-1"],
        "by role, then auth-method name"
    );
    let rules: Vec<(i64, String)> = store
        .rules_of_roles(&[r1, r2])
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.role_id, r.rule.path))
        .collect();
    assert_eq!(
        rules,
        [
            (r1, "/a/*".into()),
            (r1, "/b/*".into()),
            (r2, "/c/*".into())
        ]
    );
    assert_eq!(store.assoc("ra-3").await.unwrap(), Some(links[2].clone()));
    assert_eq!(store.assoc("ra-9").await.unwrap(), None);
    assert!(store.assocs_of_roles(&[]).await.unwrap().is_empty());
    assert!(store
        .dynamic_secrets_of_targets(&[], 5)
        .await
        .unwrap()
        .is_empty());
}
