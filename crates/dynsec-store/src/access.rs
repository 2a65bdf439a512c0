//! Persistence of access control: API-key auth methods beyond the basics in
//! [`crate::Store`], roles, their path rules, and role ↔ auth-method links.

use crate::paging::listing::{AuthMethods, Roles};
use crate::paging::{Page, PageToken};
use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dynsec_core::access::{PathRule, RuleType};

/// A role (its rules are fetched separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// A role associated with an API key's auth method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssocRecord {
    pub id: String,
    pub role_id: i64,
    pub role_name: String,
    pub access_id: String,
    pub auth_method_name: String,
}

/// A role's path rule, with the role it belongs to (batch lookups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub role_id: i64,
    pub rule: PathRule,
}

#[async_trait]
pub trait AccessStore {
    /// Every auth method, by name. Deprecated: use
    /// [`AccessStore::auth_methods_page`] with [`AccessStore::assocs_of_access_ids`].
    async fn list_api_keys(&self) -> Result<Vec<crate::ApiKeyRecord>>;
    /// Auth methods whose name contains `filter` (ASCII case ignored), by name.
    async fn auth_methods_page(
        &self,
        filter: &str,
        after: Option<&PageToken<AuthMethods>>,
        limit: u32,
    ) -> Result<Page<crate::ApiKeyRecord, AuthMethods>>;
    /// The role associations of each of `access_ids` (a page of auth
    /// methods), by access id then role name: one query for the page.
    async fn assocs_of_access_ids(&self, access_ids: &[String]) -> Result<Vec<AssocRecord>>;
    async fn api_key_by_name(&self, name: &str) -> Result<Option<crate::ApiKeyRecord>>;
    /// Deletes the key, its tokens and its role associations.
    async fn delete_api_key(&self, access_id: &str) -> Result<()>;

    async fn insert_role(&self, role: &RoleRecord) -> Result<i64>;
    async fn role_by_name(&self, name: &str) -> Result<Option<RoleRecord>>;
    /// Every role, by name. Deprecated: use [`AccessStore::roles_page`] with
    /// [`AccessStore::rules_of_roles`] and [`AccessStore::assocs_of_roles`]
    /// (and [`AccessStore::assoc`] to find one association).
    async fn list_roles(&self) -> Result<Vec<RoleRecord>>;
    /// Roles whose name contains `filter` (ASCII case ignored), by name.
    async fn roles_page(
        &self,
        filter: &str,
        after: Option<&PageToken<Roles>>,
        limit: u32,
    ) -> Result<Page<RoleRecord, Roles>>;
    /// The rules of each of `role_ids` (a page of roles), by role id, rule
    /// type and path: one query for the page.
    async fn rules_of_roles(&self, role_ids: &[i64]) -> Result<Vec<RoleRule>>;
    /// The associations of each of `role_ids`, by role id then auth-method
    /// name: one query for the page.
    async fn assocs_of_roles(&self, role_ids: &[i64]) -> Result<Vec<AssocRecord>>;
    /// The association with id `id`.
    async fn assoc(&self, id: &str) -> Result<Option<AssocRecord>>;
    /// Deletes the role with its rules and associations.
    async fn delete_role(&self, id: i64) -> Result<()>;
    /// Sets the capabilities of (type, path) in a role, replacing earlier ones.
    async fn set_role_rule(&self, role_id: i64, rule: &PathRule) -> Result<()>;
    /// Returns whether such a rule existed.
    async fn delete_role_rule(&self, role_id: i64, rule_type: RuleType, path: &str)
        -> Result<bool>;
    async fn role_rules(&self, role_id: i64) -> Result<Vec<PathRule>>;

    async fn insert_assoc(&self, assoc: &AssocRecord) -> Result<()>;
    /// Returns whether such an association existed.
    async fn delete_assoc(&self, id: &str) -> Result<bool>;
    async fn assocs_of_role(&self, role_id: i64) -> Result<Vec<AssocRecord>>;
    async fn assocs_of_access_id(&self, access_id: &str) -> Result<Vec<AssocRecord>>;
    /// Every rule of every role associated with `access_id`.
    async fn rules_for_access_id(&self, access_id: &str) -> Result<Vec<PathRule>>;
}
