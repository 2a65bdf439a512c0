//! On-demand admin-key rotation (dynsec extensions): `target-rotate-admin-key`
//! for a target, `dynamic-secret-rotate-admin-key` for a dynamic secret's
//! inline connection. Both need `update` on the item (authz.rs).

use super::{rfc3339, Call};
use crate::ApiError;
use dynsec_engine::{AdminKeyRotation, Caller, Engine};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct NameRequest {
    name: Option<String>,
}

pub async fn rotate_target(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let done = engine.rotate_target_admin_key(caller, &name).await?;
    Ok(answer(name.as_str(), &done))
}

pub async fn rotate_dynamic_secret(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let done = engine.rotate_producer_admin_key(caller, &name).await?;
    Ok(answer(name.as_str(), &done))
}

/// What the rotation did; never a secret (get-target-details reveals the
/// new key to those allowed).
fn answer(name: &str, done: &AdminKeyRotation) -> Value {
    json!({
        "name": name,
        "access_key_id": done.new_access_key_id,
        "previous_access_key_id": done.old_access_key_id,
        "last_admin_rotation": done.rotated_at.timestamp(),
        "rotated_at": rfc3339(done.rotated_at),
        "ready_after_ms": u64::try_from(done.ready_after.as_millis()).unwrap_or(u64::MAX),
        "previous_key_deleted": done.old_key_deleted,
    })
}
