//! Items in virtual folders: `list-items`, `describe-item`, `delete-item`.
//!
//! Items are dynamic secrets and protection keys; folders are implied by
//! their paths (the store keeps a folder's items and sub-folders as index
//! ranges, see `dynsec_store::ListingStore::items_in_folder`). A folder
//! listing is paged like every listing ([`crate::paging`]): each answer is
//! one store page of this folder (filled further when the caller may not
//! list some entries), whatever exists in other folders, and the secrets'
//! targets come joined into the page (no lookup per secret).

use crate::authz::{authorize, Requested, UseCase};
use crate::paging::{fill, parse_token, Paged};
use crate::{Caller, Engine, EngineError, ProducerView};
use dynsec_core::access::{pattern_covers, patterns_overlap, Capability, RuleType};
use dynsec_core::path::normalize_folder;
use dynsec_core::ItemPath;
use dynsec_store::paging::listing::ItemsInFolder;
use dynsec_store::{FolderEntry, ItemKinds};

/// One item as listed or described.
pub type ItemView = ProducerView;

/// A `list-items` request, as the faces parse it.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    /// The folder (`/` when blank; normalized).
    pub path: String,
    /// Item types (`dynamic-secret`, `key`/`dfc-key`, `all`); empty: dynamic secrets.
    pub types: Vec<String>,
    /// Keeps items whose name contains it (ASCII case ignored).
    pub filter: String,
    /// Akeyless's `current-folder`: only the items directly in the folder,
    /// no sub-folders.
    pub current_folder: bool,
    /// `pagination-token` of the previous answer.
    pub page_token: Option<String>,
    /// Entries per answer (default: the gateway's page size).
    pub page_size: Option<u32>,
}

/// What `list-items` returns for one page of a folder.
#[derive(Debug, Clone)]
pub struct ItemListing {
    /// Dynamic secrets directly in the folder.
    pub items: Vec<ItemView>,
    /// Protection keys directly in the folder (only when `type` asks for keys).
    pub keys: Vec<crate::ProtectionKeyView>,
    /// Full paths of the folder's immediate sub-folders on this page.
    pub folders: Vec<String>,
    /// Where the listing continues (`None`: this was the last page).
    pub next_page: Option<String>,
}

/// One visible entry of a folder page (an item boxed: it is much larger
/// than the other entries).
enum Shown {
    Folder(String),
    Item(Box<ItemView>),
    Key(crate::ProtectionKeyView),
}

/// Which kinds of item `types` asks for (Akeyless's `type` values).
fn item_kinds(types: &[String]) -> ItemKinds {
    let wanted = |names: &[&str]| {
        types.iter().any(|t| {
            let t = t.to_ascii_lowercase().replace('_', "-");
            t == "all" || names.contains(&t.as_str())
        })
    };
    ItemKinds {
        dynamic_secrets: types.is_empty() || wanted(&["dynamic-secret"]),
        protection_keys: wanted(&["dfc-key", "key", "dfc"]),
    }
}

/// Whether `caller` sees sub-folder `folder`: some rule lets it list an item
/// that could be below it and no deny covers all of it. Decided from the
/// rules alone, so a page costs the same whatever the folder holds; a folder
/// the rules reach into is shown even while it holds nothing the caller may
/// list yet (its path is then what the caller's own rules name).
fn folder_visible(caller: &Caller, folder: &str) -> bool {
    if caller.is_admin {
        return true;
    }
    let below = format!("{folder}/*");
    let items = || {
        caller
            .rules
            .iter()
            .filter(|r| r.rule_type == RuleType::Item)
    };
    let denied_whole = items()
        .any(|r| r.capabilities.contains(&Capability::Deny) && pattern_covers(&r.path, &below));
    !denied_whole
        && items().any(|r| {
            r.capabilities.contains(&Capability::List) && patterns_overlap(&r.path, &below)
        })
}

impl Engine {
    /// One page of the folder `query.path`, like a directory: its immediate
    /// sub-folders (unless `current_folder`) and the items of the asked
    /// types directly in it, as far as `caller` may list them.
    pub async fn list_items(
        &self,
        caller: &Caller,
        query: &ItemQuery,
    ) -> Result<ItemListing, EngineError> {
        authorize(caller, UseCase::ListItems, &Requested::nothing())?;
        let folder = normalize_folder(&query.path);
        let kinds = item_kinds(&query.types);
        let start = parse_token::<ItemsInFolder>(query.page_token.as_deref())?;
        let mut listing = ItemListing {
            items: Vec::new(),
            keys: Vec::new(),
            folders: Vec::new(),
            next_page: None,
        };
        if !kinds.dynamic_secrets && !kinds.protection_keys {
            return Ok(listing);
        }
        let store = self.store();
        let page: Paged<Shown> = fill(
            start,
            self.page_size(query.page_size),
            |after, limit| {
                let folder = &folder;
                Box::pin(async move {
                    store
                        .items_in_folder(folder, kinds, &query.filter, after.as_ref(), limit)
                        .await
                })
            },
            |entry| match entry {
                FolderEntry::Folder(path) => (!query.current_folder
                    && folder_visible(caller, &path))
                .then_some(Shown::Folder(path)),
                FolderEntry::DynamicSecret(secret) => caller
                    .can(RuleType::Item, &secret.producer.name, Capability::List)
                    .then(|| Shown::Item(Box::new(crate::producers::listed_view(*secret)))),
                FolderEntry::ProtectionKey(key) => caller
                    .can(RuleType::Item, &key.name, Capability::List)
                    .then(|| Shown::Key(key.into())),
            },
        )
        .await?;
        for shown in page.items {
            match shown {
                Shown::Folder(path) => listing.folders.push(path),
                Shown::Item(item) => listing.items.push(*item),
                Shown::Key(key) => listing.keys.push(key),
            }
        }
        listing.next_page = page.next_page;
        Ok(listing)
    }

    pub async fn describe_item(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<ItemView, EngineError> {
        authorize(caller, UseCase::DescribeItem, &Requested::name(name))?;
        let record = self.producer_record(name).await?;
        self.producer_view(record).await
    }

    /// Deletes the dynamic secret `name`, or else the protection key `name`.
    pub async fn delete_item(&self, caller: &Caller, name: &ItemPath) -> Result<i64, EngineError> {
        authorize(caller, UseCase::DeleteItem, &Requested::name(name))?;
        let secret = match self.producer_record(name).await {
            Ok(record) => self.remove_producer(record).await,
            Err(err) => Err(err),
        };
        match secret {
            Err(EngineError::NotFound(not_found)) => match self.delete_protection_key(name).await {
                Err(EngineError::NotFound(_)) => Err(EngineError::NotFound(not_found)),
                other => other,
            },
            other => other,
        }
    }
}
