//! `dynsec configure`: save the gateway URL and credentials to a profile, merging with what
//! the profile already holds. Nothing is sent to the gateway.

use std::path::Path;

use anyhow::{Context, Result};

use super::error::UsageError;
use super::parse::Invocation;
use super::profile::{self, DEFAULT_PROFILE};
use super::url::normalize;

/// Saves the profile named by `--profile` (else `profile_env`, else "default") under `home`
/// and returns the confirmation to print. Never echoes the access key.
pub fn configure(
    invocation: &Invocation,
    home: &Path,
    profile_env: Option<&str>,
) -> Result<String> {
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
    let file = profile::save(home, name, &saved)?;
    Ok(format!("Profile '{name}' saved to {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse::{parse, Command};
    use crate::cli::profile::{load, tests::TempHome, Profile};

    fn invocation(line: &[&str]) -> Invocation {
        let args: Vec<String> = line.iter().map(|arg| (*arg).to_owned()).collect();
        match parse(&args) {
            Ok(Command::Run(invocation)) => invocation,
            other => panic!("expected an invocation, got {other:?}"),
        }
    }

    #[test]
    fn saves_and_merges() {
        let home = TempHome::new();
        let first = invocation(&[
            "configure",
            "--access-id",
            "p-1",
            "--access-key=k3y",
            "--gateway-url",
            "https:\\\\gw:8000",
        ]);
        let message = configure(&first, &home.0, None).unwrap();
        assert!(message.contains("'default'"), "{message}");
        assert!(!message.contains("k3y"), "{message}");
        let second = invocation(&["configure", "--gateway-url", "gw2:8000"]);
        configure(&second, &home.0, None).unwrap();
        assert_eq!(
            load(&home.0, "default").unwrap(),
            Some(Profile {
                gateway_url: Some("http://gw2:8000".into()),
                access_id: Some("p-1".into()),
                access_key: Some("k3y".into()),
            })
        );
    }

    #[test]
    fn profile_from_flag_or_env() {
        let home = TempHome::new();
        configure(
            &invocation(&["configure", "--access-id=a", "--profile=ops"]),
            &home.0,
            Some("env"),
        )
        .unwrap();
        configure(
            &invocation(&["configure", "--access-id=b"]),
            &home.0,
            Some("env"),
        )
        .unwrap();
        assert!(load(&home.0, "ops").unwrap().is_some());
        assert!(load(&home.0, "env").unwrap().is_some());
        assert!(load(&home.0, "default").unwrap().is_none());
    }

    #[test]
    fn refuses_empty_or_foreign_configuration() {
        let home = TempHome::new();
        let err = configure(&invocation(&["configure"]), &home.0, None).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        let err = configure(
            &invocation(&["configure", "--access-id=a", "--access-type=aws_iam"]),
            &home.0,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not supported"));
    }
}
