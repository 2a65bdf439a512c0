//! `dynsec status`: which gateway this CLI talks to, whether it answers and its version, who
//! you are there (the access id, authenticated for real) and when your token expires.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::client::Gateway;
use super::parse::Invocation;
use super::settings::{resolve, Env, Explicit};

/// The status as an object (printed as a table unless `--format` says otherwise).
pub async fn status(invocation: &Invocation, env: &Env) -> Result<Value> {
    let explicit = Explicit {
        gateway_url: invocation.local("gateway-url"),
        profile: invocation.local("profile"),
        ca_file: invocation.local("ca-file"),
        access_id: invocation.local("access-id"),
        access_key: invocation.local("access-key"),
    };
    let settings = resolve(explicit, env)?;
    let url = settings.gateway_url.clone();
    let gateway = Gateway::new(&url, settings.ca_file.as_deref())?;
    let version = gateway
        .version()
        .await
        .with_context(|| format!("the gateway at {url} does not answer"))?
        .unwrap_or_else(|| "unknown".to_owned());
    let credentials = settings
        .credentials()
        .with_context(|| format!("the gateway at {url} (dynsec {version}) answers, but"))?;
    let token = gateway.authenticate(&credentials).await.with_context(|| {
        format!(
            "the gateway at {url} (dynsec {version}) answers, but refuses access id {}",
            credentials.access_id
        )
    })?;
    let mut out = json!({
        "gateway": url,
        "gateway_version": version,
        "profile": settings.profile_name(),
        "access_id": credentials.access_id,
        "token_expiration": token.expiration,
        "token_expires_in": expires_in(&token.expiration, Utc::now()),
    });
    // Gateways that serve `validate-token` say more about the token; older ones don't.
    if let Ok(Value::Object(details)) = gateway
        .call("validate-token", &json!({"token": token.token}))
        .await
    {
        out["token"] = Value::Object(details);
    }
    Ok(out)
}

/// `59m`, `2h 5m`, `expired`; empty when the expiry is unknown.
fn expires_in(expiration: &str, now: DateTime<Utc>) -> String {
    let Ok(at) = DateTime::parse_from_rfc3339(expiration) else {
        return String::new();
    };
    let minutes = (at.with_timezone(&Utc) - now).num_minutes();
    match minutes {
        m if m < 0 => "expired".to_owned(),
        m if m < 60 => format!("{m}m"),
        m if m < 24 * 60 => format!("{}h {}m", m / 60, m % 60),
        m => format!("{}d {}h", m / (24 * 60), (m / 60) % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_in_words() {
        let now = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(expires_in("2030-01-01T00:59:30Z", now), "59m");
        assert_eq!(expires_in("2030-01-01T02:05:00Z", now), "2h 5m");
        assert_eq!(expires_in("2030-01-03T01:00:00Z", now), "2d 1h");
        assert_eq!(expires_in("2029-12-31T23:00:00Z", now), "expired");
        assert_eq!(expires_in("", now), "");
    }
}
