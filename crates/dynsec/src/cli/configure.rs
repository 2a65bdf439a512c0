//! `dynsec configure`: save the gateway URL and credentials to a profile, merging with what
//! the profile already holds — after checking them against the gateway, so a mistyped key or
//! URL is found now rather than at the first real command. `--no-verify` saves unchecked.

use std::path::Path;

use anyhow::{Context, Result};

use super::client::Gateway;
use super::error::UsageError;
use super::parse::Invocation;
use super::profile::{self, Profile, DEFAULT_PROFILE};
use super::settings::{Credentials, Env};
use super::url::{normalize, DEFAULT_GATEWAY_URL};

/// Saves the profile named by `--profile` (else `DYNSEC_PROFILE`, else "default") and returns
/// the confirmation to print. Never echoes the access key.
pub async fn configure(invocation: &Invocation, env: &Env) -> Result<String> {
    let home = env.home()?;
    let (name, saved) = merged(invocation, home, env.profile.as_deref())?;
    let checked = if invocation.local_flag("no-verify") {
        String::new()
    } else {
        verify(&saved, invocation.local("ca-file"), env).await?
    };
    let file = profile::save(home, name, &saved)?;
    Ok(format!(
        "Profile '{name}' saved to {}{checked}",
        file.display()
    ))
}

/// The profile's name and its contents with the given values merged in.
fn merged<'a>(
    invocation: &'a Invocation,
    home: &Path,
    profile_env: Option<&'a str>,
) -> Result<(&'a str, Profile)> {
    if let Some(kind) = invocation.local("access-type") {
        if kind != "access_key" {
            return Err(UsageError::new(format!(
                "--access-type {kind} is not supported; dynsec profiles hold access_key credentials"
            ))
            .into());
        }
    }
    let access_id = invocation.local("access-id");
    let access_key = invocation.local("access-key");
    let gateway_url = invocation.local("gateway-url");
    if access_id.is_none() && access_key.is_none() && gateway_url.is_none() {
        return Err(UsageError::new(
            "nothing to save: pass --access-id, --access-key and/or --gateway-url",
        )
        .into());
    }
    let name = invocation
        .local("profile")
        .or(profile_env)
        .unwrap_or(DEFAULT_PROFILE);
    let mut saved = profile::load(home, name)?.unwrap_or_default();
    if let Some(url) = gateway_url {
        saved.gateway_url = Some(normalize(url).context("bad --gateway-url")?);
    }
    if let Some(id) = access_id {
        saved.access_id = Some(id.to_owned());
    }
    if let Some(key) = access_key {
        saved.access_key = Some(key.to_owned());
    }
    Ok((name, saved))
}

const NOT_SAVED: &str = "not saved (pass --no-verify to save it anyway)";

/// Authenticates with the profile's key at the profile's gateway (the gateway alone when the
/// profile holds no complete key yet); returns what was checked, for the confirmation.
async fn verify(saved: &Profile, ca_file: Option<&str>, env: &Env) -> Result<String> {
    let url = match saved.gateway_url.as_deref().or(env.gateway_url.as_deref()) {
        Some(url) => normalize(url).context("bad gateway URL")?,
        None => DEFAULT_GATEWAY_URL.to_owned(),
    };
    let ca_file = ca_file.or(env.ca_file.as_deref()).map(Path::new);
    let gateway = Gateway::new(&url, ca_file)?;
    match (&saved.access_id, &saved.access_key) {
        (Some(access_id), Some(access_key)) => {
            let credentials = Credentials {
                access_id: access_id.clone(),
                access_key: access_key.clone(),
            };
            let token = gateway
                .authenticate(&credentials)
                .await
                .with_context(|| format!("the key does not work at {url}; {NOT_SAVED}"))?;
            let until = if token.expiration.is_empty() {
                String::new()
            } else {
                format!("; a token lasts until {}", token.expiration)
            };
            Ok(format!(" (key checked at {url}{until})"))
        }
        _ => {
            gateway
                .version()
                .await
                .with_context(|| format!("the gateway at {url} does not answer; {NOT_SAVED}"))?;
            Ok(format!(
                " (gateway {url} answers; no complete key to check yet)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse::tests::run;
    use crate::cli::profile::{load, tests::TempHome};

    fn env(home: &TempHome, profile: Option<&str>) -> Env {
        Env {
            home: Some(home.0.clone()),
            profile: profile.map(str::to_owned),
            ..Env::default()
        }
    }

    fn resolved(line: &[&str]) -> Invocation {
        let mut inv = run(line);
        // Literal secrets only: nothing to read.
        crate::cli::secret::resolve(&mut inv, &mut crate::cli::secret::Console).unwrap();
        inv
    }

    #[tokio::test]
    async fn saves_and_merges() {
        let home = TempHome::new();
        let first = resolved(&[
            "configure",
            "--no-verify",
            "--access-id",
            "p-1",
            "--access-key=k3y",
            "--gateway-url",
            "https:\\\\gw:8000",
        ]);
        let message = configure(&first, &env(&home, None)).await.unwrap();
        assert!(message.contains("'default'"), "{message}");
        assert!(!message.contains("k3y"), "{message}");
        let second = resolved(&["configure", "--no-verify", "--gateway-url", "gw2:8000"]);
        configure(&second, &env(&home, None)).await.unwrap();
        assert_eq!(
            load(&home.0, "default").unwrap(),
            Some(Profile {
                gateway_url: Some("http://gw2:8000".into()),
                access_id: Some("p-1".into()),
                access_key: Some("k3y".into()),
            })
        );
    }

    #[tokio::test]
    async fn profile_from_flag_or_env() {
        let home = TempHome::new();
        let with_env = env(&home, Some("env"));
        configure(
            &resolved(&["configure", "--no-verify", "--access-id=a", "--profile=ops"]),
            &with_env,
        )
        .await
        .unwrap();
        configure(
            &resolved(&["configure", "--no-verify", "--access-id=b"]),
            &with_env,
        )
        .await
        .unwrap();
        assert!(load(&home.0, "ops").unwrap().is_some());
        assert!(load(&home.0, "env").unwrap().is_some());
        assert!(load(&home.0, "default").unwrap().is_none());
    }

    #[tokio::test]
    async fn refuses_empty_or_foreign_configuration() {
        let home = TempHome::new();
        let err = configure(&resolved(&["configure"]), &env(&home, None))
            .await
            .unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        let err = configure(
            &resolved(&["configure", "--access-id=a", "--access-type=aws_iam"]),
            &env(&home, None),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("not supported"));
    }

    #[tokio::test]
    async fn an_unreachable_gateway_saves_nothing() {
        let home = TempHome::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let err = configure(
            &resolved(&[
                "configure",
                "--access-id=p-1",
                "--access-key=k",
                "--gateway-url",
                &url,
            ]),
            &env(&home, None),
        )
        .await
        .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("--no-verify"), "{message}");
        assert_eq!(
            crate::cli::error::classify(&err),
            crate::cli::error::Class::Unavailable
        );
        assert!(load(&home.0, "default").unwrap().is_none());
    }
}
