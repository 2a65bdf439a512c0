//! [`KeyStore`] for SQLite.

use crate::keys::{KeyStore, ProtectionKeyRecord, SealedBlob, SealedKind};
use crate::sqlite::{conflict, millis, time};
use crate::{Result, SqliteStore, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

fn protection_key_from(row: &SqliteRow) -> Result<ProtectionKeyRecord> {
    let split: i64 = row.try_get("split_level")?;
    Ok(ProtectionKeyRecord {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        alg: row.try_get("alg")?,
        split_level: u8::try_from(split)
            .map_err(|_| StoreError::Corrupt("protection_keys.split_level".into()))?,
        customer_fragment_id: row.try_get("customer_fragment_id")?,
        key_id: row.try_get("key_id")?,
        sealed_fragments: row.try_get("sealed_fragments")?,
        description: row.try_get("description")?,
        delete_protection: row.try_get("delete_protection")?,
        created_at: time(row, "created_at")?,
        modified_at: time(row, "modified_at")?,
    })
}

/// (kind, query listing `row_id, uid, sealed`, update taking `new, row_id, old`).
const SEALED_COLUMNS: &[(SealedKind, &str, &str)] = &[
    (
        SealedKind::Target,
        "SELECT id AS row_id, uid, sealed_secret AS sealed FROM targets ORDER BY id",
        "UPDATE targets SET sealed_secret = ? WHERE id = ? AND sealed_secret = ?",
    ),
    (
        SealedKind::ProducerInline,
        "SELECT id AS row_id, uid, inline_sealed_secret AS sealed FROM producers \
         WHERE inline_sealed_secret IS NOT NULL ORDER BY id",
        "UPDATE producers SET inline_sealed_secret = ? WHERE id = ? AND inline_sealed_secret = ?",
    ),
    (
        SealedKind::ProtectionKey,
        "SELECT id AS row_id, uid, sealed_fragments AS sealed FROM protection_keys ORDER BY id",
        "UPDATE protection_keys SET sealed_fragments = ? WHERE id = ? AND sealed_fragments = ?",
    ),
    (
        SealedKind::MasterKeyCheck,
        "SELECT id AS row_id, '' AS uid, sealed FROM master_key_check",
        "UPDATE master_key_check SET sealed = ? WHERE id = ? AND sealed = ?",
    ),
];

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_protection_key(&self, k: &ProtectionKeyRecord) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO protection_keys (uid, name, alg, split_level, customer_fragment_id, \
             key_id, sealed_fragments, description, delete_protection, created_at, modified_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.uid)
        .bind(&k.name)
        .bind(&k.alg)
        .bind(i64::from(k.split_level))
        .bind(&k.customer_fragment_id)
        .bind(&k.key_id)
        .bind(&k.sealed_fragments)
        .bind(&k.description)
        .bind(k.delete_protection)
        .bind(millis(k.created_at))
        .bind(millis(k.modified_at))
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("protection key '{}'", k.name)))?;
        Ok(done.last_insert_rowid())
    }

    async fn protection_key_by_name(&self, name: &str) -> Result<Option<ProtectionKeyRecord>> {
        let row = sqlx::query("SELECT * FROM protection_keys WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(protection_key_from).transpose()
    }

    async fn list_protection_keys(&self) -> Result<Vec<ProtectionKeyRecord>> {
        let rows = sqlx::query("SELECT * FROM protection_keys ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(protection_key_from).collect()
    }

    async fn delete_protection_key(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM protection_keys WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn master_key_check(&self) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT sealed FROM master_key_check WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_master_key_check(&self, sealed: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO master_key_check (id, sealed) VALUES (1, ?) \
             ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sealed_blobs(&self) -> Result<Vec<SealedBlob>> {
        let mut blobs = Vec::new();
        for (kind, select, _) in SEALED_COLUMNS {
            for row in sqlx::query(select).fetch_all(&self.pool).await? {
                blobs.push(SealedBlob {
                    kind: *kind,
                    row_id: row.try_get("row_id")?,
                    uid: row.try_get("uid")?,
                    sealed: row.try_get("sealed")?,
                });
            }
        }
        Ok(blobs)
    }

    async fn replace_sealed_blob(&self, blob: &SealedBlob, new: &[u8]) -> Result<bool> {
        let update = SEALED_COLUMNS
            .iter()
            .find(|(kind, _, _)| *kind == blob.kind)
            .map(|(_, _, update)| *update)
            .ok_or_else(|| StoreError::Corrupt(format!("no sealed column for {:?}", blob.kind)))?;
        let done = sqlx::query(update)
            .bind(new)
            .bind(blob.row_id)
            .bind(&blob.sealed)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
