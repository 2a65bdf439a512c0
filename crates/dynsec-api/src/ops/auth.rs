//! `auth`: access id + access key → token.

use super::{Call, Outcome};
use crate::ApiError;
use dynsec_core::SecretString;
use dynsec_engine::Engine;
use serde::Deserialize;
use serde_json::json;

/// Answer header carrying how many milliseconds an `auth` answer was held
/// back after earlier failures of the same access id from the same address.
pub const AUTH_DELAY_HEADER: &str = "x-dynsec-auth-delay-ms";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct AuthRequest {
    access_id: Option<String>,
    #[schema(value_type = Option<String>)]
    access_key: Option<SecretString>,
    access_type: Option<String>,
}

pub async fn auth(engine: &Engine, call: &mut Call<'_>) -> Result<Outcome, ApiError> {
    let req: AuthRequest = call.fields()?;
    match req.access_type.as_deref().unwrap_or("access_key") {
        "access_key" | "api_key" | "" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid access-type: '{other}' is not supported (use access_key)"
            )))
        }
    }
    let access_id = crate::wire::required("access-id", &req.access_id)?;
    call.attempts(access_id);
    let access_key = req
        .access_key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing required field 'access-key'"))?;
    let attempt = engine
        .authenticate(access_id, &access_key, call.ctx.client_ip())
        .await;
    if !attempt.delayed.is_zero() {
        // Says why the answer took its time; the wait itself is the engine's.
        call.ctx
            .add_header(AUTH_DELAY_HEADER, attempt.delayed.as_millis().to_string());
    }
    let issued = attempt.result?;
    let answer = json!({
        "token": issued.token.expose(),
        "expiration": super::rfc3339(issued.expires_at),
        "creds": {},
    });
    Ok(Outcome {
        issued_token: Some(issued.token),
        ..Outcome::ok(answer)
    })
}
