//! `validate-token` and `describe-permissions`: what a caller may learn about
//! its own session and rules (Akeyless's shapes; the console uses both).

use super::{rfc3339, Call};
use crate::wire::required;
use crate::ApiError;
use chrono::Utc;
use dynsec_core::access::RuleType;
use dynsec_engine::{Caller, Engine};
use serde::Deserialize;
use serde_json::{json, Value};

/// `validate-token`: answers for the token in the body, valid or not, so it
/// runs before (instead of) the usual authentication. A bad token is
/// `is_valid: false` with the same reason every other operation gives.
pub async fn validate_token(engine: &Engine, call: &mut Call<'_>) -> Result<Value, ApiError> {
    let token = call
        .token()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing required field 'token'"))?;
    let Some(status) = engine.validate_token(token, call.ctx.client_ip()).await? else {
        return Ok(json!({
            "is_valid": false,
            "reason": "invalid or expired token",
            "expiration": "",
            "ttl": 0,
            "last_rotate": "",
        }));
    };
    let ttl = (status.expires_at - Utc::now()).num_seconds().max(0);
    let answer = json!({
        "is_valid": true,
        "reason": "",
        "expiration": rfc3339(status.expires_at),
        "ttl": ttl,
        "last_rotate": "",
        // dynsec extensions: who the token belongs to.
        "access_id": status.caller.access_id,
        "auth_method_name": status.auth_method_name,
        "is_admin": status.caller.is_admin,
    });
    call.ctx.caller = Some(status.caller);
    Ok(answer)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct PermissionsRequest {
    path: Option<String>,
    r#type: Option<String>,
}

/// `describe-permissions` (`path`, `type`) → `{"client_permissions": [...]}`.
pub fn describe_permissions(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: PermissionsRequest = call.fields()?;
    let rule_type = object_type(required("type", &req.r#type)?)?;
    let path = call.path("path", &req.path)?;
    let capabilities = engine.describe_permissions(caller, rule_type, &path);
    Ok(json!({
        "client_permissions": capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
    }))
}

/// Akeyless's object types (`item`, `am`, `role`, `target`), or the rule-type
/// names `set-role-rule` takes.
fn object_type(raw: &str) -> Result<RuleType, ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "item" | "item-rule" => Ok(RuleType::Item),
        "target" | "target-rule" => Ok(RuleType::Target),
        "role" | "role-rule" => Ok(RuleType::Role),
        "am" | "auth-method" | "auth-method-rule" => Ok(RuleType::AuthMethod),
        other => Err(ApiError::bad_request(format!(
            "invalid type: unknown object type '{other}' (item, target, role, am)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::object_type;
    use dynsec_core::access::RuleType;

    #[test]
    fn object_types_in_akeyless_and_rule_type_words() {
        assert_eq!(object_type("item").unwrap(), RuleType::Item);
        assert_eq!(object_type("target-rule").unwrap(), RuleType::Target);
        assert_eq!(object_type("am").unwrap(), RuleType::AuthMethod);
        let err = object_type("sra").unwrap_err();
        assert!(err.message.starts_with("invalid type:"), "{}", err.message);
    }
}
