//! The operations: one enum naming them all (both Akeyless naming generations
//! map to the same variant), and one handler module per area.

mod access;
mod auth;
mod call;
mod introspection;
mod items;
mod keys;
mod leases;
pub mod openapi;
mod producers;
mod rotation;
mod targets;
mod unsupported;
mod values;

pub use auth::AUTH_DELAY_HEADER;
pub(crate) use call::presented_token;
pub use call::{Call, Outcome, Subject};

use crate::{ApiError, RequestContext};
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use dynsec_engine::{Caller, Engine};
use serde_json::Value;

/// Every operation the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Auth,
    CreateTarget,
    UpdateTarget,
    GetTarget,
    GetTargetDetails,
    ListTargets,
    DeleteTarget,
    /// `gateway-create-producer-aws` (answers `producer_details`).
    CreateProducerLegacy,
    /// `dynamic-secret-create-aws` (answers `dynamic_secret_details`).
    CreateDynamicSecret,
    UpdateProducerLegacy,
    UpdateDynamicSecret,
    GetProducer,
    ListProducers,
    DeleteProducerLegacy,
    DeleteDynamicSecret,
    GetValue,
    ListTmpCreds,
    RevokeTmpCreds,
    UpdateTmpCreds,
    ListItems,
    DescribeItem,
    DeleteItem,
    /// `create-dfc-key`: a protection key.
    CreateDfcKey,
    RotateMasterKey,
    CreateAuthMethod,
    GetAuthMethod,
    ListAuthMethods,
    DeleteAuthMethod,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    SetRoleRule,
    DeleteRoleRule,
    AssocRoleAm,
    DeleteAssoc,
    /// `validate-token`: whether the body's token is still good, and until when.
    ValidateToken,
    /// `describe-permissions`: the caller's capabilities on a path.
    DescribePermissions,
    /// `target-rotate-admin-key` (dynsec extension).
    RotateTargetAdminKey,
    /// `dynamic-secret-rotate-admin-key` (dynsec extension): the inline
    /// connection's key.
    RotateDynamicSecretAdminKey,
    /// `list-leases`: live leases under a path, across dynamic secrets.
    ListLeases,
    /// `revoke-leases`: revoke every live lease under a path.
    RevokeLeases,
}

/// Every operation name the gateway serves (both naming generations), for
/// clients that want to check they cover them (the CLI's table does).
pub const SERVED_OPERATIONS: &[&str] = &[
    "auth",
    "create-aws-target",
    "target-create-aws",
    "update-aws-target",
    "target-update-aws",
    "get-target",
    "target-get",
    "get-target-details",
    "target-get-details",
    "list-targets",
    "target-list",
    "delete-target",
    "target-delete",
    "gateway-create-producer-aws",
    "dynamic-secret-create-aws",
    "gateway-update-producer-aws",
    "dynamic-secret-update-aws",
    "gateway-get-producer",
    "dynamic-secret-get",
    "gateway-list-producers",
    "dynamic-secret-list",
    "gateway-delete-producer",
    "dynamic-secret-delete",
    "get-dynamic-secret-value",
    "dynamic-secret-get-value",
    "gateway-get-producer-tmp-creds",
    "dynamic-secret-tmp-creds-get",
    "gateway-revoke-producer-tmp-creds",
    "dynamic-secret-tmp-creds-delete",
    "gateway-update-producer-tmp-creds",
    "dynamic-secret-tmp-creds-update",
    "list-items",
    "describe-item",
    "delete-item",
    "create-dfc-key",
    "rotate-master-key",
    "auth-method-create-api-key",
    "create-auth-method",
    "auth-method-get",
    "get-auth-method",
    "auth-method-list",
    "list-auth-methods",
    "auth-method-delete",
    "delete-auth-method",
    "create-role",
    "get-role",
    "list-roles",
    "delete-role",
    "set-role-rule",
    "delete-role-rule",
    "assoc-role-am",
    "delete-assoc",
    "validate-token",
    "describe-permissions",
    "target-rotate-admin-key",
    "dynamic-secret-rotate-admin-key",
    "list-leases",
    "revoke-leases",
];

