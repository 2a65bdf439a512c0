//! Auth methods and path-rule RBAC, driven through the API: who may do what,
//! deny beats grant, wildcard edges, cross-folder attempts, and that a denied
//! caller learns nothing about whether an item exists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, TARGET};
use dynsec_testkit::Gateway;
use serde_json::{json, Value};

/// A non-admin API key and helpers to call the gateway as it.
struct User<'a> {
    gw: &'a Gateway,
    access_id: String,
    access_key: String,
}

impl<'a> User<'a> {
    async fn create(gw: &'a Gateway, name: &str, extra: Value) -> User<'a> {
        let mut body = json!({"name": name});
        common::merge(&mut body, extra);
        let created = gw.ok("auth-method-create-api-key", body).await;
        assert!(created["access_id"].as_str().unwrap().starts_with("p-"));
        User {
            gw,
            access_id: created["access_id"].as_str().unwrap().into(),
            access_key: created["access_key"].as_str().unwrap().into(),
        }
    }

    async fn auth(&self) -> (u16, Value) {
        self.gw
            .raw(
                "auth",
                &json!({"access-id": self.access_id, "access-key": self.access_key}),
            )
            .await
    }

    async fn token(&self) -> String {
        let (status, body) = self.auth().await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().into()
    }

    async fn call(&self, op: &str, mut body: Value) -> (u16, Value) {
        body["token"] = json!(self.token().await);
        self.gw.raw(op, &body).await
    }
}

fn item_names(listing: &Value) -> Vec<String> {
    listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn path_rules_decide_who_may_do_what() {
    let world = World::start().await;
    let gw = world.gw();
    // Items the admin created, some of which alice may not see.
    world.iam_user_secret("/prod/app", json!({})).await;
    world.iam_user_secret("/dev/secret/y", json!({})).await;
    world.iam_user_secret("/devil/z", json!({})).await;

    let alice = User::create(gw, "/users/alice", json!({"bound-ips": ["127.0.0.1/32"]})).await;
    gw.ok("create-role", json!({"name": "/roles/dev"})).await;
    for (path, caps, kind) in [
        (
            "/dev/*",
            vec!["read", "list", "create", "update", "delete"],
            "item-rule",
        ),
        ("/dev/secret/*", vec!["deny"], "item-rule"),
        ("/aws/*", vec!["read", "list"], "target-rule"),
    ] {
        gw.ok(
            "set-role-rule",
            json!({"role-name": "/roles/dev", "path": path, "capability": caps, "rule-type": kind}),
        )
        .await;
    }
    let assoc = gw
        .ok(
            "assoc-role-am",
            json!({"role-name": "/roles/dev", "am-name": "/users/alice"}),
        )
        .await;
    assert!(assoc["assoc_id"].as_str().unwrap().starts_with("ra-"));
    let role = gw.ok("get-role", json!({"name": "/roles/dev"})).await;
    assert_eq!(role["rules"]["path_rules"].as_array().unwrap().len(), 3);
    assert_eq!(
        role["role_auth_methods_assoc"][0]["auth_method_name"],
        "/users/alice"
    );

    let secret = |name: &str| {
        json!({"name": name, "target-name": TARGET, "access-mode": "iam_user",
               "aws-user-policies": world.policy_arn})
    };
    // Allowed: her folder, with a target she may read.
    let (status, body) = alice
        .call("gateway-create-producer-aws", secret("/dev/app"))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, value) = alice
        .call("get-dynamic-secret-value", json!({"name": "/dev/app"}))
        .await;
    assert_eq!(status, 200, "{value}");
    assert!(value["access_key_id"].as_str().is_some());
    let (status, _) = alice
        .call(
            "gateway-get-producer-tmp-creds",
            json!({"name": "/dev/app"}),
        )
        .await;
    assert_eq!(status, 200);

    // Denied: other folders, deny-wins, wildcard edges, cross-folder lookalikes.
    for name in [
        "/prod/app2",
        "/dev/secret/x",
        "/devil/x",
        "/dev",
        "/d/dev/x",
    ] {
        let (status, body) = alice
            .call("gateway-create-producer-aws", secret(name))
            .await;
        assert_eq!(status, 403, "create {name}: {body}");
    }
    for (op, name) in [
        ("describe-item", "/prod/app"),
        ("get-dynamic-secret-value", "/prod/app"),
        ("get-dynamic-secret-value", "/dev/secret/y"),
        ("delete-item", "/devil/z"),
        ("gateway-revoke-producer-tmp-creds", "/prod/app"),
    ] {
        let (status, body) = alice
            .call(op, json!({"name": name, "revoke-all": true}))
            .await;
        assert_eq!(status, 403, "{op} {name}: {body}");
    }
    // An existing and a missing item are refused alike.
    let (s1, existing) = alice
        .call("describe-item", json!({"name": "/prod/app"}))
        .await;
    let (s2, missing) = alice
        .call("describe-item", json!({"name": "/prod/nothing"}))
        .await;
    assert_eq!((s1, s2), (403, 403));
    assert_eq!(
        existing["error"]
            .as_str()
            .unwrap()
            .replace("/prod/app", "X"),
        missing["error"]
            .as_str()
            .unwrap()
            .replace("/prod/nothing", "X")
    );

    // Listings show only what she may list, folders included.
    let (_, root) = alice.call("list-items", json!({"path": "/"})).await;
    assert_eq!(root["folders"], json!(["/dev"]), "{root}");
    let (_, dev) = alice.call("list-items", json!({"path": "/dev"})).await;
    assert_eq!(item_names(&dev), ["/dev/app"]);
    assert_eq!(
        dev["folders"],
        json!([]),
        "the denied sub-folder stays hidden"
    );
    let (_, producers) = alice.call("gateway-list-producers", json!({})).await;
    assert_eq!(producers["producers"].as_array().unwrap().len(), 1);

    // Targets: she may read and list /aws/*, but not reveal the secret or create one.
    let (status, _) = alice.call("get-target", json!({"name": TARGET})).await;
    assert_eq!(status, 200);
    let (status, body) = alice
        .call("get-target-details", json!({"name": TARGET}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains(&world.admin.secret_access_key));
    let (status, _) = alice
        .call(
            "create-aws-target",
            json!({"name": "/aws/mine", "access-key-id": "A", "access-key": "B"}),
        )
        .await;
    assert_eq!(status, 403);

    // Roles and auth methods are out of her reach, and invisible.
    let (status, _) = alice
        .call("create-role", json!({"name": "/roles/mine"}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = alice
        .call(
            "set-role-rule",
            json!({"role-name": "/roles/dev", "path": "/*", "capability": ["read"]}),
        )
        .await;
    assert_eq!(status, 403, "no self-promotion");
    let (_, roles) = alice.call("list-roles", json!({})).await;
    assert_eq!(roles["roles"], json!([]));
    let (_, methods) = alice.call("auth-method-list", json!({})).await;
    assert_eq!(methods["auth_methods"], json!([]));
    let (status, _) = alice
        .call("delete-assoc", json!({"assoc-id": assoc["assoc_id"]}))
        .await;
    assert_eq!(status, 403);

    // She may delete in her folder.
    let (status, body) = alice.call("delete-item", json!({"name": "/dev/app"})).await;
    assert_eq!(status, 200, "{body}");

    // Removing the association removes her rights at once.
    gw.ok("delete-assoc", json!({"assoc-id": assoc["assoc_id"]}))
        .await;
    let (status, _) = alice
        .call("gateway-create-producer-aws", secret("/dev/again"))
        .await;
    assert_eq!(status, 403);
}

/// The three routes to more rights than one was given — moving an object
/// where one holds more, granting oneself (or through an association), and
/// repointing a dynamic secret at a target one may not read — each refused,
/// while the same operations within one's rights still work.
#[tokio::test]
async fn moving_granting_and_repointing_cannot_raise_rights() {
    let world = World::start().await;
    let gw = world.gw();
    // The admin's things: a shared target with its admin secret, a dynamic
    // secret under /prod using it, and a rich role.
    gw.ok(
        "create-aws-target",
        json!({
            "name": "/shared/aws",
            "access-key-id": world.admin.access_key_id,
            "access-key": world.admin.secret_access_key,
            "region": "us-east-1",
            "iam-endpoint": world.moto.endpoint,
            "sts-endpoint": world.moto.endpoint,
        }),
    )
    .await;
    world
        .iam_user_secret("/prod/db", json!({"target-name": "/shared/aws"}))
        .await;
    gw.ok("create-role", json!({"name": "/roles/rich"})).await;
    gw.ok(
        "set-role-rule",
        json!({"role-name": "/roles/rich", "path": "*", "capability": ["read", "reveal"], "rule-type": "target-rule"}),
    )
    .await;

    // Mallory: her own folder, update (only) on what she should not read,
    // update on her own role and on the rich one, read on her auth method.
    let mallory = User::create(gw, "/users/mallory", json!({})).await;
    gw.ok("create-role", json!({"name": "/roles/mallory"}))
        .await;
    for (path, caps, kind) in [
        ("/shared/*", vec!["update"], "target-rule"),
        (
            "/team/*",
            vec!["create", "read", "reveal", "update", "delete", "list"],
            "target-rule",
        ),
        (
            "/team/*",
            vec!["create", "read", "update", "delete", "list"],
            "item-rule",
        ),
        ("/prod/*", vec!["update"], "item-rule"),
        ("/roles/*", vec!["update", "read"], "role-rule"),
        ("/users/mallory", vec!["read"], "auth-method-rule"),
        ("/aws/*", vec!["read"], "target-rule"),
    ] {
        gw.ok(
            "set-role-rule",
            json!({"role-name": "/roles/mallory", "path": path, "capability": caps, "rule-type": kind}),
        )
        .await;
    }
    gw.ok(
        "assoc-role-am",
        json!({"role-name": "/roles/mallory", "am-name": "/users/mallory"}),
    )
    .await;
    let denied = |(status, body): (u16, Value), what: &str, why: &str| {
        assert_eq!(status, 403, "{what}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{what}: {body}"
        );
    };

    // (2) Renaming the shared target into her folder, to read its secret.
    denied(
        mallory
            .call(
                "update-aws-target",
                json!({"name": "/shared/aws", "new-name": "/team/stolen",
                       "access-key-id": world.admin.access_key_id}),
            )
            .await,
        "rename a target to where she may reveal it",
        "'delete' on target '/shared/aws'",
    );
    // (2) Renaming a /prod item she cannot read into her folder, to issue from it.
    denied(
        mallory
            .call(
                "gateway-update-producer-aws",
                json!({"name": "/prod/db", "new-name": "/team/db", "access-mode": "iam_user"}),
            )
            .await,
        "rename an item to where she may read it",
        "'delete' on item '/prod/db'",
    );
    // (6) Updating it in place (to admin rights) while it keeps a target she
    // may not read.
    denied(
        mallory
            .call(
                "gateway-update-producer-aws",
                json!({"name": "/prod/db", "access-mode": "iam_user",
                       "aws-user-policies": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            )
            .await,
        "update a dynamic secret whose target she cannot read",
        "'read' on target '/shared/aws'",
    );
    // (5) Granting herself read+reveal on every target, directly...
    denied(
        mallory
            .call(
                "set-role-rule",
                json!({"role-name": "/roles/mallory", "path": "*", "capability": ["read", "reveal"],
                       "rule-type": "target-rule"}),
            )
            .await,
        "grant herself what she does not hold",
        "granting 'read' on target-rule '*'",
    );
    // ...or by associating the rich role with herself.
    denied(
        mallory
            .call(
                "assoc-role-am",
                json!({"role-name": "/roles/rich", "am-name": "/users/mallory"}),
            )
            .await,
        "associate a role granting what she does not hold",
        "granting 'read' on target-rule '*'",
    );
    denied(
        mallory
            .call("get-target-details", json!({"name": "/shared/aws"}))
            .await,
        "the secret stays hidden",
        "'read' on target '/shared/aws'",
    );
    // Even with `delete` where the target is, the move would unlock it.
    gw.ok(
        "set-role-rule",
        json!({"role-name": "/roles/mallory", "path": "/shared/*", "capability": ["update", "delete"],
               "rule-type": "target-rule"}),
    )
    .await;
    denied(
        mallory
            .call(
                "update-aws-target",
                json!({"name": "/shared/aws", "new-name": "/team/stolen",
                       "access-key-id": world.admin.access_key_id}),
            )
            .await,
        "a move that gains rights",
        "would give this auth method 'read'",
    );
    let (status, _) = gw.call("describe-item", json!({"name": "/prod/db"})).await;
    assert_eq!(status, 200, "the item did not move");
    let (status, _) = gw.call("get-target", json!({"name": "/shared/aws"})).await;
    assert_eq!(status, 200, "the target did not move");

    // Within her rights, the same operations work.
    let (status, body) = mallory
        .call(
            "create-aws-target",
            json!({"name": "/team/own", "access-key-id": world.admin.access_key_id,
                   "access-key": world.admin.secret_access_key, "region": "us-east-1",
                   "iam-endpoint": world.moto.endpoint, "sts-endpoint": world.moto.endpoint}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = mallory
        .call(
            "update-aws-target",
            json!({"name": "/team/own", "new-name": "/team/renamed",
                   "access-key-id": world.admin.access_key_id}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = mallory
        .call(
            "set-role-rule",
            json!({"role-name": "/roles/mallory", "path": "/team/sub/*", "capability": ["read"]}),
        )
        .await;
    assert_eq!(status, 200, "granting what she holds: {body}");
}

#[tokio::test]
async fn keys_tokens_expiry_bound_ips_and_rate_limits() {
    let world = World::start().await;
    let gw = world.gw();

    // Wrong key, garbage and forged tokens.
    let bob = User::create(gw, "/users/bob", json!({"jwt-ttl": 5})).await;
    let (status, _) = gw
        .raw(
            "auth",
            &json!({"access-id": bob.access_id, "access-key": "not-the-key"}),
        )
        .await;
    assert_eq!(status, 401);
    for token in [
        "",
        "garbage",
        "t-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, _) = gw.raw("list-items", &json!({"token": token})).await;
        assert_eq!(status, 401, "token {token:?}");
    }
    // The token carries the auth method's TTL.
    let (status, answer) = bob.auth().await;
    assert_eq!(status, 200);
    let expiration =
        chrono::DateTime::parse_from_rfc3339(answer["expiration"].as_str().unwrap()).unwrap();
    let minutes = (expiration.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(
        (240..=300).contains(&minutes),
        "jwt-ttl 5 minutes, got {minutes} s"
    );

    // An access key past its expiry: refused, and so are its tokens.
    let soon = chrono::Utc::now().timestamp() + 2;
    let carol = User::create(gw, "/users/carol", json!({"access-expires": soon})).await;
    let token = carol.token().await;
    let (status, _) = gw.raw("list-items", &json!({"token": token})).await;
    assert_eq!(status, 200);
    // Polled until the key is refused (it works until `access-expires`).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let body = loop {
        let (status, body) = carol.auth().await;
        if status != 200 {
            assert_eq!(status, 401, "{body}");
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key still works long after its expiry"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        chrono::Utc::now().timestamp() >= soon,
        "refused only once its expiry passed"
    );
    assert!(
        body["error"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let (status, _) = gw.raw("list-items", &json!({"token": token})).await;
    assert_eq!(status, 401, "tokens end with their key");
    let (status, body) = gw
        .call(
            "auth-method-create-api-key",
            json!({"name": "/users/past", "access-expires": 1000}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Bound IPs: checked against the TCP peer, never X-Forwarded-For.
    let dave = User::create(gw, "/users/dave", json!({"bound-ips": ["10.0.0.0/8"]})).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/auth", gw.url))
        .header("X-Forwarded-For", "10.1.2.3")
        .json(&json!({"access-id": dave.access_id, "access-key": dave.access_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("bound IPs"),
        "{body}"
    );
    let (status, body) = gw
        .call(
            "auth-method-create-api-key",
            json!({"name": "/users/bad", "bound-ips": ["10.0.0.0/33"]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("bound-ips"));

    // Failed attempts delay, never refuse (see
    // `wrong_keys_delay_their_own_address_and_never_lock_the_key_out`).
    let (status, _) = bob.auth().await;
    assert_eq!(status, 200, "one earlier failure costs nothing");

    // The admin key stays; deleting a method ends its tokens.
    let methods = gw.ok("auth-method-list", json!({})).await;
    let admin_name = methods["auth_methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["is_admin"] == true)
        .unwrap()["auth_method_name"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = gw
        .call("auth-method-delete", json!({"name": admin_name}))
        .await;
    assert_eq!(status, 409);
    let erin = User::create(gw, "/users/erin", json!({})).await;
    let token = erin.token().await;
    let got = gw
        .ok("auth-method-get", json!({"name": "/users/erin"}))
        .await;
    assert_eq!(got["auth_method_access_id"], json!(erin.access_id));
    assert!(
        !got.to_string().contains(&erin.access_key),
        "the key is shown once only"
    );
    gw.ok("delete-auth-method", json!({"name": "/users/erin"}))
        .await;
    let (status, _) = gw.raw("list-items", &json!({"token": token})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let dir = dynsec_testkit::TempDir::new("dynsec-proxy");
    let gw = Gateway::start_with_args(
        &common::bin(),
        &dir.path().join("data"),
        &[],
        &["--trusted-proxies", "127.0.0.1/32"],
    )
    .await;
    let dave = User::create(&gw, "/users/dave", json!({"bound-ips": ["10.0.0.0/8"]})).await;
    let auth = |forwarded: &'static str| {
        let body = json!({"access-id": dave.access_id, "access-key": dave.access_key});
        let url = format!("{}/api/v2/auth", gw.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("X-Forwarded-For", forwarded)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        auth("10.1.2.3").await,
        200,
        "the proxy vouches for 10.1.2.3"
    );
    assert_eq!(
        auth("10.9.9.9, 8.8.8.8").await,
        401,
        "the proxy saw 8.8.8.8; the left entry is the client's word"
    );
}

/// `auth` from a client address (the gateway trusts 127.0.0.1 as a proxy):
/// the status, the delay header in ms if any, and the answer.
async fn auth_from(
    gw: &Gateway,
    client: &str,
    access_id: &str,
    access_key: &str,
) -> (u16, Option<u64>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/auth", gw.url))
        .header("X-Forwarded-For", client)
        .json(&json!({"access-id": access_id, "access-key": access_key}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let delay = response
        .headers()
        .get(dynsec_api::AUTH_DELAY_HEADER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, delay, response.json().await.unwrap())
}

#[tokio::test]
async fn wrong_keys_delay_their_own_address_and_never_lock_the_key_out() {
    let dir = dynsec_testkit::TempDir::new("dynsec-lockout");
    let gw = Gateway::start_with_args(
        &common::bin(),
        &dir.path().join("data"),
        &[],
        &[
            "--trusted-proxies",
            "127.0.0.1/32",
            "--auth-max-delay-ms",
            "200",
        ],
    )
    .await;
    let carol = User::create(&gw, "/users/carol", json!({})).await;
    let (a, b, c) = ("198.51.100.1", "198.51.100.2", "198.51.100.3");

    // Ten wrong keys from A: each refused as wrong (401), never locked (429);
    // from the fourth on, each answer is held back (capped at 200 ms here).
    let mut delays = Vec::new();
    for _ in 0..10 {
        let (status, delay, body) =
            auth_from(&gw, a, &carol.access_id, "wrong-key-0123456789").await;
        assert_eq!(status, 401, "{body}");
        delays.push(delay);
    }
    assert_eq!(&delays[..3], [None, None, None], "{delays:?}");
    assert!(delays[3..].iter().all(|d| *d == Some(200)), "{delays:?}");

    // The right key from B: at once, and its token works.
    let (status, delay, body) = auth_from(&gw, b, &carol.access_id, &carol.access_key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(delay, None, "another address is not slowed");
    let (status, listed) = gw
        .raw("list-targets", &json!({"token": body["token"]}))
        .await;
    assert_eq!(status, 200, "{listed}");

    // The right key from A still gets in, after the delay.
    let (status, delay, body) = auth_from(&gw, a, &carol.access_id, &carol.access_key).await;
    assert_eq!(status, 200, "delayed, not refused: {body}");
    assert_eq!(delay, Some(200));

    // Guessing ids from C is a flood: after 50 unknown ids C is refused
    // (429, even with the right key) until the minute passes; B is not.
    for i in 0..50 {
        let (status, _, body) =
            auth_from(&gw, c, &format!("p-guess{i:04}"), "wrong-key-0123456789").await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, _, body) = auth_from(&gw, c, &carol.access_id, &carol.access_key).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("retry in"),
        "{body}"
    );
    let (status, _, body) = auth_from(&gw, b, &carol.access_id, &carol.access_key).await;
    assert_eq!(status, 200, "{body}");
}
