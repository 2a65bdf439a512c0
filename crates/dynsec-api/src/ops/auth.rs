//! `auth`: access id + access key → token.

use crate::wire::parse;
use crate::{ApiError, RequestContext};
use dynsec_core::SecretString;
use dynsec_engine::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct AuthRequest {
    access_id: Option<String>,
    #[schema(value_type = Option<String>)]
    access_key: Option<SecretString>,
    access_type: Option<String>,
}

pub async fn auth(engine: &Engine, ctx: &RequestContext, body: &Value) -> Result<Value, ApiError> {
    let req: AuthRequest = parse(body)?;
    match req.access_type.as_deref().unwrap_or("access_key") {
        "access_key" | "api_key" | "" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid access-type: '{other}' is not supported (use access_key)"
            )))
        }
    }
    let access_id = crate::wire::required("access-id", &req.access_id)?;
    let access_key = req
        .access_key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing required field 'access-key'"))?;
    let issued = engine
        .authenticate(access_id, &access_key, ctx.client_ip())
        .await?;
    Ok(json!({
        "token": issued.token.expose(),
        "expiration": super::rfc3339(issued.expires_at),
        "creds": {},
    }))
}
