//! Keeping SQLite's `folders` table in step with item writes (see
//! [`crate::folders`]), inside the write's own transaction.

use crate::folders::FolderDelta;
use crate::Result;
use sqlx::SqliteConnection;

/// Applies folder count changes; folders left with nothing below them go.
pub(super) async fn apply(conn: &mut SqliteConnection, deltas: &[FolderDelta]) -> Result<()> {
    for d in deltas {
        sqlx::query(
            "INSERT INTO folders (path, parent, producers, keys) VALUES (?, ?, ?, ?) \
             ON CONFLICT(path) DO UPDATE SET producers = producers + excluded.producers, \
             keys = keys + excluded.keys",
        )
        .bind(&d.path)
        .bind(&d.parent)
        .bind(d.producers)
        .bind(d.keys)
        .execute(&mut *conn)
        .await?;
    }
    for d in deltas.iter().filter(|d| d.producers < 0 || d.keys < 0) {
        sqlx::query("DELETE FROM folders WHERE path = ? AND producers <= 0 AND keys <= 0")
            .bind(&d.path)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
