//! The admin key of a connection, end to end against moto with auth on:
//! rotation on demand (targets and inline connections), its refusals, a
//! rotation interrupted by a kill -9 finished by the restarted gateway,
//! scheduled rotation, and targets using the gateway host's own identity.
//!
//! Each rotating connection belongs to an admin user of its own, made here
//! with the bootstrap admin: rotating deletes the key it started with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{database, eventually, World, GROUP_NAME, TARGET};
use dynsec_testkit::{AdminKey, Gateway};
use serde_json::{json, Value};
use std::time::Duration;

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An IAM user allowed everything, with one access key: an admin whose key
/// a connection may rotate.
async fn admin_user(world: &World, name: &str) -> AdminKey {
    let iam = world.moto.admin_iam(&world.admin);
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("allow-everything")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    new_key(world, name).await
}

async fn new_key(world: &World, user: &str) -> AdminKey {
    let out = world
        .moto
        .admin_iam(&world.admin)
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap();
    let key = out.access_key().unwrap();
    AdminKey {
        access_key_id: key.access_key_id().to_string(),
        secret_access_key: key.secret_access_key().to_string(),
    }
}

/// The user's access key ids, as IAM lists them.
async fn keys_of(world: &World, user: &str) -> Vec<String> {
    let mut ids: Vec<String> = world
        .moto
        .admin_iam(&world.admin)
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

/// Whether moto accepts the key (GetCallerIdentity signed with it).
async fn key_works(world: &World, id: &str, secret: &str) -> bool {
    world
        .moto
        .sts(id, secret, None)
        .get_caller_identity()
        .send()
        .await
        .is_ok()
}

async fn create_target(gw: &Gateway, world: &World, name: &str, key: &AdminKey, extra: Value) {
    let mut body = json!({
        "name": name,
        "access-key-id": key.access_key_id,
        "access-key": key.secret_access_key,
        "region": "us-east-1",
        "iam-endpoint": world.moto.endpoint,
        "sts-endpoint": world.moto.endpoint,
    });
    common::merge(&mut body, extra);
    gw.ok("create-aws-target", body).await;
}

/// The key a target stores (id, secret), as get-target-details reveals it.
async fn stored_key(gw: &Gateway, target: &str) -> (String, String) {
    let details = gw.ok("get-target-details", json!({"name": target})).await;
    let aws = &details["value"]["aws_target_details"];
    (
        aws["aws_access_key_id"].as_str().unwrap().to_string(),
        aws["aws_secret_access_key"].as_str().unwrap().to_string(),
    )
}

/// An iam_user dynamic secret on `target` granting the test group.
async fn secret_on(gw: &Gateway, name: &str, target: &str) {
    gw.ok(
        "gateway-create-producer-aws",
        json!({
            "name": name,
            "target-name": target,
            "access-mode": "iam_user",
            "aws-user-groups": GROUP_NAME,
            "user-ttl": "60m",
        }),
    )
    .await;
}

async fn issue(world: &World, name: &str) -> Value {
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": name}))
        .await;
    assert!(
        key_works(
            world,
            value["access_key_id"].as_str().unwrap(),
            value["secret_access_key"].as_str().unwrap()
        )
        .await,
        "the issued key works: {value}"
    );
    value
}

async fn user_exists(world: &World, user: &str) -> bool {
    world
        .moto
        .admin_iam(&world.admin)
        .get_user()
        .user_name(user)
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_demand_replaces_the_key_while_issuance_and_revocation_go_on() {
    let world = World::start().await;
    let gw = world.gw();
    let old = admin_user(&world, "rotating-admin").await;
    create_target(gw, &world, "/aws/rotating", &old, json!({})).await;
    secret_on(gw, "/ds/rotating", "/aws/rotating").await;
    let before = issue(&world, "/ds/rotating").await;
    let shown = gw.ok("get-target", json!({"name": "/aws/rotating"})).await;
    assert_eq!(shown["last_admin_rotation"], Value::Null, "{shown}");

    let started = now_secs();
    let done = gw
        .ok("target-rotate-admin-key", json!({"name": "/aws/rotating"}))
        .await;
    let new_id = done["access_key_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old.access_key_id, "{done}");
    assert_eq!(done["previous_access_key_id"], json!(old.access_key_id));
    assert_eq!(done["previous_key_deleted"], json!(true), "{done}");

    // In AWS: the old key is rejected, only the new one exists, and the
    // gateway stores the new one.
    assert!(!key_works(&world, &old.access_key_id, &old.secret_access_key).await);
    assert_eq!(
        keys_of(&world, "rotating-admin").await,
        vec![new_id.clone()]
    );
    let (stored_id, stored_secret) = stored_key(gw, "/aws/rotating").await;
    assert_eq!(stored_id, new_id);
    assert!(key_works(&world, &stored_id, &stored_secret).await);

    let shown = gw.ok("get-target", json!({"name": "/aws/rotating"})).await;
    let last = shown["last_admin_rotation"].as_i64().unwrap();
    assert!(last >= started && last <= now_secs(), "{shown}");
    assert_eq!(shown["aws_access_key_id"], json!(new_id));
    assert_eq!(shown["admin_rotation_in_progress"], json!(false));
    let producer = gw
        .ok("gateway-get-producer", json!({"name": "/ds/rotating"}))
        .await;
    assert_eq!(producer["last_admin_rotation"], json!(last), "{producer}");

    // Issuance goes on with the new key, and what was issued with the old
    // one is revoked with the new one.
    let after = issue(&world, "/ds/rotating").await;
    assert!(user_exists(&world, after["user_name"].as_str().unwrap()).await);
    gw.ok(
        "gateway-revoke-producer-tmp-creds",
        json!({"name": "/ds/rotating", "tmp-creds-id": before["id"]}),
    )
    .await;
    assert!(!user_exists(&world, before["user_name"].as_str().unwrap()).await);

    // An inline connection rotates the same way, through its own operation.
    let inline_old = admin_user(&world, "inline-admin").await;
    gw.ok(
        "gateway-create-producer-aws",
        json!({
            "name": "/ds/inline",
            "access-mode": "iam_user",
            "aws-access-key-id": inline_old.access_key_id,
            "aws-access-secret-key": inline_old.secret_access_key,
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
            "aws-user-groups": GROUP_NAME,
        }),
    )
    .await;
    let done = gw
        .ok(
            "dynamic-secret-rotate-admin-key",
            json!({"name": "/ds/inline"}),
        )
        .await;
    let inline_new = done["access_key_id"].as_str().unwrap().to_string();
    assert_eq!(
        keys_of(&world, "inline-admin").await,
        vec![inline_new.clone()]
    );
    assert!(
        !key_works(
            &world,
            &inline_old.access_key_id,
            &inline_old.secret_access_key
        )
        .await
    );
    let producer = gw
        .ok("gateway-get-producer", json!({"name": "/ds/inline"}))
        .await;
    assert_eq!(producer["aws_access_key_id"], json!(inline_new));
    assert!(
        producer["last_admin_rotation"].as_i64().is_some(),
        "{producer}"
    );
    issue(&world, "/ds/inline").await;

    // A dynamic secret on a target is told where its key is rotated.
    let (status, answer) = gw
        .call(
            "dynamic-secret-rotate-admin-key",
            json!({"name": "/ds/rotating"}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("target-rotate-admin-key"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_refused_when_it_cannot_be_done_safely() {
    let world = World::start().await;
    let gw = world.gw();

    // The admin user already has IAM's two keys: nothing is created.
    let first = admin_user(&world, "two-keys-admin").await;
    let second = new_key(&world, "two-keys-admin").await;
    create_target(gw, &world, "/aws/two-keys", &first, json!({})).await;
    let (status, answer) = gw
        .call("target-rotate-admin-key", json!({"name": "/aws/two-keys"}))
        .await;
    assert_eq!(status, 409, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("already has 2 access keys"), "{message}");
    assert!(
        message.contains(&second.access_key_id),
        "names the other key: {message}"
    );
    assert_eq!(keys_of(&world, "two-keys-admin").await.len(), 2);
    assert_eq!(stored_key(gw, "/aws/two-keys").await.0, first.access_key_id);

    // Temporary credentials have no key to rotate.
    let session_user = admin_user(&world, "session-admin").await;
    let session = world
        .moto
        .sts(
            &session_user.access_key_id,
            &session_user.secret_access_key,
            None,
        )
        .get_session_token()
        .send()
        .await
        .unwrap();
    let creds = session.credentials().unwrap();
    gw.ok(
        "create-aws-target",
        json!({
            "name": "/aws/session",
            "access-key-id": creds.access_key_id(),
            "access-key": creds.secret_access_key(),
            "session-token": creds.session_token(),
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
        }),
    )
    .await;
    let (status, answer) = gw
        .call("target-rotate-admin-key", json!({"name": "/aws/session"}))
        .await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.contains("session-token") && message.contains("session token"),
        "{message}"
    );
    assert_eq!(keys_of(&world, "session-admin").await.len(), 1);
    // Nor can it be scheduled.
    let (status, answer) = gw
        .call(
            "update-aws-target",
            json!({"name": "/aws/session", "access-key-id": creds.access_key_id(),
                   "region": "us-east-1", "iam-endpoint": world.moto.endpoint,
                   "enable-admin-rotation": true, "admin-rotation-interval-days": 7}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("enable-admin-rotation"),
        "{answer}"
    );

    // Bad schedules name the field.
    let (status, answer) = gw
        .call(
            "update-aws-target",
            json!({"name": TARGET, "access-key-id": world.admin.access_key_id,
                   "region": "us-east-1", "iam-endpoint": world.moto.endpoint,
                   "enable-admin-rotation": true, "admin-rotation-interval-days": 0}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("admin-rotation-interval-days"),
        "{answer}"
    );
    let (status, _) = gw
        .call("target-rotate-admin-key", json!({"name": "/aws/none"}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_interrupted_by_kill_9_ends_with_one_working_key_after_restart() {
    let mut world = World::start().await;
    // Rotation "started": the key was created in AWS, the gateway died
    // before recording it.
    let a_old = admin_user(&world, "started-admin").await;
    create_target(world.gw(), &world, "/aws/started", &a_old, json!({})).await;
    // Rotation "swapped": the new key is stored, the old one not yet deleted.
    let b_old = admin_user(&world, "swapped-admin").await;
    let b_new = new_key(&world, "swapped-admin").await;
    create_target(world.gw(), &world, "/aws/swapped", &b_old, json!({})).await;
    world
        .gw()
        .ok(
            "update-aws-target",
            json!({
                "name": "/aws/swapped",
                "access-key-id": b_new.access_key_id,
                "access-key": b_new.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": world.moto.endpoint,
                "sts-endpoint": world.moto.endpoint,
            }),
        )
        .await;
    secret_on(world.gw(), "/ds/started", "/aws/started").await;

    world.gateway.take().unwrap().kill9().await;
    let db = database(&world.data_dir()).await;
    let dead: String = sqlx::query_scalar("SELECT id FROM instances")
        .fetch_one(&db)
        .await
        .unwrap();
    let started_at = now_secs() - 5;
    let a_extra = new_key(&world, "started-admin").await;
    for (name, rotation) in [
        (
            "/aws/started",
            json!({"phase": "started", "old_access_key_id": a_old.access_key_id,
                   "started_at": started_at, "by": dead}),
        ),
        (
            "/aws/swapped",
            json!({"phase": "swapped", "old_access_key_id": b_old.access_key_id,
                   "new_access_key_id": b_new.access_key_id, "started_at": started_at, "by": dead}),
        ),
    ] {
        sqlx::query("UPDATE targets SET admin_json = ? WHERE name = ?")
            .bind(json!({ "rotation": rotation }).to_string())
            .bind(name)
            .execute(&db)
            .await
            .unwrap();
    }
    db.close().await;
    assert_eq!(keys_of(&world, "started-admin").await.len(), 2);
    assert_eq!(keys_of(&world, "swapped-admin").await.len(), 2);

    world
        .gateway_env
        .push(("DYNSEC_ADMIN_ROTATION_CHECK_SECS".into(), "1".into()));
    world.start_gateway().await;
    let limit = Duration::from_secs(30);
    eventually(
        limit,
        "the interrupted rotations to be finished",
        || async {
            keys_of(&world, "started-admin").await.len() == 1
                && keys_of(&world, "swapped-admin").await.len() == 1
        },
    )
    .await;
    // Started: rolled back to the key it stored, the extra key deleted.
    assert_eq!(
        keys_of(&world, "started-admin").await,
        vec![a_old.access_key_id.clone()]
    );
    assert!(key_works(&world, &a_old.access_key_id, &a_old.secret_access_key).await);
    assert!(!key_works(&world, &a_extra.access_key_id, &a_extra.secret_access_key).await);
    // Swapped: finished, the old key deleted.
    assert_eq!(
        keys_of(&world, "swapped-admin").await,
        vec![b_new.access_key_id.clone()]
    );
    assert!(!key_works(&world, &b_old.access_key_id, &b_old.secret_access_key).await);
    let gw = world.gw();
    for name in ["/aws/started", "/aws/swapped"] {
        eventually(limit, "the rotation record to be cleared", || async {
            gw.ok("get-target", json!({"name": name})).await["admin_rotation_in_progress"]
                == json!(false)
        })
        .await;
    }
    let swapped = gw.ok("get-target", json!({"name": "/aws/swapped"})).await;
    assert!(
        swapped["last_admin_rotation"].as_i64().is_some(),
        "{swapped}"
    );
    issue(&world, "/ds/started").await;
    // And the target rotates normally again.
    let done = gw
        .ok("target-rotate-admin-key", json!({"name": "/aws/started"}))
        .await;
    assert_eq!(
        keys_of(&world, "started-admin").await,
        vec![done["access_key_id"].as_str().unwrap().to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_rotates_what_is_due_and_records_what_fails() {
    let mut world = World::start().await;
    world
        .gateway_env
        .push(("DYNSEC_ADMIN_ROTATION_CHECK_SECS".into(), "1".into()));
    world.gateway.take().unwrap().stop().await;
    world.start_gateway().await;
    let gw = world.gw();
    let schedule = json!({"enable-admin-rotation": true, "admin-rotation-interval-days": 1});
    let due = admin_user(&world, "due-admin").await;
    create_target(gw, &world, "/aws/due", &due, schedule.clone()).await;
    let later = admin_user(&world, "later-admin").await;
    create_target(gw, &world, "/aws/later", &later, schedule.clone()).await;
    let stuck = admin_user(&world, "stuck-admin").await;
    new_key(&world, "stuck-admin").await;
    create_target(gw, &world, "/aws/stuck", &stuck, schedule.clone()).await;
    // Akeyless's fields on a dynamic secret: its inline connection's schedule.
    let inline = admin_user(&world, "inline-due-admin").await;
    gw.ok(
        "dynamic-secret-create-aws",
        json!({
            "name": "/ds/inline-due",
            "access-mode": "iam_user",
            "aws-access-key-id": inline.access_key_id,
            "aws-access-secret-key": inline.secret_access_key,
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
            "aws-user-groups": GROUP_NAME,
            "enable-admin-rotation": true,
            "admin-rotation-interval-days": 3,
        }),
    )
    .await;
    let shown = gw.ok("get-target", json!({"name": "/aws/due"})).await;
    assert_eq!(shown["enable_admin_rotation"], json!(true), "{shown}");
    assert_eq!(shown["admin_rotation_interval_days"], json!(1));
    let producer = gw
        .ok("dynamic-secret-get", json!({"name": "/ds/inline-due"}))
        .await;
    assert_eq!(producer["enable_admin_rotation"], json!(true), "{producer}");
    assert_eq!(producer["admin_rotation_interval_days"], json!(3));

    // Due: last rotated longer ago than the interval (set in the store, as
    // the passing days would).
    let db = database(&world.data_dir()).await;
    let two_days_ago = now_secs() - 2 * 86_400;
    for name in ["/aws/due", "/aws/stuck"] {
        sqlx::query("UPDATE targets SET admin_json = json_set(admin_json, '$.last_rotation', ?) WHERE name = ?")
            .bind(two_days_ago)
            .bind(name)
            .execute(&db)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE producers SET inline_admin_json = json_set(inline_admin_json, '$.last_rotation', ?) WHERE name = ?")
        .bind(now_secs() - 4 * 86_400)
        .bind("/ds/inline-due")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;

    let limit = Duration::from_secs(60);
    eventually(limit, "the due keys to rotate", || async {
        keys_of(&world, "due-admin").await != vec![due.access_key_id.clone()]
            && keys_of(&world, "due-admin").await.len() == 1
            && keys_of(&world, "inline-due-admin").await != vec![inline.access_key_id.clone()]
            && keys_of(&world, "inline-due-admin").await.len() == 1
    })
    .await;
    assert!(!key_works(&world, &due.access_key_id, &due.secret_access_key).await);
    let (id, secret) = stored_key(gw, "/aws/due").await;
    assert_eq!(keys_of(&world, "due-admin").await, vec![id.clone()]);
    assert!(key_works(&world, &id, &secret).await);
    let shown = gw.ok("get-target", json!({"name": "/aws/due"})).await;
    assert!(
        shown["last_admin_rotation"].as_i64().unwrap() > two_days_ago,
        "{shown}"
    );
    issue(&world, "/ds/inline-due").await;

    // The failing one is recorded and retried later; it stopped nothing.
    eventually(limit, "the failure to be recorded", || async {
        let shown = gw.ok("get-target", json!({"name": "/aws/stuck"})).await;
        shown["admin_rotation_error"]
            .as_str()
            .is_some_and(|e| e.contains("already has 2 access keys"))
    })
    .await;
    assert_eq!(stored_key(gw, "/aws/stuck").await.0, stuck.access_key_id);
    // Not due: untouched, though the passes went over it.
    assert_eq!(
        keys_of(&world, "later-admin").await,
        vec![later.access_key_id.clone()]
    );
    assert_eq!(stored_key(gw, "/aws/later").await.0, later.access_key_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_issues_and_revokes_with_its_own_cloud_identity() {
    let mut world = World::start().await;
    let host = admin_user(&world, "gateway-host").await;
    // The gateway's environment is its host's identity; nothing else may
    // provide credentials (no profile, no instance metadata).
    world.gateway_env.extend([
        ("AWS_ACCESS_KEY_ID".to_string(), host.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            host.secret_access_key.clone(),
        ),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        (
            "AWS_CONFIG_FILE".to_string(),
            "/nonexistent/config".to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_string(),
            "/nonexistent/credentials".to_string(),
        ),
    ]);
    world.gateway.take().unwrap().stop().await;
    world.start_gateway().await;
    let gw = world.gw();
    let location = json!({
        "name": "/aws/host",
        "use-gw-cloud-identity": true,
        "region": "us-east-1",
        "iam-endpoint": world.moto.endpoint,
        "sts-endpoint": world.moto.endpoint,
    });
    gw.ok("create-aws-target", location.clone()).await;
    let shown = gw.ok("get-target", json!({"name": "/aws/host"})).await;
    assert_eq!(shown["use_gw_cloud_identity"], json!(true), "{shown}");
    assert_eq!(shown["aws_access_key_id"], json!(""), "no key is stored");

    secret_on(gw, "/ds/host", "/aws/host").await;
    let value = issue(&world, "/ds/host").await;
    let user = value["user_name"].as_str().unwrap();
    assert!(user_exists(&world, user).await);
    gw.ok(
        "gateway-revoke-producer-tmp-creds",
        json!({"name": "/ds/host", "tmp-creds-id": value["id"]}),
    )
    .await;
    assert!(!user_exists(&world, user).await);

    // There is no key to rotate, and keys are not taken alongside it.
    let (status, answer) = gw
        .call("target-rotate-admin-key", json!({"name": "/aws/host"}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("cloud identity"),
        "{answer}"
    );
    let mut with_key = location.clone();
    with_key["name"] = json!("/aws/host-and-key");
    with_key["access-key-id"] = json!(host.access_key_id);
    let (status, answer) = gw.call("create-aws-target", with_key).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("use-gw-cloud-identity"),
        "{answer}"
    );

    // The host's identity may assume a role (with an external id the
    // gateway makes) and act as that role.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:user/gateway-host"}},"Action":"sts:AssumeRole"}}]}}"#,
        dynsec_testkit::ACCOUNT_ID
    );
    let iam = world.moto.admin_iam(&world.admin);
    let role = iam
        .create_role()
        .role_name("dynsec-gateway-admin")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("dynsec-gateway-admin")
        .policy_name("allow-everything")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let mut with_role = location;
    with_role["name"] = json!("/aws/host-role");
    with_role["role-arn"] = json!(role.role().unwrap().arn());
    with_role["generate-external-id"] = json!(true);
    gw.ok("create-aws-target", with_role).await;
    let shown = gw.ok("get-target", json!({"name": "/aws/host-role"})).await;
    let external_id = shown["external_id"].as_str().unwrap().to_string();
    assert!(external_id.starts_with("dynsec-"), "{shown}");
    // Kept across an update that does not mention it.
    gw.ok(
        "update-aws-target",
        json!({"name": "/aws/host-role", "description": "via a role", "region": "us-east-1",
               "iam-endpoint": world.moto.endpoint, "sts-endpoint": world.moto.endpoint}),
    )
    .await;
    let shown = gw.ok("get-target", json!({"name": "/aws/host-role"})).await;
    assert_eq!(shown["external_id"], json!(external_id), "{shown}");
    secret_on(gw, "/ds/host-role", "/aws/host-role").await;
    let value = issue(&world, "/ds/host-role").await;
    assert!(user_exists(&world, value["user_name"].as_str().unwrap()).await);
}
