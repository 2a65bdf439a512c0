//! Auth-method (API key) and role operations, in both Akeyless naming generations.

use super::{rfc3339, Call};
use crate::wire::{flex_bool, flex_list, flex_u64, required};
use crate::ApiError;
use chrono::{TimeZone, Utc};
use dynsec_core::access::{Capability, PathRule, RuleType};
use dynsec_engine::{AuthMethodInput, AuthMethodView, Caller, Engine, RoleView};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct AuthMethodRequest {
    name: Option<String>,
    #[serde(default, deserialize_with = "flex_u64")]
    access_expires: Option<u64>,
    #[serde(default, deserialize_with = "flex_list")]
    bound_ips: Vec<String>,
    #[serde(default, deserialize_with = "flex_u64")]
    jwt_ttl: Option<u64>,
    description: Option<String>,
    #[serde(rename = "delete_protection", default, deserialize_with = "flex_bool")]
    delete_protection: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct NameRequest {
    name: Option<String>,
    description: Option<String>,
    comment: Option<String>,
    filter: Option<String>,
    pagination_token: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RuleRequest {
    role_name: Option<String>,
    path: Option<String>,
    #[serde(default, deserialize_with = "flex_list")]
    capability: Vec<String>,
    rule_type: Option<String>,
    am_name: Option<String>,
    assoc_id: Option<String>,
}

pub async fn create_auth_method(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: AuthMethodRequest = call.fields()?;
    let access_expires = match req.access_expires {
        None | Some(0) => None,
        Some(secs) => Some(
            i64::try_from(secs)
                .ok()
                .and_then(|s| Utc.timestamp_opt(s, 0).single())
                .ok_or_else(|| ApiError::bad_request("invalid access-expires: not a unix time"))?,
        ),
    };
    let created = engine
        .create_auth_method(
            caller,
            AuthMethodInput {
                name: call.path("name", &req.name)?,
                access_expires,
                // `--bound-ips a,b` arrives as one element; split it.
                bound_ips: split_all(&req.bound_ips),
                jwt_ttl_minutes: req.jwt_ttl,
                description: req.description.unwrap_or_default(),
                delete_protection: req.delete_protection.unwrap_or(false),
            },
        )
        .await?;
    Ok(json!({
        "access_id": created.access_id,
        "access_key": created.access_key.expose(),
        "name": created.name,
    }))
}

pub async fn get_auth_method(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let view = engine
        .get_auth_method(caller, &call.path("name", &req.name)?)
        .await?;
    Ok(auth_method_json(&view))
}

pub async fn list_auth_methods(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let page = engine
        .list_auth_methods(
            caller,
            req.filter.as_deref().unwrap_or(""),
            req.pagination_token.as_deref(),
        )
        .await?;
    let mut answer =
        json!({ "auth_methods": page.items.iter().map(auth_method_json).collect::<Vec<_>>() });
    super::page_fields(&mut answer, page.next_page, false);
    Ok(answer)
}

pub async fn delete_auth_method(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    engine.delete_auth_method(caller, &name).await?;
    Ok(json!({ "name": name.as_str() }))
}

pub async fn create_role(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    engine
        .create_role(
            caller,
            &name,
            req.description.or(req.comment).unwrap_or_default(),
        )
        .await?;
    Ok(json!({}))
}

pub async fn get_role(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let view = engine
        .get_role(caller, &call.path("name", &req.name)?)
        .await?;
    Ok(role_json(&view))
}

pub async fn list_roles(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let page = engine
        .list_roles(
            caller,
            req.filter.as_deref().unwrap_or(""),
            req.pagination_token.as_deref(),
        )
        .await?;
    let mut answer = json!({ "roles": page.items.iter().map(role_json).collect::<Vec<_>>() });
    super::page_fields(&mut answer, page.next_page, false);
    Ok(answer)
}

pub async fn delete_role(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    engine
        .delete_role(caller, &call.path("name", &req.name)?)
        .await?;
    Ok(json!({}))
}

pub async fn set_role_rule(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: RuleRequest = call.fields()?;
    let role = call.path("role-name", &req.role_name)?;
    let rule_type =
        RuleType::parse(req.rule_type.as_deref().unwrap_or("item-rule")).map_err(invalid)?;
    let capabilities = split_all(&req.capability)
        .iter()
        .map(|c| Capability::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let rule =
        PathRule::new(rule_type, required("path", &req.path)?, capabilities).map_err(invalid)?;
    engine.set_role_rule(caller, &role, rule).await?;
    Ok(json!({}))
}

pub async fn delete_role_rule(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: RuleRequest = call.fields()?;
    let role = call.path("role-name", &req.role_name)?;
    let rule_type =
        RuleType::parse(req.rule_type.as_deref().unwrap_or("item-rule")).map_err(invalid)?;
    engine
        .delete_role_rule(
            caller,
            &role,
            rule_type,
            required("path", &req.path)?.trim(),
        )
        .await?;
    Ok(json!({}))
}

pub async fn assoc_role_am(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: RuleRequest = call.fields()?;
    let id = engine
        .assoc_role_am(
            caller,
            &call.path("role-name", &req.role_name)?,
            &call.path("am-name", &req.am_name)?,
        )
        .await?;
    Ok(json!({ "assoc_id": id }))
}

pub async fn delete_assoc(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: RuleRequest = call.fields()?;
    let id = required("assoc-id", &req.assoc_id)?;
    engine.delete_assoc(caller, id).await?;
    Ok(json!({}))
}

fn split_all(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| dynsec_core::spec::split_list(v))
        .collect()
}

fn invalid(err: dynsec_core::ValidationError) -> ApiError {
    ApiError::bad_request(err.to_string())
}

/// Akeyless's `AuthMethod` object (never the key or its hash).
fn auth_method_json(view: &AuthMethodView) -> Value {
    let r = &view.record;
    json!({
        "auth_method_name": r.name,
        "auth_method_access_id": r.access_id,
        "description": r.description,
        "delete_protection": r.delete_protection,
        "creation_date": rfc3339(r.created_at),
        "modification_date": rfc3339(r.created_at),
        "access_info": {
            "access_expires": r.access_expires.map(|t| t.timestamp()).unwrap_or(0),
            "cidr_whitelist": r.bound_ips.join(","),
            "jwt_ttl": r.jwt_ttl_secs.map(|s| s / 60).unwrap_or(0),
            "rules_type": "api_key",
        },
        "auth_method_roles_assoc": view.roles.iter().map(|a| json!({
            "assoc_id": a.id,
            "role_name": a.role_name,
        })).collect::<Vec<_>>(),
        "is_admin": r.is_admin,
    })
}

/// Akeyless's `Role` object.
fn role_json(view: &RoleView) -> Value {
    json!({
        "role_name": view.record.name,
        "role_id": view.record.id,
        "comment": view.record.description,
        "creation_date": rfc3339(view.record.created_at),
        "modification_date": rfc3339(view.record.modified_at),
        "rules": {
            "admin": false,
            "path_rules": view.rules.iter().map(|r| json!({
                "path": r.path,
                "capabilities": r.capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "type": r.rule_type.as_str(),
            })).collect::<Vec<_>>(),
        },
        "role_auth_methods_assoc": view.assocs.iter().map(|a| json!({
            "assoc_id": a.id,
            "auth_method_name": a.auth_method_name,
            "auth_method_access_id": a.access_id,
        })).collect::<Vec<_>>(),
    })
}
