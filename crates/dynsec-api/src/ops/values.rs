//! `get-dynamic-secret-value` / `dynamic-secret-get-value`: issue a credential.
//!
//! The answer is one flat JSON object of strings (the SDKs need a dict, and
//! `dynamic-secret-get-value` coerces every value with `str()`).

use super::Outcome;
use super::{rfc3339, Call};
use crate::wire::flex_list;
use crate::ApiError;
use dynsec_engine::{Caller, Engine, IssuedValue, ReadyReport};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct ValueRequest {
    name: Option<String>,
    #[serde(default, deserialize_with = "flex_list")]
    args: Vec<String>,
}

pub async fn get_value(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Outcome, ApiError> {
    let req: ValueRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let client_gone = call.ctx.client_gone();
    let issued = engine
        .get_value_unless(caller, &name, &req.args, client_gone)
        .await?;
    let mut out = Map::new();
    let mut put = |k: &str, v: &str| {
        out.insert(k.to_string(), json!(v));
    };
    match &issued {
        IssuedValue::IamUser {
            lease_id,
            user_name,
            user_arn,
            access_key_id,
            secret_access_key,
            console_password,
            console_sign_in_url,
            expires_at,
            ttl_secs,
            ready,
        } => {
            put_ready(&mut put, ready);
            put("id", lease_id);
            put("user_name", user_name);
            put("user_arn", user_arn);
            if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
                put("access_key_id", id);
                put("secret_access_key", secret.expose());
            }
            if let Some(password) = console_password {
                put("console_password", password.expose());
            }
            if let Some(url) = console_sign_in_url {
                put("console_sign_in_url", url);
            }
            put("expiration", &rfc3339(*expires_at));
            put("ttl_in_minutes", &(ttl_secs / 60).to_string());
        }
        IssuedValue::AssumedRole {
            lease_id,
            role_arn,
            assumed_role_arn,
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
            ttl_secs,
            ready,
        } => {
            put_ready(&mut put, ready);
            put("id", lease_id);
            put("access_key_id", access_key_id);
            put("secret_access_key", secret_access_key.expose());
            put("session_token", session_token.expose());
            put("role_arn", role_arn);
            if let Some(arn) = assumed_role_arn {
                put("assumed_role_arn", arn);
            }
            put("expiration", &rfc3339(*expires_at));
            put("ttl_in_minutes", &(ttl_secs / 60).to_string());
        }
        IssuedValue::StsToken {
            lease_id,
            mode,
            federated_user_arn,
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
            ttl_secs,
            ready,
        } => {
            put_ready(&mut put, ready);
            put("id", lease_id);
            put("access_mode", mode.as_str());
            put("access_key_id", access_key_id);
            put("secret_access_key", secret_access_key.expose());
            put("session_token", session_token.expose());
            if let Some(arn) = federated_user_arn {
                put("federated_user_arn", arn);
            }
            put("expiration", &rfc3339(*expires_at));
            put("ttl_in_minutes", &(ttl_secs / 60).to_string());
        }
    }
    Ok(Outcome {
        lease_id: Some(issued.lease_id().to_string()),
        ..Outcome::ok(Value::Object(out))
    })
}

/// With a `secure-access-delay`: how long the gateway waited for the
/// credential to be seen working (`ready_wait_ms`), and whether it was
/// (`seen_working`; `false`: the delay ran out first).
fn put_ready(put: &mut impl FnMut(&str, &str), ready: &Option<ReadyReport>) {
    if let Some(ready) = ready {
        put("ready_wait_ms", &ready.waited.as_millis().to_string());
        put(
            "seen_working",
            if ready.seen_working { "true" } else { "false" },
        );
    }
}
