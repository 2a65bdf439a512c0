//! Test support for dynsec: starts real AWS emulators on free loopback ports,
//! so integration tests exercise the genuine IAM and STS wire protocols
//! through the real AWS SDK — moto ([`Moto`]; `moto_server`) for most things,
//! ministack ([`Ministack`]) where policy conditions, session policies and
//! permissions boundaries must really be evaluated — plus a counting
//! keep-alive proxy ([`KeepAliveProxy`]) to see connection reuse, and the
//! gateway binary ([`Gateway`]). Used only as a dev-dependency.
//!
//! moto is found through `$DYNSEC_MOTO_SERVER` (CI points it into a venv), else
//! `moto_server` on `PATH`. Each [`Moto`] is its own process, so tests running in
//! parallel do not share state; the process is killed when the [`Moto`] drops.
//!
//! Typical use (auth on, so issued keys are really checked):
//! ```no_run
//! # async fn demo() {
//! let moto = dynsec_testkit::Moto::start().await;
//! let admin = moto.bootstrap_admin().await;
//! let conn = moto.connection(&admin);
//! # }
//! ```

mod gateway;
mod ministack;
mod postgres;
mod proxy;

pub use gateway::{Gateway, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
pub use ministack::{Ministack, MINISTACK_ACCOUNT_ID};
pub use postgres::PgDatabase;
pub use proxy::{KeepAliveProxy, ProxiedRequest};

use dynsec_core::{AwsConnection, SecretString};
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Region the helper clients sign for; moto accepts any.
pub const REGION: &str = "us-east-1";

/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

/// Name of the admin user [`Moto::bootstrap_admin`] creates.
pub const ADMIN_USER: &str = "dynsec-admin";

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// A free port can be taken by a parallel test between our probe and moto's bind.
const START_ATTEMPTS: usize = 3;

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    port: u16,
    log_path: PathBuf,
    // Held for `kill_on_drop`.
    child: Child,
}

/// Access key of the admin user created by [`Moto::bootstrap_admin`].
#[derive(Clone)]
pub struct AdminKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

