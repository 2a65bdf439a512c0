//! The audit log: one JSON line per API request — who ([`AuditRecord::access_id`],
//! client address), what (operation, item path), and how it ended (outcome,
//! status, error, issued lease id).
//!
//! Secrets and tokens are never written. A request's token appears only as
//! `token_hmac`, an HMAC-SHA256 under a key derived from the installation
//! secret (sealed under the master key, so it survives master-key rotations;
//! see `crates/dynsec/src/gateway.rs`), so an administrator can tell which
//! requests used the same token without the log being a list of usable
//! tokens. Error messages are written as the caller saw them, minus any value
//! the request carried in a secret-looking field (a wrongly typed field's
//! value can be echoed by a parse error).
//!
//! Requests hand records to one writer thread through a bounded queue, so a
//! slow disk delays a request only when the queue is full, and then for at
//! most [`SEND_WAIT`]. The thread appends, flushes after every batch, and on
//! shutdown drains the queue and syncs the file ([`AuditWriter::finish`]).
//!
//! **Log rotation.** [`AuditReopener::reopen`] (the gateway calls it on
//! SIGHUP) queues a reopen behind the records already queued: they go to the
//! file the path named until then (renamed by logrotate, say), every later
//! one to a file opened anew at the path. If the path cannot be opened, the
//! old file stays in use and the caller is told.

use crate::ops::Op;
use crate::ApiError;
use axum::http::StatusCode;
use chrono::{SecondsFormat, Utc};
use dynsec_crypto::MacKey;
use serde::Serialize;
use serde_json::Value;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// Label of the audit key derived from the installation secret (see
/// [`MacKey::derive_from`]).
pub const AUDIT_KEY_LABEL: &str = "dynsec audit v1";
/// Records queued for the writer before requests start to wait.
const QUEUE_LEN: usize = 4096;
/// How long a request waits for room in a full queue before the record is
/// dropped (and the loss logged): a stuck disk must not stall the API.
const SEND_WAIT: Duration = Duration::from_secs(2);
/// Client-supplied strings (operation, path, access id) are cut to this many
/// characters, so one request cannot write an arbitrarily long line.
const MAX_FIELD_CHARS: usize = 512;

/// One line of the audit log. Every key is always present (`null` when it does
/// not apply), so the lines have one fixed shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the request finished, RFC 3339 with milliseconds, UTC.
    pub time: String,
    /// The caller's access id once its token resolved; for `auth`, the access
    /// id the request tried to authenticate as.
    pub access_id: Option<String>,
    /// The client's IP address: the TCP peer, unless that is one of
    /// `--trusted-proxies`, then the client their `X-Forwarded-For` names.
    pub client: String,
    /// The operation as requested (`/api/v2//auth/` → `auth`).
    pub operation: String,
    /// The body's `name` (or the `path` of `list-items`, `list-leases` and
    /// `revoke-leases`), normalized like an item path.
    pub path: Option<String>,
    /// `ok` or `error`.
    pub outcome: &'static str,
    /// The HTTP status answered.
    pub status: u16,
    /// The error message answered, for failures.
    pub error: Option<String>,
    /// The lease id of a credential issued by `get-dynamic-secret-value`, or
    /// revoked, forgotten or re-timed by a tmp-creds operation.
    pub lease_id: Option<String>,
    /// What an operation that succeeded warned about (a `soft-delete`, a
    /// `revoke-leases` that left credentials live).
    pub warning: Option<String>,
    /// Hex HMAC of the token the request carried (for a successful `auth`, of
    /// the token it issued).
    pub token_hmac: Option<String>,
}

/// What the dispatcher knows about one finished request.
pub(crate) struct RequestFacts<'a> {
    pub client: IpAddr,
    pub operation: &'a str,
    pub op: Option<Op>,
    /// The raw request body (parsed again here, leniently: the record wants
    /// what it can get even from a request the dispatcher refused).
    pub body: &'a [u8],
    /// The access id the token resolved to.
    pub caller: Option<&'a str>,
    pub result: &'a Result<(StatusCode, Value), ApiError>,
}

