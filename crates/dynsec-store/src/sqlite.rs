//! The embedded default store: SQLite in WAL mode through sqlx, migrations
//! embedded in the binary and applied on open.

use crate::records::{ApiKeyRecord, ConnectionColumns, ProducerRecord, TargetRecord, TokenRecord};
use crate::{Result, Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use dynsec_core::{AccessMode, Lease, LeaseState};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// SQLite-backed [`Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a lease intent must be on disk before CreateUser is sent.
            .synchronous(SqliteSynchronous::Full)
            // Freed pages are zeroed, so superseded ciphertext (e.g. wrapped
            // by a retired master key) doesn't linger in the file.
            .pragma("secure_delete", "ON")
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options, 4).await
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: each in-memory connection would be its own database.
        Self::connect(options, 1).await
    }

    async fn connect(options: SqliteConnectOptions, max: u32) -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>> {
    let ms: i64 = row.try_get(column)?;
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(column.to_string()))
}

pub(crate) fn opt_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = row.try_get(column)?;
    ms.map(|ms| {
        Utc.timestamp_millis_opt(ms)
            .single()
            .ok_or_else(|| StoreError::Corrupt(column.to_string()))
    })
    .transpose()
}

/// Maps a unique-constraint violation to `Conflict(what)`.
pub(crate) fn conflict(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::Database(err),
    }
}

fn target_from(row: &SqliteRow) -> Result<TargetRecord> {
    Ok(TargetRecord {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        connection: ConnectionColumns {
            access_key_id: row.try_get("access_key_id")?,
            region: row.try_get("region")?,
            iam_endpoint: row.try_get("iam_endpoint")?,
            sts_endpoint: row.try_get("sts_endpoint")?,
            sealed_secret: row.try_get("sealed_secret")?,
        },
        protection_key: row.try_get("protection_key")?,
        delete_protection: row.try_get("delete_protection")?,
        created_at: time(row, "created_at")?,
        modified_at: time(row, "modified_at")?,
    })
}

fn producer_from(row: &SqliteRow) -> Result<ProducerRecord> {
    let settings_json: String = row.try_get("settings_json")?;
    let settings = serde_json::from_str(&settings_json)
        .map_err(|e| StoreError::Corrupt(format!("producers.settings_json: {e}")))?;
    let inline_key: Option<String> = row.try_get("inline_access_key_id")?;
    let inline_connection = match inline_key {
        None => None,
        Some(access_key_id) => Some(ConnectionColumns {
            access_key_id,
            region: row
                .try_get::<Option<String>, _>("inline_region")?
                .unwrap_or_default(),
            iam_endpoint: row.try_get("inline_iam_endpoint")?,
            sts_endpoint: row.try_get("inline_sts_endpoint")?,
            sealed_secret: row
                .try_get::<Option<Vec<u8>>, _>("inline_sealed_secret")?
                .ok_or_else(|| StoreError::Corrupt("producers.inline_sealed_secret".into()))?,
        }),
    };
    Ok(ProducerRecord {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        target_id: row.try_get("target_id")?,
        inline_connection,
        settings,
        delete_protection: row.try_get("delete_protection")?,
        created_at: time(row, "created_at")?,
        modified_at: time(row, "modified_at")?,
    })
}

fn lease_from(row: &SqliteRow) -> Result<Lease> {
    let state: String = row.try_get("state")?;
    let mode: String = row.try_get("mode")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Lease {
        id: row.try_get("id")?,
        producer_id: row.try_get("producer_id")?,
        producer_name: row.try_get("producer_name")?,
        mode: AccessMode::parse("mode", &mode)
            .map_err(|_| StoreError::Corrupt("leases.mode".into()))?,
        principal: row.try_get("principal")?,
        access_key_id: row.try_get("access_key_id")?,
        role_arn: row.try_get("role_arn")?,
        account_id: row.try_get("account_id")?,
        state: LeaseState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt("leases.state".into()))?,
        owner: row.try_get("owner")?,
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: row.try_get("last_error")?,
        next_attempt_at: opt_time(row, "next_attempt_at")?,
    })
}

