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
