//! Where the gateway URL and credentials come from. For each value: the explicit flag, then
//! the environment (`DYNSEC_GATEWAY_URL`, `DYNSEC_ACCESS_ID`, `DYNSEC_ACCESS_KEY`), then the
//! profile (`--profile`, `DYNSEC_PROFILE`, or "default") under `DYNSEC_HOME` (`~/.dynsec`).

use std::fmt;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::profile::{self, Profile, DEFAULT_PROFILE};
use super::url::{normalize, DEFAULT_GATEWAY_URL};

/// A snapshot of the environment variables the CLI reads, taken once in `run` so that the
/// rest of the code (and the tests) never touch the process environment.
#[derive(Default)]
pub struct Env {
    pub gateway_url: Option<String>,
    pub access_id: Option<String>,
    pub access_key: Option<String>,
    pub profile: Option<String>,
    pub ca_file: Option<String>,
    /// `DYNSEC_HOME`, else `~/.dynsec`; `None` when neither is known.
    pub home: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Env {
            gateway_url: var("DYNSEC_GATEWAY_URL"),
            access_id: var("DYNSEC_ACCESS_ID"),
            access_key: var("DYNSEC_ACCESS_KEY"),
            profile: var("DYNSEC_PROFILE"),
            ca_file: var("DYNSEC_CA_FILE"),
            home: var("DYNSEC_HOME")
                .map(PathBuf::from)
                .or_else(|| dirs::home_dir().map(|home| home.join(".dynsec"))),
        }
    }

    /// The home directory, or an error saying how to set it.
    pub fn home(&self) -> Result<&PathBuf> {
        self.home
            .as_ref()
            .ok_or_else(|| anyhow!("cannot find your home directory; set DYNSEC_HOME"))
    }

    /// The profile name: the flag, else `DYNSEC_PROFILE`, else "default"; and whether it was
    /// chosen explicitly.
    pub fn profile_name<'a>(&'a self, flag: Option<&'a str>) -> (&'a str, bool) {
        match flag.or(self.profile.as_deref()) {
            Some(name) => (name, true),
            None => (DEFAULT_PROFILE, false),
        }
    }
}

/// Values given on the command line (highest priority).
#[derive(Default, Clone, Copy)]
pub struct Explicit<'a> {
    pub gateway_url: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub ca_file: Option<&'a str>,
    pub access_id: Option<&'a str>,
    pub access_key: Option<&'a str>,
}

/// An access id and key; `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_id: String,
    pub access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_id", &self.access_id)
            .field("access_key", &"<redacted>")
            .finish()
    }
}

/// The resolved connection settings.
pub struct Settings {
    pub gateway_url: String,
    pub ca_file: Option<PathBuf>,
    access_id: Option<String>,
    access_key: Option<String>,
    profile: String,
}

impl Settings {
    /// The profile the settings were read from (or would be).
    pub fn profile_name(&self) -> &str {
        &self.profile
    }

    /// The credentials, or an error telling the user how to provide them.
    pub fn credentials(&self) -> Result<Credentials> {
        match (&self.access_id, &self.access_key) {
            (Some(access_id), Some(access_key)) => Ok(Credentials {
                access_id: access_id.clone(),
                access_key: access_key.clone(),
            }),
            (id, _) => {
                let missing = if id.is_none() {
                    "access id"
                } else {
                    "access key"
                };
                let profile_flag = if self.profile == DEFAULT_PROFILE {
                    String::new()
                } else {
                    format!(" --profile {}", self.profile)
                };
                bail!(
                    "no {missing} configured. Run 'dynsec configure{profile_flag} --access-id <id> \
                     --access-key <key> --gateway-url <url>' or set DYNSEC_ACCESS_ID and \
                     DYNSEC_ACCESS_KEY"
                )
            }
        }
    }
}

