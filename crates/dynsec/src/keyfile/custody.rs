//! Who keeps the master keyring: a key file the gateway owns (and rewrites
//! at a rotation), or the operator (who rotates it by restarting).

use dynsec_crypto::Keyring;
use dynsec_engine::MasterKeyCustody;
use std::path::PathBuf;

/// A key file the gateway owns and may rewrite (rotation).
pub(super) struct KeyFile {
    pub(super) path: PathBuf,
}

impl MasterKeyCustody for KeyFile {
    fn rotation_refusal(&self) -> Option<String> {
        None
    }

    fn persist(&self, ring: &Keyring) -> std::result::Result<(), String> {
        // The error names the file and the step that failed.
        dynsec_files::replace(&self.path, ring.to_text().as_bytes()).map_err(|e| e.to_string())
    }
}

/// A key the operator supplies (environment or their own file): the gateway
/// cannot store a new one, so the operator rotates it.
pub(super) struct OperatorKey(pub(super) String);

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
