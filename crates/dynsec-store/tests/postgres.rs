//! The store contract ([`dynsec_store::conformance`]) on PostgreSQL, each
//! case in a database of its own, and what a shared database adds:
//! gateways connecting to a new database at once migrate it exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dynsec_store::{PostgresStore, Store};
use dynsec_testkit::PgDatabase;
use std::sync::Arc;

/// A store on a new database, and the database (dropped after the store).
async fn fresh() -> (Arc<dyn Store>, PgDatabase) {
    let db = PgDatabase::create().await;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    (Arc::new(store), db)
}

dynsec_store::conformance_tests!(fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_starting_together_migrate_once() {
    let db = PgDatabase::create().await;
    let opened = futures::future::join_all((0..4).map(|_| PostgresStore::connect(&db.url))).await;
    let stores: Vec<PostgresStore> = opened.into_iter().map(|s| s.unwrap()).collect();
    // Each sees the others' writes: one schema, one database.
    dynsec_store::conformance::targets_round_trip_and_unique_names(&stores[0]).await;
    assert!(stores[3]
        .target_by_name("/aws/renamed")
        .await
        .unwrap()
        .is_some());
    for store in &stores {
        store.close().await;
    }
    let reopened = PostgresStore::connect(&db.url).await.unwrap();
    assert_eq!(reopened.list_targets().await.unwrap().len(), 1);
    reopened.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_the_url_is_not_repeated() {
    let err = PostgresStore::connect("postgres://dynsec:s3cret@127.0.0.1:9/dynsec")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, dynsec_store::StoreError::Unavailable(_)),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn the_connection_can_be_encrypted() {
    let db = PgDatabase::create().await;
    let store = PostgresStore::connect(&format!("{}?sslmode=require", db.url))
        .await
        .unwrap();
    let encrypted: bool = store.connection_is_encrypted().await.unwrap();
    assert!(encrypted, "sslmode=require gave a plain connection");
    store.close().await;
}

/// A store on a new database whose default collation is linguistic (ICU
/// `en-US`, which ignores punctuation and folds case at first level): what
/// a production server may well use. The database replaces the one `db`
/// created, under the same name, so `db` still drops it.
async fn store_under_icu_collation() -> (PostgresStore, PgDatabase) {
    let db = PgDatabase::create().await;
    let server = std::env::var("DYNSEC_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .unwrap();
    let name = db.name();
    for sql in [
        format!("DROP DATABASE {name}"),
        format!(
            "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' \
             LOCALE 'C.UTF-8'"
        ),
    ] {
        sqlx::query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e} (the server needs ICU)"));
    }
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let collation: String = sqlx::query_scalar(
        "SELECT daticulocale FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&sqlx::PgPool::connect(&db.url).await.unwrap())
    .await
    .unwrap();
    assert_eq!(collation, "en-US");
    (store, db)
}

/// Listings page in byte order of the names (as on SQLite) and prefixes are
/// index ranges even where the database's default collation would order
/// `/a-b` beside `/ab`: the name columns collate "C".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_byte_order_under_a_linguistic_default_collation() {
    use dynsec_store::conformance as case;
    let (store, _db) = store_under_icu_collation().await;
    case::name_pages_order_bytewise_and_filter_ignoring_ascii_case(&store).await;
    store.close().await;
    let (store, _db) = store_under_icu_collation().await;
    case::folder_pages_return_each_entry_once_while_items_come_and_go(&store).await;
    store.close().await;
    let (store, _db) = store_under_icu_collation().await;
    case::leases_under_a_prefix_follow_the_secrets_current_names(&store).await;
    store.close().await;
}

/// A database written by the first PostgreSQL schema (before folders, IAM
/// paths and lease retention): after the upgrade its items sit in their
/// folders, its secrets' IAM paths feed the connections in use, its leases
/// have no record of what was created and, once revoked, are retained from
/// their expiry. Names collate bytewise from then on.
#[tokio::test]
async fn items_and_leases_written_before_paging_are_paged_after_the_upgrade() {
    use dynsec_store::{ItemKinds, KeyStore, LeaseScope, ListingStore};
    let db = PgDatabase::create().await;
    let scratch = dynsec_testkit::TempDir::new("dynsec-pg-upgrade");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    std::fs::copy(
        source.join("0001_initial.sql"),
        scratch.path().join("0001_initial.sql"),
    )
    .unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::migrate::Migrator::new(scratch.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let mut settings = dynsec_store::conformance::settings();
    sqlx::query(
        "INSERT INTO protection_keys (uid, name, alg, split_level, key_id, sealed_fragments, \
         created_at, modified_at) VALUES ('k1', '/keys/old', 'AES256GCM', 1, 'ab', '\\x02', 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO targets (uid, name, access_key_id, region, sealed_secret, protection_key, \
         created_at, modified_at) VALUES ('t1', '/aws/old', 'AKIA', 'us-east-1', '\\x02', \
         '/keys/old', 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (uid, name, target, iam_path) in [
        ("p1", "/ds/old", Some(1i64), ""),
        ("p2", "/ds/sub/deep", None, "/custom/"),
        ("p3", "/ds/b", None, ""),
    ] {
        settings.iam_path = iam_path.into();
        let inline = target.is_none();
        sqlx::query(
            "INSERT INTO producers (uid, name, target_id, settings_json, inline_access_key_id, \
             inline_region, inline_sealed_secret, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0)",
        )
        .bind(uid)
        .bind(name)
        .bind(target)
        .bind(serde_json::to_string(&settings).unwrap())
        .bind(inline.then_some("AKIAOLD"))
        .bind(inline.then_some("eu-west-1"))
        .bind(inline.then(|| vec![2u8]))
        .execute(&pool)
        .await
        .unwrap();
    }
    for (id, state) in [("old-live", "active"), ("old-revoked", "revoked")] {
        sqlx::query(
            "INSERT INTO leases (id, producer_id, producer_name, mode, principal, state, owner, \
             created_at, expires_at) VALUES ($1, 1, '/ds/old', 'iam_user', 'u', $2, 'o', 0, 5000)",
        )
        .bind(id)
        .bind(state)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = PostgresStore::connect(&db.url).await.unwrap();
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
    assert_eq!(
        store.lease("old-revoked").await.unwrap().unwrap().created,
        None
    );
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
    // The foreign key from targets to protection keys survived the
    // collation change.
    let key = store
        .protection_key_by_name("/keys/old")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        store.delete_protection_key(key.id).await,
        Err(dynsec_store::StoreError::InUse(_))
    ));
    store.close().await;
}

#[tokio::test]
async fn a_database_a_newer_dynsec_migrated_is_refused_in_plain_words() {
    let db = PgDatabase::create().await;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let known: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&sqlx::PgPool::connect(&db.url).await.unwrap())
        .await
        .unwrap();
    store.close().await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer dynsec', true, '\\x00'::bytea, 0)",
    )
    .bind(known + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let err = PostgresStore::connect(&db.url).await.unwrap_err();
    assert!(
        matches!(err, dynsec_store::StoreError::NewerSchema { found, last, .. } if found == known + 1 && last == known),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "written by a newer dynsec: schema {}, this binary knows 1–{known}",
            known + 1
        )),
        "{err}"
    );
}
