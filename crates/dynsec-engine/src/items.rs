//! Items in virtual folders: `list-items`, `describe-item`, `delete-item`.
//!
//! Items are dynamic secrets; folders are implied by their paths.

use crate::{Engine, EngineError, ProducerView};
use dynsec_core::path::{normalize_folder, placement, Placement};
use dynsec_core::ItemPath;
use std::collections::BTreeSet;

/// One item as listed or described.
pub type ItemView = ProducerView;

/// What `list-items` returns for one folder.
#[derive(Debug, Clone)]
pub struct ItemListing {
    /// Items directly in the folder.
    pub items: Vec<ItemView>,
    /// Protection keys directly in the folder (only when `type` asks for keys).
    pub keys: Vec<crate::ProtectionKeyView>,
    /// Full paths of the folder's immediate sub-folders.
    pub folders: Vec<String>,
}

impl Engine {
    /// Lists the folder `path` like a directory: its items and sub-folders.
    /// `types` filters by item type (only dynamic secrets exist); `filter`
    /// keeps items whose name contains it; `visible` hides what the caller may
    /// not list (and folders holding nothing else).
    pub async fn list_items(
        &self,
        path: &str,
        types: &[String],
        filter: &str,
        visible: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<ItemListing, EngineError> {
        let folder = normalize_folder(path);
        let wants_dynamic = types.is_empty()
            || types.iter().any(|t| {
                let t = t.to_ascii_lowercase().replace('_', "-");
                t == "dynamic-secret" || t == "all"
            });
        let needle = filter.to_lowercase();
        let mut items = Vec::new();
        let mut folders = BTreeSet::new();
        if wants_dynamic {
            for producer in self.list_producers("").await? {
                if !visible(&producer.name) {
                    continue;
                }
                match placement(&folder, &producer.name) {
                    Placement::Direct if producer.name.to_lowercase().contains(&needle) => {
                        items.push(producer)
                    }
                    Placement::InSubfolder(sub) => {
                        folders.insert(sub);
                    }
                    _ => {}
                }
            }
        }
        let keys = self
            .list_key_items(&folder, types, &needle, visible, &mut folders)
            .await?;
        Ok(ItemListing {
            items,
            keys,
            folders: folders.into_iter().collect(),
        })
    }

    pub async fn describe_item(&self, name: &ItemPath) -> Result<ItemView, EngineError> {
        self.get_producer(name).await
    }

    /// Deletes the dynamic secret `name`, or else the protection key `name`.
    pub async fn delete_item(&self, name: &ItemPath) -> Result<i64, EngineError> {
        match self.delete_producer(name).await {
            Err(EngineError::NotFound(not_found)) => match self.delete_protection_key(name).await {
                Err(EngineError::NotFound(_)) => Err(EngineError::NotFound(not_found)),
                other => other,
            },
            other => other,
        }
    }
}
