//! The IAM surface beyond Akeyless's fields, end to end through the gateway
//! against moto with authentication on: user-name templates, permissions
//! boundaries, extra user tags, inline user policies, session policies,
//! `max-ttl`, and incident response across secrets (`list-leases`,
//! `revoke-leases`) under per-secret authorization.
//!
//! moto drops a user's permissions boundary and ignores session policies, so
//! those are read where moto shows them: in the calls the gateway made,
//! through a recording proxy (ministack, which evaluates both, proves their
//! effect at the AWS layer: crates/dynsec-aws/tests/ministack.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{proxied_target, World, GROUP_NAME, PROXIED_TARGET, TARGET};
use dynsec_testkit::{Gateway, ADMIN_ACCESS_ID};
use serde_json::{json, Value};

/// Asserts a 400 whose error names `field`.
async fn refused(gw: &Gateway, op: &str, body: Value, field: &str) -> String {
    let (status, answer) = gw.call(op, body).await;
    assert_eq!(status, 400, "{op} should be refused: {answer}");
    let message = answer["error"].as_str().unwrap_or_default().to_string();
    assert!(message.contains(field), "{field} not named: {message}");
    message
}

#[tokio::test]
async fn user_name_templates_are_applied_unique_and_checked() {
    let world = World::start().await;
    let gw = world.gw();
    world
        .iam_user_secret(
            "/tpl/deploy",
            json!({"custom-username-template": "ci-{{name}}-{{access_id}}"}),
        )
        .await;
    let shown = gw
        .ok("gateway-get-producer", json!({"name": "/tpl/deploy"}))
        .await;
    assert_eq!(shown["username_template"], "ci-{{name}}-{{access_id}}");

    let first = gw
        .ok("get-dynamic-secret-value", json!({"name": "/tpl/deploy"}))
        .await;
    let second = gw
        .ok("get-dynamic-secret-value", json!({"name": "/tpl/deploy"}))
        .await;
    for value in [&first, &second] {
        // The template has no {{lease_id}}: `.<lease id>` keeps names unique.
        let expected = format!(
            "ci-deploy-{ADMIN_ACCESS_ID}.{}",
            value["id"].as_str().unwrap()
        );
        assert_eq!(value["user_name"], expected.as_str());
        assert!(value["user_arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!("user/dynsec/{expected}")));
    }
    assert_ne!(first["user_name"], second["user_name"]);
    let mut users = world.temp_users().await;
    users.sort();
    let mut expected = vec![
        first["user_name"].as_str().unwrap().to_string(),
        second["user_name"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(users, expected, "the users exist in IAM under those names");
    world
        .sts_as(&first)
        .get_caller_identity()
        .send()
        .await
        .unwrap();

    // Revocation finds a templated user as it finds any other.
    gw.ok(
        "gateway-revoke-producer-tmp-creds",
        json!({"name": "/tpl/deploy", "revoke-all": true}),
    )
    .await;
    assert!(world.temp_users().await.is_empty());

    // Refused when set, naming the field: an unknown placeholder, a
    // character IAM refuses, and a worst case over 64 characters (this
    // 30-character leaf + 34 for any access id + the lease id).
    let create = |name: &str, template: &str| {
        json!({"name": name, "target-name": TARGET, "access-mode": "iam_user",
               "custom-username-template": template})
    };
    for (name, template) in [
        ("/tpl/a", "u-{{ttl}}"),
        ("/tpl/b", "u/{{name}}"),
        (
            "/tpl/abcdefghijklmnopqrstuvwxyz1234",
            "{{name}}{{access_id}}",
        ),
    ] {
        refused(
            gw,
            "gateway-create-producer-aws",
            create(name, template),
            "custom-username-template",
        )
        .await;
    }
    // And on update, where the rename makes the same template too long.
    let message = refused(
        gw,
        "gateway-update-producer-aws",
        json!({"name": "/tpl/deploy", "new-name": "/tpl/a-much-longer-leaf-name-here",
               "target-name": TARGET, "access-mode": "iam_user",
               "custom-username-template": "ci-{{name}}-{{access_id}}"}),
        "custom-username-template",
    )
    .await;
    assert!(message.contains("64"), "{message}");
}

#[tokio::test]
async fn boundary_tags_and_inline_policy_are_on_the_user_and_gone_after_revocation() {
    let world = World::start().await;
    let gw = world.gw();
    let proxy = proxied_target(&world).await;
    let admin = world.moto.admin_iam(&world.admin);
    let boundary = admin
        .create_policy()
        .policy_name("dynsec-test-boundary")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    // The managed policy grants ListUsers only; the inline one adds ListRoles.
    let inline = r#"{ "Version": "2012-10-17",
        "Statement": [ { "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*" } ] }"#;
    gw.ok(
        "gateway-create-producer-aws",
        json!({
            "name": "/surface/full",
            "target-name": PROXIED_TARGET,
            "access-mode": "iam_user",
            "aws-user-policies": world.policy_arn,
            "aws-user-groups": GROUP_NAME,
            "permissions-boundary-arn": boundary,
            "aws-user-tags": "team=payments, cost-center=42",
            "aws-user-inline-policy": inline,
        }),
    )
    .await;
    let shown = gw
        .ok("gateway-get-producer", json!({"name": "/surface/full"}))
        .await;
    assert_eq!(shown["permissions_boundary_arn"], boundary.as_str());
    assert_eq!(shown["aws_user_tags"], "team=payments,cost-center=42");
    assert!(shown["aws_user_inline_policy"]
        .as_str()
        .unwrap()
        .contains("iam:ListRoles"));

    let value = gw
        .ok("get-dynamic-secret-value", json!({"name": "/surface/full"}))
        .await;
    let user = value["user_name"].as_str().unwrap();

    // The boundary went out in CreateUser itself (moto keeps no record of it).
    let create = proxy
        .requests()
        .into_iter()
        .find(|r| r.action == "CreateUser")
        .unwrap();
    assert_eq!(create.param("PermissionsBoundary"), Some(boundary.as_str()));
    // The extra tags sit beside dynsec's own, which they cannot replace.
    let tags: Vec<(String, String)> = admin
        .list_user_tags()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    for (k, v) in [
        ("team", "payments"),
        ("cost-center", "42"),
        ("dynsec:managed-by", "dynsec"),
        ("dynsec:lease-id", value["id"].as_str().unwrap()),
    ] {
        assert!(
            tags.contains(&(k.to_string(), v.to_string())),
            "{k}={v} missing: {tags:?}"
        );
    }
    // The inline policy is on the user and in force (moto evaluates it).
    let document = admin
        .get_user_policy()
        .user_name(user)
        .policy_name(dynsec_aws::INLINE_USER_POLICY)
        .send()
        .await
        .unwrap()
        .policy_document()
        .to_string();
    // IAM answers the document URL-encoded.
    assert!(
        document.contains("iam:ListRoles") || document.contains("iam%3AListRoles"),
        "{document}"
    );
    world.iam_as(&value).list_roles().send().await.unwrap();

    // Revocation removes all of it: the strict proxy refuses DeleteUser
    // while the inline policy (or anything else) is left.
    proxy.clear_requests();
    gw.ok(
        "gateway-revoke-producer-tmp-creds",
        json!({"name": "/surface/full", "tmp-creds-id": value["id"]}),
    )
    .await;
    assert!(proxy.actions().contains(&"DeleteUserPolicy".to_string()));
    let gone = admin.get_user().user_name(user).send().await.unwrap_err();
    assert!(gone.into_service_error().is_no_such_entity_exception());

    // Bad values are refused naming the field.
    let base = |extra: Value| {
        let mut body = json!({"name": "/surface/bad", "target-name": TARGET,
                              "access-mode": "iam_user"});
        common::merge(&mut body, extra);
        body
    };
    for (extra, field) in [
        (
            json!({"aws-user-tags": "dynsec:managed-by=someone"}),
            "aws-user-tags",
        ),
        (json!({"aws-user-tags": "novalue"}), "aws-user-tags"),
        (
            json!({"aws-user-inline-policy": "not json"}),
            "aws-user-inline-policy",
        ),
        (
            json!({"permissions-boundary-arn": "arn:aws:iam::123456789012:role/r"}),
            "permissions-boundary-arn",
        ),
        (
            json!({"session-policy": r#"{"Version":"2012-10-17"}"#}),
            "session-policy",
        ),
    ] {
        refused(gw, "gateway-create-producer-aws", base(extra), field).await;
    }
}

#[tokio::test]
async fn session_policies_go_out_with_assume_role() {
    let world = World::start().await;
    let gw = world.gw();
    let proxy = proxied_target(&world).await;
    let session_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#;
    gw.ok(
        "gateway-create-producer-aws",
        json!({
            "name": "/surface/role",
            "target-name": PROXIED_TARGET,
            "access-mode": "assumed_role",
            "aws-role-arns": world.role_arn,
            "user-ttl": "15m",
            "session-policy-arns": world.policy_arn,
            "session-policy": session_policy,
        }),
    )
    .await;
    let value = gw
        .ok("get-dynamic-secret-value", json!({"name": "/surface/role"}))
        .await;
    world
        .sts_as(&value)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let assume = proxy
        .requests()
        .into_iter()
        .find(|r| r.action == "AssumeRole")
        .unwrap();
    assert_eq!(
        assume.param("PolicyArns.member.1.arn"),
        Some(world.policy_arn.as_str())
    );
    assert_eq!(assume.param("Policy"), Some(session_policy));

    // Only for sessions; and at most 10 managed session policies (STS's limit).
    let eleven = vec![world.policy_arn.clone(); 11].join(",");
    refused(
        gw,
        "gateway-create-producer-aws",
        json!({"name": "/surface/role2", "target-name": TARGET, "access-mode": "assumed_role",
               "aws-role-arns": world.role_arn, "user-ttl": "15m", "session-policy-arns": eleven}),
        "session-policy-arns",
    )
    .await;
    refused(
        gw,
        "gateway-create-producer-aws",
        json!({"name": "/surface/user", "target-name": TARGET, "access-mode": "iam_user",
               "session-policy-arns": world.policy_arn}),
        "session-policy-arns",
    )
    .await;
}

#[tokio::test]
async fn max_ttl_caps_the_ttl_and_every_extension() {
    let world = World::start().await;
    let gw = world.gw();
    let message = refused(
        gw,
        "gateway-create-producer-aws",
        json!({"name": "/cap/x", "target-name": TARGET, "access-mode": "iam_user",
               "user-ttl": "2h", "max-ttl": "1h"}),
        "user-ttl",
    )
    .await;
    assert!(message.contains("max-ttl"), "{message}");
    refused(
        gw,
        "gateway-create-producer-aws",
        json!({"name": "/cap/x", "target-name": TARGET, "access-mode": "iam_user",
               "max-ttl": "soon"}),
        "max-ttl",
    )
    .await;

    world
        .iam_user_secret("/cap/x", json!({"user-ttl": "30m", "max-ttl": "1h"}))
        .await;
    assert_eq!(
        gw.ok("gateway-get-producer", json!({"name": "/cap/x"}))
            .await["max_ttl"],
        "1h"
    );
    // An update may not lift the TTL over the cap either.
    refused(
        gw,
        "gateway-update-producer-aws",
        json!({"name": "/cap/x", "target-name": TARGET, "access-mode": "iam_user",
               "user-ttl": "90m", "max-ttl": "1h"}),
        "user-ttl",
    )
    .await;

    let value = gw
        .ok("get-dynamic-secret-value", json!({"name": "/cap/x"}))
        .await;
    let extend = |minutes: u64| json!({"name": "/cap/x", "tmp-creds-id": value["id"], "new-ttl-min": minutes});
    let message = refused(
        gw,
        "gateway-update-producer-tmp-creds",
        extend(90),
        "new-ttl-min",
    )
    .await;
    assert!(message.contains("max-ttl"), "{message}");
    gw.ok("gateway-update-producer-tmp-creds", extend(45)).await;
    let leases = gw
        .ok("gateway-get-producer-tmp-creds", json!({"name": "/cap/x"}))
        .await;
    let expiry =
        chrono::DateTime::parse_from_rfc3339(leases[0]["expiration"].as_str().unwrap()).unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(leases[0]["creation_date"].as_str().unwrap()).unwrap();
    assert!(expiry - created <= chrono::Duration::hours(1));
    assert!(expiry - created > chrono::Duration::minutes(44));
}

/// A non-admin API key holding one role's rules.
async fn limited_caller(gw: &Gateway, rules: &[(&str, &[&str])]) -> String {
    let key = gw
        .ok(
            "auth-method-create-api-key",
            json!({"name": "/users/responder"}),
        )
        .await;
    gw.ok("create-role", json!({"name": "/roles/responder"}))
        .await;
    for (path, caps) in rules {
        gw.ok(
            "set-role-rule",
            json!({"role-name": "/roles/responder", "path": path, "capability": caps,
                   "rule-type": "item-rule"}),
        )
        .await;
    }
    gw.ok(
        "assoc-role-am",
        json!({"role-name": "/roles/responder", "am-name": "/users/responder"}),
    )
    .await;
    let (status, auth) = gw
        .raw(
            "auth",
            &json!({"access-id": key["access_id"], "access-key": key["access_key"]}),
        )
        .await;
    assert_eq!(status, 200, "{auth}");
    auth["token"].as_str().unwrap().to_string()
}

fn ids_by_secret(listing: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = listing["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["dynamic_secret"].as_str().unwrap().to_string(),
                l["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn list_and_revoke_leases_under_a_path_per_secret_rights() {
    let world = World::start().await;
    let gw = world.gw();
    world.iam_user_secret("/inc/a", json!({})).await;
    world.iam_user_secret("/inc/b", json!({})).await;
    // Outside the path, though its name starts the same.
    world.iam_user_secret("/incident-free", json!({})).await;
    gw.ok(
        "gateway-create-producer-aws",
        json!({"name": "/inc/role", "target-name": TARGET, "access-mode": "assumed_role",
               "aws-role-arns": world.role_arn, "user-ttl": "15m"}),
    )
    .await;
    let mut issued = Vec::new();
    for name in ["/inc/a", "/inc/a", "/inc/b", "/incident-free", "/inc/role"] {
        let value = gw
            .ok("get-dynamic-secret-value", json!({"name": name}))
            .await;
        issued.push((name.to_string(), value["id"].as_str().unwrap().to_string()));
    }
    let under_inc: Vec<(String, String)> = {
        let mut v: Vec<_> = issued
            .iter()
            .filter(|(n, _)| n.starts_with("/inc/"))
            .cloned()
            .collect();
        v.sort();
        v
    };

    // The admin sees every live lease under /inc, paged (2 per page here).
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"path": "/inc", "limit": 2});
        if let Some(t) = &token {
            body["pagination-token"] = json!(t);
        }
        let page = gw.ok("list-leases", body).await;
        for lease in page["leases"].as_array().unwrap() {
            assert_eq!(lease["state"], "active");
            assert!(lease["expiration"].as_str().is_some());
        }
        seen.extend(ids_by_secret(&page));
        match page["next_page"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, under_inc);

    // A responder may read and update /inc/a, only read /inc/b, and has no
    // rule at all on /inc/role.
    let token = limited_caller(
        gw,
        &[("/inc/a", &["read", "update"]), ("/inc/b", &["read"])],
    )
    .await;
    let (status, page) = gw
        .raw("list-leases", &json!({"path": "/inc", "token": token}))
        .await;
    assert_eq!(status, 200, "{page}");
    let visible: Vec<String> = ids_by_secret(&page).into_iter().map(|(n, _)| n).collect();
    assert_eq!(visible, ["/inc/a", "/inc/a", "/inc/b"]);

    let (status, report) = gw
        .raw("revoke-leases", &json!({"path": "/inc", "token": token}))
        .await;
    assert_eq!(status, 200, "{report}");
    let revoked: Vec<&str> = report["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["dynamic_secret"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, ["/inc/a", "/inc/a"]);
    let not_revoked = report["not_revoked"].as_array().unwrap();
    assert_eq!(not_revoked.len(), 1, "{report}");
    assert_eq!(not_revoked[0]["dynamic_secret"], "/inc/b");
    assert!(not_revoked[0]["reason"]
        .as_str()
        .unwrap()
        .contains("update"));
    // Nothing about /inc/role: the responder may not even read it.
    assert!(!report.to_string().contains("/inc/role"));

    // The admin clears the rest; the session AWS cannot end early is
    // reported with its reason, and /incident-free is untouched.
    let report = gw.ok("revoke-leases", json!({"path": "/inc"})).await;
    let revoked: Vec<&str> = report["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["dynamic_secret"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, ["/inc/b"]);
    assert!(report["warning"].as_str().unwrap().contains("still live"));
    let not_revoked = report["not_revoked"].as_array().unwrap();
    assert_eq!(not_revoked.len(), 1, "{report}");
    assert_eq!(not_revoked[0]["dynamic_secret"], "/inc/role");
    assert_eq!(not_revoked[0]["access_mode"], "assumed_role");
    assert!(
        not_revoked[0]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be revoked before they expire"),
        "{report}"
    );
    let remaining = gw.ok("list-leases", json!({"path": "/"})).await;
    let remaining: Vec<String> = ids_by_secret(&remaining)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(remaining, ["/inc/role", "/incident-free"]);
    assert_eq!(
        world.temp_users().await.len(),
        1,
        "only /incident-free's user"
    );

    // The path is required and checked.
    refused(gw, "revoke-leases", json!({}), "path").await;
    refused(gw, "list-leases", json!({"path": "/a/../b"}), "path").await;
}

/// Whether an SDK call went through; a refusal must be a 403.
fn allowed<T, E: std::fmt::Debug>(
    result: Result<T, aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>>,
) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(common::status_of(&e), Some(403), "{e:?}");
            false
        }
    }
}

/// ministack evaluates what moto ignores: the session policy and the
/// permissions boundary set through the gateway bind the credentials it
/// hands out.
#[tokio::test]
async fn on_ministack_session_policies_and_boundaries_bind_what_the_gateway_issues() {
    let ms = dynsec_testkit::Ministack::start().await;
    let root = ms.root_iam();
    let allow = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        )
    };
    let policy = |name: &'static str, action: &'static str| {
        let root = root.clone();
        let document = allow(action);
        async move {
            root.create_policy()
                .policy_name(name)
                .policy_document(document)
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap()
                .arn()
                .unwrap()
                .to_string()
        }
    };
    let everything = policy("everything", "*").await;
    let list_roles_only = policy("list-roles-only", "iam:ListRoles").await;
    // The gateway's admin: an IAM user allowed everything (the gateway
    // takes AWS-shaped key ids only, which ministack's root key is not).
    let admin = root
        .create_user()
        .user_name("dynsec-admin")
        .send()
        .await
        .unwrap()
        .user()
        .unwrap()
        .arn()
        .to_string();
    root.attach_user_policy()
        .user_name("dynsec-admin")
        .policy_arn(&everything)
        .send()
        .await
        .unwrap();
    let admin_key = root
        .create_access_key()
        .user_name("dynsec-admin")
        .send()
        .await
        .unwrap();
    let admin_key = admin_key.access_key().unwrap();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{}:root","{admin}"]}},"Action":"sts:AssumeRole"}}]}}"#,
        dynsec_testkit::MINISTACK_ACCOUNT_ID
    );
    let role_arn = root
        .create_role()
        .role_name("dynsec-wide")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    root.put_role_policy()
        .role_name("dynsec-wide")
        .policy_name("everything")
        .policy_document(allow("*"))
        .send()
        .await
        .unwrap();

    let dir = dynsec_testkit::TempDir::new("dynsec-ministack");
    let gw = Gateway::start(&common::bin(), &dir.path().join("data"), &[]).await;
    gw.ok(
        "create-aws-target",
        json!({"name": "/aws/ministack", "access-key-id": admin_key.access_key_id(),
               "access-key": admin_key.secret_access_key(),
               "region": ms.root_connection().region,
               "iam-endpoint": ms.endpoint, "sts-endpoint": ms.endpoint}),
    )
    .await;

    // A session narrowed to ListRoles by its session policy, though the
    // role may do everything.
    gw.ok(
        "gateway-create-producer-aws",
        json!({"name": "/ms/role", "target-name": "/aws/ministack",
               "access-mode": "assumed_role", "aws-role-arns": role_arn, "user-ttl": "15m",
               "session-policy": allow("iam:ListRoles")}),
    )
    .await;
    let session = gw
        .ok("get-dynamic-secret-value", json!({"name": "/ms/role"}))
        .await;
    let as_session = ms.iam(
        session["access_key_id"].as_str().unwrap(),
        session["secret_access_key"].as_str().unwrap(),
        session["session_token"].as_str(),
    );
    assert!(allowed(as_session.list_roles().send().await));
    assert!(!allowed(as_session.list_users().send().await));

    // A user granted everything, capped by its boundary.
    gw.ok(
        "gateway-create-producer-aws",
        json!({"name": "/ms/user", "target-name": "/aws/ministack",
               "access-mode": "iam_user", "aws-user-policies": everything,
               "permissions-boundary-arn": list_roles_only}),
    )
    .await;
    let user = gw
        .ok("get-dynamic-secret-value", json!({"name": "/ms/user"}))
        .await;
    let as_user = ms.iam(
        user["access_key_id"].as_str().unwrap(),
        user["secret_access_key"].as_str().unwrap(),
        None,
    );
    assert!(allowed(as_user.list_roles().send().await));
    assert!(!allowed(as_user.list_users().send().await));
    gw.ok(
        "gateway-revoke-producer-tmp-creds",
        json!({"name": "/ms/user", "tmp-creds-id": user["id"]}),
    )
    .await;
    let gone = root
        .get_user()
        .user_name(user["user_name"].as_str().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_no_such_entity_exception());
}
