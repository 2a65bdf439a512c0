//! Early revocation of assumed_role leases through the gateway: on
//! ministack (auth on), which evaluates the deny's `aws:userid` and
//! `aws:TokenIssueTime` conditions, the revoked session is refused while
//! another session of the same role keeps working; on moto (auth on), which
//! ignores conditions, what is written to the role (listed, pruned, the
//! fallback when it does not fit, deleted when empty), the lease's state
//! and the answers. Also the rules that depend on the connection: roles in
//! another account, role chaining's 1-hour cap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ministack::MiniWorld;
use common::{World, ROLE_NAME, TARGET};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const POLICY: &str = "dynsec-revoked-sessions";

use common::ministack::allow;

/// Retries `check` until it is true or `within` has passed.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The role's revoked-sessions policy as IAM holds it, decoded.
async fn stored_policy(iam: &aws_sdk_iam::Client, role: &str) -> Option<String> {
    let out = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY)
        .send()
        .await
        .ok()?;
    let raw = out.policy_document();
    // IAM URL-encodes documents; moto doesn't.
    if raw.starts_with('{') {
        return Some(raw.to_string());
    }
    let mut decoded = Vec::new();
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            decoded.push(u8::from_str_radix(&hex, 16).unwrap());
        } else {
            decoded.push(b);
        }
    }
    Some(String::from_utf8(decoded).unwrap())
}

/// Characters as IAM counts them against its limits: whitespace not counted.
fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

// --- ministack: the deny really ends that session, and only that one ------------

#[tokio::test]
async fn a_revoked_session_is_denied_while_another_session_of_the_role_keeps_working() {
    let world = MiniWorld::start().await;
    let gw = &world.gateway;
    let created = gw
        .ok(
            "dynamic-secret-create-aws",
            json!({
                "name": "/early/ops",
                "target-name": "/aws/ministack",
                "access-mode": "assumed_role",
                "aws-role-arns": world.role_arn,
                "user-ttl": "15m",
                "early-revocation": true,
            }),
        )
        .await;
    assert_eq!(
        created["dynamic_secret_details"]["early_revocation"],
        json!(true),
        "{created}"
    );
    let a = gw
        .ok("get-dynamic-secret-value", json!({"name": "/early/ops"}))
        .await;
    let b = gw
        .ok("get-dynamic-secret-value", json!({"name": "/early/ops"}))
        .await;
    assert!(world.works(&a).await && world.works(&b).await);

    let answer = gw
        .ok(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/early/ops", "tmp-creds-id": a["id"]}),
        )
        .await;
    assert_eq!(
        answer["note"],
        json!("deny written; AWS may take minutes to apply it"),
        "{answer}"
    );
    assert_eq!(answer["sessions_denied"][0]["id"], a["id"], "{answer}");
    assert_eq!(answer["sessions_denied"][0]["state"], json!("revoked"));

    assert!(
        eventually(Duration::from_secs(10), || async { !world.works(&a).await }).await,
        "the revoked session still works"
    );
    assert!(world.works(&b).await, "the other session was denied too");
    // The revoked lease is gone from the live ones; the other stays.
    let live = gw
        .ok(
            "dynamic-secret-tmp-creds-get",
            json!({"name": "/early/ops"}),
        )
        .await;
    let ids: Vec<&str> = live
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b["id"].as_str().unwrap()]);

    // Revoke-all denies the rest; a session issued afterwards works.
    let answer = gw
        .ok(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/early/ops", "revoke-all": true}),
        )
        .await;
    assert_eq!(answer["sessions_denied"][0]["id"], b["id"], "{answer}");
    assert!(
        eventually(Duration::from_secs(10), || async { !world.works(&b).await }).await,
        "revoke-all left a session working"
    );
    let c = gw
        .ok("get-dynamic-secret-value", json!({"name": "/early/ops"}))
        .await;
    assert!(
        world.works(&c).await,
        "a new session is caught by old denies"
    );
}

// --- moto: what is written, pruned, fallen back to and deleted --------------------

