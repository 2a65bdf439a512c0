//! What the gateway costs AWS, end to end against moto with authentication
//! on: the gateway's target points at a counting keep-alive proxy that also
//! gives moto AWS's DeleteConflict rule for DeleteUser (`start_strict`), so
//! connections opened and IAM calls made are exactly what they would be
//! against AWS.
//!
//! The promises: once warm, an issuance and a revocation open no new
//! connection (one kept AWS client per connection); a revocation deletes
//! what its issuance created and nothing more (4 IAM calls for a user with
//! one key, one policy and one group); and whatever was added to the user
//! after issuance is found and removed too — nothing is left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{proxied_target, World, GROUP_NAME, PROXIED_TARGET};
use dynsec_testkit::KeepAliveProxy;
use serde_json::{json, Value};

/// moto, the gateway, and an `iam_user` dynamic secret `name` (the test
/// policy and group, an access key) whose target reaches moto only through
/// a strict counting proxy.
async fn proxied_world(name: &str) -> (World, KeepAliveProxy) {
    let world = World::start().await;
    let proxy = proxied_target(&world).await;
    world
        .iam_user_secret(name, json!({"target-name": PROXIED_TARGET}))
        .await;
    (world, proxy)
}

async fn issue(world: &World, name: &str) -> Value {
    world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": name}))
        .await
}

async fn revoke(world: &World, name: &str, value: &Value) {
    world
        .gw()
        .ok(
            "gateway-revoke-producer-tmp-creds",
            json!({"name": name, "tmp-creds-id": value["id"]}),
        )
        .await;
}

/// The gateway's database, behind its back.
async fn database(world: &World) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        world.data_dir().join("dynsec.db").display()
    ))
    .await
    .unwrap()
}

/// Whether IAM still knows the user (asked of moto directly).
async fn user_exists(world: &World, user: &str) -> bool {
    match world
        .moto
        .admin_iam(&world.admin)
        .get_user()
        .user_name(user)
        .send()
        .await
    {
        Ok(_) => true,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(err) => panic!("GetUser {user}: {err:?}"),
    }
}

#[tokio::test]
async fn once_warm_issuance_and_revocation_open_no_connection_and_revocation_deletes_only_what_was_created(
) {
    let name = "/calls/standard";
    let (world, proxy) = proxied_world(name).await;
    // Warm-up: the pool gets its connections (issuance runs three calls at
    // once), the account check asks STS once for the connection.
    for _ in 0..2 {
        let value = issue(&world, name).await;
        revoke(&world, name, &value).await;
    }

    for round in 0..3 {
        let before = proxy.connections();
        let value = issue(&world, name).await;
        let after_issuance = proxy.connections();
        assert_eq!(
            after_issuance - before,
            0,
            "round {round}: a warm issuance opened new connections"
        );
        // By the time the credential is handed out, its lease records what
        // was created.
        let db = database(&world).await;
        let (created,): (Option<String>,) =
            sqlx::query_as("SELECT created_json FROM leases WHERE id = ?")
                .bind(value["id"].as_str().unwrap())
                .fetch_one(&db)
                .await
                .unwrap();
        db.close().await;
        let created = created.expect("the lease records what was created");
        assert!(
            created.contains(value["access_key_id"].as_str().unwrap())
                && created.contains(&world.policy_arn)
                && created.contains(GROUP_NAME),
            "{created}"
        );

        proxy.clear_requests();
        revoke(&world, name, &value).await;
        assert_eq!(
            proxy.connections() - after_issuance,
            0,
            "round {round}: a warm revocation opened new connections"
        );
        let actions = proxy.actions();
        let mut sorted = actions.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "DeleteAccessKey",
                "DeleteUser",
                "DetachUserPolicy",
                "RemoveUserFromGroup"
            ],
            "round {round}: a revocation makes one call per created thing plus DeleteUser: {actions:?}"
        );
        assert_eq!(actions.last().map(String::as_str), Some("DeleteUser"));
        let user = value["user_name"].as_str().unwrap();
        assert!(
            proxy
                .requests()
                .iter()
                .all(|r| r.param("UserName") == Some(user)),
            "every call concerns the lease's own user"
        );
        assert!(
            !user_exists(&world, user).await,
            "round {round}: {user} is gone"
        );
    }
    assert_eq!(
        world
            .gw()
            .ok("gateway-get-producer-tmp-creds", json!({"name": name}))
            .await,
        json!([]),
        "every lease is recorded revoked"
    );
}

