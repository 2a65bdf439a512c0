//! The [`KeyStore`] contract: protection keys, the master-key check value,
//! and the sealed-blob enumeration and compare-and-swap a rotation relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use dynsec_store::{
    ConnectionColumns, ProtectionKeyRecord, SealedKind, SqliteStore, Store, StoreError,
    TargetRecord,
};

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn key(name: &str) -> ProtectionKeyRecord {
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

fn target(name: &str, key: Option<&str>, sealed: Vec<u8>) -> TargetRecord {
    TargetRecord {
        id: 0,
        uid: format!("uid-{name}"),
        name: name.into(),
        description: String::new(),
        connection: ConnectionColumns {
            access_key_id: "AKIA1".into(),
            region: "us-east-1".into(),
            iam_endpoint: None,
            sts_endpoint: None,
            sealed_secret: sealed,
        },
        protection_key: key.map(str::to_string),
        delete_protection: false,
        created_at: at(0),
        modified_at: at(0),
    }
}

async fn key_store(store: &dyn Store) {
    // Protection keys: round trip, unique names, listing by name.
    let mut k = key("/keys/b");
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
    let mut a = key("/keys/a");
    a.customer_fragment_id = None;
    a.id = store.insert_protection_key(&a).await.unwrap();
    let names: Vec<String> = store
        .list_protection_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, vec!["/keys/a", "/keys/b"]);

    // The check value.
    assert_eq!(store.master_key_check().await.unwrap(), None);
    store.set_master_key_check(&[1, 1]).await.unwrap();
    store.set_master_key_check(&[2, 2]).await.unwrap();
    assert_eq!(store.master_key_check().await.unwrap(), Some(vec![2, 2]));

    // Every sealed blob is enumerated, with its owner's uid.
    let t = target("/aws/t", Some("/keys/b"), vec![2, 1, 1]);
    let target_id = store.insert_target(&t).await.unwrap();
    let blobs = store.sealed_blobs().await.unwrap();
    let kinds: Vec<(SealedKind, &str)> = blobs.iter().map(|b| (b.kind, b.uid.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (SealedKind::Target, "uid-/aws/t"),
            (SealedKind::ProtectionKey, "uid-/keys/b"),
            (SealedKind::ProtectionKey, "uid-/keys/a"),
            (SealedKind::MasterKeyCheck, ""),
        ]
    );

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
    let check = blobs[3].clone();
    assert!(store.replace_sealed_blob(&check, &[3, 3]).await.unwrap());
    assert_eq!(store.master_key_check().await.unwrap(), Some(vec![3, 3]));

    // A key still named by a target cannot be deleted, even past the engine's check.
    assert!(store.delete_protection_key(k.id).await.is_err());
    store.delete_target(target_id).await.unwrap();
    store.delete_protection_key(k.id).await.unwrap();
    store.delete_protection_key(a.id).await.unwrap();
    assert!(store.list_protection_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_key_store() {
    let store = SqliteStore::in_memory().await.unwrap();
    key_store(&store).await;
}
