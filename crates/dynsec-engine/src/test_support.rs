//! Shared fixtures for the engine's unit tests: an engine over a real SQLite
//! store, and leases and dynamic secrets that never reach AWS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{Caller, Engine, EngineConfig, ProducerInput, ProducerTargetInput};
use chrono::{DateTime, Utc};
use dynsec_core::{
    AccessMode, AwsConnection, ItemPath, Lease, LeaseState, PasswordPolicy, ProducerSettings,
    SecretString,
};
use dynsec_crypto::{Keyring, MasterKey, Sealer};
use dynsec_store::{SqliteStore, Store};
use std::path::PathBuf;
use std::sync::Arc;

/// An engine over `store` with a fresh master key, ready to seal.
pub async fn engine_over(store: Arc<dyn Store>, config: EngineConfig) -> Engine {
    let engine = Engine::new(
        store,
        Sealer::with_keyring(Keyring::new(MasterKey::generate())),
        config,
    );
    engine.prepare_master_key().await.unwrap();
    engine
}

/// An engine over a private in-memory store, and that store.
pub async fn memory_engine() -> (Engine, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    (
        engine_over(store.clone(), EngineConfig::default()).await,
        store,
    )
}

/// A fresh directory for a file-backed store.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dynsec-engine-{name}-{}-{}",
        std::process::id(),
        dynsec_crypto::random_id(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn path(name: &str) -> ItemPath {
    ItemPath::parse("name", name).unwrap()
}

/// A connection whose IAM endpoint is `iam_endpoint` (nothing listens on
/// port 9 unless a test says otherwise).
pub fn connection(iam_endpoint: &str) -> AwsConnection {
    AwsConnection {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        session_token: None,
        region: "us-east-1".into(),
        iam_endpoint: Some(iam_endpoint.into()),
        sts_endpoint: Some(iam_endpoint.into()),
    }
}

/// An iam_user dynamic secret carrying its connection inline.
pub fn inline_producer(name: &str) -> ProducerInput {
    ProducerInput {
        name: path(name),
        target: ProducerTargetInput::Inline(connection("http://127.0.0.1:9")),
        settings: ProducerSettings {
            access_mode: AccessMode::IamUser,
            user_policies: vec![],
            user_groups: vec![],
            role_arns: vec![],
            programmatic_access: true,
            console_access: false,
            password: PasswordPolicy::default(),
            ttl_secs: 3600,
            ttl_text: String::new(),
            iam_path: String::new(),
            external_id: None,
            session_tags: vec![],
            transitive_tag_keys: vec![],
            username_template: None,
            tags: vec![],
            description: String::new(),
            protection_key: None,
            permissions_boundary_arn: None,
            user_tags: vec![],
            user_inline_policy: None,
            session_policy_arns: vec![],
            session_policy: None,
            max_ttl_secs: None,
            max_ttl_text: String::new(),
            early_revocation: false,
            secure_access_delay_secs: 0,
            mfa_serial: None,
        },
        delete_protection: false,
        admin_rotation: Default::default(),
    }
}

/// An iam_user lease of `producer_id` in `state`, expiring at `expires_at`.
pub fn lease(id: &str, producer_id: i64, state: LeaseState, expires_at: DateTime<Utc>) -> Lease {
    Lease {
        id: id.into(),
        producer_id,
        producer_name: "/ds".into(),
        mode: AccessMode::IamUser,
        principal: format!("tmp.ds.{id}"),
        access_key_id: None,
        role_arn: None,
        account_id: None,
        state,
        owner: "node.test".into(),
        created_at: Utc::now(),
        expires_at,
        attempts: 0,
        last_error: None,
        next_attempt_at: None,
        created: None,
        revoked_at: None,
    }
}

/// The first admin, who may do anything.
pub fn admin() -> Caller {
    Caller {
        access_id: "p-testadmin0001".into(),
        is_admin: true,
        rules: Vec::new(),
    }
}
