//! Key operations: `create-dfc-key` (protection keys; listed by `list-items`
//! with `type: ["key"]`/`["dfc-key"]`, deleted by `delete-item`) and
//! `rotate-master-key`.

use super::{rfc3339, Call};
use crate::wire::{flex_bool, flex_u64};
use crate::ApiError;
use dynsec_core::ItemPath;
use dynsec_engine::{Caller, Engine, EngineError, ProtectionKeyInput, ProtectionKeyView};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct CreateRequest {
    name: Option<String>,
    alg: Option<String>,
    #[serde(default, deserialize_with = "flex_u64")]
    split_level: Option<u64>,
    customer_frg_id: Option<String>,
    description: Option<String>,
    metadata: Option<String>,
    #[serde(rename = "delete_protection", default, deserialize_with = "flex_bool")]
    delete_protection: Option<bool>,
}

pub async fn create_dfc_key(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: CreateRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let view = engine
        .create_protection_key(
            caller,
            ProtectionKeyInput {
                name,
                alg: req.alg.unwrap_or_default(),
                split_level: req.split_level,
                customer_fragment_id: customer_frg_id_or_none(req.customer_frg_id),
                description: req.description.or(req.metadata).unwrap_or_default(),
                delete_protection: req.delete_protection.unwrap_or(false),
            },
        )
        .await?;
    // Akeyless answers `fragment_results` (one status per fragment it stored
    // remotely); this gateway stores its fragments itself, so there are none.
    Ok(json!({
        "name": view.name,
        "item_name": view.name,
        "item_id": view.id,
        "item_type": view.alg,
        "fragment_results": [],
    }))
}

fn customer_frg_id_or_none(id: Option<String>) -> Option<String> {
    id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub async fn rotate_master_key(engine: &Engine, caller: &Caller) -> Result<Value, ApiError> {
    let report = engine.rotate_master_key(caller).await?;
    Ok(json!({
        "master_key_id": report.key_id.to_hex(),
        "retired_key_ids": report.retired.iter().map(|id| id.to_hex()).collect::<Vec<_>>(),
        "rewrapped": report.rewrapped,
    }))
}

/// `describe-item` for a name that is no dynamic secret: the protection key of
/// that name, or the original not-found error.
pub async fn describe_key(
    engine: &Engine,
    caller: &Caller,
    name: &ItemPath,
    not_found: EngineError,
) -> Result<Value, ApiError> {
    match engine.get_protection_key(caller, name).await {
        Ok(key) => Ok(key_item_json(&key)),
        Err(EngineError::NotFound(_)) => Err(not_found.into()),
        Err(other) => Err(other.into()),
    }
}

/// The Akeyless `Item` object for a protection key (never its material).
pub fn key_item_json(key: &ProtectionKeyView) -> Value {
    json!({
        "item_name": key.name,
        "item_id": key.id,
        "item_type": key.alg,
        "item_sub_type": "",
        "item_metadata": key.description,
        "item_tags": [],
        "item_size": 256,
        "item_state": "Enabled",
        "is_enabled": true,
        "delete_protection": key.delete_protection,
        "creation_date": rfc3339(key.created_at),
        "modification_date": rfc3339(key.modified_at),
        "customer_fragment_id": key.customer_fragment_id.clone().unwrap_or_default(),
        "with_customer_fragment": key.customer_fragment_id.is_some(),
        "split_level": key.split_level,
    })
}
