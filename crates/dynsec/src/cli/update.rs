//! Partial updates. The API replaces every settable field on update (the SDKs always send
//! their defaults, so it cannot tell "unset" from "default"); the CLI reads the current item
//! and sends it back with only the given flags changed. Secrets are never returned by the get
//! operations: an update that leaves them out keeps the stored ones (the API's rule for an
//! empty secret).

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use super::client::Gateway;
use super::error::UsageError;

/// Keys of an inline connection in a dynamic-secret update.
const INLINE_KEYS: &[&str] = &[
    "aws-access-key-id",
    "aws-access-secret-key",
    "region",
    "iam-endpoint",
    "sts-endpoint",
];

/// The update body for a dynamic secret: its current settings, overlaid with `given`.
pub async fn producer(gateway: &Gateway, given: Map<String, Value>) -> Result<Map<String, Value>> {
    let current = current(gateway, "gateway-get-producer", &given).await?;
    Ok(producer_body(&current, given)?)
}

/// The update body for a target: its current settings, overlaid with `given`.
pub async fn target(gateway: &Gateway, given: Map<String, Value>) -> Result<Map<String, Value>> {
    let current = current(gateway, "get-target", &given).await?;
    Ok(target_body(&current, given)?)
}

async fn current(gateway: &Gateway, get: &str, given: &Map<String, Value>) -> Result<Value> {
    let mut request = Map::new();
    for key in ["name", "token", "uid-token"] {
        if let Some(value) = given.get(key) {
            request.insert(key.to_owned(), value.clone());
        }
    }
    let name = given
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    gateway
        .call(get, &Value::Object(request))
        .await
        .with_context(|| format!("cannot read the current settings of {name} ({get})"))
}

