//! Keeping PostgreSQL's `folders` table in step with item writes (see
//! [`crate::folders`]), inside the write's own transaction.

use crate::folders::FolderDelta;
use crate::Result;
use sqlx::PgConnection;

/// Applies folder count changes in one statement whose rows come in path
/// order, so concurrent writers lock folder rows in one order (no deadlock);
/// folders left with nothing below them go. A folder emptied by one writer
/// while another adds to it ends up existing: `ON CONFLICT` retries the
/// insert once the delete commits.
pub(super) async fn apply(conn: &mut PgConnection, deltas: &[FolderDelta]) -> Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let paths: Vec<&str> = deltas.iter().map(|d| d.path.as_str()).collect();
    let parents: Vec<&str> = deltas.iter().map(|d| d.parent.as_str()).collect();
    let producers: Vec<i64> = deltas.iter().map(|d| d.producers).collect();
    let keys: Vec<i64> = deltas.iter().map(|d| d.keys).collect();
    sqlx::query(
        "INSERT INTO folders (path, parent, producers, keys) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
         ON CONFLICT (path) DO UPDATE SET producers = folders.producers + EXCLUDED.producers, \
         keys = folders.keys + EXCLUDED.keys",
    )
    .bind(&paths)
    .bind(&parents)
    .bind(&producers)
    .bind(&keys)
    .execute(&mut *conn)
    .await?;
    if deltas.iter().any(|d| d.producers < 0 || d.keys < 0) {
        sqlx::query("DELETE FROM folders WHERE path = ANY($1) AND producers <= 0 AND keys <= 0")
            .bind(&paths)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
