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
