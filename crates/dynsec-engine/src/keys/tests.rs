//! The key hierarchy against an in-memory store: rotation, its resumption
//! after a crash, wrong master keys, protection keys and split keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{CustomerFragments, MasterKeyCustody};
use crate::test_support::{self, admin, key_input, path};
use crate::{Engine, EngineConfig, EngineError, ProducerInput, TargetInput};
use dynsec_core::AwsConnection;
use dynsec_crypto::{sealed_key_id, KeyFragment, KeyId, Keyring, MasterKey, Sealer};
use dynsec_store::{SealedKind, SqliteStore, Store};
use std::sync::{Arc, Mutex};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Records every keyring it is asked to persist.
#[derive(Default)]
struct RecordingCustody {
    rings: Mutex<Vec<Vec<KeyId>>>,
    refusal: Option<String>,
}

impl MasterKeyCustody for RecordingCustody {
    fn rotation_refusal(&self) -> Option<String> {
        self.refusal.clone()
    }

    fn persist(&self, ring: &Keyring) -> Result<(), String> {
        self.rings.lock().unwrap().push(ring.ids());
        Ok(())
    }
}

fn engine(store: &Arc<dyn Store>, ring: Keyring) -> Engine {
    Engine::new(
        store.clone(),
        Sealer::with_keyring(ring),
        EngineConfig::default(),
    )
}

/// No AWS is reached in these tests; nothing listens on port 9.
fn connection() -> AwsConnection {
    test_support::connection("http://127.0.0.1:9")
}

fn target(name: &str, key: Option<&str>) -> TargetInput {
    TargetInput {
        protection_key: key.map(str::to_string),
        ..crate::test_support::target_input(name, connection())
    }
}

fn inline_producer(name: &str, key: Option<&str>) -> ProducerInput {
    let mut input = test_support::inline_producer(name);
    input.settings.protection_key = key.map(str::to_string);
    input
}

async fn details_secret(engine: &Engine, name: &str) -> Result<String, EngineError> {
    let details = engine.get_target_details(&admin(), &path(name)).await?;
    Ok(details.connection.secret_access_key.expose().to_string())
}

async fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().await.unwrap())
}

#[tokio::test]
async fn rotation_rewraps_every_record_and_retires_the_old_key() {
    let store = store().await;
    let old = MasterKey::generate();
    let gw = engine(&store, Keyring::new(old.clone()));
    let custody = Arc::new(RecordingCustody::default());
    gw.set_master_key_custody(custody.clone());
    gw.prepare_master_key().await.unwrap();

    gw.create_protection_key(&admin(), key_input("/keys/plain", None, None))
        .await
        .unwrap();
    gw.create_target(&admin(), target("/aws/a", None))
        .await
        .unwrap();
    gw.create_target(&admin(), target("/aws/protected", Some("keys/plain/")))
        .await
        .unwrap();
    gw.create_producer(&admin(), inline_producer("/ds/inline", None))
        .await
        .unwrap();
    let protected_before = store
        .target_by_name("/aws/protected")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        protected_before.protection_key.as_deref(),
        Some("/keys/plain"),
        "the key name is normalized"
    );

    let report = gw.rotate_master_key(&admin()).await.unwrap();
    let new_id = report.key_id;
    assert_ne!(new_id, old.id());
    assert_eq!(report.retired, vec![old.id()]);
    // Target /aws/a, the inline producer, the key's fragments, the check value.
    assert_eq!(report.rewrapped, 4);
    assert!(report.persisted);
    // Both keys were durable before re-wrapping, the new one alone after.
    assert_eq!(
        *custody.rings.lock().unwrap(),
        vec![vec![new_id, old.id()], vec![new_id]]
    );
    assert_eq!(gw.inner.sealer.keyring().ids(), vec![new_id]);

    // Only master-wrapped blobs moved; the protected target kept its wrapping.
    for blob in store.sealed_blobs().await.unwrap() {
        let id = sealed_key_id(&blob.sealed).unwrap();
        if blob.kind == SealedKind::Target && blob.row_id == protected_before.id {
            assert_eq!(blob.sealed, protected_before.connection.sealed_secret);
        } else {
            assert_eq!(id, new_id, "{:?} still under an old key", blob.kind);
        }
    }

    // Still serving: secrets open, new records are sealed, a second rotation works.
    assert_eq!(details_secret(&gw, "/aws/a").await.unwrap(), SECRET);
    assert_eq!(details_secret(&gw, "/aws/protected").await.unwrap(), SECRET);
    let inline = store.producer_by_name("/ds/inline").await.unwrap().unwrap();
    let crate::connection::AdminConnection::Key(inline_conn) =
        gw.producer_connection(&inline).await.unwrap()
    else {
        panic!("an inline connection holds a key");
    };
    assert_eq!(inline_conn.secret_access_key.expose(), SECRET);
    gw.create_target(&admin(), target("/aws/b", None))
        .await
        .unwrap();
    assert_eq!(gw.rotate_master_key(&admin()).await.unwrap().rewrapped, 5);

    // Once every live gateway holds the last key, the handovers go: the old
    // key alone opens nothing any more (refused at start, no record opens).
    gw.heartbeat().await.unwrap();
    assert_eq!(gw.retire_key_handovers().await.unwrap(), 2);
    let with_old = engine(&store, Keyring::new(old));
    let err = with_old.prepare_master_key().await.unwrap_err().to_string();
    assert!(err.contains("does not open this database"), "{err}");
    assert!(details_secret(&with_old, "/aws/a").await.is_err());
    assert!(details_secret(&with_old, "/aws/protected").await.is_err());
}

