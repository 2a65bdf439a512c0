//! [`StoreError`]: what can go wrong in any store, in the engine's terms.
//!
//! Backend errors are classified here, once, and carried as text: callers
//! never see a driver type, so a store can change its driver (or dialect)
//! without the engine noticing.

/// Store failures. `Conflict` and `InUse` are the ones callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique name is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// The record is still referenced by another (a protection key that a
    /// target or dynamic secret uses).
    #[error("{0}")]
    InUse(String),
    /// A stored row could not be decoded (corruption or a bug), with the column.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database cannot be reached right now (connection refused or lost,
    /// pool exhausted, timeout): worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the operation.
    #[error("database error: {0}")]
    Database(String),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The database was migrated by a newer dynsec than this binary: its
    /// schema `found` is past the `first..=last` this binary knows.
    #[error("written by a newer dynsec: schema {found}, this binary knows {first}–{last}; run that version (or a newer one), or restore the backup taken before the upgrade")]
    NewerSchema { found: i64, first: i64, last: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Self::Unavailable(err.to_string()),
            sqlx::Error::Database(db) if is_foreign_key_violation(db.as_ref()) => {
                Self::InUse(format!("still in use ({})", db.message()))
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                Self::Corrupt(err.to_string())
            }
            _ => Self::Database(err.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Migration(err.to_string())
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`, anything else as usual.
pub(crate) fn conflict(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::from(err),
    }
}

/// SQLite reports an `ON DELETE RESTRICT` refusal with the extended code of
/// a trigger constraint (1811), which sqlx does not count as a foreign-key
/// violation; its message says what it is.
fn is_foreign_key_violation(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.is_foreign_key_violation() || db.message().contains("FOREIGN KEY constraint failed")
}

/// Maps a foreign-key violation to `InUse(what)`, anything else as usual.
pub(crate) fn in_use(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| match &err {
        sqlx::Error::Database(db) if is_foreign_key_violation(db.as_ref()) => {
            StoreError::InUse(what.to_string())
        }
        _ => StoreError::from(err),
    }
}