async fn early_secret(world: &World, name: &str) -> Value {
    world
        .gw()
        .ok(
            "dynamic-secret-create-aws",
            json!({
                "name": name,
                "target-name": TARGET,
                "access-mode": "assumed_role",
                "aws-role-arns": world.role_arn,
                "user-ttl": "15m",
                "early-revocation": true,
            }),
        )
        .await
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A statement of ours whose sessions expired by `until` (unix seconds).
fn listed_statement(until: u64, sessions: &[String]) -> String {
    let patterns: Vec<String> = sessions.iter().map(|s| format!("\"*:{s}\"")).collect();
    format!(
        r#"{{"Sid":"DynsecRevokedUntil{until}","Effect":"Deny","Action":"*","Resource":"*","Condition":{{"StringLike":{{"aws:userid":[{}]}},"DateLessThan":{{"aws:TokenIssueTime":"2025-11-23T15:00:00Z"}}}}}}"#,
        patterns.join(",")
    )
}

#[tokio::test]
async fn revoking_writes_the_deny_prunes_what_expired_and_falls_back_when_full() {
    let world = World::start().await;
    let iam = world.moto.admin_iam(&world.admin);
    // Without the opt-in, today's refusal.
    world
        .gw()
        .ok(
            "dynamic-secret-create-aws",
            json!({"name": "/moto/plain", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": world.role_arn, "user-ttl": "15m"}),
        )
        .await;
    let plain = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/moto/plain"}))
        .await;
    let (status, body) = world
        .gw()
        .call(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/moto/plain", "tmp-creds-id": plain["id"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("early-revocation"),
        "{body}"
    );
    assert_eq!(stored_policy(&iam, ROLE_NAME).await, None);

    // An entry whose sessions expired long ago, written by an earlier revocation.
    let expired = unix_now() / 3600 * 3600 - 3600;
    let seeded = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        listed_statement(expired, &["dynsec-long-gone".to_string()])
    );
    iam.put_role_policy()
        .role_name(ROLE_NAME)
        .policy_name(POLICY)
        .policy_document(&seeded)
        .send()
        .await
        .unwrap();

    let details = early_secret(&world, "/moto/early").await;
    assert_eq!(
        details["dynamic_secret_details"]["early_revocation"],
        json!(true)
    );
    let got = world
        .gw()
        .ok("dynamic-secret-get", json!({"name": "/moto/early"}))
        .await;
    assert_eq!(got["early_revocation"], json!(true), "{got}");
    let a = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/moto/early"}))
        .await;
    let answer = world
        .gw()
        .ok(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/moto/early", "tmp-creds-id": a["id"]}),
        )
        .await;
    assert_eq!(
        answer["sessions_denied"][0]["note"],
        json!("deny written; AWS may take minutes to apply it")
    );
    let doc = stored_policy(&iam, ROLE_NAME).await.unwrap();
    let session = format!("*:dynsec-{}", a["id"].as_str().unwrap());
    assert!(doc.contains(&session), "{doc}");
    assert!(doc.contains("aws:TokenIssueTime"), "{doc}");
    assert!(
        !doc.contains("dynsec-long-gone"),
        "the expired entry stayed: {doc}"
    );
    // The lease is revoked: no longer live, and revoking it again is a 404.
    let (status, _) = world
        .gw()
        .call(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/moto/early", "tmp-creds-id": a["id"]}),
        )
        .await;
    assert_eq!(status, 404);

    // A list too long for the role's inline budget: every dynsec session of
    // the role issued before now is denied instead, and the answer says so.
    // Filled to within 30 characters of what the role's other inline policy
    // leaves: a new session (another hour's statement) cannot fit.
    let budget = 10_240 - policy_size(&allow("iam:ListRoles"));
    // Hours after any bucket a 15-minute session can fall in (2 h ahead
    // collided with the new session's own bucket from minute 45 on).
    let later = unix_now() / 3600 * 3600 + 6 * 3600;
    let filled = |n: usize| {
        let many: Vec<String> = (0..n).map(|i| format!("dynsec-filler{i:05}")).collect();
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            listed_statement(later, &many)
        )
    };
    let mut n = 1;
    while policy_size(&filled(n + 1)) <= budget - 30 {
        n += 1;
    }
    let full = filled(n);
    iam.put_role_policy()
        .role_name(ROLE_NAME)
        .policy_name(POLICY)
        .policy_document(&full)
        .send()
        .await
        .unwrap();
    let b = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/moto/early"}))
        .await;
    let answer = world
        .gw()
        .ok(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/moto/early", "tmp-creds-id": b["id"]}),
        )
        .await;
    let note = answer["note"].as_str().unwrap();
    assert!(
        note.starts_with("deny written; AWS may take minutes to apply it")
            && note.contains("every dynsec session of the role issued before now"),
        "{answer}"
    );
    let doc = stored_policy(&iam, ROLE_NAME).await.unwrap();
    assert!(
        doc.contains("DynsecAllUntil") && doc.contains("\"*:dynsec-*\""),
        "{doc}"
    );
    assert!(!doc.contains("dynsec-filler"), "{doc}");

    // Deleting the secret with nothing live prunes its roles: once only
    // expired entries remain, the policy is deleted.
    iam.put_role_policy()
        .role_name(ROLE_NAME)
        .policy_name(POLICY)
        .policy_document(&seeded)
        .send()
        .await
        .unwrap();
    world
        .gw()
        .ok("dynamic-secret-delete", json!({"name": "/moto/early"}))
        .await;
    assert_eq!(stored_policy(&iam, ROLE_NAME).await, None);
    // The role's own policy is untouched.
    iam.get_role_policy()
        .role_name(ROLE_NAME)
        .policy_name("list-roles")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_an_early_revocation_secret_denies_its_live_sessions() {
    let world = World::start().await;
    let iam = world.moto.admin_iam(&world.admin);
    early_secret(&world, "/moto/doomed").await;
    let a = world
        .gw()
        .ok("get-dynamic-secret-value", json!({"name": "/moto/doomed"}))
        .await;
    world
        .gw()
        .ok("dynamic-secret-delete", json!({"name": "/moto/doomed"}))
        .await;
    let doc = stored_policy(&iam, ROLE_NAME).await.unwrap();
    assert!(
        doc.contains(&format!("*:dynsec-{}", a["id"].as_str().unwrap())),
        "{doc}"
    );
}

#[tokio::test]
async fn connection_rules_are_checked_at_create_and_update() {
    let world = World::start().await;
    // Early revocation writes to the role, so the role must be in the
    // connection's own account.
    let (status, body) = world
        .gw()
        .call(
            "dynamic-secret-create-aws",
            json!({"name": "/moto/elsewhere", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": "arn:aws:iam::999999999999:role/elsewhere",
                   "user-ttl": "15m", "early-revocation": true}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("early-revocation") && error.contains("own account"),
        "{body}"
    );
    // Without it, such a role is fine (AssumeRole crosses accounts).
    world
        .gw()
        .ok(
            "dynamic-secret-create-aws",
            json!({"name": "/moto/elsewhere", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": "arn:aws:iam::999999999999:role/elsewhere", "user-ttl": "15m"}),
        )
        .await;
    let (status, body) = world
        .gw()
        .call(
            "dynamic-secret-update-aws",
            json!({"name": "/moto/elsewhere", "target-name": TARGET, "access-mode": "assumed_role",
                   "aws-role-arns": "arn:aws:iam::999999999999:role/elsewhere",
                   "user-ttl": "15m", "early-revocation": "true"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Role chaining: a connection with a session token gets at most 1 h.
    let session = world
        .moto
        .sts(
            &world.admin.access_key_id,
            &world.admin.secret_access_key,
            None,
        )
        .assume_role()
        .role_arn(&world.role_arn)
        .role_session_name("chain")
        .send()
        .await
        .unwrap();
    let creds = session.credentials().unwrap();
    let chained = |ttl: &str| {
        json!({"name": "/moto/chained", "access-mode": "assumed_role",
               "aws-role-arns": world.role_arn, "user-ttl": ttl,
               "aws-access-key-id": creds.access_key_id(),
               "aws-access-secret-key": creds.secret_access_key(),
               "aws-session-token": creds.session_token(),
               "region": "us-east-1", "iam-endpoint": world.moto.endpoint,
               "sts-endpoint": world.moto.endpoint})
    };
    let (status, body) = world
        .gw()
        .call("dynamic-secret-create-aws", chained("2h"))
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("user-ttl") && error.contains("session token") && error.contains("1h"),
        "{body}"
    );
    world
        .gw()
        .ok("dynamic-secret-create-aws", chained("60m"))
        .await;
    let (status, body) = world
        .gw()
        .call("dynamic-secret-update-aws", chained("61m"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("user-ttl"),
        "{body}"
    );
}

#[tokio::test]
async fn concurrent_revocations_of_one_role_all_land_in_its_policy() {
    let world = World::start().await;
    let iam = world.moto.admin_iam(&world.admin);
    early_secret(&world, "/moto/busy").await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let value = world
            .gw()
            .ok("get-dynamic-secret-value", json!({"name": "/moto/busy"}))
            .await;
        ids.push(value["id"].as_str().unwrap().to_string());
    }
    // Six read-modify-writes of one policy at once: serialised by the
    // role's lock in the store, none loses another's entry.
    let answers = futures::future::join_all(ids.iter().map(|id| {
        world.gw().call(
            "dynamic-secret-tmp-creds-delete",
            json!({"name": "/moto/busy", "tmp-creds-id": id}),
        )
    }))
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let doc = stored_policy(&iam, ROLE_NAME).await.unwrap();
    for id in &ids {
        assert!(doc.contains(&format!("*:dynsec-{id}")), "{id} lost: {doc}");
    }
}
