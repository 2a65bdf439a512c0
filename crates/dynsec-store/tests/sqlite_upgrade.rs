//! A database written before protection keys had columns of their own (the
//! trigger over a JSON field) keeps its references through the upgrade, and
//! the database then enforces them as foreign keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dynsec_store::{KeyStore, SqliteStore, Store, StoreError};
use std::path::Path;

/// Applies the SQLite migrations before `before` only, as an older gateway did.
async fn migrate_up_to(db: &Path, before: &str, scratch: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    std::fs::create_dir_all(scratch).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.as_str() < before {
            std::fs::copy(entry.path(), scratch.join(&name)).unwrap();
        }
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(scratch)
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    // As the old store wrote them: the key named in the producer's JSON.
    for sql in [
        "INSERT INTO protection_keys (uid, name, alg, split_level, key_id, sealed_fragments, \
         created_at, modified_at) VALUES ('k1', '/keys/old', 'AES256GCM', 1, 'ab', x'02', 0, 0)",
        "INSERT INTO targets (uid, name, access_key_id, region, sealed_secret, protection_key, \
         created_at, modified_at) VALUES ('t1', '/aws/old', 'AKIA', 'us-east-1', x'02', '/keys/old', 0, 0)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let mut settings = dynsec_store::conformance::settings();
    settings.protection_key = Some("/keys/old".into());
    sqlx::query(
        "INSERT INTO producers (uid, name, target_id, settings_json, created_at, modified_at) \
         VALUES ('p1', '/ds/old', 1, ?, 0, 0)",
    )
    .bind(serde_json::to_string(&settings).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn protection_key_references_survive_the_upgrade_and_become_foreign_keys() {
    let dir = dynsec_testkit::TempDir::new("dynsec-upgrade");
    let db = dir.path().join("dynsec.db");
    migrate_up_to(&db, "0007", &dir.path().join("old-migrations")).await;

    let store = SqliteStore::open(&db).await.unwrap();
    let producer = store.producer_by_name("/ds/old").await.unwrap().unwrap();
    assert_eq!(
        producer.settings.protection_key.as_deref(),
        Some("/keys/old")
    );
    let target = store.target_by_name("/aws/old").await.unwrap().unwrap();
    assert_eq!(target.protection_key.as_deref(), Some("/keys/old"));
    let key = store
        .protection_key_by_name("/keys/old")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        store.delete_protection_key(key.id).await,
        Err(StoreError::InUse(_))
    ));
}

/// A database written before folders, IAM-path columns and lease retention
/// existed: its items get their folders, its secrets their connections'
/// IAM paths, its leases no record of what was created (so revocation
/// discovers) and, once revoked, retention from their expiry.
#[tokio::test]
async fn items_and_leases_written_before_paging_are_paged_after_the_upgrade() {
    use dynsec_store::{ItemKinds, LeaseScope, ListingStore};
    let dir = dynsec_testkit::TempDir::new("dynsec-upgrade");
    let db = dir.path().join("dynsec.db");
    migrate_up_to(&db, "0008", &dir.path().join("old-migrations")).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let mut settings = dynsec_store::conformance::settings();
    for (uid, name, iam_path) in [("p2", "/ds/sub/deep", "/custom/"), ("p3", "/ds/b", "")] {
        settings.iam_path = iam_path.into();
        sqlx::query(
            "INSERT INTO producers (uid, name, target_id, settings_json, inline_access_key_id, \
             inline_region, inline_sealed_secret, created_at, modified_at) \
             VALUES (?, ?, NULL, ?, 'AKIAOLD', 'eu-west-1', x'02', 0, 0)",
        )
        .bind(uid)
        .bind(name)
        .bind(serde_json::to_string(&settings).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    }
    for (id, state) in [("old-live", "active"), ("old-revoked", "revoked")] {
        sqlx::query(
            "INSERT INTO leases (id, producer_id, producer_name, mode, principal, state, owner, \
             created_at, expires_at) VALUES (?, 1, '/ds/old', 'iam_user', 'u', ?, 'o', 0, 5000)",
        )
        .bind(id)
        .bind(state)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = SqliteStore::open(&db).await.unwrap();
    let all = ItemKinds {
        dynamic_secrets: true,
        protection_keys: true,
    };
    let names = |page: dynsec_store::Page<dynsec_store::FolderEntry, _>| -> Vec<String> {
        page.items.iter().map(|e| e.name().to_string()).collect()
    };
    assert_eq!(
        names(store.items_in_folder("/", all, "", None, 10).await.unwrap()),
        ["/ds", "/keys"]
    );
    assert_eq!(
        names(
            store
                .items_in_folder("/ds", all, "", None, 10)
                .await
                .unwrap()
        ),
        ["/ds/b", "/ds/old", "/ds/sub"]
    );
    let connections = store.connections_in_use(None, 10).await.unwrap().items;
    let paths: Vec<Vec<String>> = connections.iter().map(|c| c.iam_paths.clone()).collect();
    assert_eq!(
        paths,
        [vec![String::new()], vec![String::new(), "/custom/".into()]]
    );
    let old = store.lease("old-revoked").await.unwrap().unwrap();
    assert_eq!(old.created, None, "revocation discovers what the user has");
    let live = store
        .leases_of_secret(1, LeaseScope::Live, None, 10)
        .await
        .unwrap();
    assert_eq!(live.items.len(), 1);
    let expiry = chrono::DateTime::from_timestamp_millis(5000).unwrap();
    assert_eq!(store.purge_revoked_leases(expiry, 10).await.unwrap(), 0);
    let after_expiry = chrono::DateTime::from_timestamp_millis(5001).unwrap();
    assert_eq!(
        store.purge_revoked_leases(after_expiry, 10).await.unwrap(),
        1
    );
    assert!(store.lease("old-live").await.unwrap().is_some());
}

#[tokio::test]
async fn only_an_upgrade_takes_a_backup_and_a_newer_schema_is_refused() {
    let dir = dynsec_testkit::TempDir::new("dynsec-upgrade-backup");
    // A new database: nothing to back up.
    let fresh = dir.path().join("fresh").join("dynsec.db");
    std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    let store = SqliteStore::open(&fresh).await.unwrap();
    assert!(store.upgrade_backup().is_none());
    drop(store);
    // Up to date: nothing either.
    let store = SqliteStore::open(&fresh).await.unwrap();
    assert!(store.upgrade_backup().is_none());
    assert!(!fresh.parent().unwrap().join("backups").exists());
    drop(store);

    // One migration behind: a copy at the old schema, beside the database.
    let db = dir.path().join("old").join("dynsec.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    migrate_up_to(&db, "0008", &dir.path().join("old-migrations")).await;
    let store = SqliteStore::open(&db).await.unwrap();
    let backup = store.upgrade_backup().unwrap().to_path_buf();
    assert_eq!(
        backup.parent().unwrap(),
        db.parent().unwrap().join("backups")
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", backup.display()))
        .await
        .unwrap();
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, 7);
    // The rows the old gateway wrote are in the copy.
    let targets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM targets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(targets, 1);
    pool.close().await;

    // A schema past the binary's: refused, named, and nothing backed up.
    let newer = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99, 'from a newer dynsec', 1, x'00', 0)",
    )
    .execute(&newer)
    .await
    .unwrap();
    newer.close().await;
    drop(store);
    let err = SqliteStore::open(&db).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                first: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("written by a newer dynsec: schema 99"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(db.parent().unwrap().join("backups"))
            .unwrap()
            .count(),
        1
    );
}
