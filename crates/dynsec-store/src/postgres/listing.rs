//! [`ListingStore`] for PostgreSQL.

use super::queries;
use crate::folders::{entry_rank, ItemKind};
use crate::listing::{
    connection_position, ConnectionInUse, FolderEntry, ItemKinds, ListingStore, ProducerListing,
    ProducerRef,
};
use crate::paging::listing::{Connections, DynamicSecrets, ItemsInFolder, Targets};
use crate::paging::{name_filter, name_position, page_size, CursorKey, Page, PageToken};
use crate::rows::{
    decode, group_paths, target_connection, InlineConnectionRow, ProducerListingRow,
    ProtectionKeyRow, TargetRow,
};
use crate::{PostgresStore, ProtectionKeyRecord, Result, TargetRecord};
use async_trait::async_trait;

#[async_trait]
impl ListingStore for PostgresStore {
    async fn items_in_folder(
        &self,
        folder: &str,
        kinds: ItemKinds,
        filter: &str,
        after: Option<&PageToken<ItemsInFolder>>,
        limit: u32,
    ) -> Result<Page<FolderEntry, ItemsInFolder>> {
        let limit = page_size(limit);
        let fetch = i64::from(limit) + 1;
        let (after_name, after_rank) = match after.map(PageToken::key) {
            Some(CursorKey::Items { name, kind }) => (name.as_str(), *kind),
            _ => ("", 0),
        };
        // Of the one name the last page ended on, only kinds ranked after it.
        let op = |kind: Option<ItemKind>| {
            if entry_rank(kind) > after_rank {
                ">="
            } else {
                ">"
            }
        };
        let needle = name_filter(filter);
        let mut entries: Vec<FolderEntry> = Vec::new();
        if kinds.dynamic_secrets || kinds.protection_keys {
            let folders: Vec<String> = sqlx::query_scalar(&queries::folder_subfolders(op(None)))
                .bind(folder)
                .bind(after_name)
                .bind(kinds.dynamic_secrets)
                .bind(kinds.protection_keys)
                .bind(fetch)
                .fetch_all(&self.pool)
                .await?;
            entries.extend(folders.into_iter().map(FolderEntry::Folder));
        }
        if kinds.dynamic_secrets {
            let rows: Vec<ProducerListingRow> = sqlx::query_as(&queries::folder_dynamic_secrets(
                op(Some(ItemKind::DynamicSecret)),
            ))
            .bind(folder)
            .bind(after_name)
            .bind(&needle)
            .bind(fetch)
            .fetch_all(&self.pool)
            .await?;
            let listed: Vec<ProducerListing> = decode(rows)?;
            entries.extend(
                listed
                    .into_iter()
                    .map(|l| FolderEntry::DynamicSecret(Box::new(l))),
            );
        }
        if kinds.protection_keys {
            let rows: Vec<ProtectionKeyRow> = sqlx::query_as(&queries::folder_protection_keys(op(
                Some(ItemKind::ProtectionKey),
            )))
            .bind(folder)
            .bind(after_name)
            .bind(&needle)
            .bind(fetch)
            .fetch_all(&self.pool)
            .await?;
            let keys: Vec<ProtectionKeyRecord> = decode(rows)?;
            entries.extend(keys.into_iter().map(FolderEntry::ProtectionKey));
        }
        Ok(crate::listing::merge_folder_entries(entries, limit))
    }

