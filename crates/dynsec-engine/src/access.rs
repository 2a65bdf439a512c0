//! Access control: API-key auth methods, roles with path rules, and the checks
//! every operation runs before it touches anything.

use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{allows, normalize_rule_path, Capability, Cidr, PathRule, RuleType};
use dynsec_core::ttl::MAX_TTL_SECS;
use dynsec_core::{ItemPath, SecretString, ValidationError};
use dynsec_crypto::{hash_credential, random_id, random_secret};
use dynsec_store::{ApiKeyRecord, AssocRecord, RoleRecord};

impl Caller {
    /// Whether this caller may do `capability` on `path`.
    pub fn can(&self, rule_type: RuleType, path: &str, capability: Capability) -> bool {
        self.is_admin || allows(&self.rules, rule_type, path, capability)
    }

    /// Like [`Caller::can`], as an error that says what was missing — never
    /// whether the object exists.
    pub fn require(
        &self,
        rule_type: RuleType,
        path: &str,
        capability: Capability,
    ) -> Result<(), EngineError> {
        if self.can(rule_type, path, capability) {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!(
                "access denied: '{capability}' on {} '{path}' is not granted to this auth method",
                kind_name(rule_type)
            )))
        }
    }

    /// Operations only the admin may run.
    pub fn require_admin(&self) -> Result<(), EngineError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(EngineError::Forbidden(
                "access denied: this operation needs the admin key".into(),
            ))
        }
    }
}

fn kind_name(rule_type: RuleType) -> &'static str {
    match rule_type {
        RuleType::Item => "item",
        RuleType::Target => "target",
        RuleType::Role => "role",
        RuleType::AuthMethod => "auth method",
    }
}

/// An API-key auth method as requested by `auth-method-create-api-key`.
#[derive(Debug, Clone)]
pub struct AuthMethodInput {
    pub name: ItemPath,
    /// Unix seconds after which the key stops working; `None` for never.
    pub access_expires: Option<DateTime<Utc>>,
    pub bound_ips: Vec<String>,
    pub jwt_ttl_minutes: Option<u64>,
    pub description: String,
    pub delete_protection: bool,
}

/// A freshly created API key: the access key is shown only this once.
#[derive(Debug)]
pub struct NewAuthMethod {
    pub name: String,
    pub access_id: String,
    pub access_key: SecretString,
}

/// An auth method with the roles associated with it.
#[derive(Debug, Clone)]
pub struct AuthMethodView {
    pub record: ApiKeyRecord,
    pub roles: Vec<AssocRecord>,
}

/// A role with its rules and associations.
#[derive(Debug, Clone)]
pub struct RoleView {
    pub record: RoleRecord,
    pub rules: Vec<PathRule>,
    pub assocs: Vec<AssocRecord>,
}

impl Engine {
    pub async fn create_auth_method(
        &self,
        input: AuthMethodInput,
    ) -> Result<NewAuthMethod, EngineError> {
        for ip in &input.bound_ips {
            Cidr::parse("bound-ips", ip)?;
        }
        // Token expiry is computed as now + jwt-ttl; the cap keeps that in range.
        if let Some(minutes) = input.jwt_ttl_minutes {
            if minutes > MAX_TTL_SECS / 60 {
                return Err(ValidationError::new(
                    "jwt-ttl",
                    format!(
                        "must be at most 366 days ({} minutes); got {minutes}",
                        MAX_TTL_SECS / 60
                    ),
                )
                .into());
            }
        }
        if input.access_expires.is_some_and(|at| at <= Utc::now()) {
            return Err(ValidationError::new(
                "access-expires",
                "must be in the future (unix seconds), or 0 for never",
            )
            .into());
        }
        let access_id = format!("p-{}", random_id(12));
        let access_key = SecretString::new(random_secret());
        self.store()
            .insert_api_key(&ApiKeyRecord {
                access_id: access_id.clone(),
                name: input.name.to_string(),
                key_hash: hash_credential(access_key.expose()),
                is_admin: false,
                created_at: Utc::now(),
                description: input.description,
                access_expires: input.access_expires,
                bound_ips: input.bound_ips,
                jwt_ttl_secs: input
                    .jwt_ttl_minutes
                    .filter(|m| *m > 0)
                    .map(|m| m.saturating_mul(60)),
                delete_protection: input.delete_protection,
            })
            .await?;
        Ok(NewAuthMethod {
            name: input.name.to_string(),
            access_id,
            access_key,
        })
    }

