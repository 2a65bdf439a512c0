//! Several gateways on one PostgreSQL database (a fresh one), against one
//! moto: shared by the cluster tests and the cluster benchmark.

use super::{bin, GROUP_NAME};
use base64::Engine as _;
use dynsec_testkit::{AdminKey, Gateway, Moto, PgDatabase, TempDir};
use serde_json::{json, Value};
use std::path::PathBuf;

pub const TARGET: &str = "/aws/moto";

/// One moto, one database, gateways each with a data dir of its own.
pub struct Cluster {
    pub moto: Moto,
    pub admin: AdminKey,
    pub policy_arn: String,
    pub db: PgDatabase,
    pub dir: TempDir,
}

impl Cluster {
    pub async fn start() -> Cluster {
        let (moto, db) = tokio::join!(Moto::start(), PgDatabase::create());
        let admin = moto.bootstrap_admin().await;
        let iam = moto.admin_iam(&admin);
        let policy = iam
            .create_policy()
            .policy_name("cluster-list-users")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        iam.create_group()
            .group_name(GROUP_NAME)
            .send()
            .await
            .unwrap();
        Cluster {
            policy_arn: policy.policy().unwrap().arn().unwrap().to_string(),
            moto,
            admin,
            db,
            dir: TempDir::new("dynsec-cluster"),
        }
    }

    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Gives gateway `name` the key file `key` (as copying the first
    /// gateway's master.key would).
    pub fn give_key_file(&self, name: &str, key: &str) {
        let dir = self.data_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("master.key"), key).unwrap();
    }

    pub fn args(&self) -> Vec<String> {
        [
            "--database-url",
            &self.db.url,
            "--heartbeat-secs",
            "1",
            "--orphan-sweep-secs",
            "3600",
        ]
        .map(str::to_string)
        .to_vec()
    }

    pub async fn gateway(&self, name: &str) -> Gateway {
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Gateway::start_with_args(&bin(), &self.data_dir(name), &[], &args).await
    }

    pub async fn create_target_and_secret(&self, via: &Gateway, name: &str, ttl: &str) {
        via.ok(
            "create-aws-target",
            json!({
                "name": TARGET,
                "access-key-id": self.admin.access_key_id,
                "access-key": self.admin.secret_access_key,
                "region": "us-east-1",
                "iam-endpoint": self.moto.endpoint,
                "sts-endpoint": self.moto.endpoint,
            }),
        )
        .await;
        self.create_secret(via, name, ttl).await;
    }

    pub async fn create_secret(&self, via: &Gateway, name: &str, ttl: &str) {
        via.ok(
            "gateway-create-producer-aws",
            json!({
                "name": name,
                "target-name": TARGET,
                "access-mode": "iam_user",
                "aws-user-policies": self.policy_arn,
                "aws-user-groups": GROUP_NAME,
                "user-ttl": ttl,
            }),
        )
        .await;
    }

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

    /// Whether an issued key still authenticates against moto.
    pub async fn key_works(&self, value: &Value) -> bool {
        let sts = self.moto.sts(
            value["access_key_id"].as_str().unwrap(),
            value["secret_access_key"].as_str().unwrap(),
            None,
        );
        match sts.get_caller_identity().send().await {
            Ok(_) => true,
            Err(err) => {
                assert_eq!(status_of_sts(&err), Some(403), "{err:?}");
                false
            }
        }
    }
}

pub fn status_of_sts<E>(
    err: &aws_sdk_sts::error::SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

pub fn random_master_key(seed: u8) -> String {
    let bytes: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
