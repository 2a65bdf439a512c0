//! Saying what revocations and lifetime changes did. The API answers `{}` to both (the
//! Akeyless shape); the CLI describes the effect instead: which credentials were revoked, and
//! when a re-timed one now expires (read back from the gateway). An answer the gateway filled
//! in itself (a soft delete's warning, say) is shown as it is.

use serde_json::{json, Map, Value};

use super::client::Gateway;

/// The dynamic secret's live credentials, if the caller may list them.
pub async fn list_tmp_creds(gateway: &Gateway, body: &Map<String, Value>) -> Option<Vec<Value>> {
    let mut request = Map::new();
    for key in ["name", "token", "uid-token"] {
        if let Some(value) = body.get(key) {
            request.insert(key.to_owned(), value.clone());
        }
    }
    match gateway
        .call("gateway-get-producer-tmp-creds", &Value::Object(request))
        .await
    {
        Ok(Value::Array(leases)) => Some(leases),
        _ => None,
    }
}

fn is_empty_answer(answer: &Value) -> bool {
    match answer {
        Value::Object(map) => map.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// What a successful revocation did. `before`: the live credentials listed just before.
pub fn revoked(body: &Map<String, Value>, answer: Value, before: Option<Vec<Value>>) -> Value {
    if !is_empty_answer(&answer) {
        return answer;
    }
    let name = text(body, "name");
    if body.get("revoke-all") == Some(&Value::Bool(true)) {
        let Some(before) = before else {
            return json!({
                "name": name,
                "revoked": "all",
                "message": format!(
                    "Revoked every temporary IAM user of {name}; assumed-role sessions cannot be \
                     ended early and expire on their own."
                ),
            });
        };
        let of_mode = |mode: &str| -> Vec<Value> {
            before
                .iter()
                .filter(|lease| lease.get("access_mode").and_then(Value::as_str) == Some(mode))
                .filter_map(|lease| lease.get("id").cloned())
                .collect()
        };
        let users = of_mode("iam_user");
        // Every other mode is an STS session.
        let sessions: Vec<Value> = before
            .iter()
            .filter(|lease| lease.get("access_mode").and_then(Value::as_str) != Some("iam_user"))
            .filter_map(|lease| lease.get("id").cloned())
            .collect();
        let mut message = format!("Revoked {} temporary IAM user(s) of {name}.", users.len());
        if !sessions.is_empty() {
            message.push_str(&format!(
                " {} STS session(s) cannot be ended early and expire on their own.",
                sessions.len()
            ));
        }
        return json!({
            "name": name,
            "revoked": users,
            "expiring_on_their_own": sessions,
            "message": message,
        });
    }
    // A gateway that soft-deletes says so in its answer (shown above as it is); an empty
    // answer means the credential was revoked.
    let id = text(body, "tmp-creds-id");
    json!({
        "name": name,
        "revoked": [id],
        "message": format!("Revoked temporary credential {id} of {name}: its IAM user is deleted."),
    })
}

/// What a successful lifetime change did. `after`: the live credentials listed right after.
pub fn retimed(body: &Map<String, Value>, answer: Value, after: Option<Vec<Value>>) -> Value {
    if !is_empty_answer(&answer) {
        return answer;
    }
    let name = text(body, "name");
    let id = text(body, "tmp-creds-id");
    let minutes = body.get("new-ttl-min").cloned().unwrap_or(Value::Null);
    let expiration = after.and_then(|leases| {
        leases
            .into_iter()
            .find(|lease| lease.get("id").and_then(Value::as_str) == Some(id))
            .and_then(|lease| {
                lease
                    .get("expiration")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    });
    let message = match &expiration {
        Some(at) => format!("Temporary credential {id} of {name} now expires at {at}."),
        None => format!("Temporary credential {id} of {name} now expires in {minutes} minute(s)."),
    };
    let mut out = json!({
        "name": name,
        "tmp_creds_id": id,
        "new_ttl_min": minutes,
        "message": message,
    });
    if let Some(at) = expiration {
        out["expiration"] = Value::String(at);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn one_revocation_names_the_credential() {
        let out = revoked(
            &body(json!({"name": "/x", "tmp-creds-id": "l-1"})),
            json!({}),
            None,
        );
        assert_eq!(out["revoked"], json!(["l-1"]));
        assert!(out["message"].as_str().unwrap().contains("l-1"));
    }

    #[test]
    fn revoke_all_counts_users_and_sessions() {
        let before = vec![
            json!({"id": "a", "access_mode": "iam_user"}),
            json!({"id": "b", "access_mode": "assumed_role"}),
            json!({"id": "c", "access_mode": "iam_user"}),
        ];
        let mut before = before;
        before.push(json!({"id": "d", "access_mode": "session_token"}));
        let out = revoked(
            &body(json!({"name": "/x", "revoke-all": true})),
            json!({}),
            Some(before),
        );
        assert_eq!(out["revoked"], json!(["a", "c"]));
        assert_eq!(out["expiring_on_their_own"], json!(["b", "d"]));
        let message = out["message"].as_str().unwrap();
        assert!(
            message.contains("Revoked 2") && message.contains("2 STS session"),
            "{message}"
        );
    }

    #[test]
    fn the_gateways_own_answer_wins() {
        let answer = json!({"revoked": 3});
        assert_eq!(
            revoked(&body(json!({"name": "/x"})), answer.clone(), None),
            answer
        );
    }

    #[test]
    fn retiming_reports_the_new_expiry() {
        let after = vec![json!({"id": "l-1", "expiration": "2030-01-01T00:30:00Z"})];
        let out = retimed(
            &body(json!({"name": "/x", "tmp-creds-id": "l-1", "new-ttl-min": 30})),
            json!({}),
            Some(after),
        );
        assert_eq!(out["expiration"], "2030-01-01T00:30:00Z");
        assert!(out["message"]
            .as_str()
            .unwrap()
            .contains("2030-01-01T00:30:00Z"));
    }
}
