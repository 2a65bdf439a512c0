//! What the gateway makes sure of before it serves: private files from the
//! first byte, enough file descriptors (and a share of them kept from
//! clients), and no silent fresh start over a data dir that was in use.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// Descriptors kept from clients whatever the limit: the store's
/// connections and journal files, the audit log, the lock, the listener,
/// the runtime's own.
const FIXED_RESERVE: u64 = 64;
/// Descriptors one revocation may hold at once (a teardown lists and
/// deletes concurrently, each call on its own connection).
const PER_REVOCATION: u64 = 16;
/// Descriptors one client connection may cost: its socket, plus the AWS
/// calls an issuance it asks for makes concurrently.
const PER_CLIENT: u64 = 5;
/// Fewest connection slots, however low the limit.
const MIN_CONNECTIONS: usize = 16;

/// From here on every file and directory the process creates is private to
/// its user (mode 0600 / 0700): the database, its WAL and shared-memory
/// files, the lock, the node id, the audit log, key files. A umask rather
/// than a `chmod` after creation, so no file is ever readable by others,
/// not even for a moment.
pub fn restrict_file_creation() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077));
    }
}

/// Existing files of an earlier version may have been created with a looser
/// mode: tightened to 0600 before use.
pub fn tighten_existing(paths: &[PathBuf]) -> Result<()> {
    for path in paths {
        if dynsec_files::tighten(path)? {
            info!(path = %path.display(), "restricted an existing file to mode 0600");
        }
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit (clients, the
/// store and AWS calls all need descriptors) and returns the limit now in
/// force, if the platform has one.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        // Unlimited hard limits exist; the kernel caps what a process may
        // set (fs.nr_open), 1 Mi is what it allows by default.
        let wanted = limit.maximum.unwrap_or(1 << 20);
        if limit.current.is_some_and(|soft| soft < wanted) {
            let raised = Rlimit {
                current: Some(wanted),
                maximum: limit.maximum,
            };
            if let Err(err) = setrlimit(Resource::Nofile, raised) {
                warn!(error = %err, "cannot raise the open-files limit to its hard limit");
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// How many client connections fit in `fd_limit` descriptors after the
/// reserve for the store and AWS calls; never more than `requested`.
pub fn connection_budget(
    requested: usize,
    fd_limit: Option<u64>,
    reaper_concurrency: usize,
) -> usize {
    let Some(limit) = fd_limit else {
        return requested.max(1);
    };
    let reserve = FIXED_RESERVE + PER_REVOCATION * reaper_concurrency as u64;
    let fits = limit.saturating_sub(reserve) / PER_CLIENT;
    let fits = usize::try_from(fits).unwrap_or(usize::MAX);
    requested.min(fits.max(MIN_CONNECTIONS)).max(1)
}

/// What an earlier start leaves in a data dir besides the database.
pub struct Evidence(Vec<PathBuf>);

impl Evidence {
    /// Looks for them; call before this start creates any of them.
    pub fn gather(candidates: &[PathBuf]) -> Self {
        Self(
            candidates
                .iter()
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
                .cloned()
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn names(&self) -> String {
        self.0
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Refuses a fresh start over a data dir that was in use: with its other
/// files present but `database` missing, empty (`missing_or_empty`) or
/// holding no API key, the gateway would start as a new installation and
/// forget every live lease (whose IAM users then outlive their TTL).
///
/// With `allow_new`, the start goes on; `file_missing` then also sets aside
/// a journal the lost file left (it would be replayed into the new one).
pub fn refuse_forgotten_database(
    database: &Path,
    missing_or_empty: bool,
    file_missing: bool,
    evidence: &Evidence,
    allow_new: bool,
) -> Result<()> {
    if !missing_or_empty || evidence.is_empty() {
        return Ok(());
    }
    if allow_new {
        warn!(database = %database.display(), "starting with a new database over a data dir that was in use (--allow-new-database)");
        for suffix in ["-wal", "-shm"].into_iter().filter(|_| file_missing) {
            let mut journal = database.as_os_str().to_owned();
            journal.push(suffix);
            let journal = PathBuf::from(journal);
            if journal.exists() {
                let mut aside = journal.as_os_str().to_owned();
                aside.push(format!(".orphaned-{}", chrono_free_stamp()));
                std::fs::rename(&journal, &aside).map_err(|err| {
                    anyhow::anyhow!("cannot set aside {}: {err}", journal.display())
                })?;
                warn!(journal = %journal.display(), "set aside the journal of the lost database");
            }
        }
        return Ok(());
    }
    bail!(
        "{} is missing or empty, but this data dir was in use before ({} exist): starting would begin a new installation and forget every live lease, leaving their IAM users behind. \
         Restore the database from a backup, or pass --allow-new-database (DYNSEC_ALLOW_NEW_DATABASE=true) to start afresh \
         (the orphan sweep removes the expired users of targets registered again)",
        database.display(),
        evidence.names()
    )
}

/// Seconds since the epoch, for file names.
fn chrono_free_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Whether the database file is absent or has no content.
pub fn missing_or_empty(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.len() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_a_reserve_and_a_floor() {
        // 256 descriptors, 8 concurrent revocations: 192 reserved.
        assert_eq!(connection_budget(1024, Some(256), 8), MIN_CONNECTIONS);
        assert_eq!(connection_budget(1024, Some(4096), 8), (4096 - 192) / 5);
        assert_eq!(connection_budget(100, Some(1 << 20), 8), 100);
        assert_eq!(connection_budget(100, None, 8), 100);
        assert_eq!(connection_budget(0, None, 8), 1);
    }
}