/// What the writer thread is handed, in order.
// Records are nearly every entry: boxing them to shrink the rare reopen
// would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Entry {
    Record(AuditRecord),
    /// Close the file and open the path again; answer how that went.
    Reopen(oneshot::Sender<io::Result<()>>),
}

/// The request side of the audit log: cheap to clone, one per router.
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Entry>,
    key: Arc<MacKey>,
}

/// Reopens the audit log at its path (log rotation). Holding one does not
/// keep the writer alive: once every [`Audit`] is gone, reopening is refused.
#[derive(Clone, Debug)]
pub struct AuditReopener {
    tx: mpsc::WeakSender<Entry>,
}

impl AuditReopener {
    /// Queues a reopen behind the records already queued and waits until the
    /// writer has done it: records queued before go to the old file, later
    /// ones to the file now at the path. An error leaves the old file in use.
    pub async fn reopen(&self) -> io::Result<()> {
        let stopped = || io::Error::other("the audit log writer has stopped");
        let tx = self.tx.upgrade().ok_or_else(stopped)?;
        let (done_tx, done) = oneshot::channel();
        tx.send(Entry::Reopen(done_tx))
            .await
            .map_err(|_| stopped())?;
        drop(tx);
        done.await.map_err(|_| stopped())?
    }
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").finish_non_exhaustive()
    }
}

/// The writer side: wait for it with [`AuditWriter::finish`] after the server
/// stopped, or records still queued are lost.
#[derive(Debug)]
pub struct AuditWriter {
    path: PathBuf,
    done: oneshot::Receiver<()>,
}

/// Opens (creating it with mode 0600, or tightening an existing file to 0600)
/// the audit log at `path` for appending and starts its writer thread. `key`
/// fingerprints tokens; derive it with [`AUDIT_KEY_LABEL`].
pub fn open(path: &Path, key: MacKey) -> io::Result<(Audit, AuditWriter)> {
    let file = dynsec_files::open_append(path)?;
    let (tx, rx) = mpsc::channel(QUEUE_LEN);
    let (done_tx, done) = oneshot::channel();
    let thread_path = path.to_path_buf();
    std::thread::Builder::new()
        .name("dynsec-audit".into())
        .spawn(move || {
            write_records(rx, file, &thread_path);
            let _ = done_tx.send(());
        })?;
    Ok((
        Audit {
            tx,
            key: Arc::new(key),
        },
        AuditWriter {
            path: path.to_path_buf(),
            done,
        },
    ))
}

/// The writer thread: blocks for a record, writes it and whatever else is
/// already queued, flushes, repeats; ends (after a sync) once every [`Audit`]
/// handle is gone and the queue is empty. A reopen is done in queue order.
fn write_records(mut rx: mpsc::Receiver<Entry>, file: std::fs::File, path: &Path) {
    let mut out = io::BufWriter::new(file);
    let mut failing = false;
    while let Some(first) = rx.blocking_recv() {
        let mut result = Ok(());
        let mut next = Some(first);
        while let Some(entry) = next.take() {
            match entry {
                Entry::Record(record) => result = result.and(write_line(&mut out, &record)),
                Entry::Reopen(done) => {
                    let reopened = reopen(&mut out, path);
                    if let Err(err) = &reopened {
                        error!(path = %path.display(), error = %err, "cannot reopen the audit log; still writing to the file open before");
                    }
                    let _ = done.send(reopened);
                }
            }
            next = rx.try_recv().ok();
        }
        result = result.and(out.flush());
        // Log the first failure of a run, not one per record.
        match result {
            Err(err) if !failing => {
                failing = true;
                error!(path = %path.display(), error = %err, "cannot write the audit log; records are being lost");
            }
            Ok(()) if failing => {
                failing = false;
                warn!(path = %path.display(), "the audit log is writable again");
            }
            _ => {}
        }
    }
    if let Err(err) = out.flush().and_then(|()| out.get_ref().sync_all()) {
        error!(path = %path.display(), error = %err, "cannot sync the audit log");
    }
}

