//! End-to-end: the key hierarchy of the gateway binary against moto. A live
//! master-key rotation (API and CLI) re-wraps everything, the gateway keeps
//! decrypting and issuing (also after a restart), and the old key alone no
//! longer opens the database. A split protection key makes what it protects
//! unreadable without its customer fragment, and nothing else. Neither key
//! material nor fragments are ever in the data dir in clear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::{bin, World, TARGET};
use dynsec_testkit::{Gateway, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Runs the `dynsec` binary with `args` and `env`; (exit code, stdout, stderr).
async fn run_bin(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = tokio::process::Command::new(bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("DYNSEC_MASTER_KEY")
        .env_remove("DYNSEC_CUSTOMER_FRAGMENTS")
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("`dynsec {}` did not finish within 60 s", args.join(" ")))
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Asserts that no file of the data dir but the key file contains `secret`,
/// as text or (for base64 of binary material) as its raw bytes.
fn assert_nowhere_in_clear(data_dir: &Path, what: &str, secret_b64: &str) {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret_b64.trim())
        .unwrap();
    assert_eq!(raw.len(), 32);
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().and_then(|n| n.to_str()) == Some("master.key") || path.is_dir() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
            "{what} in clear (raw) in {}",
            path.display()
        );
        assert!(
            !bytes
                .windows(secret_b64.trim().len())
                .any(|w| w == secret_b64.trim().as_bytes()),
            "{what} in clear (base64) in {}",
            path.display()
        );
    }
}

fn read_master_key(world: &World) -> String {
    std::fs::read_to_string(world.data_dir().join("master.key")).unwrap()
}

async fn restart(world: &mut World, args: &[&str]) {
    if let Some(gateway) = world.gateway.take() {
        assert!(gateway.stop().await, "gateway did not stop cleanly");
    }
    world.gateway = Some(Gateway::start_with_args(&bin(), &world.data_dir(), &[], args).await);
}

/// Issues a value from `name` and proves it is a working AWS key.
async fn issue_works(world: &World, name: &str) {
    let value = world
        .gw()
        .ok("get-dynamic-secret-value", json!({ "name": name }))
        .await;
    world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .expect("the issued key works");
}

async fn target_secret(world: &World, name: &str) -> (u16, Value) {
    world
        .gw()
        .call("get-target-details", json!({ "name": name }))
        .await
}

