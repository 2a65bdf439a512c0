//! Finding and loading the master keyring: `DYNSEC_MASTER_KEY`, else
//! `--master-key-file`, else `<data-dir>/master.key` (generated on first
//! start only).

use super::custody::{KeyFile, OperatorKey};
use anyhow::{bail, Context, Result};
use dynsec_crypto::{Keyring, MasterKey};
use dynsec_engine::MasterKeyCustody;
use std::path::Path;
use std::sync::Arc;
use tracing::info;
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
    dynsec_files::create_new(&path, ring.to_text().as_bytes())?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::path::PathBuf;

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
        assert!(!dynsec_files::staging_path(&path).exists());
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
}