impl Op {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "auth" => Self::Auth,
            "create-aws-target" | "target-create-aws" => Self::CreateTarget,
            "update-aws-target" | "target-update-aws" => Self::UpdateTarget,
            "get-target" | "target-get" => Self::GetTarget,
            "get-target-details" | "target-get-details" => Self::GetTargetDetails,
            "list-targets" | "target-list" => Self::ListTargets,
            "delete-target" | "target-delete" => Self::DeleteTarget,
            "gateway-create-producer-aws" => Self::CreateProducerLegacy,
            "dynamic-secret-create-aws" => Self::CreateDynamicSecret,
            "gateway-update-producer-aws" => Self::UpdateProducerLegacy,
            "dynamic-secret-update-aws" => Self::UpdateDynamicSecret,
            "gateway-get-producer" | "dynamic-secret-get" => Self::GetProducer,
            "gateway-list-producers" | "dynamic-secret-list" => Self::ListProducers,
            "gateway-delete-producer" => Self::DeleteProducerLegacy,
            "dynamic-secret-delete" => Self::DeleteDynamicSecret,
            "get-dynamic-secret-value" | "dynamic-secret-get-value" => Self::GetValue,
            "gateway-get-producer-tmp-creds" | "dynamic-secret-tmp-creds-get" => Self::ListTmpCreds,
            "gateway-revoke-producer-tmp-creds" | "dynamic-secret-tmp-creds-delete" => {
                Self::RevokeTmpCreds
            }
            "gateway-update-producer-tmp-creds" | "dynamic-secret-tmp-creds-update" => {
                Self::UpdateTmpCreds
            }
            "list-items" => Self::ListItems,
            "describe-item" => Self::DescribeItem,
            "delete-item" => Self::DeleteItem,
            "create-dfc-key" => Self::CreateDfcKey,
            "rotate-master-key" => Self::RotateMasterKey,
            "auth-method-create-api-key" | "create-auth-method" => Self::CreateAuthMethod,
            "auth-method-get" | "get-auth-method" => Self::GetAuthMethod,
            "auth-method-list" | "list-auth-methods" => Self::ListAuthMethods,
            "auth-method-delete" | "delete-auth-method" => Self::DeleteAuthMethod,
            "create-role" => Self::CreateRole,
            "get-role" => Self::GetRole,
            "list-roles" => Self::ListRoles,
            "delete-role" => Self::DeleteRole,
            "set-role-rule" => Self::SetRoleRule,
            "delete-role-rule" => Self::DeleteRoleRule,
            "assoc-role-am" => Self::AssocRoleAm,
            "delete-assoc" => Self::DeleteAssoc,
            "validate-token" => Self::ValidateToken,
            "describe-permissions" => Self::DescribePermissions,
            "target-rotate-admin-key" => Self::RotateTargetAdminKey,
            "dynamic-secret-rotate-admin-key" => Self::RotateDynamicSecretAdminKey,
            "list-leases" => Self::ListLeases,
            "revoke-leases" => Self::RevokeLeases,
            _ => return None,
        })
    }
}