/// Copies `from[source]` to `to[key]` when it says something.
fn carry(to: &mut Map<String, Value>, key: &str, from: &Value, source: &str) {
    match from.get(source) {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(value) => {
            to.insert(key.to_owned(), value.clone());
        }
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The dynamic-secret update body from `current` (a `gateway-get-producer` answer).
pub fn producer_body(
    current: &Value,
    given: Map<String, Value>,
) -> Result<Map<String, Value>, UsageError> {
    let name = text(&given, "name").unwrap_or_default().to_owned();
    let mut body = Map::new();
    for (key, source) in [
        ("access-mode", "aws_access_mode"),
        ("aws-user-policies", "aws_user_policies"),
        ("aws-user-groups", "aws_user_groups"),
        ("aws-role-arns", "aws_role_arns"),
        (
            "aws-user-programmatic-access",
            "aws_user_programmatic_access",
        ),
        ("aws-user-console-access", "aws_user_console_access"),
        ("password-length", "password_length"),
        ("use-capital-letters", "use_capital_letters"),
        ("use-lower-letters", "use_lower_letters"),
        ("use-numbers", "use_numbers"),
        ("use-special-characters", "use_special_characters"),
        ("user-ttl", "user_ttl"),
        ("delete_protection", "delete_protection"),
        (
            "producer-encryption-key-name",
            "producer_encryption_key_name",
        ),
        ("tags", "tags"),
        ("description", "description"),
        ("aws-external-id", "aws_external_id"),
        ("session-tags", "aws_session_tags"),
        ("transitive-tag-keys", "aws_transitive_tag_keys"),
        ("iam-path", "iam_path"),
        ("custom-username-template", "username_template"),
        ("permissions-boundary-arn", "permissions_boundary_arn"),
        ("aws-user-tags", "aws_user_tags"),
        ("aws-user-inline-policy", "aws_user_inline_policy"),
        ("session-policy-arns", "session_policy_arns"),
        ("session-policy", "session_policy"),
        ("max-ttl", "max_ttl"),
        ("early-revocation", "early_revocation"),
        ("secure-access-delay", "secure_access_delay"),
        ("mfa-serial", "mfa_serial"),
    ] {
        carry(&mut body, key, current, source);
    }
    let current_target = current
        .get("item_targets_assoc")
        .and_then(Value::as_array)
        .and_then(|targets| targets.first())
        .and_then(|target| target.get("target_name"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let gives_target = text(&given, "target-name").is_some();
    let gives_inline_key = text(&given, "aws-access-key-id").is_some();
    match current_target {
        Some(target) => {
            let inline: Vec<&str> = [
                "region",
                "iam-endpoint",
                "sts-endpoint",
                "aws-access-secret-key",
            ]
            .into_iter()
            .filter(|key| given.contains_key(*key))
            .collect();
            if !gives_target && !gives_inline_key && !inline.is_empty() {
                return Err(UsageError::new(format!(
                    "{name} uses the target {target}: {} belong to an inline connection. Change \
                     the target with update-aws-target, or switch to an inline connection with \
                     --aws-access-key-id and --aws-access-secret-key",
                    inline
                        .iter()
                        .map(|key| flag_of(key))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if gives_inline_key && !given.contains_key("aws-access-secret-key") {
                return Err(UsageError::new(format!(
                    "{name} uses the target {target}: switching to an inline connection needs \
                     --aws-access-secret-key too"
                )));
            }
            if !gives_inline_key {
                body.insert("target-name".into(), Value::String(target.to_owned()));
            }
        }
        None if !gives_target => {
            let current_key = current
                .get("aws_access_key_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some(new_key) = text(&given, "aws-access-key-id") {
                if new_key != current_key && !given.contains_key("aws-access-secret-key") {
                    return Err(UsageError::new(format!(
                        "a new --aws-access-key-id for {name} needs its --aws-access-secret-key"
                    )));
                }
            }
            carry(&mut body, "aws-access-key-id", current, "aws_access_key_id");
            carry(&mut body, "region", current, "aws_region");
            carry(&mut body, "iam-endpoint", current, "iam_endpoint");
            carry(&mut body, "sts-endpoint", current, "sts_endpoint");
        }
        // Moving an inline connection to a target: the inline settings go.
        None => {}
    }
    if gives_target {
        for key in INLINE_KEYS {
            body.remove(*key);
        }
    }
    body.extend(given);
    Ok(body)
}

/// The target update body from `current` (a `get-target` answer).
pub fn target_body(
    current: &Value,
    given: Map<String, Value>,
) -> Result<Map<String, Value>, UsageError> {
    let name = text(&given, "name").unwrap_or_default().to_owned();
    let current_key = current
        .get("aws_access_key_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(new_key) = text(&given, "access-key-id") {
        if new_key != current_key && !given.contains_key("access-key") {
            return Err(UsageError::new(format!(
                "a new --access-key-id for {name} needs its --access-key (the secret)"
            )));
        }
    }
    let mut body = Map::new();
    for (key, source) in [
        ("access-key-id", "aws_access_key_id"),
        ("region", "aws_region"),
        ("iam-endpoint", "iam_endpoint"),
        ("sts-endpoint", "sts_endpoint"),
        ("description", "comment"),
        ("key", "protection_key_name"),
        ("delete_protection", "delete_protection"),
    ] {
        carry(&mut body, key, current, source);
    }
    body.extend(given);
    Ok(body)
}

fn flag_of(key: &str) -> String {
    match key {
        "region" => "--aws-region".to_owned(),
        other => format!("--{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn given(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn with_target() -> Value {
        json!({
            "dynamic_secret_name": "/p/x",
            "aws_access_mode": "iam_user",
            "aws_region": "us-east-1",
            "aws_user_policies": "arn:p1,arn:p2",
            "aws_user_groups": "devs",
            "aws_role_arns": "",
            "aws_user_console_access": false,
            "aws_user_programmatic_access": true,
            "aws_access_key_id": "AKIAADMIN",
            "user_ttl": "60m",
            "tags": ["team:a"],
            "delete_protection": true,
            "password_length": 16,
            "item_targets_assoc": [{"target_name": "/aws/prod", "target_id": 1}],
            "username_template": "old-{{name}}",
            "aws_external_id": "",
            "aws_session_tags": "",
            "aws_transitive_tag_keys": "",
            "description": "dev creds",
            "producer_encryption_key_name": "/keys/k",
            "use_capital_letters": true,
            "use_lower_letters": true,
            "use_numbers": false,
            "use_special_characters": true,
            "iam_path": "",
            "iam_endpoint": "",
            "sts_endpoint": "",
        })
    }

    #[test]
    fn changing_the_ttl_keeps_policies_groups_key_and_target() {
        let body = producer_body(
            &with_target(),
            given(json!({"name": "/p/x", "user-ttl": "30m", "token": "t"})),
        )
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "name": "/p/x",
                "token": "t",
                "user-ttl": "30m",
                "access-mode": "iam_user",
                "aws-user-policies": "arn:p1,arn:p2",
                "aws-user-groups": "devs",
                "aws-user-programmatic-access": true,
                "aws-user-console-access": false,
                "password-length": 16,
                "use-capital-letters": true,
                "use-lower-letters": true,
                "use-numbers": false,
                "use-special-characters": true,
                "delete_protection": true,
                "producer-encryption-key-name": "/keys/k",
                "tags": ["team:a"],
                "description": "dev creds",
                "custom-username-template": "old-{{name}}",
                "target-name": "/aws/prod",
            })
        );
    }

    #[test]
    fn inline_connections_keep_their_key_and_endpoints_and_leave_the_secret_out() {
        let mut current = with_target();
        current["item_targets_assoc"] = json!([]);
        current["iam_endpoint"] = json!("http://127.0.0.1:5000");
        let body = producer_body(
            &current,
            given(json!({"name": "/p/x", "aws-user-groups": "ops"})),
        )
        .unwrap();
        assert_eq!(body["aws-user-groups"], "ops");
        assert_eq!(body["aws-access-key-id"], "AKIAADMIN");
        assert_eq!(body["region"], "us-east-1");
        assert_eq!(body["iam-endpoint"], "http://127.0.0.1:5000");
        assert!(!body.contains_key("aws-access-secret-key"));
        assert!(!body.contains_key("target-name"));

        let err = producer_body(
            &current,
            given(json!({"name": "/p/x", "aws-access-key-id": "AKIANEW"})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--aws-access-secret-key"), "{err}");
        let moved = producer_body(
            &current,
            given(json!({"name": "/p/x", "target-name": "/aws/t"})),
        )
        .unwrap();
        for key in INLINE_KEYS {
            assert!(!moved.contains_key(*key), "{key} kept: {moved:?}");
        }
    }

    #[test]
    fn target_based_secrets_refuse_inline_only_flags() {
        let err = producer_body(
            &with_target(),
            given(json!({"name": "/p/x", "region": "eu-west-1"})),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("/aws/prod") && err.contains("--aws-region"),
            "{err}"
        );
        let err = producer_body(
            &with_target(),
            given(json!({"name": "/p/x", "aws-access-key-id": "AKIA2"})),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--aws-access-secret-key"), "{err}");
        let switched = producer_body(
            &with_target(),
            given(
                json!({"name": "/p/x", "aws-access-key-id": "AKIA2", "aws-access-secret-key": "s"}),
            ),
        )
        .unwrap();
        assert!(!switched.contains_key("target-name"));
    }

    #[test]
    fn target_updates_keep_the_connection_and_leave_the_secret_out() {
        let current = json!({
            "target_name": "/aws/prod",
            "comment": "old",
            "protection_key_name": "",
            "delete_protection": false,
            "aws_access_key_id": "AKIAADMIN",
            "aws_region": "us-east-1",
            "iam_endpoint": "http://127.0.0.1:5000",
            "sts_endpoint": "http://127.0.0.1:5000",
        });
        let body = target_body(
            &current,
            given(json!({"name": "/aws/prod", "description": "new"})),
        )
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "name": "/aws/prod",
                "description": "new",
                "access-key-id": "AKIAADMIN",
                "region": "us-east-1",
                "iam-endpoint": "http://127.0.0.1:5000",
                "sts-endpoint": "http://127.0.0.1:5000",
                "delete_protection": false,
            })
        );
        let err = target_body(
            &current,
            given(json!({"name": "/aws/prod", "access-key-id": "AKIANEW"})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--access-key"), "{err}");
    }
}
