//! A rotation interrupted in `created` (the new key sealed beside the old
//! one, not yet proven), over the engine's in-memory AWS: the next pass
//! rolls it forward. The gateway's end-to-end tests cover `started` and
//! `swapped` against moto, which a test can write into the store from
//! outside; this phase holds a sealed key, so it is set up here, through
//! the engine's own sealing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::aws_port::AwsPort;
use crate::connection::{admin_json, admin_state, target_aad, PendingKey};
use crate::test_support::{admin, fake_engine, path, target_input};
use dynsec_core::{RotationInProgress, RotationPhase};
use dynsec_store::ConnectionSlot;

const ACCOUNT: &str = "123456789012";

#[tokio::test(start_paused = true)]
async fn a_rotation_interrupted_after_creating_its_key_is_finished_by_the_next_pass() {
    let (engine, store, aws) = fake_engine().await;
    let old_conn = aws.add_admin(ACCOUNT, "created-admin");
    engine
        .create_target(&admin(), target_input("/aws/created", old_conn.clone()))
        .await
        .unwrap();

    // What a gateway killed right after step 2 left: the new key exists in
    // AWS and is sealed beside the old one; the rotation is `created`.
    let new_key = aws
        .unkept(&old_conn, 1)
        .create_own_access_key()
        .await
        .unwrap();
    let record = store.target_by_name("/aws/created").await.unwrap().unwrap();
    let mut state = admin_state(&record.connection).unwrap();
    state.rotation = Some(RotationInProgress {
        phase: RotationPhase::Created,
        old_access_key_id: old_conn.access_key_id.clone(),
        new_access_key_id: Some(new_key.access_key_id.clone()),
        started_at: engine.now().timestamp() - 5,
        by: "another-node.gone".into(),
    });
    let pending = PendingKey {
        access_key_id: new_key.access_key_id.clone(),
        secret_access_key: new_key.secret_access_key.clone(),
    };
    let created = engine
        .seal_connection_with(
            &target_aad(&record.uid),
            &old_conn,
            Some(&pending),
            &state,
            None,
        )
        .await
        .unwrap();
    assert!(store
        .update_connection_if(
            ConnectionSlot::Target(record.id),
            &record.connection,
            &created
        )
        .await
        .unwrap());
    // Meanwhile the old key is what issuance and revocation use.
    let details = engine
        .get_target_details(&admin(), &path("/aws/created"))
        .await
        .unwrap();
    assert_eq!(details.connection.access_key_id, old_conn.access_key_id);

    assert_eq!(engine.admin_rotation_pass().await.unwrap(), 1);
    let details = engine
        .get_target_details(&admin(), &path("/aws/created"))
        .await
        .unwrap();
    assert_eq!(details.connection.access_key_id, new_key.access_key_id);
    assert!(details.target.admin.rotation.is_none());
    assert!(details.target.admin.last_rotation.is_some());
    assert_eq!(
        aws.admin_keys_of(ACCOUNT, "created-admin"),
        vec![new_key.access_key_id.clone()],
        "the old key is deleted"
    );
    // The stored connection (the new key and its secret) works.
    let stored = aws.unkept(&details.connection, 1);
    assert_eq!(stored.account_id().await.unwrap(), ACCOUNT);
    assert!(stored
        .own_access_keys()
        .await
        .unwrap()
        .iter()
        .any(|k| k.in_use && k.access_key_id == new_key.access_key_id));
    // The pending key is no longer sealed beside it, and nothing is left to do.
    let record = store.target_by_name("/aws/created").await.unwrap().unwrap();
    assert!(engine
        .open_pending_key(&target_aad(&record.uid), &record.connection, None)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        admin_json(&details.target.admin),
        record.connection.admin_json
    );
    assert_eq!(engine.admin_rotation_pass().await.unwrap(), 0);
}