#[tokio::test]
async fn master_key_rotation_rewraps_everything_and_retires_the_old_key() {
    let mut world = World::start().await;
    world
        .iam_user_secret("/prod/rot/by-target", json!({}))
        .await;
    // An inline connection is a second kind of sealed record.
    world
        .gw()
        .ok(
            "gateway-create-producer-aws",
            json!({
                "name": "/prod/rot/inline",
                "access-mode": "iam_user",
                "aws-access-key-id": world.admin.access_key_id,
                "aws-access-secret-key": world.admin.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": world.moto.endpoint,
                "sts-endpoint": world.moto.endpoint,
                "aws-user-policies": world.policy_arn,
            }),
        )
        .await;
    let old_key = read_master_key(&world);
    issue_works(&world, "/prod/rot/by-target").await;

    // Rotation through the API, while serving.
    let report = world.gw().ok("rotate-master-key", json!({})).await;
    assert!(report["rewrapped"].as_u64().unwrap() >= 3, "{report}");
    assert_eq!(report["retired_key_ids"].as_array().unwrap().len(), 1);
    let new_key = read_master_key(&world);
    assert_ne!(new_key.trim(), old_key.trim());
    assert_eq!(new_key.trim().lines().count(), 1, "the old key is gone");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(world.data_dir().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Still decrypting and issuing, through both kinds of record.
    let (status, details) = target_secret(&world, TARGET).await;
    assert_eq!(status, 200, "{details}");
    assert!(
        details.to_string().contains(&world.admin.secret_access_key),
        "{details}"
    );
    issue_works(&world, "/prod/rot/by-target").await;
    issue_works(&world, "/prod/rot/inline").await;

    // The CLI's command does the same.
    let (code, stdout, stderr) = run_bin(
        &["rotate-master-key"],
        &[
            ("DYNSEC_HOME", world.dir.path().to_str().unwrap()),
            ("DYNSEC_GATEWAY_URL", &world.gw().url),
            ("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID),
            ("DYNSEC_ACCESS_KEY", ADMIN_ACCESS_KEY),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let cli_report: Value = serde_json::from_str(&stdout).unwrap();
    assert_ne!(cli_report["master_key_id"], report["master_key_id"]);
    let newest_key = read_master_key(&world);

    // After a restart, with the key file as the rotations left it.
    restart(&mut world, &[]).await;
    assert_eq!(target_secret(&world, TARGET).await.0, 200);
    issue_works(&world, "/prod/rot/by-target").await;
    issue_works(&world, "/prod/rot/inline").await;
    assert!(world.gateway.take().unwrap().stop().await);

    // Neither key is anywhere in the data dir but the key file, nor logged.
    for key in [&old_key, &new_key, &newest_key] {
        assert_nowhere_in_clear(&world.data_dir(), "a master key", key);
    }

    // The old key alone no longer opens the database: the gateway refuses to start.
    let data_dir = world.data_dir();
    let (code, _, stderr) = run_bin(
        &[
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ],
        &[
            ("DYNSEC_MASTER_KEY", old_key.trim()),
            ("DYNSEC_ADMIN_ACCESS_ID", ADMIN_ACCESS_ID),
            ("DYNSEC_ADMIN_ACCESS_KEY", ADMIN_ACCESS_KEY),
        ],
    )
    .await;
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("does not open this database"),
        "stderr: {stderr}"
    );
    assert!(
        !stderr.contains(old_key.trim()),
        "the key must not be echoed"
    );

    // An operator-supplied key is not rotated by the gateway: it says how.
    world.gateway = Some(
        Gateway::start(
            &bin(),
            &data_dir,
            &[("DYNSEC_MASTER_KEY", newest_key.trim())],
        )
        .await,
    );
    let (status, answer) = world.gw().call("rotate-master-key", json!({})).await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("DYNSEC_MASTER_KEY"),
        "{answer}"
    );
    assert_eq!(target_secret(&world, TARGET).await.0, 200);
}

#[tokio::test]
async fn a_split_key_makes_its_items_unreadable_without_the_customer_fragment() {
    let mut world = World::start().await;
    // The operator creates a fragment and hands it to the gateway only.
    let (code, stdout, stderr) = run_bin(
        &[
            "gateway",
            "create-customer-fragment",
            "--description",
            "test",
        ],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let document: Value = serde_json::from_str(&stdout).unwrap();
    let fragment_id = document["customer_fragments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fragment_value = document["customer_fragments"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let fragments_file = world.dir.path().join("customer_fragments.json");
    std::fs::write(&fragments_file, &stdout).unwrap();
    let with_fragments = ["--customer-fragments", fragments_file.to_str().unwrap()];
    restart(&mut world, &with_fragments).await;

    let created = world
        .gw()
        .ok(
            "create-dfc-key",
            json!({
                "name": "/keys/split",
                "alg": "AES256GCM",
                "split-level": 2,
                "customer-frg-id": fragment_id,
                "delete_protection": "false",
            }),
        )
        .await;
    assert_eq!(created["name"], "/keys/split", "{created}");
    assert!(created["fragment_results"].is_array(), "{created}");

    let protected_target = json!({
        "name": "/aws/protected",
        "access-key-id": world.admin.access_key_id,
        "access-key": world.admin.secret_access_key,
        "region": "us-east-1",
        "iam-endpoint": world.moto.endpoint,
        "sts-endpoint": world.moto.endpoint,
        "key": "/keys/split",
    });
    world
        .gw()
        .ok("create-aws-target", protected_target.clone())
        .await;
    // Unknown key names are refused, naming the field.
    let mut unknown = protected_target.clone();
    unknown["name"] = json!("/aws/unknown-key");
    unknown["key"] = json!("/keys/nope");
    let (status, answer) = world.gw().call("create-aws-target", unknown).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("key"),
        "{answer}"
    );
    let (status, answer) = world
        .gw()
        .call(
            "gateway-create-producer-aws",
            json!({"name": "/prod/nope", "target-name": TARGET, "access-mode": "iam_user",
                   "aws-user-policies": world.policy_arn,
                   "producer-encryption-key-name": "/keys/nope"}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("producer-encryption-key-name"),
        "{answer}"
    );

    // A dynamic secret protected by the key, one using the protected target, one plain.
    world
        .iam_user_secret(
            "/prod/split/protected",
            json!({"producer-encryption-key-name": "/keys/split"}),
        )
        .await;
    world
        .iam_user_secret(
            "/prod/split/via-target",
            json!({"target-name": "/aws/protected"}),
        )
        .await;
    world.iam_user_secret("/prod/split/plain", json!({})).await;
    assert_eq!(target_secret(&world, "/aws/protected").await.0, 200);
    issue_works(&world, "/prod/split/protected").await;
    issue_works(&world, "/prod/split/via-target").await;

    // Listed as an item when keys are asked for; dynamic-secret listings are unchanged.
    let keys = world
        .gw()
        .ok("list-items", json!({"path": "/keys", "type": ["dfc-key"]}))
        .await;
    assert_eq!(keys["items"][0]["item_name"], "/keys/split", "{keys}");
    assert_eq!(
        keys["items"][0]["customer_fragment_id"],
        fragment_id.as_str()
    );
    let plain = world.gw().ok("list-items", json!({"path": "/keys"})).await;
    assert_eq!(plain["items"].as_array().unwrap().len(), 0, "{plain}");
    let described = world
        .gw()
        .ok("describe-item", json!({"name": "/keys/split"}))
        .await;
    assert_eq!(described["item_type"], "AES256GCM");

    // Restarted without the fragment: what the key protects fails clearly...
    restart(&mut world, &[]).await;
    let expected = format!(
        "protection key '/keys/split' needs customer fragment '{fragment_id}', which this gateway is not configured with"
    );
    let (status, answer) = target_secret(&world, "/aws/protected").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some(expected.as_str()))
    );
    for name in ["/prod/split/protected", "/prod/split/via-target"] {
        let (status, answer) = world
            .gw()
            .call("get-dynamic-secret-value", json!({ "name": name }))
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (409, Some(expected.as_str())),
            "{name}"
        );
    }
    let mut another = protected_target.clone();
    another["name"] = json!("/aws/protected-2");
    let (status, answer) = world.gw().call("create-aws-target", another).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some(expected.as_str()))
    );
    // ...and nothing else breaks.
    assert_eq!(target_secret(&world, TARGET).await.0, 200);
    issue_works(&world, "/prod/split/plain").await;
    world
        .gw()
        .ok("get-target", json!({"name": "/aws/protected"}))
        .await;
    let listed = world.gw().ok("list-targets", json!({})).await;
    assert!(listed.to_string().contains("/aws/protected"), "{listed}");
    let items = world
        .gw()
        .ok("list-items", json!({"path": "/prod/split"}))
        .await;
    assert_eq!(items["items"].as_array().unwrap().len(), 3, "{items}");
    // In use, the key cannot be deleted.
    let (status, answer) = world
        .gw()
        .call("delete-item", json!({"name": "/keys/split"}))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(world.gateway.take().unwrap().stop().await);

    // Neither the fragment nor the master key is in the data dir in clear.
    assert_nowhere_in_clear(&world.data_dir(), "the customer fragment", &fragment_value);
    assert_nowhere_in_clear(
        &world.data_dir(),
        "the master key",
        &read_master_key(&world),
    );

    // Restarted with the fragment (as JSON in the environment this time): works again.
    let json_text = std::fs::read_to_string(&fragments_file).unwrap();
    world.gateway = Some(
        Gateway::start(
            &bin(),
            &world.data_dir(),
            &[("DYNSEC_CUSTOMER_FRAGMENTS", json_text.as_str())],
        )
        .await,
    );
    let (status, details) = target_secret(&world, "/aws/protected").await;
    assert_eq!(status, 200, "{details}");
    assert!(details.to_string().contains(&world.admin.secret_access_key));
    issue_works(&world, "/prod/split/protected").await;
    issue_works(&world, "/prod/split/via-target").await;
    let log = world.gw().log();
    assert!(!log.contains(&fragment_value), "fragment logged");
}
