//! `--customer-fragments`: the customer fragments of split protection keys,
//! as Akeyless's gateway reads them (a JSON file, or the JSON itself).

use anyhow::{bail, Context, Result};
use dynsec_core::SecretString;
use dynsec_crypto::KeyFragment;
use dynsec_engine::CustomerFragments;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use tracing::{info, warn};
use zeroize::Zeroizing;

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
    if dynsec_files::readable_by_others(path) {
        warn!(path = %path.display(), "the customer fragments file is readable by other users; chmod 600 it");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

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
