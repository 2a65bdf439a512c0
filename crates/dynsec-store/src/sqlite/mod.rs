//! The embedded default store: SQLite in WAL mode through sqlx, migrations
//! embedded in the binary and applied on open — after refusing a database a
//! newer dynsec wrote, and after backing the file up (`VACUUM INTO`, a
//! consistent copy of a live database) when a migration is about to run.

mod access;
mod cluster;
mod folders;
mod keys;
mod listing;
mod queries;

use crate::error::conflict;
use crate::folders::{folder_deltas, ItemKind};
use crate::paging::listing::{LeasesOfSecret, LeasesUnderPrefix};
use crate::paging::{lease_position, page_size, prefix_end, CursorKey, Page, PageToken};
use crate::records::{
    ApiKeyRecord, ConnectionColumns, ConnectionSlot, ProducerRecord, TargetRecord, TokenRecord,
};
use crate::rows::{
    claimed_states, created_json, decode, decode_one, due_millis, from_millis, join_list, millis,
    retained_millis, settings_json, signed, ApiKeyRow, LeaseRow, ProducerDerived, ProducerRow,
    TargetRow, TokenRow, LIVE_LEASE, PRODUCER_COLUMNS,
};
use crate::{LeaseScope, Result, Store};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dynsec_core::{AccessMode, Lease, LeaseState};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The migrations this binary applies.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite-backed [`Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The copy taken before this open migrated the file, if it did.
    upgrade_backup: Option<PathBuf>,
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
        Self::connect(
            SqlitePoolOptions::new().max_connections(4),
            options,
            Some(path),
        )
        .await
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: each in-memory connection would be its own
        // database. So it is never closed (closing it drops the database:
        // no idle timeout, no maximum lifetime), and waiting for it is
        // queueing, not a failure (no acquire timeout that a test's paused,
        // auto-advancing tokio clock could fire at once).
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(365 * 86_400));
        Self::connect(pool, options, None).await
    }

    /// The backup this open took before migrating the file (see
    /// [`crate::schema::backup_path`]); `None` when no migration ran on an
    /// existing schema.
    pub fn upgrade_backup(&self) -> Option<&Path> {
        self.upgrade_backup.as_deref()
    }

    /// A transaction holding SQLite's write lock from its first statement,
    /// so a read inside it can never be invalidated by another writer (a
    /// deferred transaction that read first may not upgrade to a write).
    pub(crate) async fn write_transaction(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Opens the pool, checks the schema, backs the file at `file` up if a
    /// migration will run, migrates.
    async fn connect(
        pool: SqlitePoolOptions,
        options: SqliteConnectOptions,
        file: Option<&Path>,
    ) -> Result<Self> {
        let pool = pool.connect_with(options).await?;
        let applied = applied_schema(&pool).await?;
        let mut upgrade_backup = None;
        if let (crate::schema::Plan::Upgrade { from }, Some(file)) =
            (crate::schema::plan(applied, &MIGRATOR)?, file)
        {
            let backup = crate::schema::backup_path(file, from, Utc::now());
            back_up(&pool, &backup).await?;
            upgrade_backup = Some(backup);
        }
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| crate::schema::migrate_error(e, &MIGRATOR))?;
        Ok(Self {
            pool,
            upgrade_backup,
        })
    }
}

/// The highest migration applied to the database, `None` for a new one.
async fn applied_schema(pool: &SqlitePool) -> Result<Option<i64>> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
    )
    .bind(crate::schema::MIGRATIONS_TABLE)
    .fetch_one(pool)
    .await?;
    if !has_table {
        return Ok(None);
    }
    Ok(
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?,
    )
}

/// A consistent copy of the live database at `backup` (0600, in a 0700
/// folder): `VACUUM INTO` reads one snapshot, so writers elsewhere cannot
/// tear it. Refuses to overwrite an existing file.
async fn back_up(pool: &SqlitePool, backup: &Path) -> Result<()> {
    let failed = |what: &str, err: std::io::Error| {
        crate::StoreError::Database(format!(
            "cannot back the database up before upgrading it: cannot {what} {}: {err}",
            backup.display()
        ))
    };
    if let Some(folder) = backup.parent() {
        dynsec_files::create_dir(folder).map_err(|e| failed("create the folder of", e))?;
    }
    let target = backup.to_str().ok_or_else(|| {
        crate::StoreError::Database(format!(
            "cannot back the database up to {}: the path is not UTF-8",
            backup.display()
        ))
    })?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(pool)
        .await
        .map_err(|e| {
            crate::StoreError::Database(format!(
                "cannot back the database up to {} before upgrading it: {e}",
                backup.display()
            ))
        })?;
    // Under the gateway's umask it is 0600 already; a store opened by another
    // program may have a looser one.
    dynsec_files::tighten(backup).map_err(|e| failed("restrict", e))?;
    Ok(())
}

impl SqliteStore {
    /// Writes every mutable field of `l`, under `condition` (extra `AND`
    /// clauses, their values in `binds`). Returns the rows written.
    async fn write_lease(&self, l: &Lease, condition: &str, binds: &[&str]) -> Result<u64> {
        let sql = format!(
            "UPDATE leases SET producer_name = ?, principal = ?, access_key_id = ?, role_arn = ?, \
             state = ?, owner = ?, expires_at = ?, attempts = ?, last_error = ?, \
             next_attempt_at = ?, due_at = ?, account_id = ?, created_json = ?, revoked_at = ?, \
             retained_since = ? WHERE id = ?{condition}"
        );
        let created = created_json(l)?;
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
            .bind(due_millis(l))
            .bind(&l.account_id)
            .bind(created)
            .bind(l.revoked_at.map(millis))
            .bind(retained_millis(l))
            .bind(&l.id);
        for value in binds {
            query = query.bind(*value);
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }
}

impl SqliteStore {
    /// Leases of one dynamic secret older than `before` (created_at, id),
    /// newest first, at most `fetch`: one range of its lease index.
    async fn lease_rows_of(
        &self,
        producer_id: i64,
        scope: LeaseScope,
        before: (i64, &str),
        fetch: u32,
    ) -> Result<Vec<LeaseRow>> {
        Ok(sqlx::query_as(&queries::leases_of_secret(scope))
            .bind(producer_id)
            .bind(before.0)
            .bind(before.0)
            .bind(before.1)
            .bind(i64::from(fetch))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Gives each lease its dynamic secret's current name.
    async fn with_current_names(&self, leases: &mut [Lease]) -> Result<()> {
        let mut ids: Vec<i64> = leases.iter().map(|l| l.producer_id).collect();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        let sql = queries::producer_names(ids.len());
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        let names: std::collections::HashMap<i64, String> =
            query.fetch_all(&self.pool).await?.into_iter().collect();
        for lease in leases {
            if let Some(name) = names.get(&lease.producer_id) {
                lease.producer_name.clone_from(name);
            }
        }
        Ok(())
    }
}

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
             access_expires, bound_ips, jwt_ttl_secs, delete_protection) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.access_id)
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(key.is_admin)
        .bind(millis(key.created_at))
        .bind(&key.description)
        .bind(key.access_expires.map(millis))
        .bind(join_list(&key.bound_ips))
        .bind(key.jwt_ttl_secs.map(signed))
        .bind(key.delete_protection)
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("auth method '{}'", key.name)))?;
        Ok(())
    }

    async fn api_key(&self, access_id: &str) -> Result<Option<ApiKeyRecord>> {
        let row: Option<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys WHERE access_id = ?")
            .bind(access_id)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
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
        let row: Option<TokenRow> = sqlx::query_as("SELECT * FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn purge_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM tokens WHERE expires_at < ?")
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_target(&self, t: &TargetRecord) -> Result<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO targets (uid, name, description, access_key_id, region, iam_endpoint, \
             sts_endpoint, sealed_secret, protection_key, delete_protection, created_at, modified_at, \
             admin_json) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        .bind(&t.connection.admin_json)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict(&format!("target '{}'", t.name)))?;
        Ok(id)
    }

    async fn update_target(&self, t: &TargetRecord) -> Result<()> {
        sqlx::query(
            "UPDATE targets SET name = ?, description = ?, access_key_id = ?, region = ?, \
             iam_endpoint = ?, sts_endpoint = ?, sealed_secret = ?, protection_key = ?, \
             delete_protection = ?, modified_at = ?, admin_json = ? WHERE id = ?",
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
        .bind(&t.connection.admin_json)
        .bind(t.id)
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("target '{}'", t.name)))?;
        Ok(())
    }

    async fn target_by_name(&self, name: &str) -> Result<Option<TargetRecord>> {
        let row: Option<TargetRow> = sqlx::query_as("SELECT * FROM targets WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn target_by_id(&self, id: i64) -> Result<Option<TargetRecord>> {
        let row: Option<TargetRow> = sqlx::query_as("SELECT * FROM targets WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn list_targets(&self) -> Result<Vec<TargetRecord>> {
        let rows: Vec<TargetRow> = sqlx::query_as("SELECT * FROM targets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        decode(rows)
    }

    async fn update_connection_if(
        &self,
        slot: ConnectionSlot,
        expected: &ConnectionColumns,
        new: &ConnectionColumns,
    ) -> Result<bool> {
        let (sql, id, key) = match slot {
            ConnectionSlot::Target(id) => (
                "UPDATE targets SET access_key_id = ?1, region = ?2, iam_endpoint = ?3, \
                 sts_endpoint = ?4, sealed_secret = ?5, admin_json = ?6 \
                 WHERE id = ?7 AND sealed_secret = ?8 AND admin_json = ?9",
                id,
                None,
            ),
            ConnectionSlot::DynamicSecret(id) => (
                "UPDATE producers SET inline_access_key_id = ?1, inline_region = ?2, \
                 inline_iam_endpoint = ?3, inline_sts_endpoint = ?4, \
                 inline_sealed_secret = ?5, inline_admin_json = ?6, \
                 inline_connection_key = ?10 WHERE id = ?7 AND target_id IS NULL \
                 AND inline_sealed_secret = ?8 AND inline_admin_json = ?9",
                id,
                Some(crate::rows::inline_connection_key(new)),
            ),
        };
        let mut query = sqlx::query(sql)
            .bind(&new.access_key_id)
            .bind(&new.region)
            .bind(&new.iam_endpoint)
            .bind(&new.sts_endpoint)
            .bind(&new.sealed_secret)
            .bind(&new.admin_json)
            .bind(id)
            .bind(&expected.sealed_secret)
            .bind(&expected.admin_json);
        if let Some(key) = key {
            query = query.bind(key);
        }
        let done = query.execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_target(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM targets WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_producer(&self, p: &ProducerRecord) -> Result<i64> {
        let inline = p.inline_connection.as_ref();
        let derived = ProducerDerived::of(p);
        let mut tx = self.write_transaction().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO producers (uid, name, target_id, settings_json, protection_key, \
             inline_access_key_id, inline_region, inline_iam_endpoint, inline_sts_endpoint, \
             inline_sealed_secret, delete_protection, created_at, modified_at, parent, iam_path, \
             inline_connection_key, inline_admin_json) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&p.uid)
        .bind(&p.name)
        .bind(p.target_id)
        .bind(settings_json(&p.settings)?)
        .bind(&p.settings.protection_key)
        .bind(inline.map(|c| &c.access_key_id))
        .bind(inline.map(|c| &c.region))
        .bind(inline.and_then(|c| c.iam_endpoint.as_ref()))
        .bind(inline.and_then(|c| c.sts_endpoint.as_ref()))
        .bind(inline.map(|c| &c.sealed_secret))
        .bind(p.delete_protection)
        .bind(millis(p.created_at))
        .bind(millis(p.modified_at))
        .bind(&derived.parent)
        .bind(&derived.iam_path)
        .bind(&derived.inline_connection_key)
        .bind(inline.map_or("{}", |c| c.admin_json.as_str()))
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict(&format!("dynamic secret '{}'", p.name)))?;
        let deltas = folder_deltas(ItemKind::DynamicSecret, None, Some(&p.name));
        folders::apply(&mut tx, &deltas).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn update_producer(&self, p: &ProducerRecord) -> Result<()> {
        let inline = p.inline_connection.as_ref();
        let derived = ProducerDerived::of(p);
        let mut tx = self.write_transaction().await?;
        let old_name: Option<String> =
            sqlx::query_scalar("SELECT name FROM producers WHERE id = ?")
                .bind(p.id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE producers SET name = ?, target_id = ?, settings_json = ?, protection_key = ?, \
             inline_access_key_id = ?, inline_region = ?, inline_iam_endpoint = ?, \
             inline_sts_endpoint = ?, inline_sealed_secret = ?, delete_protection = ?, \
             modified_at = ?, parent = ?, iam_path = ?, inline_connection_key = ?, \
             inline_admin_json = ? WHERE id = ?",
        )
        .bind(&p.name)
        .bind(p.target_id)
        .bind(settings_json(&p.settings)?)
        .bind(&p.settings.protection_key)
        .bind(inline.map(|c| &c.access_key_id))
        .bind(inline.map(|c| &c.region))
        .bind(inline.and_then(|c| c.iam_endpoint.as_ref()))
        .bind(inline.and_then(|c| c.sts_endpoint.as_ref()))
        .bind(inline.map(|c| &c.sealed_secret))
        .bind(p.delete_protection)
        .bind(millis(p.modified_at))
        .bind(&derived.parent)
        .bind(&derived.iam_path)
        .bind(&derived.inline_connection_key)
        .bind(inline.map_or("{}", |c| c.admin_json.as_str()))
        .bind(p.id)
        .execute(&mut *tx)
        .await
        .map_err(conflict(&format!("dynamic secret '{}'", p.name)))?;
        if let Some(old_name) = old_name {
            let deltas = folder_deltas(ItemKind::DynamicSecret, Some(&old_name), Some(&p.name));
            folders::apply(&mut tx, &deltas).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn producer_by_name(&self, name: &str) -> Result<Option<ProducerRecord>> {
        let row: Option<ProducerRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        decode_one(row)
    }

    async fn producer_by_id(&self, id: i64) -> Result<Option<ProducerRecord>> {
        let row: Option<ProducerRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        decode_one(row)
    }

    async fn list_producers(&self) -> Result<Vec<ProducerRecord>> {
        let rows: Vec<ProducerRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn producers_using_target(&self, target_id: i64) -> Result<Vec<ProducerRecord>> {
        let rows: Vec<ProducerRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCER_COLUMNS} FROM producers WHERE target_id = ? ORDER BY name"
        ))
        .bind(target_id)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn delete_producer(&self, id: i64) -> Result<bool> {
        let mut tx = self.write_transaction().await?;
        // One statement, so no intent can slip in between check and delete.
        let deleted: Option<String> = sqlx::query_scalar(&queries::delete_idle_producer())
            .bind(id)
            .bind(id)
            .bind(AccessMode::IamUser.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(name) = deleted else {
            return Ok(false);
        };
        let deltas = folder_deltas(ItemKind::DynamicSecret, Some(&name), None);
        folders::apply(&mut tx, &deltas).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_lease(&self, l: &Lease) -> Result<()> {
        sqlx::query(
            "INSERT INTO leases (id, producer_id, producer_name, mode, principal, access_key_id, \
             role_arn, state, owner, created_at, expires_at, attempts, last_error, \
             next_attempt_at, due_at, account_id, created_json, revoked_at, retained_since) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(due_millis(l))
        .bind(&l.account_id)
        .bind(created_json(l)?)
        .bind(l.revoked_at.map(millis))
        .bind(retained_millis(l))
        .execute(&self.pool)
        .await
        .map_err(conflict("lease"))?;
        Ok(())
    }

    async fn update_lease(&self, l: &Lease) -> Result<()> {
        self.write_lease(l, "", &[]).await.map(drop)
    }

    async fn update_lease_if(&self, l: &Lease, expected: LeaseState) -> Result<bool> {
        Ok(self
            .write_lease(l, " AND state = ?", &[expected.as_str()])
            .await?
            == 1)
    }

    async fn lease(&self, id: &str) -> Result<Option<Lease>> {
        let row: Option<LeaseRow> = sqlx::query_as("SELECT * FROM leases WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn leases_of_producer(
        &self,
        producer_id: i64,
        include_revoked: bool,
    ) -> Result<Vec<Lease>> {
        let live = if include_revoked {
            String::new()
        } else {
            format!(" AND {LIVE_LEASE}")
        };
        let rows: Vec<LeaseRow> = sqlx::query_as(&format!(
            "SELECT * FROM leases WHERE producer_id = ?{live} ORDER BY created_at DESC, id DESC"
        ))
        .bind(producer_id)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn leases_of_secret(
        &self,
        producer_id: i64,
        scope: LeaseScope,
        after: Option<&PageToken<LeasesOfSecret>>,
        limit: u32,
    ) -> Result<Page<Lease, LeasesOfSecret>> {
        let limit = page_size(limit);
        let (created_at, id) = lease_position(after.map(PageToken::key));
        let rows = self
            .lease_rows_of(producer_id, scope, (created_at, &id), limit + 1)
            .await?;
        Ok(Page::from_rows(decode(rows)?, limit, |l: &Lease| {
            CursorKey::Leases {
                created_at: millis(l.created_at),
                id: l.id.clone(),
            }
        }))
    }

    async fn leases_under_prefix(
        &self,
        name_prefix: &str,
        scope: LeaseScope,
        after: Option<&PageToken<LeasesUnderPrefix>>,
        limit: u32,
    ) -> Result<Page<Lease, LeasesUnderPrefix>> {
        let limit = page_size(limit);
        let fetch = limit + 1;
        let mut rows = Vec::new();
        let after_producer = match after.map(PageToken::key) {
            Some(key @ CursorKey::LeasesUnder { producer_id, .. }) => {
                // The rest of the secret the last page ended in, unless it
                // has been renamed out of the prefix since.
                let name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM producers WHERE id = ?")
                        .bind(producer_id)
                        .fetch_optional(&self.pool)
                        .await?;
                if name.is_some_and(|n| n.starts_with(name_prefix)) {
                    let (created_at, id) = lease_position(Some(key));
                    rows = self
                        .lease_rows_of(*producer_id, scope, (created_at, &id), fetch)
                        .await?;
                }
                *producer_id
            }
            _ => i64::MIN,
        };
        let room = fetch.saturating_sub(u32::try_from(rows.len()).unwrap_or(u32::MAX));
        if room > 0 {
            let more: Vec<LeaseRow> = sqlx::query_as(&queries::leases_under_prefix(scope))
                .bind(name_prefix)
                .bind(prefix_end(name_prefix))
                .bind(after_producer)
                .bind(i64::from(room))
                .fetch_all(&self.pool)
                .await?;
            rows.extend(more);
        }
        let mut leases: Vec<Lease> = decode(rows)?;
        self.with_current_names(&mut leases).await?;
        Ok(Page::from_rows(leases, limit, |l: &Lease| {
            CursorKey::LeasesUnder {
                producer_id: l.producer_id,
                created_at: millis(l.created_at),
                id: l.id.clone(),
            }
        }))
    }

    async fn purge_revoked_leases(&self, older_than: DateTime<Utc>, limit: u32) -> Result<u64> {
        let done = sqlx::query(queries::PURGE_REVOKED_LEASES)
            .bind(millis(older_than))
            .bind(i64::from(limit))
            .bind(LeaseState::Revoked.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn due_leases(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Lease>> {
        let rows: Vec<LeaseRow> = sqlx::query_as(
            "SELECT * FROM leases WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_at) FROM leases WHERE due_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        ms.map(|ms| from_millis(ms, "leases.due_at")).transpose()
    }

    async fn live_lease_counts(&self) -> Result<Vec<(LeaseState, u64)>> {
        // Live leases other than pending ones are exactly those with a due
        // time (`Lease::due_at`); pending ones have a partial index of their
        // own, which only a literal `'pending'` (not a bound value) matches.
        let rows: Vec<(String, i64)> = sqlx::query_as(queries::LIVE_LEASE_COUNTS)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(state, count)| {
                Some((
                    LeaseState::parse(&state)?,
                    u64::try_from(count).unwrap_or(0),
                ))
            })
            .collect())
    }

    async fn claimed_leases(&self) -> Result<Vec<Lease>> {
        let [pending, revoking] = claimed_states();
        let rows: Vec<LeaseRow> = sqlx::query_as("SELECT * FROM leases WHERE state IN (?, ?)")
            .bind(pending)
            .bind(revoking)
            .fetch_all(&self.pool)
            .await?;
        decode(rows)
    }

    async fn claim_due_leases(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        claimant: &str,
        claim_until: DateTime<Utc>,
    ) -> Result<Vec<Lease>> {
        // SQLite has one writer at a time: the statement is the claim.
        let rows: Vec<LeaseRow> = sqlx::query_as(
            "UPDATE leases SET state = ?, owner = ?, next_attempt_at = ?, due_at = ? \
             WHERE id IN (SELECT id FROM leases WHERE due_at IS NOT NULL AND due_at <= ? \
                          ORDER BY due_at LIMIT ?) \
             RETURNING *",
        )
        .bind(LeaseState::Revoking.as_str())
        .bind(claimant)
        .bind(millis(claim_until))
        .bind(millis(claim_until))
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn claim_lease(
        &self,
        id: &str,
        claimant: &str,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let row: Option<LeaseRow> = sqlx::query_as(
            "UPDATE leases SET state = ?, owner = ?, next_attempt_at = ?, due_at = ? \
             WHERE id = ? AND (state IN (?, ?) OR (state = ? AND due_at <= ?)) \
             RETURNING *",
        )
        .bind(LeaseState::Revoking.as_str())
        .bind(claimant)
        .bind(millis(claim_until))
        .bind(millis(claim_until))
        .bind(id)
        .bind(LeaseState::Active.as_str())
        .bind(LeaseState::Failed.as_str())
        .bind(LeaseState::Revoking.as_str())
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        decode_one(row)
    }

    async fn renew_claim(&self, id: &str, claimant: &str, until: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE leases SET next_attempt_at = ?, due_at = ? \
             WHERE id = ? AND state = ? AND owner = ?",
        )
        .bind(millis(until))
        .bind(millis(until))
        .bind(id)
        .bind(LeaseState::Revoking.as_str())
        .bind(claimant)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_claimed_lease(&self, l: &Lease, claimant: &str) -> Result<bool> {
        Ok(self
            .write_lease(
                l,
                " AND state = ? AND owner = ?",
                &[LeaseState::Revoking.as_str(), claimant],
            )
            .await?
            == 1)
    }

    async fn take_over_claims(
        &self,
        owner: &str,
        claimant: &str,
        now: DateTime<Utc>,
        reason: &str,
        intents_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<Lease>> {
        let [pending, revoking] = claimed_states();
        // Only intents when a creation bound is given; else everything claimed.
        let (revocations, created_before) = match intents_before {
            Some(before) => ("", millis(before)),
            None => (revoking, i64::MAX),
        };
        let rows: Vec<LeaseRow> = sqlx::query_as(
            "UPDATE leases SET \
               last_error = CASE WHEN state = ? THEN ? ELSE last_error END, \
               state = ?, owner = ?, next_attempt_at = ?, due_at = ? \
             WHERE owner = ? AND ((state = ? AND created_at < ?) OR state = ?) \
             RETURNING *",
        )
        .bind(pending)
        .bind(reason)
        .bind(revoking)
        .bind(claimant)
        .bind(millis(now))
        .bind(millis(now))
        .bind(owner)
        .bind(pending)
        .bind(created_before)
        .bind(revocations)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn scrub_superseded(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
