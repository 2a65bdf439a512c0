//! The gateway's key material outside the database: the master keyring (its
//! file, or the operator's), customer fragments of split protection keys, and
//! `dynsec gateway create-customer-fragment`.
//!
//! The key file holds one base64 key, or during a rotation several, one per
//! line, current first (see [`Keyring::to_text`]). It is only ever replaced
//! atomically (temp file, fsync, rename, fsync of the directory), so a crash
//! leaves either the old or the new contents — and the new contents list every
//! key still needed until every record is re-wrapped.

use anyhow::{bail, Context, Result};
use dynsec_core::SecretString;
use dynsec_crypto::{KeyFragment, Keyring, MasterKey};
use dynsec_engine::{CustomerFragments, MasterKeyCustody};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tracing::{info, warn};
use zeroize::Zeroizing;

/// File name of the generated master key inside the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The master keyring: `DYNSEC_MASTER_KEY`, else the given file, else
/// `<data-dir>/master.key` — generated with mode 0600 on first start only. A
/// database without its key is refused rather than given a new, useless key.
/// Each source may hold several keys (current first): a rotation in progress.
pub fn load_keyring(
    data_dir: &Path,
    key_file: Option<&Path>,
    database_exists: bool,
) -> Result<(Keyring, Arc<dyn MasterKeyCustody>)> {
    if let Some(text) = operator_key(std::env::var("DYNSEC_MASTER_KEY").ok()) {
        let ring = Keyring::from_text(&text).context("DYNSEC_MASTER_KEY is invalid")?;
        return Ok((ring, Arc::new(OperatorKey("DYNSEC_MASTER_KEY".into()))));
    }
    if let Some(path) = key_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the master key file {}", path.display()))?,
        );
        let ring =
            Keyring::from_text(&text).with_context(|| format!("{} is invalid", path.display()))?;
        let source = format!("the file given by --master-key-file ({})", path.display());
        return Ok((ring, Arc::new(OperatorKey(source))));
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    let custody = Arc::new(KeyFile { path: path.clone() });
    if path.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        );
        let ring =
            Keyring::from_text(&text).with_context(|| format!("{} is invalid", path.display()))?;
        return Ok((ring, custody));
    }
    if database_exists {
        bail!(
            "{} is missing but the database exists: restore the key file (secrets cannot be read without it), \
             or — for a database other gateways share — give this gateway their master key \
             (DYNSEC_MASTER_KEY, --master-key-file, or a copy of their master.key)",
            path.display()
        );
    }
    let ring = Keyring::new(MasterKey::generate());
    write_new_private_file(&path, ring.to_text().as_bytes())?;
    info!(path = %path.display(), "generated a new master key");
    Ok((ring, custody))
}

/// The value of `DYNSEC_MASTER_KEY`, where an empty (or blank) one counts as
/// unset, as for `DYNSEC_ADMIN_ACCESS_ID`: `DYNSEC_MASTER_KEY=` in an env file
/// must not stop the key file from being used.
fn operator_key(value: Option<String>) -> Option<Zeroizing<String>> {
    let value = Zeroizing::new(value?);
    (!value.trim().is_empty()).then_some(value)
}

/// A key file the gateway owns and may rewrite (rotation).
struct KeyFile {
    path: PathBuf,
}

impl MasterKeyCustody for KeyFile {
    fn rotation_refusal(&self) -> Option<String> {
        None
    }

    fn persist(&self, ring: &Keyring) -> std::result::Result<(), String> {
        replace_private_file(&self.path, ring.to_text().as_bytes())
            .map_err(|e| format!("{}: {e:#}", self.path.display()))
    }
}

/// A key the operator supplies (environment or their own file): the gateway
/// cannot store a new one, so the operator rotates it.
struct OperatorKey(String);

impl MasterKeyCustody for OperatorKey {
    fn rotation_refusal(&self) -> Option<String> {
        Some(format!(
            "the master key is supplied by the operator through {}, which this gateway cannot rewrite. \
             To rotate it, generate a new key (32 random bytes in base64, e.g. `openssl rand -base64 32`), \
             supply '<new key> <old key>' there (new key first) and restart the gateway: at start it \
             re-wraps every record under the new key. Then supply the new key alone.",
            self.0
        ))
    }

