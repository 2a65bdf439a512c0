//! Persistence of access control: API-key auth methods beyond the basics in
//! [`crate::Store`], roles, their path rules, and role ↔ auth-method links.

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

#[async_trait]
pub trait AccessStore {
    async fn list_api_keys(&self) -> Result<Vec<crate::ApiKeyRecord>>;
    async fn api_key_by_name(&self, name: &str) -> Result<Option<crate::ApiKeyRecord>>;
    /// Deletes the key, its tokens and its role associations.
    async fn delete_api_key(&self, access_id: &str) -> Result<()>;

    async fn insert_role(&self, role: &RoleRecord) -> Result<i64>;
    async fn role_by_name(&self, name: &str) -> Result<Option<RoleRecord>>;
    async fn list_roles(&self) -> Result<Vec<RoleRecord>>;
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
