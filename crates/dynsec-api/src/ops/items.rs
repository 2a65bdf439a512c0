//! Items and virtual folders: `list-items`, `describe-item`, `delete-item`.

use super::{rfc3339, Call};
use crate::wire::{flex_bool, flex_list};
use crate::ApiError;
use dynsec_engine::{Caller, Engine, ItemQuery, ItemView};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct ListRequest {
    path: Option<String>,
    #[serde(default, deserialize_with = "flex_list")]
    r#type: Vec<String>,
    filter: Option<String>,
    pagination_token: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    current_folder: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct NameRequest {
    name: Option<String>,
}

pub async fn list(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: ListRequest = call.fields()?;
    let path = req.path.unwrap_or_else(|| "/".into());
    call.about(&dynsec_core::path::normalize_folder(&path));
    let query = ItemQuery {
        path,
        types: req.r#type,
        filter: req.filter.unwrap_or_default(),
        current_folder: req.current_folder.unwrap_or(false),
        page_token: req.pagination_token,
        page_size: None,
    };
    let listing = engine.list_items(caller, &query).await?;
    let mut answer = json!({
        "items": listing
            .items
            .iter()
            .map(item_json)
            .chain(listing.keys.iter().map(super::keys::key_item_json))
            .collect::<Vec<_>>(),
        "folders": listing.folders,
    });
    super::page_fields(&mut answer, listing.next_page, true);
    Ok(answer)
}

pub async fn describe(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    match engine.describe_item(caller, &name).await {
        Ok(item) => Ok(item_json(&item)),
        // Not a dynamic secret: perhaps a protection key.
        Err(err @ dynsec_engine::EngineError::NotFound(_)) => {
            super::keys::describe_key(engine, caller, &name, err).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn delete(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let id = engine.delete_item(caller, &name).await?;
    Ok(json!({ "item_id": id, "item_name": name.as_str() }))
}

/// The Akeyless `Item` object for a dynamic secret.
fn item_json(item: &ItemView) -> Value {
    json!({
        "item_name": item.name,
        "item_id": item.id,
        "item_type": "DYNAMIC_SECRET",
        "item_sub_type": "aws",
        "item_tags": item.settings.tags,
        "delete_protection": item.delete_protection,
        "creation_date": rfc3339(item.created_at),
        "modification_date": rfc3339(item.modified_at),
        "protection_key_name": item.settings.protection_key.clone().unwrap_or_default(),
        "item_targets_assoc": item.target.iter().map(|(id, name)| json!({
            "target_id": id,
            "target_name": name,
            "target_type": "aws",
        })).collect::<Vec<_>>(),
        "item_general_info": {
            "dynamic_secret_producer_details": {
                "producer_type": "aws",
                "producer_status": "active",
                "user_ttl": super::producers::shown_ttl(&item.settings),
                "failure_message": "",
            }
        },
    })
}
