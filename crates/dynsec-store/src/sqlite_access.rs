//! [`AccessStore`] for SQLite.

use crate::access::{AccessStore, AssocRecord, RoleRecord};
use crate::sqlite::{conflict, millis, opt_time, time};
use crate::{ApiKeyRecord, Result, SqliteStore, StoreError};
use async_trait::async_trait;
use dynsec_core::access::{Capability, PathRule, RuleType};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

pub(crate) fn api_key_from(row: &SqliteRow) -> Result<ApiKeyRecord> {
    let bound: String = row.try_get("bound_ips")?;
    let jwt: Option<i64> = row.try_get("jwt_ttl_secs")?;
    Ok(ApiKeyRecord {
        access_id: row.try_get("access_id")?,
        name: row.try_get("name")?,
        key_hash: row.try_get("key_hash")?,
        is_admin: row.try_get("is_admin")?,
        created_at: time(row, "created_at")?,
        description: row.try_get("description")?,
        access_expires: opt_time(row, "access_expires")?,
        bound_ips: bound
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        jwt_ttl_secs: jwt.and_then(|s| u64::try_from(s).ok()),
        delete_protection: row.try_get("delete_protection")?,
    })
}

fn role_from(row: &SqliteRow) -> Result<RoleRecord> {
    Ok(RoleRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at: time(row, "created_at")?,
        modified_at: time(row, "modified_at")?,
    })
}

fn rule_from(row: &SqliteRow) -> Result<PathRule> {
    let rule_type: String = row.try_get("rule_type")?;
    let caps: String = row.try_get("capabilities")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("role_rules.{what}"));
    Ok(PathRule {
        rule_type: RuleType::parse(&rule_type).map_err(|_| corrupt("rule_type"))?,
        path: row.try_get("path")?,
        capabilities: caps
            .split(',')
            .map(Capability::parse)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| corrupt("capabilities"))?,
    })
}

fn assoc_from(row: &SqliteRow) -> Result<AssocRecord> {
    Ok(AssocRecord {
        id: row.try_get("id")?,
        role_id: row.try_get("role_id")?,
        role_name: row.try_get("role_name")?,
        access_id: row.try_get("access_id")?,
        auth_method_name: row.try_get("auth_method_name")?,
    })
}

const ASSOC_SELECT: &str = "SELECT a.id, a.role_id, r.name AS role_name, a.access_id, k.name AS auth_method_name \
     FROM role_assocs a JOIN roles r ON r.id = a.role_id JOIN api_keys k ON k.access_id = a.access_id";

#[async_trait]
impl AccessStore for SqliteStore {
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(api_key_from).collect()
    }

    async fn api_key_by_name(&self, name: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(api_key_from).transpose()
    }

    async fn delete_api_key(&self, access_id: &str) -> Result<()> {
        // Tokens and associations go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM api_keys WHERE access_id = ?")
            .bind(access_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_role(&self, role: &RoleRecord) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO roles (name, description, created_at, modified_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(millis(role.created_at))
        .bind(millis(role.modified_at))
        .execute(&self.pool)
        .await
        .map_err(conflict(&format!("role '{}'", role.name)))?;
        Ok(done.last_insert_rowid())
    }

    async fn role_by_name(&self, name: &str) -> Result<Option<RoleRecord>> {
        let row = sqlx::query("SELECT * FROM roles WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(role_from).transpose()
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
        let rows = sqlx::query("SELECT * FROM roles ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(role_from).collect()
    }

    async fn delete_role(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM roles WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_role_rule(&self, role_id: i64, rule: &PathRule) -> Result<()> {
        let caps: Vec<&str> = rule.capabilities.iter().map(|c| c.as_str()).collect();
        sqlx::query(
            "INSERT INTO role_rules (role_id, rule_type, path, capabilities) VALUES (?, ?, ?, ?) \
             ON CONFLICT(role_id, rule_type, path) DO UPDATE SET capabilities = excluded.capabilities",
        )
        .bind(role_id)
        .bind(rule.rule_type.as_str())
        .bind(&rule.path)
        .bind(caps.join(","))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_role_rule(
        &self,
        role_id: i64,
        rule_type: RuleType,
        path: &str,
    ) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM role_rules WHERE role_id = ? AND rule_type = ? AND path = ?")
                .bind(role_id)
                .bind(rule_type.as_str())
                .bind(path)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn role_rules(&self, role_id: i64) -> Result<Vec<PathRule>> {
        let rows =
            sqlx::query("SELECT * FROM role_rules WHERE role_id = ? ORDER BY rule_type, path")
                .bind(role_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(rule_from).collect()
    }

    async fn insert_assoc(&self, assoc: &AssocRecord) -> Result<()> {
        sqlx::query("INSERT INTO role_assocs (id, role_id, access_id) VALUES (?, ?, ?)")
            .bind(&assoc.id)
            .bind(assoc.role_id)
            .bind(&assoc.access_id)
            .execute(&self.pool)
            .await
            .map_err(conflict(&format!(
                "association of role '{}' with auth method '{}'",
                assoc.role_name, assoc.auth_method_name
            )))?;
        Ok(())
    }

    async fn delete_assoc(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM role_assocs WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn assocs_of_role(&self, role_id: i64) -> Result<Vec<AssocRecord>> {
        let rows = sqlx::query(&format!(
            "{ASSOC_SELECT} WHERE a.role_id = ? ORDER BY k.name"
        ))
        .bind(role_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(assoc_from).collect()
    }

    async fn assocs_of_access_id(&self, access_id: &str) -> Result<Vec<AssocRecord>> {
        let rows = sqlx::query(&format!(
            "{ASSOC_SELECT} WHERE a.access_id = ? ORDER BY r.name"
        ))
        .bind(access_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(assoc_from).collect()
    }

    async fn rules_for_access_id(&self, access_id: &str) -> Result<Vec<PathRule>> {
        let rows = sqlx::query(
            "SELECT rr.* FROM role_rules rr JOIN role_assocs a ON a.role_id = rr.role_id WHERE a.access_id = ?",
        )
        .bind(access_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rule_from).collect()
    }
}
