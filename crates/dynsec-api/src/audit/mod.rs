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
//! Requests hand records to one writer thread (`writer.rs`) through a bounded queue, so a
//! slow disk delays a request only when the queue is full, and then for at
//! most [`SEND_WAIT`]. The thread appends, flushes after every batch, and on
//! shutdown drains the queue and syncs the file ([`AuditWriter::finish`]).
//!
//! **Log rotation.** [`AuditReopener::reopen`] (the gateway calls it on
//! SIGHUP) queues a reopen behind the records already queued: they go to the
//! file the path named until then (renamed by logrotate, say), every later
//! one to a file opened anew at the path. If the path cannot be opened, the
//! old file stays in use and the caller is told.
//!
//! A record is built (`record.rs`) from what the dispatcher and the
//! handler recorded of the request, never by reading it again; error
//! messages are redacted (`redact.rs`) before they are written.

mod record;
mod redact;
mod writer;

pub use record::AuditRecord;
pub(crate) use record::RequestFacts;
pub use writer::AuditWriter;

use dynsec_crypto::MacKey;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::error;
use writer::Entry;

/// Label of the audit key derived from the installation secret (see
/// [`MacKey::derive_from`]).
pub const AUDIT_KEY_LABEL: &str = "dynsec audit v1";
/// Records queued for the writer before requests start to wait.
const QUEUE_LEN: usize = 4096;
/// How long a request waits for room in a full queue before the record is
/// dropped (and the loss logged): a stuck disk must not stall the API.
const SEND_WAIT: Duration = Duration::from_secs(2);

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
/// Opens (creating it with mode 0600, or tightening an existing file to 0600)
/// the audit log at `path` for appending and starts its writer thread. `key`
/// fingerprints tokens; derive it with [`AUDIT_KEY_LABEL`].
pub fn open(path: &Path, key: MacKey) -> io::Result<(Audit, AuditWriter)> {
    let file = dynsec_files::open_append(path)?;
    let (tx, writer) = writer::start(file, path, QUEUE_LEN)?;
    let audit = Audit {
        tx,
        key: Arc::new(key),
    };
    Ok((audit, writer))
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
        self.submit(record::build(facts, &self.key)).await;
    }

    /// Records a request refused before it had a head worth parsing (see
    /// `head_guard.rs`): only the client, the status and the reason are
    /// known. Never waits: it runs inside a socket read.
    pub(crate) fn refused_head(&self, client: IpAddr, status: u16, error: &str) {
        let record = record::refused_head(client, status, error);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynsec_crypto::MasterKey;
    use serde_json::Value;

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

    #[tokio::test]
    async fn writer_appends_lines_and_drains_on_finish() {
        let dir = std::env::temp_dir().join(format!("dynsec-audit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let key = MacKey::derive(&MasterKey::generate(), AUDIT_KEY_LABEL);
        let (audit, writer) = open(&path, key).unwrap();
        let ok = Ok(crate::ops::Outcome::ok(serde_json::json!({})));
        let subject = crate::ops::Subject::default();
        for _ in 0..100 {
            let facts = RequestFacts {
                client: "127.0.0.1".parse().unwrap(),
                operation: "list-items",
                body: None,
                caller: Some("p-1"),
                token: None,
                subject: &subject,
                result: &ok,
            };
            audit.request(facts).await;
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
