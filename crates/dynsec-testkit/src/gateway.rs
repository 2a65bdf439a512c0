//! Runs the real `dynsec gateway` binary for end-to-end tests: its own data
//! dir, a preset admin key, an ephemeral port, logs captured to a file.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The admin credentials every test gateway is started with.
pub const ADMIN_ACCESS_ID: &str = "p-testadmin0001";
pub const ADMIN_ACCESS_KEY: &str = "test-admin-access-key-0123456789";

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running gateway process.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub data_dir: PathBuf,
    log_path: PathBuf,
    child: Child,
    http: reqwest::Client,
}

impl Gateway {
    /// Starts `bin gateway` on `127.0.0.1:0` with `data_dir` and extra env vars,
    /// and waits until it logs its address. Panics (with the log) if it doesn't.
    pub async fn start(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Gateway {
        Self::start_with_args(bin, data_dir, env, &[]).await
    }

    pub async fn start_with_args(
        bin: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Gateway {
        std::fs::create_dir_all(data_dir).unwrap_or_else(|e| panic!("cannot create data dir: {e}"));
        let log_path = data_dir.with_extension(format!(
            "log-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create gateway log: {e}"));
        let mut command = Command::new(bin);
        command
            .arg("gateway")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("DYNSEC_ADMIN_ACCESS_ID", ADMIN_ACCESS_ID)
            .env("DYNSEC_ADMIN_ACCESS_KEY", ADMIN_ACCESS_KEY)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let deadline = Instant::now() + START_TIMEOUT;
        let url = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(rest) = text.split("listening on ").nth(1) {
                // Up to the end of the word, or of the JSON string when the
                // gateway logs with `--log-format json`.
                let addr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("gateway exited with {status} during start:\n{text}");
            }
            if Instant::now() > deadline {
                panic!("gateway did not start within {START_TIMEOUT:?}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Gateway {
            url,
            data_dir: data_dir.to_path_buf(),
            log_path,
            child,
            http: reqwest::Client::new(),
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the gateway logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// POSTs `body` to `/api/v2/<op>`; returns the status and the JSON answer.
    pub async fn raw(&self, op: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v2/{op}", self.url))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{op}: request failed: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// A fresh token for the preset admin.
    pub async fn token(&self) -> String {
        let (status, body) = self
            .raw(
                "auth",
                &json!({"access-id": ADMIN_ACCESS_ID, "access-key": ADMIN_ACCESS_KEY}),
            )
            .await;
        assert_eq!(status, 200, "auth failed: {body}");
        body["token"].as_str().unwrap_or_default().to_string()
    }

    /// Calls `op` as the admin (token added) and returns the status and answer.
    pub async fn call(&self, op: &str, mut body: Value) -> (u16, Value) {
        body["token"] = json!(self.token().await);
        self.raw(op, &body).await
    }

    /// Calls `op` as the admin and panics unless it succeeds.
    pub async fn ok(&self, op: &str, body: Value) -> Value {
        let (status, answer) = self.call(op, body).await;
        assert!(
            (200..300).contains(&status),
            "{op} answered {status}: {answer}"
        );
        answer
    }

    /// SIGKILL: the process dies at once, mid-whatever. Returns what it
    /// had logged.
    pub async fn kill9(mut self) -> String {
        let _ = self.child.kill().await;
        self.log()
    }

    /// SIGTERM, then waits for a graceful exit; returns whether it exited 0.
    pub async fn stop(self) -> bool {
        self.stop_with_log().await.0
    }

    /// [`Gateway::stop`], also returning everything the gateway logged
    /// (its shutdown included).
    pub async fn stop_with_log(mut self) -> (bool, String) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        let exited_0 = match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await
        {
            Ok(Ok(status)) => status.success(),
            _ => false,
        };
        (exited_0, self.log())
    }
}
