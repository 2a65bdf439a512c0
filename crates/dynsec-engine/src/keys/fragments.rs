//! The customer fragments of split protection keys, as configured in this
//! gateway (never stored: without one, what its key protects stays closed).

use crate::Engine;
use dynsec_crypto::KeyFragment;
use std::collections::BTreeMap;
use std::fmt;

/// The customer fragments this gateway is configured with, by id. Debug
/// shows the ids only.
#[derive(Clone, Default)]
pub struct CustomerFragments(BTreeMap<String, KeyFragment>);

impl CustomerFragments {
    pub fn insert(&mut self, id: String, fragment: KeyFragment) {
        self.0.insert(id, fragment);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, id: &str) -> Option<&KeyFragment> {
        self.0.get(id)
    }
}

impl fmt::Debug for CustomerFragments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CustomerFragments")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Engine {
    /// The customer fragments from the gateway's configuration.
    pub fn set_customer_fragments(&self, fragments: CustomerFragments) {
        *self
            .keys()
            .fragments
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fragments;
    }

    pub(super) fn customer_fragment(&self, id: &str) -> Option<KeyFragment> {
        self.keys()
            .fragments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}