    fn persist(&self, _ring: &Keyring) -> std::result::Result<(), String> {
        Err(format!(
            "the master key in {} is managed by the operator",
            self.0
        ))
    }
}

/// Creates `path` with mode 0600; fails if it exists.
fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = private_options()
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Replaces `path` atomically with a 0600 file holding `contents`.
fn replace_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    // A leftover from a crash mid-write holds nothing the real file lacks.
    let _ = std::fs::remove_file(&tmp);
    write_new_private_file(&tmp, contents)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    // The rename itself must survive a power loss before records change.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    Ok(())
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// The customer fragments file, as Akeyless's gateway reads it.
#[derive(Deserialize)]
struct FragmentsFile {
    customer_fragments: Vec<FragmentEntry>,
}

#[derive(Deserialize)]
struct FragmentEntry {
    id: String,
    value: SecretString,
}

/// Loads `--customer-fragments`: a JSON file's path, or the JSON itself
/// (for an environment variable filled from a secret store).
pub fn load_customer_fragments(setting: Option<&str>) -> Result<CustomerFragments> {
    let mut fragments = CustomerFragments::default();
    let Some(setting) = setting.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(fragments);
    };
    let (text, source) = if setting.starts_with('{') {
        (
            Zeroizing::new(setting.to_string()),
            "--customer-fragments".to_string(),
        )
    } else {
        let path = Path::new(setting);
        warn_if_readable_by_others(path);
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read the customer fragments file {}", path.display())
        })?;
        (Zeroizing::new(text), path.display().to_string())
    };
    // The parser's message could quote the file; say only where it failed.
    let file: FragmentsFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{source} is not a customer fragments document ({{\"customer_fragments\":[{{\"id\":...,\"value\":...}}]}}): error at line {} column {}",
            e.line(),
            e.column()
        )
    })?;
    let mut seen = BTreeSet::new();
    for entry in file.customer_fragments {
        let id = entry.id.trim().to_string();
        if id.is_empty() {
            bail!("{source}: a customer fragment has an empty id");
        }
        if !seen.insert(id.clone()) {
            bail!("{source}: customer fragment '{id}' appears twice");
        }
        let fragment = KeyFragment::from_text(entry.value.expose())
            .with_context(|| format!("{source}: customer fragment '{id}' is invalid"))?;
        fragments.insert(id, fragment);
    }
    info!(count = fragments.len(), "loaded customer fragments");
    Ok(fragments)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                warn!(path = %path.display(), "the customer fragments file is readable by other users; chmod 600 it");
            }
        }
    }
}

/// `dynsec gateway create-customer-fragment [--description TEXT]`: prints a
/// new customer fragment as a customer fragments document. The fragment exists
/// nowhere else: keep it (e.g. in the file given to `--customer-fragments`,
/// mode 0600) — keys split with it are lost without it.
pub fn create_customer_fragment_main(args: &[String]) -> ExitCode {
    let mut description = String::new();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--description" => match rest.next() {
                Some(value) => description = value.clone(),
                None => return usage("--description needs a value"),
            },
            "-h" | "--help" => {
                println!(
                    "Usage: dynsec gateway create-customer-fragment [--description TEXT]\n\n\
                     Prints a new customer fragment for split protection keys as JSON. Merge it into\n\
                     the file given to `dynsec gateway --customer-fragments` (keep that file 0600 and\n\
                     backed up: keys split with a lost fragment cannot be recovered)."
                );
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unexpected argument '{other}'")),
        }
    }
    let id = format!("cf-{}", dynsec_crypto::random_id(16));
    let fragment = KeyFragment::generate();
    // Built by hand into a zeroized buffer: a JSON value would keep a copy.
    let value = fragment.to_text();
    let id_json = serde_json::Value::from(id).to_string();
    let description_json = serde_json::Value::from(description).to_string();
    let parts = [
        "{\n  \"customer_fragments\": [\n    {\n      \"id\": ",
        &id_json,
        ",\n      \"value\": \"",
        &value,
        "\",\n      \"description\": ",
        &description_json,
        "\n    }\n  ]\n}",
    ];
    // Sized exactly, so no reallocation leaves a copy of the fragment behind.
    let mut text = Zeroizing::new(String::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for part in parts {
        text.push_str(part);
    }
    println!("{}", text.as_str());
    ExitCode::SUCCESS
}

