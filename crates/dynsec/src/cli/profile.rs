//! Saved profiles: `<home>/profiles/<name>.json`, readable only by the owner (file 0600,
//! directories 0700). The home directory is a parameter so tests use a temporary one.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// What a profile holds; every field is optional so a profile may be filled in stages.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("gateway_url", &self.gateway_url)
            .field("access_id", &self.access_id)
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Refuses names that could escape the profiles directory or hide the file.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!("invalid profile name '{name}': use letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

/// The file a profile lives in.
pub fn path(home: &Path, name: &str) -> Result<PathBuf> {
    validate_name(name)?;
    Ok(home.join("profiles").join(format!("{name}.json")))
}

/// Reads a profile; `Ok(None)` when it does not exist.
pub fn load(home: &Path, name: &str) -> Result<Option<Profile>> {
    let file = path(home, name)?;
    let text = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", file.display())),
    };
    warn_if_readable_by_others(&file);
    let profile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid profile", file.display()))?;
    Ok(Some(profile))
}

/// Writes a profile atomically with mode 0600, creating the directories with mode 0700.
pub fn save(home: &Path, name: &str, profile: &Profile) -> Result<PathBuf> {
    let file = path(home, name)?;
    let dir = home.join("profiles");
    for private_dir in [home, dir.as_path()] {
        dynsec_files::create_dir(private_dir)?;
    }
    let text = serde_json::to_string_pretty(profile).context("cannot encode the profile")?;
    dynsec_files::replace(&file, format!("{text}\n").as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file)
}

fn warn_if_readable_by_others(file: &Path) {
    if dynsec_files::readable_by_others(file) {
        super::output::note(&format!(
            "warning: {} is accessible by other users; run: chmod 600 {}",
            file.display(),
            file.display()
        ));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) struct TempHome(pub PathBuf);

    impl TempHome {
        pub(crate) fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("dynsec-cli-test-{}-{n}", std::process::id()))
                .join(".dynsec");
            TempHome(dir)
        }
    }

    impl Drop for TempHome {
        fn drop(&mut self) {
            if let Some(parent) = self.0.parent() {
                let _ = fs::remove_dir_all(parent);
            }
        }
    }

    fn sample() -> Profile {
        Profile {
            gateway_url: Some("https://gw:8000".into()),
            access_id: Some("p-123".into()),
            access_key: Some("s3cr3t".into()),
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let home = TempHome::new();
        assert_eq!(load(&home.0, "default").unwrap(), None);
        let file = save(&home.0, "default", &sample()).unwrap();
        assert_eq!(file, home.0.join("profiles/default.json"));
        assert_eq!(load(&home.0, "default").unwrap(), Some(sample()));
        let updated = Profile {
            access_key: Some("rotated".into()),
            ..sample()
        };
        save(&home.0, "default", &updated).unwrap();
        assert_eq!(load(&home.0, "default").unwrap(), Some(updated));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = TempHome::new();
        let file = save(&home.0, "ops", &sample()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&home.0.join("profiles")), 0o700);
        assert_eq!(mode(&home.0), 0o700);
        // Re-saving over a loosened file makes it private again.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let file = save(&home.0, "ops", &sample()).unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn rejects_path_like_names() {
        for name in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(path(Path::new("/h"), name).is_err(), "{name}");
        }
    }

    #[test]
    fn debug_redacts_the_key() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("p-123"));
    }
}