/// Flushes and syncs the file in use, then switches to a file opened anew at
/// `path`; on failure the file in use stays.
fn reopen(out: &mut io::BufWriter<std::fs::File>, path: &Path) -> io::Result<()> {
    let fresh = dynsec_files::open_append(path)?;
    out.flush()?;
    let _ = out.get_ref().sync_all();
    *out = io::BufWriter::new(fresh);
    Ok(())
}

fn write_line(out: &mut impl Write, record: &AuditRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

impl AuditWriter {
    /// Waits (at most `timeout`) until every queued record is written and the
    /// file synced. Call it after the server has stopped: the writer ends only
    /// once all request handlers have dropped their [`Audit`] handles.
    pub async fn finish(self, timeout: Duration) {
        if tokio::time::timeout(timeout, self.done).await.is_err() {
            warn!(path = %self.path.display(), "audit log writer did not finish in {timeout:?}; the last records may be lost");
        }
    }
}

impl Audit {
    /// A handle that reopens the log at its path (see [`AuditReopener`]).
    pub fn reopener(&self) -> AuditReopener {
        AuditReopener {
            tx: self.tx.downgrade(),
        }
    }

    /// Builds the record of a finished request and queues it for writing.
    pub(crate) async fn request(&self, facts: RequestFacts<'_>) {
        self.submit(self.record(facts)).await;
    }

    /// Records a request refused before it had a head worth parsing (see
    /// `head_guard.rs`): only the client, the status and the reason are
    /// known. Never waits: it runs inside a socket read.
    pub(crate) fn refused_head(&self, client: IpAddr, status: u16, error: &str) {
        let record = AuditRecord {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            access_id: None,
            client: client.to_string(),
            operation: String::new(),
            path: None,
            outcome: "error",
            status,
            error: Some(clip(error)),
            lease_id: None,
            warning: None,
            token_hmac: None,
        };
        if self.tx.try_send(Entry::Record(record)).is_err() {
            error!(
                "the audit log is not keeping up; the record of a refused request head was lost"
            );
        }
    }

    async fn submit(&self, record: AuditRecord) {
        let record = match self.tx.try_send(Entry::Record(record)) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(record)) => record,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                error!("the audit log writer has stopped; an audit record was lost");
                return;
            }
        };
        if self.tx.send_timeout(record, SEND_WAIT).await.is_err() {
            error!(
                "the audit log is not keeping up (queue full for {SEND_WAIT:?}); an audit record was lost"
            );
        }
    }

    fn record(&self, facts: RequestFacts<'_>) -> AuditRecord {
        let parsed: Option<Value> = serde_json::from_slice(facts.body).ok();
        let body = parsed.as_ref().and_then(Value::as_object);
        let field = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
        let is_auth = facts.op == Some(Op::Auth);

        let access_id = match facts.caller {
            Some(id) => Some(id.to_string()),
            // Only a value shaped like an access id: a caller who swapped id
            // and key must not get the key written here.
            None if is_auth => field("access-id")
                .or_else(|| field("access_id"))
                .filter(|id| dynsec_core::access::is_access_id(id))
                .map(str::to_string),
            None => None,
        };
        let path = match (field("name"), facts.op) {
            (Some(name), _) => Some(
                dynsec_core::ItemPath::parse("name", name)
                    .map(|p| p.to_string())
                    .unwrap_or_else(|_| clip(name)),
            ),
            (None, Some(Op::ListItems | Op::ListLeases | Op::RevokeLeases)) => field("path")
                .map(dynsec_core::path::normalize_folder)
                .map(|folder| clip(&folder)),
            (None, _) => None,
        };
        // The token the request carried, as `TokenField::get` picks it.
        let presented = field("token")
            .filter(|t| !t.is_empty())
            .or_else(|| field("uid-token"))
            .filter(|t| !t.is_empty());

        // The credential a tmp-creds operation names, if it looks like one.
        let named_lease = matches!(facts.op, Some(Op::RevokeTmpCreds | Op::UpdateTmpCreds))
            .then(|| field("tmp-creds-id").map(str::trim))
            .flatten()
            .filter(|id| is_lease_id(id))
            .map(str::to_string);
        let (status, error, lease_id, issued, warning) = match facts.result {
            Ok((status, answer)) => {
                let lease_id = (facts.op == Some(Op::GetValue))
                    .then(|| answer.get("id").and_then(Value::as_str))
                    .flatten()
                    .map(str::to_string)
                    .or(named_lease);
                let issued = is_auth
                    .then(|| answer.get("token").and_then(Value::as_str))
                    .flatten();
                let warning = answer.get("warning").and_then(Value::as_str).map(clip);
                (*status, None, lease_id, issued, warning)
            }
            Err(err) => (
                err.status,
                Some(redact(&err.message, parsed.as_ref())),
                named_lease,
                None,
                None,
            ),
        };
        let token_hmac = presented
            .or(issued)
            .map(|token| self.key.mac_hex(token.as_bytes()));

        AuditRecord {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            access_id,
            client: facts.client.to_string(),
            operation: clip(facts.operation),
            path,
            outcome: if status.is_client_error() || status.is_server_error() {
                "error"
            } else {
                "ok"
            },
            status: status.as_u16(),
            error,
            lease_id,
            warning,
            token_hmac,
        }
    }
}

