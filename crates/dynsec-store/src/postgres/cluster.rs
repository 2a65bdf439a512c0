//! [`ClusterStore`] for PostgreSQL. Every statement is safe with
//! any number of gateways running it at once.

use crate::cluster::{ClusterStore, FailureCount, InstanceRecord};
use crate::rows::{decode, from_millis, join_list, millis, InstanceRow};
use crate::{PostgresStore, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl ClusterStore for PostgresStore {
    async fn heartbeat(&self, i: &InstanceRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO instances (id, heartbeat_at, master_keys) VALUES ($1, $2, $3) \
             ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, \
             master_keys = excluded.master_keys",
        )
        .bind(&i.id)
        .bind(millis(i.heartbeat_at))
        .bind(join_list(&i.master_keys))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn instance_heartbeat(&self, id: &str) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> =
            sqlx::query_scalar("SELECT heartbeat_at FROM instances WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        ms.map(|ms| from_millis(ms, "instances.heartbeat_at"))
            .transpose()
    }

    async fn instances_since(&self, since: DateTime<Utc>) -> Result<Vec<InstanceRecord>> {
        let rows: Vec<InstanceRow> =
            sqlx::query_as("SELECT * FROM instances WHERE heartbeat_at >= $1 ORDER BY id")
                .bind(millis(since))
                .fetch_all(&self.pool)
                .await?;
        decode(rows)
    }

    async fn remove_instance(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn try_hold_duty(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO duties (name, holder, held_until) VALUES ($1, $2, $3) \
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, \
             held_until = excluded.held_until \
             WHERE duties.held_until <= $4 OR duties.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(millis(until))
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_duty(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM duties WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn try_lock(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO locks (name, holder, held_until) VALUES ($1, $2, $3) \
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, \
             held_until = excluded.held_until WHERE locks.held_until <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(millis(until))
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unlock(&self, name: &str, holder: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM locks WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_auth_failure(&self, keys: &[String], at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            sqlx::query("INSERT INTO auth_failures (limiter_key, failed_at) VALUES ($1, $2)")
                .bind(key)
                .bind(millis(at))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn auth_failures_since(&self, key: &str, since: DateTime<Utc>) -> Result<FailureCount> {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(failed_at) FROM auth_failures \
             WHERE limiter_key = $1 AND failed_at >= $2",
        )
        .bind(key)
        .bind(millis(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(FailureCount {
            count: u64::try_from(count).unwrap_or(0),
            oldest: oldest
                .map(|ms| from_millis(ms, "auth_failures.failed_at"))
                .transpose()?,
        })
    }

    async fn purge_auth_failures(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM auth_failures WHERE failed_at < $1")
            .bind(millis(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
