//! A rotation interrupted in `created` (the new key sealed beside the old
//! one, not yet proven) against moto with auth on: the next pass rolls it
//! forward. The gateway's end-to-end tests cover `started` and `swapped`,
//! which a test can write into the store from outside; this phase holds a
//! sealed key, so it is set up here, through the engine's own sealing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::connection::{admin_json, admin_state, target_aad, PendingKey};
use crate::test_support::{admin, memory_engine, path};
use crate::TargetInput;
use dynsec_aws::AwsAdmin;
use dynsec_core::{RotationInProgress, RotationPhase};
use dynsec_store::ConnectionSlot;
use dynsec_testkit::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_interrupted_after_creating_its_key_is_finished_by_the_next_pass() {
    let moto = Moto::start().await;
    let bootstrap = moto.bootstrap_admin().await;
    let iam = moto.admin_iam(&bootstrap);
    iam.create_user()
        .user_name("created-admin")
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("created-admin")
        .policy_name("allow-everything")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let out = iam
        .create_access_key()
        .user_name("created-admin")
        .send()
        .await
        .unwrap();
    let key = out.access_key().unwrap();
    let old = dynsec_testkit::AdminKey {
        access_key_id: key.access_key_id().to_string(),
        secret_access_key: key.secret_access_key().to_string(),
    };
    let (engine, store) = memory_engine().await;
    engine
        .create_target(
            &admin(),
            TargetInput {
                name: path("/aws/created"),
                description: String::new(),
                connection: moto.connection(&old),
                protection_key: None,
                delete_protection: false,
                admin_rotation: Default::default(),
                host_identity: None,
            },
        )
        .await
        .unwrap();

    // What a gateway killed right after step 2 left: the new key exists in
    // AWS and is sealed beside the old one; the rotation is `created`.
    let old_conn = moto.connection(&old);
    let new_key = AwsAdmin::new(&old_conn, 1)
        .create_own_access_key()
        .await
        .unwrap();
    let record = store.target_by_name("/aws/created").await.unwrap().unwrap();
    let mut state = admin_state(&record.connection).unwrap();
    state.rotation = Some(RotationInProgress {
        phase: RotationPhase::Created,
        old_access_key_id: old.access_key_id.clone(),
        new_access_key_id: Some(new_key.access_key_id.clone()),
        started_at: chrono::Utc::now().timestamp() - 5,
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
    assert_eq!(details.connection.access_key_id, old.access_key_id);

    assert_eq!(engine.admin_rotation_pass().await.unwrap(), 1);
    let details = engine
        .get_target_details(&admin(), &path("/aws/created"))
        .await
        .unwrap();
    assert_eq!(details.connection.access_key_id, new_key.access_key_id);
    assert!(details.target.admin.rotation.is_none());
    assert!(details.target.admin.last_rotation.is_some());
    let keys: Vec<String> = iam
        .list_access_keys()
        .user_name("created-admin")
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id().map(str::to_string))
        .collect();
    assert_eq!(
        keys,
        vec![new_key.access_key_id.clone()],
        "the old key is deleted"
    );
    let stored = AwsAdmin::new(&details.connection, 1);
    assert_eq!(
        stored.caller_identity().await.unwrap().arn,
        "arn:aws:iam::123456789012:user/created-admin"
    );
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