/// Lease ids are 16 lower-case letters and digits.
fn is_lease_id(raw: &str) -> bool {
    raw.len() == 16
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Whether a body field (any nesting level) may hold a secret: tokens, access
/// keys, secret keys, passwords, key fragments. Ids and names are not.
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    if name.ends_with("-id") || name.ends_with("-name") || name == "name" {
        return false;
    }
    [
        "token",
        "key",
        "secret",
        "password",
        "fragment",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `message` with every value of a secret-looking body field blanked out.
fn redact(message: &str, body: Option<&Value>) -> String {
    let mut secrets = Vec::new();
    if let Some(body) = body {
        collect_secrets(body, false, &mut secrets);
    }
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut message = message.to_string();
    for secret in secrets {
        if message.contains(&secret) {
            message = message.replace(&secret, "[redacted]");
        }
    }
    message
}

fn collect_secrets(value: &Value, secret: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                collect_secrets(value, secret || is_secret_field(key), out);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_secrets(item, secret, out)),
        // Very short values would blank out ordinary words of the message and
        // are no secret worth hiding.
        Value::String(s) if secret && s.chars().count() >= 4 => out.push(s.clone()),
        Value::Number(n) if secret && n.to_string().len() >= 4 => out.push(n.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynsec_crypto::MasterKey;
    use serde_json::json;

    fn audit() -> (Audit, mpsc::Receiver<Entry>) {
        let (tx, rx) = mpsc::channel(8);
        let key = MacKey::derive(&MasterKey::generate(), AUDIT_KEY_LABEL);
        (
            Audit {
                tx,
                key: Arc::new(key),
            },
            rx,
        )
    }

    fn facts<'a>(
        operation: &'a str,
        body: &'a [u8],
        caller: Option<&'a str>,
        result: &'a Result<(StatusCode, Value), ApiError>,
    ) -> RequestFacts<'a> {
        RequestFacts {
            client: "127.0.0.1".parse().unwrap(),
            operation,
            op: Op::from_name(operation),
            body,
            caller,
            result,
        }
    }

    fn line(operation: &str) -> AuditRecord {
        AuditRecord {
            time: String::new(),
            access_id: None,
            client: "127.0.0.1".into(),
            operation: operation.into(),
            path: None,
            outcome: "ok",
            status: 200,
            error: None,
            lease_id: None,
            warning: None,
            token_hmac: None,
        }
    }

    fn operations_in(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["operation"].to_string())
            .collect()
    }

    #[tokio::test]
    async fn a_reopen_after_a_rename_starts_a_new_file_at_the_path() {
        let dir = std::env::temp_dir().join(format!("dynsec-audit-reopen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let rotated = dir.join("audit.log.1");
        let key = MacKey::derive(&MasterKey::generate(), AUDIT_KEY_LABEL);
        let (audit, writer) = open(&path, key).unwrap();
        let reopener = audit.reopener();
        audit.submit(line("before")).await;
        std::fs::rename(&path, &rotated).unwrap();
        // Queued before the reopen: still the old (renamed) file.
        audit.submit(line("queued-before-reopen")).await;
        reopener.reopen().await.unwrap();
        audit.submit(line("after")).await;
        // A path that cannot be opened keeps the file in use.
        let in_use = dir.join("audit.log.2");
        std::fs::rename(&path, &in_use).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(reopener.reopen().await.is_err());
        audit.submit(line("after-failed-reopen")).await;
        drop(audit);
        writer.finish(Duration::from_secs(10)).await;
        assert_eq!(
            operations_in(&rotated),
            ["\"before\"", "\"queued-before-reopen\""]
        );
        assert_eq!(
            operations_in(&in_use),
            ["\"after\"", "\"after-failed-reopen\""]
        );
        std::fs::remove_dir(&path).unwrap();
        assert!(reopener.reopen().await.is_err(), "the writer has stopped");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn auth_records_the_attempted_id_and_the_issued_tokens_hmac() {
        let (audit, _rx) = audit();
        let body =
            serde_json::to_vec(&json!({"access-id": "p-abcd", "access-key": "super-secret-key"}))
                .unwrap();
        let ok = Ok((StatusCode::OK, json!({"token": "t-issued"})));
        let record = audit.record(facts("auth", &body, None, &ok));
        assert_eq!(record.access_id.as_deref(), Some("p-abcd"));
        assert_eq!(record.outcome, "ok");
        assert_eq!(record.status, 200);
        assert_eq!(
            record.token_hmac.as_deref(),
            Some(audit.key.mac_hex(b"t-issued").as_str())
        );
        // A later request with that token carries the same fingerprint.
        let body2 = serde_json::to_vec(&json!({"token": "t-issued", "name": "prod//x/"})).unwrap();
        let ok2 = Ok((StatusCode::OK, json!({})));
        let later = audit.record(facts("describe-item", &body2, Some("p-abcd"), &ok2));
        assert_eq!(later.token_hmac, record.token_hmac);
        assert_eq!(later.path.as_deref(), Some("/prod/x"));

        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("super-secret-key") && !text.contains("t-issued"));
    }

    #[test]
    fn a_key_sent_as_the_access_id_is_not_written() {
        let (audit, _rx) = audit();
        let key = "K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols";
        let body =
            serde_json::to_vec(&json!({"access-id": key, "access-key": "p-abcdefghijkl"})).unwrap();
        let err = Err(ApiError::new(StatusCode::UNAUTHORIZED, "access denied"));
        let record = audit.record(facts("auth", &body, None, &err));
        assert_eq!(record.access_id, None);
        assert!(!serde_json::to_string(&record).unwrap().contains(key));
    }

    #[test]
    fn soft_deletes_record_their_lease_and_warning() {
        let (audit, _rx) = audit();
        let body = serde_json::to_vec(&json!({"token": "t", "name": "/a",
            "tmp-creds-id": "abcdefghij012345", "soft-delete": true}))
        .unwrap();
        let ok = Ok((StatusCode::OK, json!({"warning": "soft-delete: forgotten"})));
        let record = audit.record(facts(
            "gateway-revoke-producer-tmp-creds",
            &body,
            Some("p-1"),
            &ok,
        ));
        assert_eq!(record.lease_id.as_deref(), Some("abcdefghij012345"));
        assert_eq!(record.warning.as_deref(), Some("soft-delete: forgotten"));
        // A value that is no lease id is not copied.
        let body = serde_json::to_vec(&json!({"token": "t", "name": "/a",
            "tmp-creds-id": "not a lease id at all"}))
        .unwrap();
        let record = audit.record(facts(
            "gateway-revoke-producer-tmp-creds",
            &body,
            Some("p-1"),
            &ok,
        ));
        assert_eq!(record.lease_id, None);
    }

    #[test]
    fn failures_are_redacted_and_values_carry_their_lease() {
        let (audit, _rx) = audit();
        let body = serde_json::to_vec(&json!({"token": "tok-123", "name": "/a", "user-ttl": "60m",
            "access-key": "wJalrXUtnFEMI", "nested": {"session-token": "sess-xyz"}}))
        .unwrap();
        let err = Err(ApiError::bad_request(
            "invalid access-key: 'wJalrXUtnFEMI' and 'sess-xyz' for 60m",
        ));
        let record = audit.record(facts("create-aws-target", &body, Some("p-1"), &err));
        assert_eq!(record.outcome, "error");
        assert_eq!(record.status, 400);
        assert_eq!(
            record.error.as_deref(),
            Some("invalid access-key: '[redacted]' and '[redacted]' for 60m")
        );

        let ok = Ok((
            StatusCode::OK,
            json!({"id": "lease-1", "secret_access_key": "s3cr3t"}),
        ));
        let body = serde_json::to_vec(&json!({"token": "tok-123", "name": "/prod/dev"})).unwrap();
        let record = audit.record(facts("dynamic-secret-get-value", &body, Some("p-1"), &ok));
        assert_eq!(record.lease_id.as_deref(), Some("lease-1"));
        assert!(!serde_json::to_string(&record).unwrap().contains("s3cr3t"));
    }

    #[test]
    fn unknown_ops_and_missing_bodies() {
        let (audit, _rx) = audit();
        let err = Err(ApiError::new(StatusCode::NOT_FOUND, "unknown operation"));
        let long = "x".repeat(2000);
        let record = audit.record(facts(&long, b"{not json", None, &err));
        assert_eq!(record.operation.chars().count(), MAX_FIELD_CHARS + 1);
        assert_eq!(record.status, 404);
        assert_eq!(record.access_id, None);
        assert_eq!(record.token_hmac, None);
        assert_eq!(record.path, None);
    }

    #[test]
    fn list_items_folders_are_clipped() {
        let (audit, _rx) = audit();
        let ok = Ok((StatusCode::OK, json!({})));
        let long = format!("/{}", "a/".repeat(2000));
        let body = serde_json::to_vec(&json!({"token": "t", "path": long})).unwrap();
        let record = audit.record(facts("list-items", &body, Some("p-1"), &ok));
        let path = record.path.unwrap();
        assert_eq!(path.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(path.starts_with("/a/a/") && path.ends_with('…'), "{path}");
        let body = serde_json::to_vec(&json!({"token": "t", "path": "prod/aws/"})).unwrap();
        let record = audit.record(facts("list-items", &body, Some("p-1"), &ok));
        assert_eq!(record.path.as_deref(), Some("/prod/aws"));
    }

    #[test]
    fn secret_field_names() {
        for name in [
            "token",
            "uid-token",
            "access-key",
            "access_key",
            "aws-access-secret-key",
            "password",
            "customer-fragment",
            "secret-access-key",
        ] {
            assert!(is_secret_field(name), "{name}");
        }
        for name in [
            "access-id",
            "access-key-id",
            "name",
            "target-name",
            "user-ttl",
            "producer-encryption-key-name",
        ] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[tokio::test]
    async fn writer_appends_lines_and_drains_on_finish() {
        let dir = std::env::temp_dir().join(format!("dynsec-audit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let key = MacKey::derive(&MasterKey::generate(), AUDIT_KEY_LABEL);
        let (audit, writer) = open(&path, key).unwrap();
        let ok = Ok((StatusCode::OK, json!({})));
        for _ in 0..100 {
            audit
                .request(facts("list-items", b"", Some("p-1"), &ok))
                .await;
        }
        drop(audit);
        writer.finish(Duration::from_secs(10)).await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 100);
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["operation"], "list-items");
        assert_eq!(first["client"], "127.0.0.1");
        assert!(first["error"].is_null());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
