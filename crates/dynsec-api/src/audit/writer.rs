//! The audit log's writer thread: it appends the records requests queue,
//! flushes after every batch, reopens the path when asked (log rotation), and
//! on shutdown drains the queue and syncs the file.

use super::AuditRecord;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// What the writer thread is handed, in order.
// Records are nearly every entry: boxing them to shrink the rare reopen
// would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Entry {
    Record(AuditRecord),
    /// Close the file and open the path again; answer how that went.
    Reopen(oneshot::Sender<io::Result<()>>),
}

/// The writer side: wait for it with [`AuditWriter::finish`] after the server
/// stopped, or records still queued are lost.
#[derive(Debug)]
pub struct AuditWriter {
    path: PathBuf,
    done: oneshot::Receiver<()>,
}

/// Starts the writer thread on `file` (opened at `path`), fed by a queue of
/// `queue_len` entries.
pub(super) fn start(
    file: std::fs::File,
    path: &Path,
    queue_len: usize,
) -> io::Result<(mpsc::Sender<Entry>, AuditWriter)> {
    let (tx, rx) = mpsc::channel(queue_len);
    let (done_tx, done) = oneshot::channel();
    let thread_path = path.to_path_buf();
    std::thread::Builder::new()
        .name("dynsec-audit".into())
        .spawn(move || {
            write_records(rx, file, &thread_path);
            let _ = done_tx.send(());
        })?;
    let writer = AuditWriter {
        path: path.to_path_buf(),
        done,
    };
    Ok((tx, writer))
}

/// The writer thread: blocks for a record, writes it and whatever else is
/// already queued, flushes, repeats; ends (after a sync) once every `Audit`
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
    /// once all request handlers have dropped their `Audit` handles.
    pub async fn finish(self, timeout: Duration) {
        if tokio::time::timeout(timeout, self.done).await.is_err() {
            warn!(path = %self.path.display(), "audit log writer did not finish in {timeout:?}; the last records may be lost");
        }
    }
}
