//! Sending a parsed operation: resolve the gateway and credentials, fill in the credentials
//! (`auth`) or a token obtained from `/auth` (everything else), complete the body where the
//! operation's [`Behaviour`] says (partial updates), post it, and describe what it did
//! (revocations, lifetime changes).

use anyhow::Result;
use serde_json::{Map, Value};

use super::client::Gateway;
use super::effects;
use super::parse::Invocation;
use super::settings::{resolve, Credentials, Env, Explicit};
use super::spec::{Behaviour, Mode};
use super::update;

/// Posts the invocation to its gateway and returns the answer to print.
pub async fn send(invocation: &Invocation, env: &Env) -> Result<Value> {
    let is_auth = invocation.op.mode == Mode::Auth;
    let explicit = Explicit {
        gateway_url: invocation.local("gateway-url"),
        profile: invocation.local("profile"),
        ca_file: invocation.local("ca-file"),
        access_id: invocation.body_str("access-id").filter(|_| is_auth),
        access_key: invocation.body_str("access-key").filter(|_| is_auth),
    };
    let settings = resolve(explicit, env)?;
    let gateway = Gateway::new(&settings.gateway_url, settings.ca_file.as_deref())?;
    let mut body = invocation.body.clone();
    if is_auth {
        fill_auth_body(&mut body, &settings.credentials()?);
        return gateway.call(invocation.name, &Value::Object(body)).await;
    }
    if !has_token(&body) {
        let token = gateway.token(&settings.credentials()?).await?;
        body.insert("token".to_owned(), Value::String(token));
    }
    let body = match invocation.op.behaviour {
        Behaviour::UpdateProducer => update::producer(&gateway, body).await?,
        Behaviour::UpdateTarget => update::target(&gateway, body).await?,
        _ => body,
    };
    let revoking_all = invocation.op.behaviour == Behaviour::RevokeTmpCreds
        && body.get("revoke-all") == Some(&Value::Bool(true));
    let before = if revoking_all {
        effects::list_tmp_creds(&gateway, &body).await
    } else {
        None
    };
    if invocation.op.behaviour == Behaviour::Listing && !body.contains_key("pagination-token") {
        return super::pages::all_pages(&gateway, invocation.name, body).await;
    }
    let answer = gateway
        .call(invocation.name, &Value::Object(body.clone()))
        .await?;
    Ok(match invocation.op.behaviour {
        Behaviour::RevokeTmpCreds => effects::revoked(&body, answer, before),
        Behaviour::UpdateTmpCredsTtl => {
            let after = effects::list_tmp_creds(&gateway, &body).await;
            effects::retimed(&body, answer, after)
        }
        _ => answer,
    })
}

/// The `auth` body: the resolved credentials, and `access-type` defaulting to `access_key`.
fn fill_auth_body(body: &mut Map<String, Value>, credentials: &Credentials) {
    body.insert(
        "access-id".to_owned(),
        Value::String(credentials.access_id.clone()),
    );
    body.insert(
        "access-key".to_owned(),
        Value::String(credentials.access_key.clone()),
    );
    body.entry("access-type")
        .or_insert_with(|| Value::String("access_key".to_owned()));
}

fn has_token(body: &Map<String, Value>) -> bool {
    ["token", "uid-token"].iter().any(|key| {
        body.get(*key)
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auth_body_defaults_the_access_type() {
        let mut body = Map::new();
        let creds = Credentials {
            access_id: "p-1".into(),
            access_key: "k".into(),
        };
        fill_auth_body(&mut body, &creds);
        assert_eq!(
            Value::Object(body),
            json!({"access-id": "p-1", "access-key": "k", "access-type": "access_key"})
        );
    }

    #[test]
    fn explicit_tokens_skip_authentication() {
        let mut body = Map::new();
        assert!(!has_token(&body));
        body.insert("uid-token".into(), json!("u"));
        assert!(has_token(&body));
    }
}
