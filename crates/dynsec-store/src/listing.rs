//! Paged listings of items, targets, dynamic secrets and the connections in
//! use (see [`crate::paging`] for how pages and tokens work). Leases are
//! paged in [`crate::Store`], auth methods and roles in
//! [`crate::AccessStore`].
//!
//! Each listing reads one index range in its order, so a page costs O(page)
//! whatever exists outside it; what each one reads is said on its method.
//! Authorization stays with the engine: it filters a page by what the caller
//! may `list` (and may ask for the next page to fill its answer).

use crate::paging::listing::{Connections, DynamicSecrets, ItemsInFolder, Targets};
use crate::paging::{Page, PageToken};
use crate::{ConnectionColumns, ProducerRecord, ProtectionKeyRecord, Result, TargetRecord};
use async_trait::async_trait;

/// The target a dynamic secret uses, as its listing shows it (joined in the
/// same query: no lookup per secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSummary {
    pub id: i64,
    pub name: String,
    pub access_key_id: String,
    pub region: String,
}

/// A dynamic secret as listed: its record and its target's summary (`None`
/// for an inline connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerListing {
    pub producer: ProducerRecord,
    pub target: Option<TargetSummary>,
}

/// One entry of a folder, in the folder's order: by full name, and among
/// entries of one name a sub-folder, then a dynamic secret, then a
/// protection key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderEntry {
    /// The full path of an immediate sub-folder (one holding a listed kind
    /// of item somewhere below it).
    Folder(String),
    /// Boxed: a listed secret is much larger than the other entries.
    DynamicSecret(Box<ProducerListing>),
    ProtectionKey(ProtectionKeyRecord),
}

impl FolderEntry {
    /// The entry's full path.
    pub fn name(&self) -> &str {
        match self {
            Self::Folder(path) => path,
            Self::DynamicSecret(listing) => &listing.producer.name,
            Self::ProtectionKey(key) => &key.name,
        }
    }
}

/// Which items a folder listing shows (`list-items`' `type`). Sub-folders
/// are shown when they hold one of these kinds somewhere below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemKinds {
    pub dynamic_secrets: bool,
    pub protection_keys: bool,
}

/// A dynamic secret using a target (a target's `target_items_assoc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRef {
    pub target_id: i64,
    pub id: i64,
    pub name: String,
}

/// Whose sealed connection a [`ConnectionInUse`] is: the sealed secret's
/// associated data derives from the owner's kind and uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionOwner {
    Target {
        id: i64,
        name: String,
    },
    /// A dynamic secret with an inline connection: the newest of those
    /// sharing this connection (same access key id, region and endpoints).
    DynamicSecret {
        id: i64,
        name: String,
    },
}

/// An AWS connection the gateway may have created users through, once per
/// distinct connection, for the orphan sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInUse {
    pub owner: ConnectionOwner,
    /// The owner's uid (the sealed secret's record identity).
    pub uid: String,
    pub connection: ConnectionColumns,
    pub protection_key: Option<String>,
    /// The distinct IAM paths the dynamic secrets using this connection set,
    /// as stored (`""`: the gateway's default path), sorted. Empty for a
    /// target no dynamic secret uses.
    pub iam_paths: Vec<String>,
}

/// Paged listings (see the module docs). The paged replacements of
/// [`crate::Store::list_targets`], [`crate::Store::list_producers`] and the
/// engine's whole-table scan for `list-items`.
#[async_trait]
pub trait ListingStore: Send + Sync {
    /// One page of folder `folder` (`/` or a normalized path such as
    /// `/prod/aws`): its immediate sub-folders and the items of `kinds`
    /// directly in it, in [`FolderEntry`] order, at most `limit`
    /// (see [`crate::MAX_PAGE_SIZE`]). `filter` keeps items whose full name
    /// contains it, ignoring ASCII case; it does not apply to sub-folders.
    /// Reads three index ranges of this folder only (sub-folders, secrets,
    /// keys), `limit + 1` rows each at most (more when a filter skips rows).
    async fn items_in_folder(
        &self,
        folder: &str,
        kinds: ItemKinds,
        filter: &str,
        after: Option<&PageToken<ItemsInFolder>>,
        limit: u32,
    ) -> Result<Page<FolderEntry, ItemsInFolder>>;

    /// Targets whose name contains `filter` (ASCII case ignored), by name.
    async fn targets_page(
        &self,
        filter: &str,
        after: Option<&PageToken<Targets>>,
        limit: u32,
    ) -> Result<Page<TargetRecord, Targets>>;

    /// The dynamic secrets using each of `target_ids`, at most `per_target`
    /// of each (by name), ordered by target id then name: a page of targets'
    /// `target_items_assoc` in one query. PostgreSQL reads `per_target` index
    /// entries per target; SQLite reads each listed target's entries.
    async fn dynamic_secrets_of_targets(
        &self,
        target_ids: &[i64],
        per_target: u32,
    ) -> Result<Vec<ProducerRef>>;

    /// Dynamic secrets whose name contains `filter` (ASCII case ignored), by
    /// name, each with its target's summary.
    async fn dynamic_secrets_page(
        &self,
        filter: &str,
        after: Option<&PageToken<DynamicSecrets>>,
        limit: u32,
    ) -> Result<Page<ProducerListing, DynamicSecrets>>;

    /// Every distinct AWS connection in use, once: each target (by id), then
    /// each distinct inline connection (by access key id, region and
    /// endpoints), with the IAM paths used through it — what the orphan
    /// sweep lists users through, without loading every dynamic secret.
    async fn connections_in_use(
        &self,
        after: Option<&PageToken<Connections>>,
        limit: u32,
    ) -> Result<Page<ConnectionInUse, Connections>>;
}

impl FolderEntry {
    /// Where the entry sorts among entries of the same name.
    fn rank(&self) -> u8 {
        use crate::folders::{entry_rank, ItemKind};
        entry_rank(match self {
            Self::Folder(_) => None,
            Self::DynamicSecret(_) => Some(ItemKind::DynamicSecret),
            Self::ProtectionKey(_) => Some(ItemKind::ProtectionKey),
        })
    }
}

/// A folder page out of the entries read from each kind's index range
/// (each at most `limit + 1`, each in name order): merged in folder order,
/// the first `limit` kept. Any entry beyond them is after the last one kept,
/// so the next page starts there without losing one.
pub(crate) fn merge_folder_entries(
    mut entries: Vec<FolderEntry>,
    limit: u32,
) -> Page<FolderEntry, ItemsInFolder> {
    entries.sort_by(|a, b| (a.name(), a.rank()).cmp(&(b.name(), b.rank())));
    Page::from_rows(entries, limit, |e: &FolderEntry| {
        crate::paging::CursorKey::Items {
            name: e.name().to_string(),
            kind: e.rank(),
        }
    })
}

/// Where the connections listing continues after `c`.
pub(crate) fn connection_position(c: &ConnectionInUse) -> crate::paging::CursorKey {
    use crate::paging::CursorKey;
    match &c.owner {
        crate::ConnectionOwner::Target { id, .. } => CursorKey::ConnectionsTarget { id: *id },
        crate::ConnectionOwner::DynamicSecret { .. } => CursorKey::ConnectionsInline {
            key: crate::rows::inline_connection_key(&c.connection),
        },
    }
}
