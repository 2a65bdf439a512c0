//! [`KeyStore`] for PostgreSQL.

use crate::error::{conflict, in_use};
use crate::folders::{folder_deltas, parent_of, ItemKind};
use crate::keys::{KeyHandover, KeyStore, ProtectionKeyRecord, SealedBlob, SealedKind};
use crate::rows::{decode, decode_one, millis, KeyHandoverRow, ProtectionKeyRow, SealedRow};
use crate::{PostgresStore, Result, StoreError};
use async_trait::async_trait;

/// (kind, query listing `row_id, uid, sealed`, update taking `new, row_id, old`).
const SEALED_COLUMNS: &[(SealedKind, &str, &str)] = &[
    (
        SealedKind::Target,
        "SELECT id AS row_id, uid, sealed_secret AS sealed FROM targets ORDER BY id",
        "UPDATE targets SET sealed_secret = $1 WHERE id = $2 AND sealed_secret = $3",
    ),
    (
        SealedKind::ProducerInline,
        "SELECT id AS row_id, uid, inline_sealed_secret AS sealed FROM producers \
         WHERE inline_sealed_secret IS NOT NULL ORDER BY id",
        "UPDATE producers SET inline_sealed_secret = $1 WHERE id = $2 AND inline_sealed_secret = $3",
    ),
    (
        SealedKind::ProtectionKey,
        "SELECT id AS row_id, uid, sealed_fragments AS sealed FROM protection_keys ORDER BY id",
        "UPDATE protection_keys SET sealed_fragments = $1 WHERE id = $2 AND sealed_fragments = $3",
    ),
    (
        SealedKind::MasterKeyCheck,
        "SELECT id AS row_id, '' AS uid, sealed FROM master_key_check",
        "UPDATE master_key_check SET sealed = $1 WHERE id = $2 AND sealed = $3",
    ),
];

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_protection_key(&self, k: &ProtectionKeyRecord) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO protection_keys (uid, name, alg, split_level, customer_fragment_id, \
             key_id, sealed_fragments, description, delete_protection, created_at, modified_at, \
             parent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
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
        .bind(parent_of(&k.name))
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict(&format!("protection key '{}'", k.name)))?;
        let deltas = folder_deltas(ItemKind::ProtectionKey, None, Some(&k.name));
        super::folders::apply(&mut tx, &deltas).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn protection_key_by_name(&self, name: &str) -> Result<Option<ProtectionKeyRecord>> {
        let row: Option<ProtectionKeyRow> =
            sqlx::query_as("SELECT * FROM protection_keys WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        decode_one(row)
    }

    async fn list_protection_keys(&self) -> Result<Vec<ProtectionKeyRecord>> {
        let rows: Vec<ProtectionKeyRow> =
            sqlx::query_as("SELECT * FROM protection_keys ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        decode(rows)
    }

    async fn delete_protection_key(&self, id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let deleted: Option<String> =
            sqlx::query_scalar("DELETE FROM protection_keys WHERE id = $1 RETURNING name")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(in_use("the protection key is in use"))?;
        if let Some(name) = deleted {
            let deltas = folder_deltas(ItemKind::ProtectionKey, Some(&name), None);
            super::folders::apply(&mut tx, &deltas).await?;
        }
        tx.commit().await?;
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
            "INSERT INTO master_key_check (id, sealed) VALUES (1, $1) \
             ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn init_master_key_check(&self, sealed: &[u8]) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO master_key_check (id, sealed) VALUES (1, $1) ON CONFLICT(id) DO NOTHING",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_key_handover(&self, h: &KeyHandover) -> Result<()> {
        sqlx::query(
            "INSERT INTO master_key_handovers (key_id, sealed_key, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT(key_id) DO UPDATE SET sealed_key = excluded.sealed_key, \
             created_at = excluded.created_at",
        )
        .bind(&h.key_id)
        .bind(&h.sealed_key)
        .bind(millis(h.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn key_handovers(&self) -> Result<Vec<KeyHandover>> {
        let rows: Vec<KeyHandoverRow> =
            sqlx::query_as("SELECT * FROM master_key_handovers ORDER BY created_at")
                .fetch_all(&self.pool)
                .await?;
        decode(rows)
    }

    async fn delete_key_handover(&self, key_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM master_key_handovers WHERE key_id = $1")
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sealed_blobs(&self) -> Result<Vec<SealedBlob>> {
        let mut blobs = Vec::new();
        for (kind, select, _) in SEALED_COLUMNS {
            let rows: Vec<SealedRow> = sqlx::query_as(select).fetch_all(&self.pool).await?;
            blobs.extend(rows.into_iter().map(|r| SealedBlob {
                kind: *kind,
                row_id: r.row_id,
                uid: r.uid,
                sealed: r.sealed,
            }));
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