/// Runs `op`: reads the token (see [`Call`]), authenticates (all but `auth`
/// and `validate-token`), then calls its handler with the caller; the
/// engine's use case checks what it needs of the caller
/// (`dynsec_engine::UseCase::needs`) before it touches anything.
pub async fn handle(
    engine: &Engine,
    ctx: &mut RequestContext,
    op: Op,
    body: &Value,
) -> Result<Outcome, ApiError> {
    let mut call = Call::new(body, ctx)?;
    let call = &mut call;
    if op == Op::ValidateToken {
        // It reports on the token instead of requiring a good one.
        return introspection::validate_token(engine, call)
            .await
            .map(Outcome::ok);
    }
    let caller = if op == Op::Auth {
        // `auth` is how a caller gets a token, so it alone runs without one,
        // as nobody: no rules, not the admin, so allowed nothing else.
        Caller {
            access_id: String::new(),
            is_admin: false,
            rules: Vec::new(),
        }
    } else {
        let caller = engine.caller(call.token(), call.ctx.client_ip()).await?;
        call.ctx.caller = Some(caller.clone());
        caller
    };
    unsupported::check(op, body)?;
    let caller = &caller;
    let result = match op {
        Op::Auth => auth::auth(engine, call).await,
        Op::CreateTarget => targets::create(engine, caller, call).await.map(ok),
        Op::UpdateTarget => targets::update(engine, caller, call).await.map(ok),
        Op::GetTarget => targets::get(engine, caller, call).await.map(ok),
        Op::GetTargetDetails => targets::details(engine, caller, call).await.map(ok),
        Op::ListTargets => targets::list(engine, caller, call).await.map(ok),
        Op::DeleteTarget => targets::delete(engine, caller, call).await.map(ok),
        Op::CreateProducerLegacy => producers::create(engine, caller, call, "producer_details")
            .await
            .map(Outcome::created),
        Op::CreateDynamicSecret => {
            producers::create(engine, caller, call, "dynamic_secret_details")
                .await
                .map(Outcome::created)
        }
        Op::UpdateProducerLegacy => producers::update(engine, caller, call, "producer_details")
            .await
            .map(ok),
        Op::UpdateDynamicSecret => {
            producers::update(engine, caller, call, "dynamic_secret_details")
                .await
                .map(ok)
        }
        Op::GetProducer => producers::get(engine, caller, call).await.map(ok),
        Op::ListProducers => producers::list(engine, caller, call).await.map(ok),
        Op::DeleteProducerLegacy => producers::delete(engine, caller, call, "producer_name")
            .await
            .map(ok),
        Op::DeleteDynamicSecret => producers::delete(engine, caller, call, "dynamic_secret_name")
            .await
            .map(ok),
        Op::GetValue => values::get_value(engine, caller, call).await,
        Op::ListLeases => leases::list_under(engine, caller, call).await.map(ok),
        Op::RevokeLeases => leases::revoke_under(engine, caller, call).await,
        Op::ListTmpCreds => leases::list(engine, caller, call).await.map(ok),
        Op::RevokeTmpCreds => leases::revoke(engine, caller, call).await,
        Op::UpdateTmpCreds => leases::update(engine, caller, call).await.map(ok),
        Op::ListItems => items::list(engine, caller, call).await.map(ok),
        Op::DescribeItem => items::describe(engine, caller, call).await.map(ok),
        Op::DeleteItem => items::delete(engine, caller, call).await.map(ok),
        Op::CreateDfcKey => keys::create_dfc_key(engine, caller, call).await.map(ok),
        Op::RotateMasterKey => keys::rotate_master_key(engine, caller).await.map(ok),
        Op::CreateAuthMethod => access::create_auth_method(engine, caller, call)
            .await
            .map(ok),
        Op::GetAuthMethod => access::get_auth_method(engine, caller, call).await.map(ok),
        Op::ListAuthMethods => access::list_auth_methods(engine, caller, call)
            .await
            .map(ok),
        Op::DeleteAuthMethod => access::delete_auth_method(engine, caller, call)
            .await
            .map(ok),
        Op::CreateRole => access::create_role(engine, caller, call).await.map(ok),
        Op::GetRole => access::get_role(engine, caller, call).await.map(ok),
        Op::ListRoles => access::list_roles(engine, caller, call).await.map(ok),
        Op::DeleteRole => access::delete_role(engine, caller, call).await.map(ok),
        Op::SetRoleRule => access::set_role_rule(engine, caller, call).await.map(ok),
        Op::DeleteRoleRule => access::delete_role_rule(engine, caller, call).await.map(ok),
        Op::AssocRoleAm => access::assoc_role_am(engine, caller, call).await.map(ok),
        Op::DeleteAssoc => access::delete_assoc(engine, caller, call).await.map(ok),
        Op::DescribePermissions => {
            introspection::describe_permissions(engine, caller, call).map(ok)
        }
        Op::ValidateToken => introspection::validate_token(engine, call).await.map(ok),
        Op::RotateTargetAdminKey => rotation::rotate_target(engine, caller, call).await.map(ok),
        Op::RotateDynamicSecretAdminKey => rotation::rotate_dynamic_secret(engine, caller, call)
            .await
            .map(ok),
    };
    hide_aws_refusal_details(result, caller)
}

/// AWS's refusal of the gateway's own credentials names the admin principal
/// and its account: only the admin sees that text; others learn what to do.
fn hide_aws_refusal_details(
    result: Result<Outcome, ApiError>,
    caller: &Caller,
) -> Result<Outcome, ApiError> {
    match result {
        Err(err) if err.status == StatusCode::BAD_GATEWAY && !caller.is_admin => {
            tracing::warn!(error = %err.message, "AWS refused the gateway's credentials");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "AWS refused the gateway's credentials for this dynamic secret; an administrator can see why in the gateway's log",
            ))
        }
        other => other,
    }
}

/// Akeyless's paging fields on a listing answer: `next_page` (the
/// `pagination-token` of the next request) only while more follows, and
/// `has_next` beside it where the SDK's model carries it (`list-items`).
fn page_fields(answer: &mut Value, next_page: Option<String>, has_next: bool) {
    if let Value::Object(map) = answer {
        if has_next {
            map.insert("has_next".into(), Value::Bool(next_page.is_some()));
        }
        if let Some(next) = next_page {
            map.insert("next_page".into(), Value::String(next));
        }
    }
}

fn ok(value: Value) -> Outcome {
    Outcome::ok(value)
}

/// RFC 3339 with seconds and `Z`, as the SDK's dateutil parses it.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_operation_is_served() {
        for name in SERVED_OPERATIONS {
            assert!(
                Op::from_name(name).is_some(),
                "{name} is listed but not served"
            );
        }
        assert!(Op::from_name("no-such-op").is_none());
    }
}