#[tokio::test]
async fn an_interrupted_rotation_is_finished_at_start() {
    let store = store().await;
    let old = MasterKey::generate();
    let gw = engine(&store, Keyring::new(old.clone()));
    let install_secret = gw.prepare_master_key().await.unwrap();
    gw.create_target(&admin(), target("/aws/a", None))
        .await
        .unwrap();
    gw.create_producer(&admin(), inline_producer("/ds/inline", None))
        .await
        .unwrap();

    // The crash: the key file already lists [new, old], no record is re-wrapped.
    let new = MasterKey::generate();
    let ring = Keyring::new(old.clone()).rotated_to(new.clone());
    let restarted = engine(&store, ring);
    let custody = Arc::new(RecordingCustody::default());
    restarted.set_master_key_custody(custody.clone());
    restarted.prepare_master_key().await.unwrap();
    assert_eq!(*custody.rings.lock().unwrap(), vec![vec![new.id()]]);
    for blob in store.sealed_blobs().await.unwrap() {
        assert_eq!(sealed_key_id(&blob.sealed), Some(new.id()));
    }
    let fresh = engine(&store, Keyring::new(new.clone()));
    assert_eq!(
        fresh.prepare_master_key().await.unwrap(),
        install_secret,
        "the installation secret (audit HMAC key source) survives the rotation"
    );
    assert_eq!(details_secret(&fresh, "/aws/a").await.unwrap(), SECRET);
    // Until every live gateway holds the new key, one still on the old key
    // gets it from the store (the handover) instead of being locked out...
    let behind = engine(&store, Keyring::new(old.clone()));
    let behind_custody = Arc::new(RecordingCustody::default());
    behind.set_master_key_custody(behind_custody.clone());
    assert_eq!(behind.prepare_master_key().await.unwrap(), install_secret);
    assert_eq!(
        *behind_custody.rings.lock().unwrap(),
        vec![vec![new.id(), old.id()], vec![new.id()]],
        "written to its own key file"
    );
    assert_eq!(details_secret(&behind, "/aws/a").await.unwrap(), SECRET);
    // ...and once they all do, the handover goes and the old key opens nothing.
    for gateway in [&restarted, &behind] {
        gateway.heartbeat().await.unwrap();
    }
    assert_eq!(restarted.retire_key_handovers().await.unwrap(), 1);
    assert!(engine(&store, Keyring::new(old))
        .prepare_master_key()
        .await
        .is_err());
}

#[tokio::test]
async fn rotation_is_refused_for_operator_keys() {
    let store = store().await;
    let gw = engine(&store, Keyring::new(MasterKey::generate()));
    gw.prepare_master_key().await.unwrap();
    let err = gw.rotate_master_key(&admin()).await.unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err}");
    gw.set_master_key_custody(Arc::new(RecordingCustody {
        refusal: Some("supplied by the operator".into()),
        ..Default::default()
    }));
    let err = gw
        .rotate_master_key(&admin())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "supplied by the operator");
    assert_eq!(gw.inner.sealer.keyring().previous().len(), 0);
}

#[tokio::test]
async fn a_database_from_before_the_check_value_is_verified_on_a_record() {
    let store = store().await;
    let key = MasterKey::generate();
    let gw = engine(&store, Keyring::new(key.clone()));
    gw.create_target(&admin(), target("/aws/a", None))
        .await
        .unwrap();
    // No prepare yet: no check value. A wrong key is refused on the record.
    let wrong = engine(&store, Keyring::new(MasterKey::generate()));
    assert!(wrong.prepare_master_key().await.is_err());
    assert!(store.master_key_check().await.unwrap().is_none());
    gw.prepare_master_key().await.unwrap();
    assert!(store.master_key_check().await.unwrap().is_some());
}