enum Startup {
    Ready,
    Exited(String),
    TimedOut,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers `GET /moto-api/`.
    /// Panics with instructions if moto is not installed or does not come up.
    pub async fn start() -> Moto {
        let program = std::env::var("DYNSEC_MOTO_SERVER")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "moto_server".to_string());
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_path =
                std::env::temp_dir().join(format!("dynsec-moto-{}-{port}.log", std::process::id()));
            let log = std::fs::File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create moto log {}: {e}", log_path.display()));
            let log_err = log
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot clone moto log handle: {e}"));
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                // Managed policies make every reset cost ~1.2 s; tests create their own.
                .env_remove("MOTO_IAM_LOAD_MANAGED_POLICIES")
                // Auth is switched explicitly through the moto API.
                .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log_err))
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("{}", not_installed(&program, &e.to_string())));
            let mut moto = Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
                log_path,
                child,
            };
            match moto.wait_ready().await {
                Startup::Ready => return moto,
                Startup::Exited(status) => {
                    let log = moto.log();
                    if log.contains("Address already in use") {
                        last_failure = format!("port {port} was taken");
                        continue;
                    }
                    panic!(
                        "{}",
                        not_installed(&program, &format!("it exited ({status}); log:\n{log}"))
                    );
                }
                Startup::TimedOut => panic!(
                    "moto (`{program}`) did not answer on {} within {READY_TIMEOUT:?}; log:\n{}",
                    moto.endpoint,
                    moto.log()
                ),
            }
        }
        panic!("moto could not start after {START_ATTEMPTS} attempts: {last_failure}");
    }

    async fn wait_ready(&mut self) -> Startup {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Startup::Exited(status.to_string());
            }
            if let Ok((200, _)) = self.http("GET", "/moto-api/", None, "").await {
                return Startup::Ready;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Startup::TimedOut
    }

    /// What moto wrote to stdout/stderr so far (for diagnosing a failed test).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Turns request authentication on (every later request is checked) or off.
    pub async fn set_auth(&self, enabled: bool) {
        let body = if enabled { "0" } else { "inf" };
        self.moto_api("/moto-api/reset-auth", Some("text/plain"), body)
            .await;
    }

    /// Clears all emulated AWS state.
    pub async fn reset(&self) {
        self.moto_api("/moto-api/reset", None, "").await;
    }

    /// reset → auth off → user [`ADMIN_USER`] with an inline `*`-on-`*` policy and
    /// an access key → auth on. Returns the admin's key.
    pub async fn bootstrap_admin(&self) -> AdminKey {
        self.reset().await;
        self.set_auth(false).await;
        // With auth off any key is accepted.
        let iam = self.iam("AKIAIOSFODNN7BOOTSTR", "bootstrap", None);
        iam.create_user()
            .user_name(ADMIN_USER)
            .send()
            .await
            .unwrap_or_else(|e| panic!("bootstrap CreateUser: {e:?}"));
        iam.put_user_policy()
            .user_name(ADMIN_USER)
            .policy_name("allow-everything")
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("bootstrap PutUserPolicy: {e:?}"));
        let out = iam
            .create_access_key()
            .user_name(ADMIN_USER)
            .send()
            .await
            .unwrap_or_else(|e| panic!("bootstrap CreateAccessKey: {e:?}"));
        let key = out
            .access_key()
            .unwrap_or_else(|| panic!("bootstrap CreateAccessKey returned no key"));
        let admin = AdminKey {
            access_key_id: key.access_key_id().to_string(),
            secret_access_key: key.secret_access_key().to_string(),
        };
        self.set_auth(true).await;
        admin
    }

    /// ARN of the bootstrap admin user.
    pub fn admin_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN_USER}")
    }

    /// An [`AwsConnection`] for `key` with both endpoints pointing at this server.
    pub fn connection(&self, key: &AdminKey) -> AwsConnection {
        AwsConnection {
            access_key_id: key.access_key_id.clone(),
            secret_access_key: SecretString::new(key.secret_access_key.clone()),
            session_token: None,
            region: REGION.to_string(),
            iam_endpoint: Some(self.endpoint.clone()),
            sts_endpoint: Some(self.endpoint.clone()),
        }
    }

    /// An IAM client for this server with the given credentials.
    pub fn iam(
        &self,
        access_key_id: &str,
        secret: &str,
        session_token: Option<&str>,
    ) -> aws_sdk_iam::Client {
        iam_client(&self.endpoint, access_key_id, secret, session_token)
    }

    /// An STS client for this server with the given credentials.
    pub fn sts(
        &self,
        access_key_id: &str,
        secret: &str,
        session_token: Option<&str>,
    ) -> aws_sdk_sts::Client {
        sts_client(&self.endpoint, access_key_id, secret, session_token)
    }

    /// IAM client acting as the bootstrap admin.
    pub fn admin_iam(&self, key: &AdminKey) -> aws_sdk_iam::Client {
        self.iam(&key.access_key_id, &key.secret_access_key, None)
    }

    async fn moto_api(&self, path: &str, content_type: Option<&str>, body: &str) {
        match self.http("POST", path, content_type, body).await {
            Ok((200, _)) => {}
            Ok((status, text)) => panic!("moto {path} answered HTTP {status}: {text}"),
            Err(e) => panic!("moto {path} failed: {e}"),
        }
    }

    async fn http(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        http_exchange(self.port, method, path, content_type, body).await
    }
}

/// One HTTP/1.1 exchange with `Connection: close`, so reading to EOF
/// delimits the response without parsing lengths or chunking.
pub(crate) async fn http_exchange(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let content_type = content_type
            .map(|ct| format!("Content-Type: {ct}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
                 {content_type}Content-Length: {len}\r\n\r\n{body}",
            len = body.len(),
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line")
            })?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    };
    tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the emulator did not answer",
            ))
        })
}

impl Drop for Moto {
    fn drop(&mut self) {
        // kill_on_drop also does this; being explicit keeps the order obvious.
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// An IAM client for an emulator at `endpoint` with the given credentials.
pub fn iam_client(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
    session_token: Option<&str>,
) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::config::Builder::new()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials(access_key_id, secret, session_token))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// An STS client for an emulator at `endpoint` with the given credentials.
pub fn sts_client(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
    session_token: Option<&str>,
) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::new()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials(access_key_id, secret, session_token))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn credentials(
    access_key_id: &str,
    secret: &str,
    session_token: Option<&str>,
) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        access_key_id,
        secret,
        session_token.map(str::to_string),
        None,
        "dynsec-testkit",
    )
}

/// Asks the OS for a free port. The listener is dropped before the emulator
/// binds, so a race is possible; the starters retry on "Address already in use".
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the bound port: {e}"))
        .port()
}

fn not_installed(program: &str, detail: &str) -> String {
    format!(
        "could not start moto with `{program}`: {detail}\n\
         These tests need the moto AWS emulator (5.2.x): `pip install 'moto[server]'`, \
         then put `moto_server` on PATH or set DYNSEC_MOTO_SERVER to its path."
    )
}
