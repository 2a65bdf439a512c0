//! Shared setup for end-to-end tests: moto with authentication on, an admin
//! AWS key, a policy, a group and a role to grant, and a running gateway with an
//! AWS target pointing at moto.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;
pub mod ministack;

use dynsec_testkit::{AdminKey, Gateway, KeepAliveProxy, Moto, TempDir};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Customer-managed policy granted to temporary users: allows `iam:ListUsers` only.
pub const POLICY_NAME: &str = "dynsec-test-list-users";
/// Group whose inline policy allows `iam:ListGroups` only.
pub const GROUP_NAME: &str = "dynsec-test-group";
/// Role that the admin's account may assume; its own policy allows `iam:ListRoles`.
pub const ROLE_NAME: &str = "dynsec-test-role";
pub const SECOND_ROLE_NAME: &str = "dynsec-test-role-2";
/// Name of the target created by [`World::start`].
pub const TARGET: &str = "/aws/moto";

pub struct World {
    pub moto: Moto,
    pub admin: AdminKey,
    pub gateway: Option<Gateway>,
    pub policy_arn: String,
    pub role_arn: String,
    pub second_role_arn: String,
    pub dir: TempDir,
    /// Extra environment every start of the gateway gets.
    pub gateway_env: Vec<(String, String)>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dynsec"))
}

impl World {
    /// moto (auth on) + fixtures + gateway + target.
    pub async fn start() -> World {
        Self::start_with(false).await
    }

    /// Like [`World::start`], with the gateway's AWS endpoints (`AWS_ENDPOINT_URL`)
    /// pointing at moto, so connections given without endpoints reach it too.
    pub async fn start_with_moto_as_aws() -> World {
        Self::start_with(true).await
    }

    async fn start_with(moto_as_aws: bool) -> World {
        let moto = Moto::start().await;
        let admin = moto.bootstrap_admin().await;
        let iam = moto.admin_iam(&admin);
        let policy = iam
            .create_policy()
            .policy_name(POLICY_NAME)
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        let policy_arn = policy.policy().unwrap().arn().unwrap().to_string();
        iam.create_group()
            .group_name(GROUP_NAME)
            .send()
            .await
            .unwrap();
        iam.put_group_policy()
            .group_name(GROUP_NAME)
            .policy_name("list-groups")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListGroups","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        // moto matches the trust policy's principal exactly (an account root
        // principal does not cover its users), so the admin is named.
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#,
            moto.admin_arn()
        );
        let mut role_arns = Vec::new();
        for name in [ROLE_NAME, SECOND_ROLE_NAME] {
            let role = iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(&trust)
                .send()
                .await
                .unwrap();
            iam.put_role_policy()
                .role_name(name)
                .policy_name("list-roles")
                .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#)
                .send()
                .await
                .unwrap();
            role_arns.push(role.role().unwrap().arn().to_string());
        }
        let dir = TempDir::new("dynsec-e2e");
        let mut world = World {
            moto,
            admin,
            gateway: None,
            policy_arn,
            role_arn: role_arns[0].clone(),
            second_role_arn: role_arns[1].clone(),
            dir,
            gateway_env: Vec::new(),
        };
        if moto_as_aws {
            world.gateway_env = vec![("AWS_ENDPOINT_URL".into(), world.moto.endpoint.clone())];
        }
        world.start_gateway().await;
        world
            .gw()
            .ok(
                "create-aws-target",
                json!({
                    "name": TARGET,
                    "access-key-id": world.admin.access_key_id,
                    "access-key": world.admin.secret_access_key,
                    "region": "us-east-1",
                    "iam-endpoint": world.moto.endpoint,
                    "sts-endpoint": world.moto.endpoint,
                }),
            )
            .await;
        world
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// (Re)starts the gateway on the same data dir.
    pub async fn start_gateway(&mut self) {
        let env: Vec<(&str, &str)> = self
            .gateway_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let gateway = Gateway::start(&bin(), &self.data_dir(), &env).await;
        self.gateway = Some(gateway);
    }

    pub fn gw(&self) -> &Gateway {
        self.gateway.as_ref().expect("gateway running")
    }

    /// Creates an iam_user dynamic secret granting the test policy and group.
    pub async fn iam_user_secret(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({
            "name": name,
            "target-name": TARGET,
            "access-mode": "iam_user",
            "aws-user-policies": self.policy_arn,
            "aws-user-groups": GROUP_NAME,
            "user-ttl": "60m",
        });
        merge(&mut body, extra);
        self.gw().ok("gateway-create-producer-aws", body).await
    }

    /// IAM and STS clients acting with an issued credential.
    pub fn iam_as(&self, value: &Value) -> aws_sdk_iam::Client {
        self.moto.iam(
            value["access_key_id"].as_str().unwrap(),
            value["secret_access_key"].as_str().unwrap(),
            value["session_token"].as_str(),
        )
    }

    pub fn sts_as(&self, value: &Value) -> aws_sdk_sts::Client {
        self.moto.sts(
            value["access_key_id"].as_str().unwrap(),
            value["secret_access_key"].as_str().unwrap(),
            value["session_token"].as_str(),
        )
    }

    /// Names of all IAM users under the gateway's path.
    pub async fn temp_users(&self) -> Vec<String> {
        let out = self
            .moto
            .admin_iam(&self.admin)
            .list_users()
            .path_prefix("/dynsec/")
            .send()
            .await
            .unwrap();
        out.users()
            .iter()
            .map(|u| u.user_name().to_string())
            .collect()
    }
}

pub fn merge(body: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (body.as_object_mut(), extra) {
        target.extend(extra);
    }
}

/// HTTP status of an SDK error (moto's auth errors decode without a code).
pub fn status_of<E>(
    err: &aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// Workers that issue credentials back to back until the gateway dies;
/// counts the credentials handed out.
pub fn issuance_workers(
    gateway: &Gateway,
    token: &str,
    name: &str,
    workers: usize,
    issued: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let url = format!("{}/api/v2/get-dynamic-secret-value", gateway.url);
            let body = json!({"name": name, "token": token});
            let issued = issued.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while let Ok(response) = client.post(&url).json(&body).send().await {
                    if !response.status().is_success() {
                        break;
                    }
                    issued.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect()
}

/// The target [`proxied_target`] creates.
pub const PROXIED_TARGET: &str = "/aws/proxied";

/// Creates the target [`PROXIED_TARGET`], whose IAM and STS endpoints are a
/// strict counting proxy in front of moto (DeleteUser refused while anything
/// is left on the user, as AWS does), and returns the proxy.
pub async fn proxied_target(world: &World) -> KeepAliveProxy {
    let proxy =
        KeepAliveProxy::start_strict(&world.moto.endpoint, world.moto.admin_iam(&world.admin))
            .await;
    world
        .gw()
        .ok(
            "create-aws-target",
            json!({
                "name": PROXIED_TARGET,
                "access-key-id": world.admin.access_key_id,
                "access-key": world.admin.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": proxy.endpoint,
                "sts-endpoint": proxy.endpoint,
            }),
        )
        .await;
    proxy
}

/// Polls `check` every 100 ms until it holds or `limit` passes (failing the
/// test naming `what`); returns how long it took.
pub async fn eventually<F, Fut>(
    limit: std::time::Duration,
    what: &str,
    mut check: F,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    start.elapsed()
}

/// A SQLite connection to the gateway's database, behind its back.
pub async fn database(data_dir: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        data_dir.join("dynsec.db").display()
    ))
    .await
    .unwrap()
}