#[test]
fn split_keys_need_their_customer_fragment() {
    // A long test body: in a debug build its poll frame alone outgrows the
    // 2 MiB of a test thread.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(split_body())
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn split_body() {
    let store = store().await;
    let master = MasterKey::generate();
    let customer = KeyFragment::generate();
    let mut fragments = CustomerFragments::default();
    fragments.insert("cf-1".into(), customer.clone());

    let gw = engine(&store, Keyring::new(master.clone()));
    gw.prepare_master_key().await.unwrap();
    gw.set_customer_fragments(fragments);
    let err = gw
        .create_protection_key(
            &admin(),
            key_input("/keys/split", Some(2), Some("cf-unknown")),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("customer-frg-id"), "{err}");
    let key = gw
        .create_protection_key(&admin(), key_input("/keys/split", Some(2), Some("cf-1")))
        .await
        .unwrap();
    assert_eq!(
        (key.split_level, key.customer_fragment_id.as_deref()),
        (2, Some("cf-1"))
    );
    gw.create_target(&admin(), target("/aws/split", Some("/keys/split")))
        .await
        .unwrap();
    gw.create_target(&admin(), target("/aws/plain", None))
        .await
        .unwrap();
    gw.create_producer(&admin(), inline_producer("/ds/split", Some("/keys/split")))
        .await
        .unwrap();
    assert_eq!(details_secret(&gw, "/aws/split").await.unwrap(), SECRET);

    // Unknown key names are refused, naming the field.
    let err = gw
        .create_target(&admin(), target("/aws/x", Some("/keys/nope")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid(v) if v.field == "key"),
        "{err}"
    );
    let err = gw
        .create_producer(&admin(), inline_producer("/ds/x", Some("/keys/nope")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid(v) if v.field == "producer-encryption-key-name"),
        "{err}"
    );

    // The same database without the fragment: what the key protects is out of
    // reach, with a clear error; everything else works.
    let without = engine(&store, Keyring::new(master.clone()));
    without.prepare_master_key().await.unwrap();
    let expected = "protection key '/keys/split' needs customer fragment 'cf-1', which this gateway is not configured with";
    let err = details_secret(&without, "/aws/split").await.unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err}");
    assert_eq!(err.to_string(), expected);
    let err = without
        .get_value(&admin(), &path("/ds/split"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), expected);
    let err = without
        .create_target(&admin(), target("/aws/y", Some("/keys/split")))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), expected);
    assert_eq!(
        details_secret(&without, "/aws/plain").await.unwrap(),
        SECRET
    );
    assert!(without
        .get_target(&admin(), &path("/aws/split"))
        .await
        .is_ok());
    assert_eq!(
        without
            .list_targets(&admin(), "", None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        without
            .list_protection_keys(&admin(), "")
            .await
            .unwrap()
            .len(),
        1
    );

    // A different fragment under the same id is recognized as wrong.
    let mut wrong = CustomerFragments::default();
    wrong.insert("cf-1".into(), KeyFragment::generate());
    without.set_customer_fragments(wrong);
    let err = details_secret(&without, "/aws/split").await.unwrap_err();
    assert!(err.to_string().contains("is not the one"), "{err}");

    // Neither the store fragments nor the customer fragment are stored in clear.
    let stored = store
        .protection_key_by_name("/keys/split")
        .await
        .unwrap()
        .unwrap();
    assert!(!stored
        .sealed_fragments
        .windows(8)
        .any(|w| w == &customer.as_bytes()[..8]));
    assert_eq!(
        stored.sealed_fragments.len(),
        1 + 8 + 12 + 48 + 12 + 64 + 16
    );

    // In use: the key cannot be deleted; once free, delete-item removes it.
    let err = gw
        .delete_item(&admin(), &path("/keys/split"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is used by"), "{err}");
    gw.delete_target(&admin(), &path("/aws/split"), false)
        .await
        .unwrap();
    gw.delete_producer(&admin(), &path("/ds/split"))
        .await
        .unwrap();
    gw.delete_item(&admin(), &path("/keys/split"))
        .await
        .unwrap();
    assert!(matches!(
        gw.delete_item(&admin(), &path("/keys/split"))
            .await
            .unwrap_err(),
        EngineError::NotFound(_)
    ));
}

#[tokio::test]
async fn keys_are_listed_as_items_only_when_asked_for() {
    let store = store().await;
    let gw = engine(&store, Keyring::new(MasterKey::generate()));
    gw.create_protection_key(&admin(), key_input("/keys/prod/k1", None, None))
        .await
        .unwrap();
    gw.create_producer(&admin(), inline_producer("/keys/ds", None))
        .await
        .unwrap();
    let query = |path: &str, types: &[&str]| crate::items::ItemQuery {
        path: path.into(),
        types: types.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    let listing = gw.list_items(&admin(), &query("/keys", &[])).await.unwrap();
    assert_eq!(listing.items.len(), 1);
    assert!(listing.keys.is_empty());
    assert!(listing.folders.is_empty());
    let listing = gw
        .list_items(&admin(), &query("/keys", &["dfc-key"]))
        .await
        .unwrap();
    assert!(listing.items.is_empty());
    assert_eq!(listing.folders, vec!["/keys/prod".to_string()]);
    let listing = gw
        .list_items(&admin(), &query("/keys/prod", &["key"]))
        .await
        .unwrap();
    assert_eq!(listing.keys.len(), 1);
    let err = gw
        .create_protection_key(&admin(), key_input("/keys/ds", None, None))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err}");
    let err = gw
        .create_protection_key(&admin(), key_input("/k", Some(4), None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid(v) if v.field == "split-level"),
        "{err}"
    );
    let mut bad_alg = key_input("/k", None, None);
    bad_alg.alg = "RSA2048".into();
    let err = gw
        .create_protection_key(&admin(), bad_alg)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid(v) if v.field == "alg"),
        "{err}"
    );
}