impl SqliteStore {
    /// Writes every mutable field of `l`; with `expected`, only if the stored
    /// lease is still in that state. Returns the rows written.
    async fn write_lease(&self, l: &Lease, expected: Option<LeaseState>) -> Result<u64> {
        let condition = if expected.is_some() {
            " AND state = ?"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE leases SET producer_name = ?, principal = ?, access_key_id = ?, role_arn = ?, \
             state = ?, owner = ?, expires_at = ?, attempts = ?, last_error = ?, \
             next_attempt_at = ?, due_at = ?, account_id = ? WHERE id = ?{condition}"
        );
        let mut query = sqlx::query(&sql)
            .bind(&l.producer_name)
            .bind(&l.principal)
            .bind(&l.access_key_id)
            .bind(&l.role_arn)
            .bind(l.state.as_str())
            .bind(&l.owner)
            .bind(millis(l.expires_at))
            .bind(i64::from(l.attempts))
            .bind(&l.last_error)
            .bind(l.next_attempt_at.map(millis))
            .bind(due_at(l))
            .bind(&l.account_id)
            .bind(&l.id);
        if let Some(state) = expected {
            query = query.bind(state.as_str());
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }
}

/// When the reaper must next look at a lease (see the `due_at` column).
fn due_at(lease: &Lease) -> Option<i64> {
    match lease.state {
        LeaseState::Active => Some(millis(lease.expires_at)),
        LeaseState::Revoking | LeaseState::Failed => {
            Some(millis(lease.next_attempt_at.unwrap_or(lease.created_at)))
        }
        LeaseState::Pending | LeaseState::Revoked => None,
    }
}

const PRODUCER_COLUMNS: &str = "id, uid, name, target_id, settings_json, inline_access_key_id, \
     inline_region, inline_iam_endpoint, inline_sts_endpoint, inline_sealed_secret, \
     delete_protection, created_at, modified_at";

#[async_trait]
impl Store for SqliteStore {
    async fn api_key_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (access_id, name, key_hash, is_admin, created_at, description, \
             access_expires, bound_ips, jwt_ttl_secs, delete_protection) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.access_id)
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(key.is_admin)
        .bind(millis(key.created_at))
        .bind(&key.description)
        .bind(key.access_expires.map(millis))
        .bind(key.bound_ips.join(","))
        .bind(key.jwt_ttl_secs.map(|s| i64::try_from(s).unwrap_or(i64::MAX)))
        .bind(key.delete_protection)
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("auth method '{}'", key.name)))?;
        Ok(())
    }

    async fn api_key(&self, access_id: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE access_id = ?")
            .bind(access_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(crate::sqlite_access::api_key_from)
            .transpose()
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        sqlx::query("INSERT INTO tokens (token_hash, access_id, expires_at) VALUES (?, ?, ?)")
            .bind(&token.token_hash)
            .bind(&token.access_id)
            .bind(millis(token.expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TokenRecord {
                token_hash: row.try_get("token_hash")?,
                access_id: row.try_get("access_id")?,
                expires_at: time(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn purge_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM tokens WHERE expires_at < ?")
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_target(&self, t: &TargetRecord) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO targets (uid, name, description, access_key_id, region, iam_endpoint, \
             sts_endpoint, sealed_secret, protection_key, delete_protection, created_at, modified_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.uid)
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.connection.access_key_id)
        .bind(&t.connection.region)
        .bind(&t.connection.iam_endpoint)
        .bind(&t.connection.sts_endpoint)
        .bind(&t.connection.sealed_secret)
        .bind(&t.protection_key)
        .bind(t.delete_protection)
        .bind(millis(t.created_at))
        .bind(millis(t.modified_at))
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("target '{}'", t.name)))?;
        Ok(done.last_insert_rowid())
    }

    async fn update_target(&self, t: &TargetRecord) -> Result<()> {
        sqlx::query(
            "UPDATE targets SET name = ?, description = ?, access_key_id = ?, region = ?, \
             iam_endpoint = ?, sts_endpoint = ?, sealed_secret = ?, protection_key = ?, \
             delete_protection = ?, modified_at = ? WHERE id = ?",
        )
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.connection.access_key_id)
        .bind(&t.connection.region)
        .bind(&t.connection.iam_endpoint)
        .bind(&t.connection.sts_endpoint)
        .bind(&t.connection.sealed_secret)
        .bind(&t.protection_key)
        .bind(t.delete_protection)
        .bind(millis(t.modified_at))
        .bind(t.id)
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("target '{}'", t.name)))?;
        Ok(())
    }

    async fn target_by_name(&self, name: &str) -> Result<Option<TargetRecord>> {
        let row = sqlx::query("SELECT * FROM targets WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(target_from).transpose()
    }

    async fn target_by_id(&self, id: i64) -> Result<Option<TargetRecord>> {
        let row = sqlx::query("SELECT * FROM targets WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(target_from).transpose()
    }

    async fn list_targets(&self) -> Result<Vec<TargetRecord>> {
        let rows = sqlx::query("SELECT * FROM targets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(target_from).collect()
    }

    async fn delete_target(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM targets WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_producer(&self, p: &ProducerRecord) -> Result<i64> {
        let settings = serde_json::to_string(&p.settings)
            .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?;
        let inline = p.inline_connection.as_ref();
        let done = sqlx::query(
            "INSERT INTO producers (uid, name, target_id, settings_json, inline_access_key_id, \
             inline_region, inline_iam_endpoint, inline_sts_endpoint, inline_sealed_secret, \
             delete_protection, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.uid)
        .bind(&p.name)
        .bind(p.target_id)
        .bind(settings)
        .bind(inline.map(|c| &c.access_key_id))
        .bind(inline.map(|c| &c.region))
        .bind(inline.and_then(|c| c.iam_endpoint.as_ref()))
        .bind(inline.and_then(|c| c.sts_endpoint.as_ref()))
        .bind(inline.map(|c| &c.sealed_secret))
        .bind(p.delete_protection)
        .bind(millis(p.created_at))
        .bind(millis(p.modified_at))
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("dynamic secret '{}'", p.name)))?;
        Ok(done.last_insert_rowid())
    }

    async fn update_producer(&self, p: &ProducerRecord) -> Result<()> {
        let settings = serde_json::to_string(&p.settings)
            .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?;
        let inline = p.inline_connection.as_ref();
        sqlx::query(
            "UPDATE producers SET name = ?, target_id = ?, settings_json = ?, inline_access_key_id = ?, \
             inline_region = ?, inline_iam_endpoint = ?, inline_sts_endpoint = ?, \
             inline_sealed_secret = ?, delete_protection = ?, modified_at = ? WHERE id = ?",
        )
        .bind(&p.name)
        .bind(p.target_id)
        .bind(settings)
        .bind(inline.map(|c| &c.access_key_id))
        .bind(inline.map(|c| &c.region))
        .bind(inline.and_then(|c| c.iam_endpoint.as_ref()))
        .bind(inline.and_then(|c| c.sts_endpoint.as_ref()))
        .bind(inline.map(|c| &c.sealed_secret))
        .bind(p.delete_protection)
        .bind(millis(p.modified_at))
        .bind(p.id)
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("dynamic secret '{}'", p.name)))?;
        Ok(())
    }

    async fn producer_by_name(&self, name: &str) -> Result<Option<ProducerRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(producer_from).transpose()
    }

    async fn producer_by_id(&self, id: i64) -> Result<Option<ProducerRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(producer_from).transpose()
    }

    async fn list_producers(&self) -> Result<Vec<ProducerRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(producer_from).collect()
    }

    async fn producers_using_target(&self, target_id: i64) -> Result<Vec<ProducerRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers WHERE target_id = ? ORDER BY name"
        ))
        .bind(target_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(producer_from).collect()
    }

    async fn delete_producer(&self, id: i64) -> Result<bool> {
        // One statement, so no intent can slip in between check and delete.
        let done = sqlx::query(
            "DELETE FROM producers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM leases \
             WHERE producer_id = ? AND mode = 'iam_user' AND state != 'revoked')",
        )
        .bind(id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_lease(&self, l: &Lease) -> Result<()> {
        sqlx::query(
            "INSERT INTO leases (id, producer_id, producer_name, mode, principal, access_key_id, \
             role_arn, state, owner, created_at, expires_at, attempts, last_error, next_attempt_at, due_at, \
             account_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&l.id)
        .bind(l.producer_id)
        .bind(&l.producer_name)
        .bind(l.mode.as_str())
        .bind(&l.principal)
        .bind(&l.access_key_id)
        .bind(&l.role_arn)
        .bind(l.state.as_str())
        .bind(&l.owner)
        .bind(millis(l.created_at))
        .bind(millis(l.expires_at))
        .bind(i64::from(l.attempts))
        .bind(&l.last_error)
        .bind(l.next_attempt_at.map(millis))
        .bind(due_at(l))
        .bind(&l.account_id)
        .execute(&self.pool)
        .await
        .map_err(conflict("lease"))?;
        Ok(())
    }

    async fn update_lease(&self, l: &Lease) -> Result<()> {
        self.write_lease(l, None).await.map(drop)
    }

    async fn update_lease_if(&self, l: &Lease, expected: LeaseState) -> Result<bool> {
        Ok(self.write_lease(l, Some(expected)).await? == 1)
    }

    async fn lease(&self, id: &str) -> Result<Option<Lease>> {
        let row = sqlx::query("SELECT * FROM leases WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(lease_from).transpose()
    }

    async fn leases_of_producer(
        &self,
        producer_id: i64,
        include_revoked: bool,
    ) -> Result<Vec<Lease>> {
        let sql = if include_revoked {
            "SELECT * FROM leases WHERE producer_id = ? ORDER BY created_at DESC"
        } else {
            "SELECT * FROM leases WHERE producer_id = ? AND state != 'revoked' ORDER BY created_at DESC"
        };
        let rows = sqlx::query(sql)
            .bind(producer_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(lease_from).collect()
    }

    async fn due_leases(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Lease>> {
        let rows = sqlx::query(
            "SELECT * FROM leases WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lease_from).collect()
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_at) FROM leases WHERE due_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    async fn claimed_leases(&self) -> Result<Vec<Lease>> {
        let rows = sqlx::query("SELECT * FROM leases WHERE state IN ('pending', 'revoking')")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(lease_from).collect()
    }

    async fn compact(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn heartbeat(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO instances (id, heartbeat_at) VALUES (?, ?) \
             ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(id)
        .bind(millis(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn instance_heartbeat(&self, id: &str) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = sqlx::query_scalar("SELECT heartbeat_at FROM instances WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    async fn remove_instance(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
