//! Temporary-credential (lease) operations: list, revoke, change TTL.

use super::{rfc3339, Call, Outcome};
use crate::wire::{flex_bool, flex_u64};
use crate::ApiError;
use dynsec_core::{AccessMode, Lease};
use dynsec_engine::{Caller, Engine};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct TmpCredsRequest {
    name: Option<String>,
    tmp_creds_id: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    revoke_all: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    soft_delete: Option<bool>,
    #[serde(default, deserialize_with = "flex_u64")]
    new_ttl_min: Option<u64>,
    /// Listing: at most this many (default and most: 1000).
    #[serde(default, deserialize_with = "flex_u64")]
    limit: Option<u64>,
    /// Listing: continue after this tmp-creds id (the last one listed).
    after: Option<String>,
}

pub async fn list(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: TmpCredsRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    // Out of range (also beyond u32) is the engine's to refuse, naming `limit`.
    let limit = req.limit.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let leases = engine
        .list_leases(caller, &name, req.after.as_deref(), limit)
        .await?;
    Ok(Value::Array(leases.iter().map(lease_json).collect()))
}

pub async fn revoke(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Outcome, ApiError> {
    let req: TmpCredsRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    if req.soft_delete.unwrap_or(false) {
        // Forget without touching AWS: said loudly in the answer (and so in
        // the audit record).
        let forgotten = if req.revoke_all.unwrap_or(false) {
            engine.forget_all_leases(caller, &name).await?
        } else {
            let id = crate::wire::required("tmp-creds-id", &req.tmp_creds_id)?;
            call.names_lease(id);
            vec![engine.forget_lease(caller, &name, id).await?]
        };
        let users: Vec<&str> = forgotten.iter().map(|l| l.principal.as_str()).collect();
        let warning = format!(
            "soft-delete: {} credential(s) forgotten without touching AWS; their IAM users ({}) may still exist and keep working until removed — the orphan sweep removes them after they expire, or delete them in IAM",
            forgotten.len(),
            users.join(", ")
        );
        let answer = json!({
            "warning": warning,
            "forgotten": forgotten.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        });
        return Ok(Outcome::ok(answer).with_warning(warning));
    }
    let denied = if req.revoke_all.unwrap_or(false) {
        let outcome = engine.revoke_all(caller, &name).await?;
        if outcome.remaining > 0 {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{} credential(s) could not be revoked yet; they are retried automatically",
                    outcome.remaining
                ),
            ));
        }
        outcome.sessions_denied
    } else {
        let id = crate::wire::required("tmp-creds-id", &req.tmp_creds_id)?;
        call.names_lease(id);
        let lease = engine.revoke_lease(caller, &name, id).await?;
        if lease.mode == AccessMode::AssumedRole {
            vec![lease]
        } else {
            Vec::new()
        }
    };
    Ok(Outcome::ok(sessions_denied_json(&denied)))
}

