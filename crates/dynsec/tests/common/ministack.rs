//! ministack (auth on) behind a gateway: for what moto cannot show (policy
//! conditions evaluated, GetSessionToken / GetFederationToken credentials
//! that work).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::bin;
use dynsec_testkit::{Gateway, Ministack, TempDir, MINISTACK_ACCOUNT_ID};
use serde_json::{json, Value};

/// The target [`MiniWorld::start`] creates.
pub const MINI_TARGET: &str = "/aws/ministack";
/// The admin IAM user the target's key belongs to.
pub const MINI_ADMIN: &str = "dynsec-admin";

pub fn allow(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

/// ministack with an admin IAM user (allowed everything), a role the account
/// may assume allowing `iam:ListRoles`, a gateway and a target.
pub struct MiniWorld {
    pub ms: Ministack,
    pub gateway: Gateway,
    pub role_arn: String,
    _dir: TempDir,
}

impl MiniWorld {
    pub async fn start() -> MiniWorld {
        let ms = Ministack::start().await;
        let root = ms.root_iam();
        root.create_user()
            .user_name(MINI_ADMIN)
            .send()
            .await
            .unwrap();
        root.put_user_policy()
            .user_name(MINI_ADMIN)
            .policy_name("everything")
            .policy_document(allow("*"))
            .send()
            .await
            .unwrap();
        let key = root
            .create_access_key()
            .user_name(MINI_ADMIN)
            .send()
            .await
            .unwrap();
        let key = key.access_key().unwrap();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{MINISTACK_ACCOUNT_ID}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let role = root
            .create_role()
            .role_name("dynsec-early")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
        root.put_role_policy()
            .role_name("dynsec-early")
            .policy_name("role-permissions")
            .policy_document(allow("iam:ListRoles"))
            .send()
            .await
            .unwrap();
        let dir = TempDir::new("dynsec-early-revocation");
        let gateway = Gateway::start(&bin(), &dir.path().join("data"), &[]).await;
        gateway
            .ok(
                "create-aws-target",
                json!({
                    "name": MINI_TARGET,
                    "access-key-id": key.access_key_id(),
                    "access-key": key.secret_access_key(),
                    "region": "us-east-1",
                    "iam-endpoint": ms.endpoint,
                    "sts-endpoint": ms.endpoint,
                }),
            )
            .await;
        MiniWorld {
            role_arn: role.role().unwrap().arn().to_string(),
            ms,
            gateway,
            _dir: dir,
        }
    }

    pub fn iam_as(&self, value: &Value) -> aws_sdk_iam::Client {
        self.ms.iam(
            value["access_key_id"].as_str().unwrap(),
            value["secret_access_key"].as_str().unwrap(),
            value["session_token"].as_str(),
        )
    }

    /// Whether the credential may ListRoles; a refusal must be AccessDenied.
    pub async fn works(&self, value: &Value) -> bool {
        match self.iam_as(value).list_roles().send().await {
            Ok(_) => true,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                assert_eq!(status, Some(403), "{e:?}");
                false
            }
        }
    }
}

impl MiniWorld {
    /// Whether the credential may ListUsers; a refusal must be AccessDenied.
    pub async fn may_list_users(&self, value: &Value) -> bool {
        match self.iam_as(value).list_users().send().await {
            Ok(_) => true,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                assert_eq!(status, Some(403), "{e:?}");
                false
            }
        }
    }

    /// Who the credential acts as (GetCallerIdentity signed with it).
    pub async fn identity_of(&self, value: &Value) -> String {
        self.ms
            .sts(
                value["access_key_id"].as_str().unwrap(),
                value["secret_access_key"].as_str().unwrap(),
                value["session_token"].as_str(),
            )
            .get_caller_identity()
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }
}
