//! Schema versions, checked before any migration runs.
//!
//! A database's schema is the highest migration recorded in sqlx's
//! `_sqlx_migrations` table; the binary knows the migrations it embeds. Before
//! migrating, each store reads what was applied and decides ([`plan`]):
//! nothing applied yet (a new database), up to date, an upgrade (the SQLite
//! store backs the file up first: [`backup_path`]), or a database written by
//! a newer dynsec, refused in plain words ([`StoreError::NewerSchema`])
//! instead of sqlx's "migration 9 was previously applied but is missing".

use crate::{Result, StoreError};
use chrono::{DateTime, Utc};
use sqlx::migrate::{MigrateError, Migrator};
use std::path::{Path, PathBuf};

/// Name of the table sqlx records applied migrations in.
pub(crate) const MIGRATIONS_TABLE: &str = "_sqlx_migrations";
/// Folder, beside the SQLite file, that upgrade backups go to.
pub const BACKUP_DIR: &str = "backups";

/// What opening a database with this binary's migrations will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No migration was ever applied: a new database.
    Create,
    /// Every migration the binary knows is applied.
    UpToDate,
    /// Migrations after `from` will run.
    Upgrade { from: i64 },
}

/// The schema versions `migrator` knows, first and last.
pub(crate) fn known(migrator: &Migrator) -> (i64, i64) {
    let versions = migrator.iter().map(|m| m.version);
    let first = versions.clone().min().unwrap_or(0);
    let last = versions.max().unwrap_or(0);
    (first, last)
}

/// Decides what opening a database whose highest applied migration is
/// `applied` means; refuses one from a newer binary.
pub(crate) fn plan(applied: Option<i64>, migrator: &Migrator) -> Result<Plan> {
    let (first, last) = known(migrator);
    match applied {
        None => Ok(Plan::Create),
        Some(found) if found > last => Err(StoreError::NewerSchema { found, first, last }),
        Some(found) if found == last => Ok(Plan::UpToDate),
        Some(from) => Ok(Plan::Upgrade { from }),
    }
}

/// sqlx's own refusal of an applied migration it does not know (a newer
/// binary wrote the database between our check and the migration, on a
/// shared database), in the same plain words.
pub(crate) fn migrate_error(err: MigrateError, migrator: &Migrator) -> StoreError {
    let (first, last) = known(migrator);
    match err {
        MigrateError::VersionMissing(found) if found > last => {
            StoreError::NewerSchema { found, first, last }
        }
        other => StoreError::from(other),
    }
}

/// Where the backup of the SQLite file at `database`, at schema `schema`,
/// taken at `now`, goes: `<its folder>/backups/dynsec-<schema>-<UTC time>.db`.
pub fn backup_path(database: &Path, schema: i64, now: DateTime<Utc>) -> PathBuf {
    let folder = database.parent().unwrap_or(Path::new("."));
    folder.join(BACKUP_DIR).join(format!(
        "dynsec-{schema}-{}.db",
        now.format("%Y%m%dT%H%M%S%.3fZ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

    #[test]
    fn plans_follow_the_applied_version() {
        let (first, last) = known(&MIGRATOR);
        assert_eq!(first, 1);
        assert!(last > 1);
        assert_eq!(plan(None, &MIGRATOR).unwrap(), Plan::Create);
        assert_eq!(plan(Some(last), &MIGRATOR).unwrap(), Plan::UpToDate);
        assert_eq!(
            plan(Some(last - 1), &MIGRATOR).unwrap(),
            Plan::Upgrade { from: last - 1 }
        );
        let err = plan(Some(last + 1), &MIGRATOR).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "written by a newer dynsec: schema {}, this binary knows 1–{last}; run that version (or a newer one), or restore the backup taken before the upgrade",
                last + 1
            )
        );
    }

    #[test]
    fn backups_are_named_by_schema_and_time_beside_the_database() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T01:40:05.123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            backup_path(Path::new("/var/lib/dynsec/dynsec.db"), 7, now),
            PathBuf::from("/var/lib/dynsec/backups/dynsec-7-20261202T014005.123Z.db")
        );
    }
}