/// `{}` (Akeyless's answer) when only IAM users were torn down; with
/// assumed-role sessions denied early, what was written and that AWS
/// applies it with a delay, so nobody takes the credential for dead at once.
fn sessions_denied_json(denied: &[Lease]) -> Value {
    if denied.is_empty() {
        return json!({});
    }
    let notes: std::collections::BTreeSet<&str> = denied
        .iter()
        .filter_map(|l| l.last_error.as_deref())
        .collect();
    json!({
        "sessions_denied": denied.iter().map(|l| json!({
            "id": l.id,
            "role_arn": l.role_arn.clone().unwrap_or_default(),
            "session_name": l.principal,
            "state": l.state.as_str(),
            "note": l.last_error.clone().unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "note": notes.into_iter().collect::<Vec<_>>().join("; "),
    })
}

pub async fn update(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: TmpCredsRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let id = crate::wire::required("tmp-creds-id", &req.tmp_creds_id)?;
    call.names_lease(id);
    let minutes = req
        .new_ttl_min
        .ok_or_else(|| ApiError::bad_request("missing required field 'new-ttl-min'"))?;
    engine.update_lease_ttl(caller, &name, id, minutes).await?;
    Ok(json!({}))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct UnderPathRequest {
    path: Option<String>,
    pagination_token: Option<String>,
    #[serde(default, deserialize_with = "flex_u64")]
    limit: Option<u64>,
}

/// The `path` of `list-leases`/`revoke-leases`: `/` (or only slashes) is
/// every dynamic secret (`None`), anything else an item path.
fn lease_path(
    call: &mut Call<'_>,
    value: &Option<String>,
) -> Result<Option<dynsec_core::ItemPath>, ApiError> {
    let raw = crate::wire::required("path", value)?;
    if !raw.trim().is_empty() && raw.trim().chars().all(|c| c == '/') {
        call.about("/");
        return Ok(None);
    }
    call.path("path", value).map(Some)
}

/// Page size of `list-leases` unless `limit` says otherwise.
const DEFAULT_LEASE_PAGE: u32 = 100;

/// `list-leases`: live leases under `path` whose secret the caller may read.
pub async fn list_under(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: UnderPathRequest = call.fields()?;
    let path = lease_path(call, &req.path)?;
    let limit = req
        .limit
        .map_or(DEFAULT_LEASE_PAGE, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let page = engine
        .list_leases_under(
            caller,
            path.as_ref(),
            req.pagination_token.as_deref(),
            limit,
        )
        .await?;
    let mut answer = json!({
        "path": path.as_ref().map_or("/", |p| p.as_str()),
        "leases": page.leases.iter().map(|l| {
            let mut item = lease_json(l);
            item["dynamic_secret"] = json!(l.producer_name);
            item
        }).collect::<Vec<_>>(),
    });
    if let Some(next) = page.next {
        answer["next_page"] = json!(next);
    }
    Ok(answer)
}

/// `revoke-leases`: every live lease under `path` the caller may revoke,
/// with what could not be revoked and why.
pub async fn revoke_under(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Outcome, ApiError> {
    let req: UnderPathRequest = call.fields()?;
    let path = lease_path(call, &req.path)?;
    let report = engine.revoke_leases_under(caller, path.as_ref()).await?;
    let revoked: Vec<Value> = report
        .revoked
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "dynamic_secret": l.producer_name,
                "access_mode": l.mode.as_str(),
                "user_name": l.principal,
            })
        })
        .collect();
    let not_revoked: Vec<Value> = report
        .not_revoked
        .iter()
        .map(|(l, reason)| {
            json!({
                "id": l.id,
                "dynamic_secret": l.producer_name,
                "access_mode": l.mode.as_str(),
                "user_name": l.principal,
                "state": l.state.as_str(),
                "expiration": rfc3339(l.expires_at),
                "reason": reason,
            })
        })
        .collect();
    let mut answer = json!({
        "path": path.as_ref().map_or("/", |p| p.as_str()),
        "message": format!(
            "{} credential(s) revoked, {} not revoked",
            revoked.len(),
            not_revoked.len()
        ),
        "revoked": revoked,
        "not_revoked": not_revoked,
    });
    if report.not_revoked.is_empty() {
        return Ok(Outcome::ok(answer));
    }
    // Also what the audit record keeps: an incident response that left
    // credentials live must say so.
    let warning = format!(
        "{} credential(s) under this path are still live; see not_revoked",
        report.not_revoked.len()
    );
    answer["warning"] = json!(warning);
    Ok(Outcome::ok(answer).with_warning(warning))
}

/// Akeyless's `TmpUserData`, plus dynsec's lease state so failures are visible.
fn lease_json(l: &Lease) -> Value {
    // Rounded: an assumed-role lease is recorded a moment after AWS set its expiry.
    let ttl_minutes = ((l.expires_at - l.created_at).num_seconds() + 30).max(0) / 60;
    json!({
        "id": l.id,
        "access_id": l.access_key_id.clone().unwrap_or_default(),
        "host": l.principal,
        "dynamic_secret_type": "aws",
        "creation_date": rfc3339(l.created_at),
        "custom_ttl": ttl_minutes,
        "sub_claims": {},
        "user_name": l.principal,
        "access_mode": l.mode.as_str(),
        "role_arn": l.role_arn.clone().unwrap_or_default(),
        "expiration": rfc3339(l.expires_at),
        "state": l.state.as_str(),
        "attempts": l.attempts,
        "last_error": l.last_error.clone().unwrap_or_default(),
        "next_attempt": l.next_attempt_at.map(rfc3339).unwrap_or_default(),
    })
}
