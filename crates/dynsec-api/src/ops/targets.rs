//! AWS target operations (both naming generations).

use super::{rfc3339, Call};
use crate::wire::{flex_bool, flex_list, flex_u64};
use crate::ApiError;
use dynsec_core::{AdminKeyState, AwsConnection, SecretString};
use dynsec_engine::{Caller, Engine, HostIdentityInput, RotationSchedule, TargetInput, TargetView};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct TargetRequest {
    name: Option<String>,
    new_name: Option<String>,
    access_key_id: Option<String>,
    /// The secret access key.
    #[schema(value_type = Option<String>)]
    access_key: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    session_token: Option<SecretString>,
    region: Option<String>,
    description: Option<String>,
    comment: Option<String>,
    /// Protection key name.
    key: Option<String>,
    /// Endpoint overrides (dynsec extension; AWS_ENDPOINT_URL_* also apply).
    iam_endpoint: Option<String>,
    sts_endpoint: Option<String>,
    #[serde(rename = "delete_protection", default, deserialize_with = "flex_bool")]
    delete_protection: Option<bool>,
    /// Use the gateway host's default credential chain; no key stored.
    #[serde(default, deserialize_with = "flex_bool")]
    use_gw_cloud_identity: Option<bool>,
    /// With `use-gw-cloud-identity`: a role to assume.
    role_arn: Option<String>,
    /// With `role-arn`: assume it with an external id the gateway makes.
    #[serde(default, deserialize_with = "flex_bool")]
    generate_external_id: Option<bool>,
    /// Scheduled admin-key rotation (dynsec extension on targets).
    #[serde(default, deserialize_with = "flex_bool")]
    enable_admin_rotation: Option<bool>,
    #[serde(default, deserialize_with = "flex_u64")]
    admin_rotation_interval_days: Option<u64>,
}

/// `admin-rotation-interval-days` as the engine takes it.
pub(crate) fn interval_days(value: Option<u64>) -> Result<Option<u32>, ApiError> {
    value
        .map(|days| {
            u32::try_from(days).map_err(|_| {
                ApiError::bad_request("invalid admin-rotation-interval-days: too large")
            })
        })
        .transpose()
}