    async fn targets_page(
        &self,
        filter: &str,
        after: Option<&PageToken<Targets>>,
        limit: u32,
    ) -> Result<Page<TargetRecord, Targets>> {
        let limit = page_size(limit);
        let rows: Vec<TargetRow> = sqlx::query_as(queries::TARGETS_PAGE)
            .bind(name_position(after.map(PageToken::key)))
            .bind(name_filter(filter))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(decode(rows)?, limit, |t: &TargetRecord| {
            CursorKey::Targets {
                name: t.name.clone(),
            }
        }))
    }

    async fn dynamic_secrets_of_targets(
        &self,
        target_ids: &[i64],
        per_target: u32,
    ) -> Result<Vec<ProducerRef>> {
        // One index range of `per_target` entries per target, in one query.
        let mut ids = target_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut refs: Vec<ProducerRef> =
            sqlx::query_as::<_, (i64, i64, String)>(queries::SECRETS_OF_TARGETS)
                .bind(&ids)
                .bind(i64::from(per_target))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|(target_id, id, name)| ProducerRef {
                    target_id,
                    id,
                    name,
                })
                .collect();
        refs.sort_by(|a, b| (a.target_id, &a.name).cmp(&(b.target_id, &b.name)));
        Ok(refs)
    }

    async fn dynamic_secrets_page(
        &self,
        filter: &str,
        after: Option<&PageToken<DynamicSecrets>>,
        limit: u32,
    ) -> Result<Page<ProducerListing, DynamicSecrets>> {
        let limit = page_size(limit);
        let rows: Vec<ProducerListingRow> = sqlx::query_as(&queries::dynamic_secrets_page())
            .bind(name_position(after.map(PageToken::key)))
            .bind(name_filter(filter))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(
            decode(rows)?,
            limit,
            |p: &ProducerListing| CursorKey::DynamicSecrets {
                name: p.producer.name.clone(),
            },
        ))
    }

    async fn connections_in_use(
        &self,
        after: Option<&PageToken<Connections>>,
        limit: u32,
    ) -> Result<Page<ConnectionInUse, Connections>> {
        let limit = page_size(limit);
        let fetch = limit + 1;
        let mut found = Vec::new();
        let after_inline = match after.map(PageToken::key) {
            Some(CursorKey::ConnectionsInline { key }) => key.clone(),
            other => {
                let after_id = match other {
                    Some(CursorKey::ConnectionsTarget { id }) => *id,
                    _ => i64::MIN,
                };
                found = self.target_connections(after_id, fetch).await?;
                String::new()
            }
        };
        let room = fetch.saturating_sub(u32::try_from(found.len()).unwrap_or(u32::MAX));
        if room > 0 {
            found.extend(self.inline_connections(&after_inline, room).await?);
        }
        Ok(Page::from_rows(found, limit, connection_position))
    }
}

impl PostgresStore {
    /// Targets after `after_id` by id, with their secrets' IAM paths.
    async fn target_connections(&self, after_id: i64, fetch: u32) -> Result<Vec<ConnectionInUse>> {
        let rows: Vec<TargetRow> = sqlx::query_as(queries::TARGETS_BY_ID)
            .bind(after_id)
            .bind(i64::from(fetch))
            .fetch_all(&self.pool)
            .await?;
        let targets: Vec<TargetRecord> = decode(rows)?;
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = targets.iter().map(|t| t.id).collect();
        let query = sqlx::query_as::<_, (i64, String)>(queries::IAM_PATHS_OF_TARGETS).bind(&ids);
        let mut paths = group_paths(query.fetch_all(&self.pool).await?);
        Ok(targets
            .into_iter()
            .map(|t| {
                let iam_paths = paths.remove(&t.id).unwrap_or_default();
                target_connection(t, iam_paths)
            })
            .collect())
    }

    /// Distinct inline connections after key `after` by key, each through
    /// its newest dynamic secret, with the IAM paths used through it.
    async fn inline_connections(&self, after: &str, fetch: u32) -> Result<Vec<ConnectionInUse>> {
        let groups: Vec<(String, i64)> = sqlx::query_as(queries::INLINE_CONNECTION_GROUPS)
            .bind(after)
            .bind(i64::from(fetch))
            .fetch_all(&self.pool)
            .await?;
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = groups.iter().map(|(_, id)| *id).collect();
        let keys: Vec<&str> = groups.iter().map(|(key, _)| key.as_str()).collect();
        let rows_sql = queries::inline_connections_by_id();
        let rows_query = sqlx::query_as::<_, InlineConnectionRow>(&rows_sql).bind(&ids);
        let paths_query =
            sqlx::query_as::<_, (String, String)>(queries::IAM_PATHS_OF_INLINE_CONNECTIONS)
                .bind(&keys);
        let mut rows: std::collections::HashMap<i64, InlineConnectionRow> = rows_query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let mut paths = group_paths(paths_query.fetch_all(&self.pool).await?);
        let mut found = Vec::with_capacity(groups.len());
        for (key, id) in groups {
            // Deleted since the group was read: the next page starts after
            // its key anyway, and the connection is no longer in use.
            if let Some(row) = rows.remove(&id) {
                found.push(row.into_connection(paths.remove(&key).unwrap_or_default())?);
            }
        }
        Ok(found)
    }
}