#[tokio::test]
async fn whatever_was_added_to_the_user_after_issuance_goes_too() {
    let name = "/calls/tampered";
    let (mut world, proxy) = proxied_world(name).await;
    let admin = world.moto.admin_iam(&world.admin);
    let extra_policy = admin
        .create_policy()
        .policy_name("dynsec-test-added-later")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let extra_group = "dynsec-test-added-later";
    admin
        .create_group()
        .group_name(extra_group)
        .send()
        .await
        .unwrap();

    // One lease per kind of addition, so each alone must be found.
    for addition in ["a second access key", "an attached policy", "a group"] {
        let value = issue(&world, name).await;
        let user = value["user_name"].as_str().unwrap().to_string();
        match addition {
            "a second access key" => {
                admin
                    .create_access_key()
                    .user_name(&user)
                    .send()
                    .await
                    .unwrap();
            }
            "an attached policy" => {
                admin
                    .attach_user_policy()
                    .user_name(&user)
                    .policy_arn(&extra_policy)
                    .send()
                    .await
                    .unwrap();
            }
            _ => {
                admin
                    .add_user_to_group()
                    .user_name(&user)
                    .group_name(extra_group)
                    .send()
                    .await
                    .unwrap();
            }
        }

        proxy.clear_requests();
        revoke(&world, name, &value).await;
        let actions = proxy.actions();
        assert!(
            actions.iter().any(|a| a.starts_with("List")),
            "{addition}: DeleteUser's conflict sent the revocation to discovery: {actions:?}"
        );
        assert!(
            !user_exists(&world, &user).await,
            "{addition}: {user} is gone"
        );
    }

    // A lease without the record (issued by an older version) is torn down
    // by discovery, additions included.
    let value = issue(&world, name).await;
    let user = value["user_name"].as_str().unwrap().to_string();
    admin
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    assert!(world.gateway.take().unwrap().stop().await);
    let db = database(&world).await;
    sqlx::query("UPDATE leases SET created_json = NULL WHERE id = ?")
        .bind(value["id"].as_str().unwrap())
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    world.start_gateway().await;
    proxy.clear_requests();
    revoke(&world, name, &value).await;
    let actions = proxy.actions();
    assert!(
        actions.iter().any(|a| a == "ListAccessKeys")
            && actions.iter().filter(|a| *a == "DeleteAccessKey").count() == 2,
        "discovery found both keys: {actions:?}"
    );
    assert!(!user_exists(&world, &user).await, "{user} is gone");

    // Nothing the additions made survives elsewhere either.
    let group = admin
        .get_group()
        .group_name(extra_group)
        .send()
        .await
        .unwrap();
    assert!(group.users().is_empty(), "{:?}", group.users());
    let attached = admin
        .list_entities_for_policy()
        .policy_arn(&extra_policy)
        .send()
        .await
        .unwrap();
    assert!(
        attached.policy_users().is_empty(),
        "{:?}",
        attached.policy_users()
    );
    let test_group = admin
        .get_group()
        .group_name(GROUP_NAME)
        .send()
        .await
        .unwrap();
    assert!(test_group.users().is_empty(), "{:?}", test_group.users());
    assert!(world.temp_users().await.is_empty());
    assert_eq!(
        world
            .gw()
            .ok("gateway-get-producer-tmp-creds", json!({"name": name}))
            .await,
        json!([])
    );
}