impl TargetRequest {
    fn input(
        self,
        name: dynsec_core::ItemPath,
        current: Option<&TargetView>,
    ) -> Result<TargetInput, ApiError> {
        let blank_none =
            |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let current_admin = current.map(|c| &c.admin);
        let current_host = current_admin.and_then(|a| a.host_identity.as_ref());
        let host_identity = match self
            .use_gw_cloud_identity
            .or(current.map(|_| current_host.is_some()))
        {
            Some(true) => Some(HostIdentityInput {
                role_arn: blank_none(self.role_arn)
                    .or_else(|| current_host.and_then(|h| h.role_arn.clone())),
                generate_external_id: self
                    .generate_external_id
                    .or(current_host.map(|h| h.external_id.is_some()))
                    .unwrap_or(false),
            }),
            _ => None,
        };
        let admin_rotation = RotationSchedule {
            enabled: self
                .enable_admin_rotation
                .or(current_admin.map(|a| a.rotation_enabled))
                .unwrap_or(false),
            interval_days: interval_days(self.admin_rotation_interval_days)?
                .or(current_admin.map(|a| a.rotation_interval_days))
                .unwrap_or(0),
        };
        Ok(TargetInput {
            name,
            description: blank_none(self.description)
                .or(blank_none(self.comment))
                .or_else(|| current.map(|c| c.description.clone()))
                .unwrap_or_default(),
            connection: AwsConnection {
                access_key_id: self.access_key_id.unwrap_or_default().trim().to_string(),
                secret_access_key: self.access_key.unwrap_or_default(),
                session_token: self.session_token.filter(|t| !t.is_empty()),
                region: blank_none(self.region).unwrap_or_else(|| "us-east-2".into()),
                iam_endpoint: blank_none(self.iam_endpoint),
                sts_endpoint: blank_none(self.sts_endpoint),
            },
            protection_key: blank_none(self.key),
            delete_protection: self
                .delete_protection
                .or(current.map(|c| c.delete_protection))
                .unwrap_or(false),
            admin_rotation,
            host_identity,
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct NameRequest {
    name: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    force_deletion: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct ListRequest {
    filter: Option<String>,
    #[serde(default, deserialize_with = "flex_list")]
    r#type: Vec<String>,
    pagination_token: Option<String>,
}

pub async fn create(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: TargetRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let view = engine.create_target(caller, req.input(name, None)?).await?;
    Ok(json!({ "target_id": view.id }))
}

pub async fn update(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: TargetRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let new_name = match req.new_name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => call.path("new-name", &req.new_name)?,
        _ => name.clone(),
    };
    let current = engine.target_to_update(caller, &name, &new_name).await?;
    let view = engine
        .update_target(caller, &name, req.input(new_name, Some(&current))?)
        .await?;
    Ok(json!({ "target_id": view.id }))
}

pub async fn get(engine: &Engine, caller: &Caller, call: &mut Call<'_>) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let view = engine
        .get_target(caller, &call.path("name", &req.name)?)
        .await?;
    Ok(target_json(&view))
}

pub async fn details(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let details = engine
        .get_target_details(caller, &call.path("name", &req.name)?)
        .await?;
    let conn = &details.connection;
    Ok(json!({
        "target": target_json(&details.target),
        "value": {
            "aws_target_details": {
                "aws_access_key_id": conn.access_key_id,
                "aws_secret_access_key": conn.secret_access_key.expose(),
                "aws_session_token": conn.session_token.as_ref().map(SecretString::expose).unwrap_or_default(),
                "aws_region": conn.region,
            }
        }
    }))
}

pub async fn list(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: ListRequest = call.fields()?;
    let wants_aws =
        req.r#type.is_empty() || req.r#type.iter().any(|t| t.eq_ignore_ascii_case("aws"));
    if !wants_aws {
        return Ok(json!({ "targets": [] }));
    }
    let page = engine
        .list_targets(
            caller,
            req.filter.as_deref().unwrap_or(""),
            req.pagination_token.as_deref(),
        )
        .await?;
    let mut answer = json!({
        "targets": page.items.iter().map(target_json).collect::<Vec<_>>(),
    });
    super::page_fields(&mut answer, page.next_page, false);
    Ok(answer)
}

pub async fn delete(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let force = req.force_deletion.unwrap_or(false);
    engine.delete_target(caller, &name, force).await?;
    Ok(json!({}))
}

/// The Akeyless `Target` object (never the secret).
/// The dynamic secrets using it are those the engine shows the caller.
fn target_json(t: &TargetView) -> Value {
    let mut value = json!({
        "target_name": t.name,
        "target_id": t.id,
        "target_type": "aws",
        "comment": t.description,
        "protection_key_name": t.protection_key.clone().unwrap_or_default(),
        "creation_date": rfc3339(t.created_at),
        "modification_date": rfc3339(t.modified_at),
        "delete_protection": t.delete_protection,
        "target_details": format!("access_key_id={} region={}", t.access_key_id, t.region),
        // dynsec extensions: the connection's settings one by one (never its
        // secret), so a client can update one setting and send back the rest.
        "aws_access_key_id": t.access_key_id,
        "aws_region": t.region,
        "iam_endpoint": t.iam_endpoint.clone().unwrap_or_default(),
        "sts_endpoint": t.sts_endpoint.clone().unwrap_or_default(),
        "use_gw_cloud_identity": t.admin.host_identity.is_some(),
        "role_arn": t.admin.host_identity.as_ref().and_then(|h| h.role_arn.clone()).unwrap_or_default(),
        "external_id": t.admin.host_identity.as_ref().and_then(|h| h.external_id.clone()).unwrap_or_default(),
        "target_items_assoc": t.dynamic_secrets.iter().map(|(id, name)| json!({
            "item_id": id,
            "item_name": name,
            "item_type": "DYNAMIC_SECRET",
        })).collect::<Vec<_>>(),
    });
    admin_rotation_fields(&mut value, &t.admin);
    value
}

/// Adds the rotation schedule and the last rotation to a target's or a
/// dynamic secret's answer: `last_admin_rotation` in unix seconds as
/// Akeyless's `DSProducerDetails` has it (`null`: never rotated).
pub(crate) fn admin_rotation_fields(value: &mut Value, admin: &AdminKeyState) {
    let fields = [
        ("enable_admin_rotation", json!(admin.rotation_enabled)),
        (
            "admin_rotation_interval_days",
            json!(admin.rotation_interval_days),
        ),
        ("last_admin_rotation", json!(admin.last_rotation)),
        (
            "admin_rotation_in_progress",
            json!(admin.rotation.is_some()),
        ),
        (
            "admin_rotation_error",
            json!(admin
                .last_failure
                .as_ref()
                .map(|f| f.error.clone())
                .unwrap_or_default()),
        ),
    ];
    if let Value::Object(map) = value {
        for (key, field) in fields {
            map.insert(key.into(), field);
        }
    }
}
