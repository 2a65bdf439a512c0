//! The store contract ([`dynsec_store::conformance`]) on SQLite, in memory
//! and in a file, and what only a file store promises: reopening keeps the
//! data and applies no migration twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dynsec_store::{SqliteStore, Store};
use std::sync::Arc;

mod in_memory {
    use super::*;
    dynsec_store::conformance_tests!(async {
        (
            Arc::new(SqliteStore::in_memory().await.unwrap()) as Arc<dyn Store>,
            (),
        )
    });
}

mod file {
    use super::*;

    /// A store in a file, and the directory holding it (removed on drop).
    async fn fresh() -> (Arc<dyn Store>, dynsec_testkit::TempDir) {
        let dir = dynsec_testkit::TempDir::new("dynsec-store");
        let store = SqliteStore::open(&dir.path().join("db.sqlite"))
            .await
            .unwrap();
        (Arc::new(store), dir)
    }

    dynsec_store::conformance_tests!(fresh());
}

#[tokio::test]
async fn a_reopened_file_keeps_its_data_and_migrates_once() {
    let dir = dynsec_testkit::TempDir::new("dynsec-store");
    let path = dir.path().join("db.sqlite");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        dynsec_store::conformance::targets_round_trip_and_unique_names(&store).await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store
        .target_by_name("/aws/renamed")
        .await
        .unwrap()
        .is_some());
}
