//! [`Ministack`]: a ministack AWS emulator (PyPI `ministack`, MIT) with
//! authentication on, for what moto cannot show: ministack evaluates
//! identity policies in AWS's order with condition operators (`aws:userid`,
//! `aws:TokenIssueTime`), session policies and permissions boundaries, and
//! its GetSessionToken / GetFederationToken credentials work under auth.
//! Its fidelity elsewhere is unmeasured: use it only where moto cannot answer.
//!
//! Found through `$DYNSEC_MINISTACK` (`scripts/test.sh` installs it into
//! `.venv-ministack`, apart from moto: it pins its own botocore), else
//! `ministack` on `PATH`. Each [`Ministack`] is its own process on a free
//! port, killed when dropped; it keeps no state on disk. The root
//! credentials are `test`/`test` in account [`MINISTACK_ACCOUNT_ID`].

use crate::{free_port, http_exchange, iam_client, sts_client, REGION};
use dynsec_core::{AwsConnection, SecretString};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// ministack's default account.
pub const MINISTACK_ACCOUNT_ID: &str = "000000000000";

const ROOT_KEY: &str = "test";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;

/// A running ministack server.
pub struct Ministack {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    log_path: PathBuf,
    child: Child,
}

impl Ministack {
    /// Starts ministack (`AUTH=true`) on a free port and waits until it
    /// answers `/_ministack/health`. Panics with instructions if it is not
    /// installed or does not come up.
    pub async fn start() -> Ministack {
        let program = std::env::var("DYNSEC_MINISTACK")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "ministack".to_string());
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_path = std::env::temp_dir().join(format!(
                "dynsec-ministack-{}-{port}.log",
                std::process::id()
            ));
            let log = std::fs::File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let log_err = log
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot clone the ministack log handle: {e}"));
            let child = Command::new(&program)
                .env("AUTH", "true")
                .env("GATEWAY_PORT", port.to_string())
                .env("BIND_HOST", "127.0.0.1")
                .env_remove("PERSIST_STATE")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log_err))
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("{}", not_installed(&program, &e.to_string())));
            let mut ministack = Ministack {
                endpoint: format!("http://127.0.0.1:{port}"),
                log_path,
                child,
            };
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if let Ok(Some(status)) = ministack.child.try_wait() {
                    let log = ministack.log();
                    if log.contains("in use") {
                        last_failure = format!("port {port} was taken");
                        break;
                    }
                    panic!(
                        "{}",
                        not_installed(&program, &format!("it exited ({status}); log:\n{log}"))
                    );
                }
                if let Ok((200, _)) =
                    http_exchange(port, "GET", "/_ministack/health", None, "").await
                {
                    return ministack;
                }
                if Instant::now() > deadline {
                    panic!(
                        "ministack (`{program}`) did not answer on {} within {READY_TIMEOUT:?}; log:\n{}",
                        ministack.endpoint,
                        ministack.log()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("ministack could not start after {START_ATTEMPTS} attempts: {last_failure}");
    }

    /// What ministack wrote so far (for diagnosing a failed test).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// An [`AwsConnection`] with the root credentials.
    pub fn root_connection(&self) -> AwsConnection {
        AwsConnection {
            access_key_id: ROOT_KEY.to_string(),
            secret_access_key: SecretString::new(ROOT_KEY),
            session_token: None,
            region: REGION.to_string(),
            iam_endpoint: Some(self.endpoint.clone()),
            sts_endpoint: Some(self.endpoint.clone()),
        }
    }

    /// An IAM client acting as root.
    pub fn root_iam(&self) -> aws_sdk_iam::Client {
        self.iam(ROOT_KEY, ROOT_KEY, None)
    }

    /// An IAM client with the given credentials.
    pub fn iam(
        &self,
        access_key_id: &str,
        secret: &str,
        token: Option<&str>,
    ) -> aws_sdk_iam::Client {
        iam_client(&self.endpoint, access_key_id, secret, token)
    }

    /// An STS client with the given credentials.
    pub fn sts(
        &self,
        access_key_id: &str,
        secret: &str,
        token: Option<&str>,
    ) -> aws_sdk_sts::Client {
        sts_client(&self.endpoint, access_key_id, secret, token)
    }
}

impl Drop for Ministack {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

fn not_installed(program: &str, detail: &str) -> String {
    format!(
        "could not start ministack with `{program}`: {detail}\n\
         These tests need the ministack AWS emulator (1.5.x) in a venv of its own: \
         `python3 -m venv .venv-ministack && .venv-ministack/bin/pip install -r \
         tests/ministack/requirements.txt` (scripts/test.sh does this), then set \
         DYNSEC_MINISTACK=$PWD/.venv-ministack/bin/ministack or put `ministack` on PATH."
    )
}