    pub async fn get_auth_method(&self, name: &ItemPath) -> Result<AuthMethodView, EngineError> {
        let record = self
            .store()
            .api_key_by_name(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("auth method '{name}' not found")))?;
        let roles = self.store().assocs_of_access_id(&record.access_id).await?;
        Ok(AuthMethodView { record, roles })
    }

    pub async fn list_auth_methods(&self) -> Result<Vec<AuthMethodView>, EngineError> {
        let mut views = Vec::new();
        for record in self.store().list_api_keys().await? {
            let roles = self.store().assocs_of_access_id(&record.access_id).await?;
            views.push(AuthMethodView { record, roles });
        }
        Ok(views)
    }

    /// Deletes an auth method with its tokens and role associations. The
    /// first admin key and protected methods are refused.
    pub async fn delete_auth_method(&self, name: &ItemPath) -> Result<(), EngineError> {
        let view = self.get_auth_method(name).await?;
        if view.record.is_admin {
            return Err(EngineError::Conflict(format!(
                "'{name}' is the admin key and cannot be deleted"
            )));
        }
        if view.record.delete_protection {
            return Err(EngineError::Conflict(format!(
                "auth method '{name}' has delete protection on; turn it off first"
            )));
        }
        self.store().delete_api_key(&view.record.access_id).await?;
        Ok(())
    }

    pub async fn create_role(
        &self,
        name: &ItemPath,
        description: String,
    ) -> Result<i64, EngineError> {
        let now = Utc::now();
        Ok(self
            .store()
            .insert_role(&RoleRecord {
                id: 0,
                name: name.to_string(),
                description,
                created_at: now,
                modified_at: now,
            })
            .await?)
    }

    pub async fn get_role(&self, name: &ItemPath) -> Result<RoleView, EngineError> {
        let record = self.role_record(name).await?;
        let rules = self.store().role_rules(record.id).await?;
        let assocs = self.store().assocs_of_role(record.id).await?;
        Ok(RoleView {
            record,
            rules,
            assocs,
        })
    }

    pub async fn list_roles(&self) -> Result<Vec<RoleView>, EngineError> {
        let mut views = Vec::new();
        for record in self.store().list_roles().await? {
            let rules = self.store().role_rules(record.id).await?;
            let assocs = self.store().assocs_of_role(record.id).await?;
            views.push(RoleView {
                record,
                rules,
                assocs,
            });
        }
        Ok(views)
    }

    pub async fn delete_role(&self, name: &ItemPath) -> Result<(), EngineError> {
        let record = self.role_record(name).await?;
        self.store().delete_role(record.id).await?;
        Ok(())
    }

    pub async fn set_role_rule(&self, role: &ItemPath, rule: PathRule) -> Result<(), EngineError> {
        let record = self.role_record(role).await?;
        self.store().set_role_rule(record.id, &rule).await?;
        Ok(())
    }

    pub async fn delete_role_rule(
        &self,
        role: &ItemPath,
        rule_type: RuleType,
        path: &str,
    ) -> Result<(), EngineError> {
        let record = self.role_record(role).await?;
        let path = normalize_rule_path(path);
        if self
            .store()
            .delete_role_rule(record.id, rule_type, &path)
            .await?
        {
            Ok(())
        } else {
            Err(EngineError::not_found(format!(
                "role '{role}' has no {} for path '{path}'",
                rule_type.as_str()
            )))
        }
    }

    /// Associates a role with an auth method; returns the association id.
    pub async fn assoc_role_am(
        &self,
        role: &ItemPath,
        auth_method: &ItemPath,
    ) -> Result<String, EngineError> {
        let record = self.role_record(role).await?;
        let key = self
            .store()
            .api_key_by_name(auth_method.as_str())
            .await?
            .ok_or_else(|| {
                EngineError::Invalid(ValidationError::new(
                    "am-name",
                    format!("auth method '{auth_method}' does not exist"),
                ))
            })?;
        let id = format!("ra-{}", random_id(16));
        self.store()
            .insert_assoc(&AssocRecord {
                id: id.clone(),
                role_id: record.id,
                role_name: record.name,
                access_id: key.access_id,
                auth_method_name: key.name,
            })
            .await?;
        Ok(id)
    }

    /// The association `id`, for authorization before deleting it.
    pub async fn find_assoc(&self, id: &str) -> Result<AssocRecord, EngineError> {
        for role in self.store().list_roles().await? {
            if let Some(assoc) = self
                .store()
                .assocs_of_role(role.id)
                .await?
                .into_iter()
                .find(|a| a.id == id)
            {
                return Ok(assoc);
            }
        }
        Err(EngineError::not_found(format!(
            "association '{id}' not found"
        )))
    }

    pub async fn delete_assoc(&self, id: &str) -> Result<(), EngineError> {
        if self.store().delete_assoc(id).await? {
            Ok(())
        } else {
            Err(EngineError::not_found(format!(
                "association '{id}' not found"
            )))
        }
    }

    async fn role_record(&self, name: &ItemPath) -> Result<RoleRecord, EngineError> {
        self.store()
            .role_by_name(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("role '{name}' not found")))
    }
}
