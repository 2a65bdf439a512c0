//! Virtual folders as both stores keep them: each item's parent folder in a
//! `parent` column, and a `folders` table with one row per folder that has
//! an item (dynamic secret or protection key) somewhere below it, counting
//! them per kind. A folder's items and its immediate sub-folders are then
//! each one index range (`parent = ?` in name order), however many items
//! exist elsewhere.
//!
//! This module computes what a create, rename or delete changes (pure); the
//! dialects apply it in the write's own transaction.

/// Which kind of item a folder count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    DynamicSecret,
    ProtectionKey,
}

/// The folder holding `path`: `/a/b` for `/a/b/c`, `/` for `/a`.
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Every folder `path` is inside, top first, without the root:
/// `/a`, `/a/b` for `/a/b/c`.
fn folders_above(path: &str) -> Vec<&str> {
    path.match_indices('/')
        .map(|(i, _)| i)
        .filter(|&i| i > 0)
        .map(|i| &path[..i])
        .collect()
}

/// How one folder's counts change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FolderDelta {
    pub path: String,
    pub parent: String,
    pub producers: i64,
    pub keys: i64,
}

/// The folder count changes of an item of `kind` leaving `removed` and/or
/// arriving at `added` (a rename is both), sorted by path so concurrent
/// writers lock folder rows in one order, unchanged folders left out.
pub(crate) fn folder_deltas(
    kind: ItemKind,
    removed: Option<&str>,
    added: Option<&str>,
) -> Vec<FolderDelta> {
    let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
    for (path, step) in [(removed, -1), (added, 1)] {
        for folder in path.map(folders_above).unwrap_or_default() {
            *counts.entry(folder).or_default() += step;
        }
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(path, n)| FolderDelta {
            path: path.to_string(),
            parent: parent_of(path).to_string(),
            producers: if kind == ItemKind::DynamicSecret {
                n
            } else {
                0
            },
            keys: if kind == ItemKind::ProtectionKey {
                n
            } else {
                0
            },
        })
        .collect()
}

/// Where an entry of a folder listing sorts among entries of the same name:
/// a sub-folder, then a dynamic secret, then a protection key (names are
/// unique per kind, so `(name, rank)` is unique in a folder).
pub(crate) fn entry_rank(kind: Option<ItemKind>) -> u8 {
    match kind {
        None => 0,
        Some(ItemKind::DynamicSecret) => 1,
        Some(ItemKind::ProtectionKey) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_folders_above() {
        assert_eq!(parent_of("/a/b/c"), "/a/b");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(folders_above("/a/b/c"), ["/a", "/a/b"]);
        assert!(folders_above("/a").is_empty());
    }

    #[test]
    fn a_rename_changes_only_the_folders_it_leaves_or_enters() {
        let deltas = folder_deltas(ItemKind::DynamicSecret, Some("/a/b/x"), Some("/a/c/d/x"));
        let summary: Vec<(&str, &str, i64)> = deltas
            .iter()
            .map(|d| (d.path.as_str(), d.parent.as_str(), d.producers))
            .collect();
        assert_eq!(
            summary,
            [("/a/b", "/a", -1), ("/a/c", "/a", 1), ("/a/c/d", "/a/c", 1)]
        );
        assert!(deltas.iter().all(|d| d.keys == 0));
        assert!(folder_deltas(ItemKind::ProtectionKey, Some("/a/x"), Some("/a/y")).is_empty());
        let created = folder_deltas(ItemKind::ProtectionKey, None, Some("/k/x"));
        assert_eq!((created[0].keys, created[0].producers), (1, 0));
    }
}