fn usage(message: &str) -> ExitCode {
    eprintln!(
        "Error: {message}\nUsage: dynsec gateway create-customer-fragment [--description TEXT]"
    );
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dynsec-keyfile-{name}-{}-{}",
            std::process::id(),
            dynsec_crypto::random_id(6)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn key_file_is_replaced_atomically_and_privately() {
        let dir = temp_dir("rotate");
        let (ring, custody) = load_keyring(&dir, None, false).unwrap();
        assert!(custody.rotation_refusal().is_none());
        let path = dir.join(MASTER_KEY_FILE);
        let rotated = ring.rotated_to(MasterKey::generate());
        custody.persist(&rotated).unwrap();
        let (reread, _) = load_keyring(&dir, None, true).unwrap();
        assert_eq!(reread.ids(), rotated.ids());
        custody.persist(&rotated.without_previous()).unwrap();
        let (reread, _) = load_keyring(&dir, None, true).unwrap();
        assert_eq!(reread.ids(), vec![rotated.current().id()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.join("master.key.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_master_key_variable_counts_as_unset() {
        assert!(operator_key(None).is_none());
        assert!(operator_key(Some(String::new())).is_none());
        assert!(operator_key(Some(" \n".into())).is_none());
        let key = MasterKey::generate();
        let text = key.to_text().as_str().to_string();
        assert_eq!(operator_key(Some(text.clone())).unwrap().as_str(), text);
    }

    #[test]
    fn operator_keys_are_not_rotated_by_the_gateway() {
        let dir = temp_dir("operator");
        let file = dir.join("my.key");
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        std::fs::write(
            &file,
            format!("{}\n{}\n", new.to_text().as_str(), old.to_text().as_str()),
        )
        .unwrap();
        let (ring, custody) = load_keyring(&dir, Some(&file), true).unwrap();
        assert_eq!(ring.ids(), vec![new.id(), old.id()]);
        let refusal = custody.rotation_refusal().unwrap();
        assert!(refusal.contains("--master-key-file"), "{refusal}");
        assert!(custody.persist(&ring).is_err());
        assert!(
            load_keyring(&dir, None, true).is_err(),
            "no key file, database exists"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn customer_fragments_parse_and_never_echo_values() {
        let fragment = KeyFragment::generate();
        let json = format!(
            r#"{{"customer_fragments":[{{"id":"cf-a","value":"{}","description":"x"}}]}}"#,
            fragment.to_text().as_str()
        );
        let loaded = load_customer_fragments(Some(&json)).unwrap();
        assert_eq!(loaded.len(), 1);
        assert!(!format!("{loaded:?}").contains(fragment.to_text().as_str()));

        let bad = r#"{"customer_fragments":[{"id":"cf-a","value":"c2VjcmV0LXZhbHVl"}]}"#;
        let err = format!("{:#}", load_customer_fragments(Some(bad)).unwrap_err());
        assert!(err.contains("cf-a") && !err.contains("c2VjcmV0"), "{err}");
        let broken = r#"{"customer_fragments":[{"id":"cf-a","value":"c2VjcmV0LXZhbHVl"#;
        let err = format!("{:#}", load_customer_fragments(Some(broken)).unwrap_err());
        assert!(!err.contains("c2VjcmV0"), "{err}");
        let twice = format!(
            r#"{{"customer_fragments":[{{"id":"cf-a","value":"{v}"}},{{"id":"cf-a","value":"{v}"}}]}}"#,
            v = fragment.to_text().as_str()
        );
        assert!(load_customer_fragments(Some(&twice)).is_err());
        assert!(load_customer_fragments(None).unwrap().is_empty());
    }
}
