//! The key hierarchy: the master keyring (its check value and its rotation),
//! protection keys (create, list, delete, resolve), the customer fragments of
//! split keys, and sealing a record's secret under the key it selects.
//!
//! ```text
//! master keyring ──wraps──► data keys of unprotected records
//!        └──────wraps──► protection keys' store fragments
//!                         store fragments (⊕ customer fragment) = protection key
//!                                   └──wraps──► data keys of the records selecting it
//! ```
//!
//! A rotation re-wraps every master-wrapped data key (records, fragments, the
//! check value) under a new master key; records wrapped by a protection key
//! are untouched because their wrapping key did not change. A split key's
//! customer fragment is never stored: without it in the gateway's
//! configuration, what that key protects cannot be opened by anyone.
//!
//! One job per module: [`custody`] (where the master keyring is kept and
//! what this gateway holds durably), [`fragments`] (the configured customer
//! fragments), [`master_check`] (proving the keyring opens the database at
//! start), [`master_rotation`] (replacing the master key while serving),
//! [`protection`] (protection-key create, read, list, delete) and [`sealing`]
//! (resolving the key a record selects and sealing its secret under it).

mod custody;
mod fragments;
mod master_check;
mod master_rotation;
mod protection;
mod sealing;

pub use custody::MasterKeyCustody;
pub use fragments::CustomerFragments;
pub use master_rotation::RotationReport;
pub use protection::{ProtectionKeyInput, ProtectionKeyView};

use crate::connection::{producer_aad, target_aad};
use crate::Engine;
use dynsec_store::{SealedBlob, SealedKind};
use master_check::CHECK_AAD;
use std::sync::{Arc, RwLock};

/// Length of one key fragment (store or customer), in bytes.
const FRAGMENT_LEN: usize = 32;

fn protection_key_aad(uid: &str) -> String {
    format!("protection-key/{uid}")
}

fn sealed_aad(blob: &SealedBlob) -> String {
    match blob.kind {
        SealedKind::Target => target_aad(&blob.uid),
        SealedKind::ProducerInline => producer_aad(&blob.uid),
        SealedKind::ProtectionKey => protection_key_aad(&blob.uid),
        SealedKind::MasterKeyCheck => CHECK_AAD.to_string(),
    }
}

/// The engine's key state (set by the binary after construction).
#[derive(Default)]
pub(crate) struct KeyState {
    custody: RwLock<Option<Arc<dyn MasterKeyCustody>>>,
    fragments: RwLock<CustomerFragments>,
    /// One rotation at a time.
    pub(crate) rotation: tokio::sync::Mutex<()>,
    /// Fingerprints of the keys the custody holds (current first), once a
    /// keyring has been written to it; until then, the ring as loaded.
    durable: RwLock<Option<Vec<String>>>,
}

impl Engine {
    pub(crate) fn keys(&self) -> &KeyState {
        &self.inner.keys
    }
}

#[cfg(test)]
mod tests;
