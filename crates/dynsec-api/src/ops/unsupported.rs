//! Akeyless request fields dynsec does not implement yet. Clients send some of
//! them with their defaults on every request (`timeout: 15`), so a default value is
//! accepted and ignored; any other value is refused (400, naming the field)
//! rather than silently doing nothing.

use super::Op;
use crate::ApiError;
use serde_json::Value;

/// A field that is refused unless it carries a default.
struct NotYet {
    field: &'static str,
    /// Numbers (besides 0) that clients send by default.
    default_numbers: &'static [u64],
    why: &'static str,
}

const VALUE_FIELDS: &[NotYet] = &[
    NotYet {
        field: "target",
        default_numbers: &[],
        why: "choosing a target per request is not supported yet (the dynamic secret's own connection is used)",
    },
    NotYet {
        field: "timeout",
        // The official SDKs always send their default, 15 seconds.
        default_numbers: &[15],
        why: "a custom timeout is not supported yet (issuance runs to completion)",
    },
];

/// Refuses a request that sets a not-yet-supported field of `op` to anything
/// but a default value.
pub fn check(op: Op, body: &Value) -> Result<(), ApiError> {
    let fields = match op {
        Op::GetValue => VALUE_FIELDS,
        _ => return Ok(()),
    };
    for not_yet in fields {
        if let Some(value) = body.get(not_yet.field) {
            if !is_default(value, not_yet.default_numbers) {
                return Err(ApiError::bad_request(format!(
                    "invalid {}: {}",
                    not_yet.field, not_yet.why
                )));
            }
        }
    }
    Ok(())
}

/// `null`, `false`, `0`, an empty string, their string forms, and the listed numbers.
fn is_default(value: &Value, default_numbers: &[u64]) -> bool {
    let number_is_default = |n: u64| n == 0 || default_numbers.contains(&n);
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_u64().is_some_and(number_is_default),
        Value::String(s) => {
            let s = s.trim();
            s.is_empty()
                || s.eq_ignore_ascii_case("false")
                || s.parse::<u64>().is_ok_and(number_is_default)
        }
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_that_sdks_send_pass() {
        let sdk_create = json!({
            "name": "/x", "enable-admin-rotation": false, "admin-rotation-interval-days": 0,
            "custom-username-template": null, "user-ttl": "60m",
        });
        // Implemented fields are no concern of this module.
        check(Op::CreateDynamicSecret, &sdk_create).unwrap();
        check(
            Op::GetValue,
            &json!({"name": "/x", "timeout": 15, "json": false}),
        )
        .unwrap();
        check(
            Op::GetValue,
            &json!({"name": "/x", "timeout": "0", "target": ""}),
        )
        .unwrap();
    }

    #[test]
    fn set_values_are_refused_naming_the_field() {
        for (op, body, field) in [
            (Op::GetValue, json!({"timeout": 30}), "timeout"),
            (Op::GetValue, json!({"target": "/aws/other"}), "target"),
        ] {
            let err = check(op, &body).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(err.message.contains(field), "{}", err.message);
            assert!(err.message.contains("not supported yet"), "{}", err.message);
        }
    }

    #[test]
    fn other_operations_are_not_concerned() {
        check(Op::ListTargets, &json!({"timeout": 99})).unwrap();
    }
}
