//! [`AccessStore`] for PostgreSQL.

use super::queries;
use crate::access::{AccessStore, AssocRecord, RoleRecord, RoleRule};
use crate::error::conflict;
use crate::paging::listing::{AuthMethods, Roles};
use crate::paging::{name_filter, name_position, page_size, CursorKey, Page, PageToken};
use crate::rows::{
    capabilities_text, decode, decode_one, millis, ApiKeyRow, AssocRow, RoleRow, RoleRuleRow,
    RuleRow, ASSOC_SELECT,
};
use crate::{ApiKeyRecord, PostgresStore, Result};
use async_trait::async_trait;
use dynsec_core::access::{PathRule, RuleType};

#[async_trait]
impl AccessStore for PostgresStore {
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        decode(rows)
    }

    async fn auth_methods_page(
        &self,
        filter: &str,
        after: Option<&PageToken<AuthMethods>>,
        limit: u32,
    ) -> Result<Page<ApiKeyRecord, AuthMethods>> {
        let limit = page_size(limit);
        let rows: Vec<ApiKeyRow> = sqlx::query_as(queries::AUTH_METHODS_PAGE)
            .bind(name_position(after.map(PageToken::key)))
            .bind(name_filter(filter))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(decode(rows)?, limit, |k: &ApiKeyRecord| {
            CursorKey::AuthMethods {
                name: k.name.clone(),
            }
        }))
    }

    async fn assocs_of_access_ids(&self, access_ids: &[String]) -> Result<Vec<AssocRecord>> {
        let rows: Vec<AssocRow> = sqlx::query_as(&format!(
            "{ASSOC_SELECT} WHERE a.access_id = ANY($1) ORDER BY a.access_id, r.name"
        ))
        .bind(access_ids)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn api_key_by_name(&self, name: &str) -> Result<Option<ApiKeyRecord>> {
        let row: Option<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn delete_api_key(&self, access_id: &str) -> Result<()> {
        // Tokens and associations go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM api_keys WHERE access_id = $1")
            .bind(access_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_role(&self, role: &RoleRecord) -> Result<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO roles (name, description, created_at, modified_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(millis(role.created_at))
        .bind(millis(role.modified_at))
        .fetch_one(&self.pool)
        .await
        .map_err(conflict(&format!("role '{}'", role.name)))?;
        Ok(id)
    }

    async fn role_by_name(&self, name: &str) -> Result<Option<RoleRecord>> {
        let row: Option<RoleRow> = sqlx::query_as("SELECT * FROM roles WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
        let rows: Vec<RoleRow> = sqlx::query_as("SELECT * FROM roles ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        decode(rows)
    }

    async fn roles_page(
        &self,
        filter: &str,
        after: Option<&PageToken<Roles>>,
        limit: u32,
    ) -> Result<Page<RoleRecord, Roles>> {
        let limit = page_size(limit);
        let rows: Vec<RoleRow> = sqlx::query_as(queries::ROLES_PAGE)
            .bind(name_position(after.map(PageToken::key)))
            .bind(name_filter(filter))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(decode(rows)?, limit, |r: &RoleRecord| {
            CursorKey::Roles {
                name: r.name.clone(),
            }
        }))
    }

    async fn rules_of_roles(&self, role_ids: &[i64]) -> Result<Vec<RoleRule>> {
        let rows: Vec<RoleRuleRow> = sqlx::query_as(queries::RULES_OF_ROLES)
            .bind(role_ids)
            .fetch_all(&self.pool)
            .await?;
        decode(rows)
    }

    async fn assocs_of_roles(&self, role_ids: &[i64]) -> Result<Vec<AssocRecord>> {
        let rows: Vec<AssocRow> = sqlx::query_as(&format!(
            "{ASSOC_SELECT} WHERE a.role_id = ANY($1) ORDER BY a.role_id, k.name"
        ))
        .bind(role_ids)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn assoc(&self, id: &str) -> Result<Option<AssocRecord>> {
        let row: Option<AssocRow> = sqlx::query_as(&format!("{ASSOC_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        decode_one(row)
    }

    async fn delete_role(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_role_rule(&self, role_id: i64, rule: &PathRule) -> Result<()> {
        sqlx::query(
            "INSERT INTO role_rules (role_id, rule_type, path, capabilities) VALUES ($1, $2, $3, $4) \
             ON CONFLICT(role_id, rule_type, path) DO UPDATE SET capabilities = excluded.capabilities",
        )
        .bind(role_id)
        .bind(rule.rule_type.as_str())
        .bind(&rule.path)
        .bind(capabilities_text(rule))
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
        let done = sqlx::query(
            "DELETE FROM role_rules WHERE role_id = $1 AND rule_type = $2 AND path = $3",
        )
        .bind(role_id)
        .bind(rule_type.as_str())
        .bind(path)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn role_rules(&self, role_id: i64) -> Result<Vec<PathRule>> {
        let rows: Vec<RuleRow> = sqlx::query_as(
            "SELECT rule_type, path, capabilities FROM role_rules WHERE role_id = $1 \
             ORDER BY rule_type, path",
        )
        .bind(role_id)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn insert_assoc(&self, assoc: &AssocRecord) -> Result<()> {
        sqlx::query("INSERT INTO role_assocs (id, role_id, access_id) VALUES ($1, $2, $3)")
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
        let done = sqlx::query("DELETE FROM role_assocs WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn assocs_of_role(&self, role_id: i64) -> Result<Vec<AssocRecord>> {
        let rows: Vec<AssocRow> = sqlx::query_as(&format!(
            "{ASSOC_SELECT} WHERE a.role_id = $1 ORDER BY k.name"
        ))
        .bind(role_id)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn assocs_of_access_id(&self, access_id: &str) -> Result<Vec<AssocRecord>> {
        let rows: Vec<AssocRow> = sqlx::query_as(&format!(
            "{ASSOC_SELECT} WHERE a.access_id = $1 ORDER BY r.name"
        ))
        .bind(access_id)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }

    async fn rules_for_access_id(&self, access_id: &str) -> Result<Vec<PathRule>> {
        let rows: Vec<RuleRow> = sqlx::query_as(
            "SELECT rr.rule_type, rr.path, rr.capabilities FROM role_rules rr \
             JOIN role_assocs a ON a.role_id = rr.role_id WHERE a.access_id = $1",
        )
        .bind(access_id)
        .fetch_all(&self.pool)
        .await?;
        decode(rows)
    }
}
