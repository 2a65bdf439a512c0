//! Access control: API-key auth methods, roles with path rules, and the
//! caller's checks (`Caller::can`/`require`). What each use case needs is
//! stated in `authz.rs`; the rules below depend on stored objects.
//!
//! Two rules keep a caller from raising its own (or anyone's) rights:
//!
//! - **No capability is gained by moving an object** ([`Engine::may_move`]):
//!   a rename needs `delete` on the old name and `create` on the new one, and
//!   whatever the caller may do on the new name it must already have been
//!   allowed on the old one.
//! - **Nobody grants what they do not hold** ([`Engine::may_grant`],
//!   [`Engine::may_lift_denies`]): a rule set on a role, a role associated
//!   with an auth method, or a deny removed (a rule deleted, replaced, or its
//!   role unlinked or deleted) may only give capabilities the caller itself
//!   holds on every path concerned. The first admin may do anything.

use crate::authz::{authorize, Requested, UseCase};
use crate::paging::{fill, parse_token, Paged};
use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{
    allows, allows_pattern, normalize_rule_path, patterns_overlap, Capability, Cidr, PathRule,
    RuleType,
};
use dynsec_core::limits;
use dynsec_core::ttl::MAX_TTL_SECS;
use dynsec_core::{ItemPath, SecretString, ValidationError};
use dynsec_crypto::{hash_credential, random_id, random_secret};
use dynsec_store::paging::listing::{AuthMethods, Roles};
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

/// The capabilities that let a caller act on an existing object; `create`
/// concerns names, not objects, and is checked separately on renames.
const OBJECT_CAPABILITIES: [Capability; 5] = [
    Capability::Read,
    Capability::Update,
    Capability::Delete,
    Capability::List,
    Capability::Reveal,
];

impl Engine {
    /// Whether `caller` may rename the object `from` (of `rule_type`) to
    /// `to`: `delete` on `from`, `create` on `to`, and no capability on `to`
    /// that it lacks on `from` — moving an object must not unlock it.
    pub fn may_move(
        &self,
        caller: &Caller,
        rule_type: RuleType,
        from: &ItemPath,
        to: &ItemPath,
    ) -> Result<(), EngineError> {
        caller.require(rule_type, from.as_str(), Capability::Delete)?;
        caller.require(rule_type, to.as_str(), Capability::Create)?;
        for capability in OBJECT_CAPABILITIES {
            if caller.can(rule_type, to.as_str(), capability)
                && !caller.can(rule_type, from.as_str(), capability)
            {
                return Err(EngineError::Forbidden(format!(
                    "access denied: moving {kind} '{from}' to '{to}' would give this auth method '{capability}' on it, which it does not have on '{from}'",
                    kind = kind_name(rule_type)
                )));
            }
        }
        Ok(())
    }

    /// Whether `caller` may hand out `rule` (to a role, or through an
    /// association): it must itself hold every capability of the rule on
    /// every path the rule's pattern matches. Denies only take rights away
    /// and need nothing.
    pub fn may_grant(&self, caller: &Caller, rule: &PathRule) -> Result<(), EngineError> {
        if caller.is_admin {
            return Ok(());
        }
        for &capability in rule.capabilities.iter().filter(|c| **c != Capability::Deny) {
            if !allows_pattern(&caller.rules, rule.rule_type, &rule.path, capability) {
                return Err(EngineError::Forbidden(format!(
                    "access denied: granting '{capability}' on {} '{}' needs this auth method to hold '{capability}' on all of it itself",
                    rule.rule_type.as_str(),
                    rule.path
                )));
            }
        }
        Ok(())
    }