/// Resolves the settings from the command line, the environment and the profile.
pub fn resolve(explicit: Explicit<'_>, env: &Env) -> Result<Settings> {
    let (name, named) = env.profile_name(explicit.profile);
    let saved = match (&env.home, named) {
        (Some(home), _) => profile::load(home, name)?,
        (None, true) => {
            bail!("cannot find your home directory to read profile '{name}'; set DYNSEC_HOME")
        }
        (None, false) => None,
    };
    if named && saved.is_none() {
        let file = profile::path(env.home()?, name)?;
        bail!(
            "profile '{name}' not found ({}). Run 'dynsec configure --profile {name} ...'",
            file.display()
        );
    }
    let saved = saved.unwrap_or_default();
    let Profile {
        gateway_url: saved_url,
        access_id: saved_id,
        access_key: saved_key,
    } = saved;

    let pick = |flag: Option<&str>, env: &Option<String>, saved: Option<String>| {
        flag.map(str::to_owned).or_else(|| env.clone()).or(saved)
    };
    let (url, source) = if let Some(url) = explicit.gateway_url {
        (url.to_owned(), "--gateway-url")
    } else if let Some(url) = &env.gateway_url {
        (url.clone(), "DYNSEC_GATEWAY_URL")
    } else if let Some(url) = saved_url {
        (url, "the profile")
    } else {
        (DEFAULT_GATEWAY_URL.to_owned(), "the default")
    };
    let gateway_url = normalize(&url).with_context(|| format!("bad gateway URL from {source}"))?;
    Ok(Settings {
        gateway_url,
        ca_file: explicit
            .ca_file
            .map(str::to_owned)
            .or_else(|| env.ca_file.clone())
            .map(PathBuf::from),
        access_id: pick(explicit.access_id, &env.access_id, saved_id),
        access_key: pick(explicit.access_key, &env.access_key, saved_key),
        profile: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::profile::{save, tests::TempHome};

    fn env_with_home(home: &TempHome) -> Env {
        Env {
            home: Some(home.0.clone()),
            ..Env::default()
        }
    }

    fn saved(url: &str, id: &str, key: &str) -> Profile {
        Profile {
            gateway_url: Some(url.into()),
            access_id: Some(id.into()),
            access_key: Some(key.into()),
        }
    }

    #[test]
    fn defaults_without_anything() {
        let home = TempHome::new();
        let settings = resolve(Explicit::default(), &env_with_home(&home)).unwrap();
        assert_eq!(settings.gateway_url, "http://127.0.0.1:8000");
        let err = settings.credentials().unwrap_err().to_string();
        assert!(err.contains("dynsec configure"), "{err}");
        assert!(err.contains("DYNSEC_ACCESS_ID"), "{err}");
    }

    #[test]
    fn flag_beats_env_beats_profile() {
        let home = TempHome::new();
        save(
            &home.0,
            "default",
            &saved("https://profile:1", "p-id", "p-key"),
        )
        .unwrap();
        let mut env = env_with_home(&home);

        let settings = resolve(Explicit::default(), &env).unwrap();
        assert_eq!(settings.gateway_url, "https://profile:1");
        assert_eq!(
            settings.credentials().unwrap(),
            Credentials {
                access_id: "p-id".into(),
                access_key: "p-key".into()
            }
        );

        env.gateway_url = Some("env:2".into());
        env.access_key = Some("e-key".into());
        let settings = resolve(Explicit::default(), &env).unwrap();
        assert_eq!(settings.gateway_url, "http://env:2");
        let creds = settings.credentials().unwrap();
        assert_eq!(
            (creds.access_id.as_str(), creds.access_key.as_str()),
            ("p-id", "e-key")
        );

        let explicit = Explicit {
            gateway_url: Some("https:\\\\flag:3"),
            access_id: Some("f-id"),
            ..Explicit::default()
        };
        let settings = resolve(explicit, &env).unwrap();
        assert_eq!(settings.gateway_url, "https://flag:3");
        let creds = settings.credentials().unwrap();
        assert_eq!(
            (creds.access_id.as_str(), creds.access_key.as_str()),
            ("f-id", "e-key")
        );
    }

    #[test]
    fn named_profile_from_flag_or_env() {
        let home = TempHome::new();
        save(&home.0, "ops", &saved("http://ops:1", "o-id", "o-key")).unwrap();
        let mut env = env_with_home(&home);
        let explicit = Explicit {
            profile: Some("ops"),
            ..Explicit::default()
        };
        assert_eq!(resolve(explicit, &env).unwrap().gateway_url, "http://ops:1");

        env.profile = Some("ops".into());
        assert_eq!(
            resolve(Explicit::default(), &env).unwrap().gateway_url,
            "http://ops:1"
        );

        env.profile = Some("missing".into());
        let err = resolve(Explicit::default(), &env)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("profile 'missing' not found"), "{err}");
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let creds = Credentials {
            access_id: "id".into(),
            access_key: "k3y-value".into(),
        };
        assert!(!format!("{creds:?}").contains("k3y-value"));
    }
}
