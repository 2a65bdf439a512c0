//! Shared fixtures for the engine's unit tests: an engine over a real SQLite
//! store (with the in-memory AWS fake and tokio's clock, or the SDK and the
//! system clock), and leases and dynamic secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::clock::{Clock, TokioClock};
use crate::fake_aws::FakeAws;
use crate::{
    Caller, Engine, EngineConfig, IssuedValue, ProducerInput, ProducerTargetInput, TargetInput,
};
use chrono::{DateTime, Utc};
use dynsec_core::{
    AccessMode, AwsConnection, ItemPath, Lease, LeaseState, NewLease, PasswordPolicy,
    ProducerSettings, SecretString,
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

/// Keeps tokio's paused clock from advancing by itself while it lives:
/// time then moves only when the test calls `tokio::time::advance`.
///
/// Paused tokio time advances to the next timer whenever the runtime has
/// nothing to run, and it cannot see sqlx's SQLite worker thread: while a
/// query runs, the clock would jump to the next timer, firing sqlx's own
/// acquire timeout or any sleep early. A blocking task holds that off
/// (tokio does not auto-advance while one runs), until this is dropped.
#[derive(Debug)]
pub struct TimeHold(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

/// Holds the clock (see [`TimeHold`]). Call it first thing in a test with
/// `start_paused = true`, before any store is opened.
pub fn hold_time() -> TimeHold {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        // Returns once the hold is dropped.
        let _ = stopped.recv();
    });
    TimeHold(stop)
}

/// Tokio's clock, held for as long as the engine reading it lives.
struct HeldClock {
    clock: TokioClock,
    _hold: TimeHold,
}

impl Clock for HeldClock {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// An engine over a private in-memory store that reaches AWS through the
/// in-memory fake and reads tokio's time (`clock::TokioClock`), for tests
/// with `start_paused = true`: time moves only when the test advances it
/// (see [`TimeHold`]), so backoff, claims and delays take no real time.
pub async fn fake_engine_with(config: EngineConfig) -> (Engine, Arc<dyn Store>, FakeAws) {
    let hold = hold_time();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let (engine, aws) = fake_engine_over(store.clone(), config, hold).await;
    (engine, store, aws)
}

/// [`fake_engine_with`] over `store` (opened after `hold` was taken).
pub async fn fake_engine_over(
    store: Arc<dyn Store>,
    config: EngineConfig,
    hold: TimeHold,
) -> (Engine, FakeAws) {
    let aws = FakeAws::new();
    let engine = Engine::with_seams(
        store,
        Sealer::with_keyring(Keyring::new(MasterKey::generate())),
        config,
        Arc::new(aws.clone()),
        Arc::new(HeldClock {
            clock: aws.clock(),
            _hold: hold,
        }),
    );
    engine.prepare_master_key().await.unwrap();
    (engine, aws)
}

/// [`fake_engine_with`] the default settings.
pub async fn fake_engine() -> (Engine, Arc<dyn Store>, FakeAws) {
    fake_engine_with(EngineConfig::default()).await
}

/// Advances the held clock by `step` until `task` has finished, at most
/// `limit` in all: for a test waiting on something that sleeps.
pub async fn advance_until_finished<T>(
    task: &tokio::task::JoinHandle<T>,
    step: std::time::Duration,
    limit: std::time::Duration,
) {
    let mut advanced = std::time::Duration::ZERO;
    while !task.is_finished() && advanced < limit {
        tokio::time::advance(step).await;
        advanced += step;
        // Real time for the store's worker thread to answer.
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The lease `id` as stored.
pub async fn stored_lease(store: &dyn Store, id: &str) -> Lease {
    store.lease(id).await.unwrap().unwrap()
}

/// Advances the held clock to lease `id`'s next attempt, runs one reaper
/// pass, and returns the lease as it then is.
pub async fn next_attempt(engine: &Engine, store: &dyn Store, id: &str) -> Lease {
    let due = stored_lease(store, id).await.next_attempt_at.unwrap();
    if let Ok(wait) = (due - engine.now()).to_std() {
        tokio::time::advance(wait).await;
    }
    engine.reap_pass().await;
    stored_lease(store, id).await
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
/// The target `name` over `connection`: no protection key, no delete
/// protection, no scheduled rotation, a stored key.
pub fn target_input(name: &str, connection: AwsConnection) -> TargetInput {
    TargetInput {
        name: path(name),
        description: String::new(),
        connection,
        protection_key: None,
        delete_protection: false,
        admin_rotation: Default::default(),
        host_identity: None,
    }
}

/// The target `/aws/t` over `connection` and the iam_user secret `/ds/a`
/// over it; returns the secret's id.
pub async fn secret_over_target(engine: &Engine, connection: AwsConnection) -> i64 {
    engine
        .create_target(&admin(), target_input("/aws/t", connection))
        .await
        .unwrap();
    let mut input = inline_producer("/ds/a");
    input.target = ProducerTargetInput::Named("/aws/t".into());
    engine.create_producer(&admin(), input).await.unwrap().id
}

/// Issues an iam_user credential of `/ds/a`; returns its lease id.
pub async fn issue_iam_user(engine: &Engine) -> String {
    match engine
        .get_value(&admin(), &path("/ds/a"), &[])
        .await
        .unwrap()
    {
        IssuedValue::IamUser { lease_id, .. } => lease_id,
        other => panic!("an iam_user credential, not {other:?}"),
    }
}

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
    Lease::of_state(
        NewLease {
            id: id.into(),
            producer_id,
            producer_name: "/ds".into(),
            mode: AccessMode::IamUser,
            principal: format!("tmp.ds.{id}"),
            owner: "node.test".into(),
            created_at: Utc::now(),
            expires_at,
        },
        state,
    )
}

/// The first admin, who may do anything.
pub fn admin() -> Caller {
    Caller {
        access_id: "p-testadmin0001".into(),
        is_admin: true,
        rules: Vec::new(),
    }
}

/// A protection key's input: AES256GCM, split `split` ways, with the
/// customer fragment `customer` if any.
pub fn key_input(
    name: &str,
    split: Option<u64>,
    customer: Option<&str>,
) -> crate::ProtectionKeyInput {
    crate::ProtectionKeyInput {
        name: path(name),
        alg: "AES256GCM".into(),
        split_level: split,
        customer_fragment_id: customer.map(str::to_string),
        description: String::new(),
        delete_protection: false,
    }
}