    /// Whether `caller` may remove the denies among `removed` from auth
    /// methods that keep `remaining`: whatever those grant inside a removed
    /// deny's paths becomes allowed, so the caller must hold it there.
    pub fn may_lift_denies(
        &self,
        caller: &Caller,
        removed: &[PathRule],
        remaining: &[PathRule],
    ) -> Result<(), EngineError> {
        if caller.is_admin {
            return Ok(());
        }
        for deny in removed
            .iter()
            .filter(|r| r.capabilities.contains(&Capability::Deny))
        {
            for grant in remaining.iter().filter(|r| {
                r.rule_type == deny.rule_type
                    && !r.capabilities.contains(&Capability::Deny)
                    && patterns_overlap(&r.path, &deny.path)
            }) {
                for &capability in &grant.capabilities {
                    if !allows_pattern(&caller.rules, deny.rule_type, &deny.path, capability) {
                        return Err(EngineError::Forbidden(format!(
                            "access denied: lifting the deny on {} '{}' would allow '{capability}' there (through '{}'), which this auth method does not hold itself",
                            deny.rule_type.as_str(),
                            deny.path,
                            grant.path
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every rule the auth methods associated with role `role_id` hold (all
    /// their roles' rules), but those of `role_id` itself.
    async fn rules_beside_role(&self, role_id: i64) -> Result<Vec<PathRule>, EngineError> {
        let mut rules = Vec::new();
        for assoc in self.store().assocs_of_role(role_id).await? {
            for other in self.store().assocs_of_access_id(&assoc.access_id).await? {
                if other.role_id != role_id {
                    rules.extend(self.store().role_rules(other.role_id).await?);
                }
            }
        }
        Ok(rules)
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
        caller: &Caller,
        input: AuthMethodInput,
    ) -> Result<NewAuthMethod, EngineError> {
        authorize(
            caller,
            UseCase::CreateAuthMethod,
            &Requested::name(&input.name),
        )?;
        limits::text("description", &input.description, limits::DESCRIPTION)?;
        limits::list("bound-ips", &input.bound_ips, limits::LIST_ENTRIES, 64)?;
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
        if input.access_expires.is_some_and(|at| at <= self.now()) {
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
                created_at: self.now(),
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

    pub async fn get_auth_method(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<AuthMethodView, EngineError> {
        authorize(caller, UseCase::GetAuthMethod, &Requested::name(name))?;
        self.auth_method_view(name).await
    }

    async fn auth_method_view(&self, name: &ItemPath) -> Result<AuthMethodView, EngineError> {
        let record = self
            .store()
            .api_key_by_name(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("auth method '{name}' not found")))?;
        let roles = self.store().assocs_of_access_id(&record.access_id).await?;
        Ok(AuthMethodView { record, roles })
    }

    /// One page of the auth methods whose name contains `filter` (ASCII
    /// case ignored), by name, as far as `caller` may list them; their role
    /// associations read for the whole page in one query.
    pub async fn list_auth_methods(
        &self,
        caller: &Caller,
        filter: &str,
        page_token: Option<&str>,
    ) -> Result<Paged<AuthMethodView>, EngineError> {
        authorize(caller, UseCase::ListAuthMethods, &Requested::nothing())?;
        let start = parse_token::<AuthMethods>(page_token)?;
        let store = self.store();
        let page = fill(
            start,
            self.page_size(None),
            |after, limit| {
                Box::pin(
                    async move { store.auth_methods_page(filter, after.as_ref(), limit).await },
                )
            },
            |record| {
                caller
                    .can(RuleType::AuthMethod, &record.name, Capability::List)
                    .then_some(record)
            },
        )
        .await?;
        let ids: Vec<String> = page.items.iter().map(|m| m.access_id.clone()).collect();
        let mut assocs = std::collections::HashMap::<String, Vec<AssocRecord>>::new();
        if !ids.is_empty() {
            for assoc in store.assocs_of_access_ids(&ids).await? {
                assocs
                    .entry(assoc.access_id.clone())
                    .or_default()
                    .push(assoc);
            }
        }
        let items = page
            .items
            .into_iter()
            .map(|record| AuthMethodView {
                roles: assocs.remove(&record.access_id).unwrap_or_default(),
                record,
            })
            .collect();
        Ok(Paged {
            items,
            next_page: page.next_page,
        })
    }

    /// Deletes an auth method with its tokens and role associations. The
    /// first admin key and protected methods are refused.
    pub async fn delete_auth_method(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<(), EngineError> {
        authorize(caller, UseCase::DeleteAuthMethod, &Requested::name(name))?;
        let view = self.auth_method_view(name).await?;
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
        caller: &Caller,
        name: &ItemPath,
        description: String,
    ) -> Result<i64, EngineError> {
        authorize(caller, UseCase::CreateRole, &Requested::name(name))?;
        limits::text("description", &description, limits::DESCRIPTION)?;
        let now = self.now();
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

    pub async fn get_role(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<RoleView, EngineError> {
        authorize(caller, UseCase::GetRole, &Requested::name(name))?;
        let record = self.role_record(name).await?;
        let rules = self.store().role_rules(record.id).await?;
        let assocs = self.store().assocs_of_role(record.id).await?;
        Ok(RoleView {
            record,
            rules,
            assocs,
        })
    }

    /// One page of the roles whose name contains `filter` (ASCII case
    /// ignored), by name, as far as `caller` may list them; their rules and
    /// associations read for the whole page in one query each.
    pub async fn list_roles(
        &self,
        caller: &Caller,
        filter: &str,
        page_token: Option<&str>,
    ) -> Result<Paged<RoleView>, EngineError> {
        authorize(caller, UseCase::ListRoles, &Requested::nothing())?;
        let start = parse_token::<Roles>(page_token)?;
        let store = self.store();
        let page = fill(
            start,
            self.page_size(None),
            |after, limit| {
                Box::pin(async move { store.roles_page(filter, after.as_ref(), limit).await })
            },
            |record| {
                caller
                    .can(RuleType::Role, &record.name, Capability::List)
                    .then_some(record)
            },
        )
        .await?;
        let ids: Vec<i64> = page.items.iter().map(|r| r.id).collect();
        let (mut rules, mut assocs) = (
            std::collections::HashMap::<i64, Vec<PathRule>>::new(),
            std::collections::HashMap::<i64, Vec<AssocRecord>>::new(),
        );
        if !ids.is_empty() {
            for rule in store.rules_of_roles(&ids).await? {
                rules.entry(rule.role_id).or_default().push(rule.rule);
            }
            for assoc in store.assocs_of_roles(&ids).await? {
                assocs.entry(assoc.role_id).or_default().push(assoc);
            }
        }
        let items = page
            .items
            .into_iter()
            .map(|record| RoleView {
                rules: rules.remove(&record.id).unwrap_or_default(),
                assocs: assocs.remove(&record.id).unwrap_or_default(),
                record,
            })
            .collect();
        Ok(Paged {
            items,
            next_page: page.next_page,
        })
    }

    /// Deletes a role. Its denies leave the auth methods it was associated
    /// with, so they are lifted as [`Engine::may_lift_denies`] allows.
    pub async fn delete_role(&self, caller: &Caller, name: &ItemPath) -> Result<(), EngineError> {
        authorize(caller, UseCase::DeleteRole, &Requested::name(name))?;
        let record = self.role_record(name).await?;
        let rules = self.store().role_rules(record.id).await?;
        let remaining = self.rules_beside_role(record.id).await?;
        self.may_lift_denies(caller, &rules, &remaining)?;
        self.store().delete_role(record.id).await?;
        Ok(())
    }

    /// Sets (adds or replaces) a rule of a role; the caller may grant only
    /// what it holds ([`Engine::may_grant`]), and replacing a deny lifts it.
    pub async fn set_role_rule(
        &self,
        caller: &Caller,
        role: &ItemPath,
        rule: PathRule,
    ) -> Result<(), EngineError> {
        authorize(caller, UseCase::SetRoleRule, &Requested::name(role))?;
        let record = self.role_record(role).await?;
        self.may_grant(caller, &rule)?;
        let rules = self.store().role_rules(record.id).await?;
        let (replaced, mut remaining): (Vec<PathRule>, Vec<PathRule>) = rules
            .into_iter()
            .partition(|r| r.rule_type == rule.rule_type && r.path == rule.path);
        if !rule.capabilities.contains(&Capability::Deny) {
            remaining.push(rule.clone());
            remaining.extend(self.rules_beside_role(record.id).await?);
            self.may_lift_denies(caller, &replaced, &remaining)?;
        }
        self.store().set_role_rule(record.id, &rule).await?;
        Ok(())
    }

    /// Deletes a rule of a role; deleting a deny lifts it.
    pub async fn delete_role_rule(
        &self,
        caller: &Caller,
        role: &ItemPath,
        rule_type: RuleType,
        path: &str,
    ) -> Result<(), EngineError> {
        authorize(caller, UseCase::DeleteRoleRule, &Requested::name(role))?;
        let record = self.role_record(role).await?;
        let path = normalize_rule_path(path);
        let rules = self.store().role_rules(record.id).await?;
        let (removed, mut remaining): (Vec<PathRule>, Vec<PathRule>) = rules
            .into_iter()
            .partition(|r| r.rule_type == rule_type && r.path == path);
        remaining.extend(self.rules_beside_role(record.id).await?);
        self.may_lift_denies(caller, &removed, &remaining)?;
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
    /// The auth method gains every rule of the role, so the caller must hold
    /// each of them ([`Engine::may_grant`]).
    pub async fn assoc_role_am(
        &self,
        caller: &Caller,
        role: &ItemPath,
        auth_method: &ItemPath,
    ) -> Result<String, EngineError> {
        authorize(
            caller,
            UseCase::AssocRoleAm,
            &Requested {
                auth_method: Some(auth_method),
                ..Requested::name(role)
            },
        )?;
        let record = self.role_record(role).await?;
        for rule in self.store().role_rules(record.id).await? {
            self.may_grant(caller, &rule)?;
        }
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

    /// Deletes an association. The caller needs `update` on its role, and
    /// the role's denies leave the auth method, so they are lifted as
    /// [`Engine::may_lift_denies`] allows. A caller without `update` learns
    /// nothing about whether the association exists.
    pub async fn delete_assoc(&self, caller: &Caller, id: &str) -> Result<(), EngineError> {
        authorize(caller, UseCase::DeleteAssoc, &Requested::nothing())?;
        let assoc = match self.find_assoc(id).await {
            Ok(assoc) => assoc,
            Err(EngineError::NotFound(_)) if !caller.is_admin => {
                return Err(EngineError::Forbidden(
                    "access denied: 'update' on the association's role is not granted".into(),
                ))
            }
            Err(err) => return Err(err),
        };
        caller.require(RuleType::Role, &assoc.role_name, Capability::Update)?;
        let removed = self.store().role_rules(assoc.role_id).await?;
        let mut remaining = Vec::new();
        for other in self.store().assocs_of_access_id(&assoc.access_id).await? {
            if other.id != assoc.id {
                remaining.extend(self.store().role_rules(other.role_id).await?);
            }
        }
        self.may_lift_denies(caller, &removed, &remaining)?;
        if self.store().delete_assoc(id).await? {
            Ok(())
        } else {
            Err(EngineError::not_found(format!(
                "association '{id}' not found"
            )))
        }
    }

    async fn find_assoc(&self, id: &str) -> Result<AssocRecord, EngineError> {
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

    async fn role_record(&self, name: &ItemPath) -> Result<RoleRecord, EngineError> {
        self.store()
            .role_by_name(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("role '{name}' not found")))
    }
}
