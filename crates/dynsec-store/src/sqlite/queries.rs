//! SQLite's page queries, in one place so that the test below can check
//! each one's plan: every listing reads an index range in the index's own
//! order — no full scan of a table, no sort into a temporary b-tree.

use crate::rows::{INLINE_CONNECTION_COLUMNS, LIVE_LEASE, PRODUCER_LISTING_COLUMNS};
use crate::LeaseScope;

/// `>` or `>=`: see `items_in_folder`.
pub(super) fn folder_subfolders(op: &str) -> String {
    format!(
        "SELECT path FROM folders WHERE parent = ? AND path {op} ? \
         AND ((? AND producers > 0) OR (? AND keys > 0)) ORDER BY path LIMIT ?"
    )
}

pub(super) fn folder_dynamic_secrets(op: &str) -> String {
    format!(
        "SELECT {PRODUCER_LISTING_COLUMNS} FROM producers p \
         LEFT JOIN targets t ON t.id = p.target_id \
         WHERE p.parent = ? AND p.name {op} ? AND instr(lower(p.name), ?) > 0 \
         ORDER BY p.name LIMIT ?"
    )
}

pub(super) fn folder_protection_keys(op: &str) -> String {
    format!(
        "SELECT * FROM protection_keys WHERE parent = ? AND name {op} ? \
         AND instr(lower(name), ?) > 0 ORDER BY name LIMIT ?"
    )
}

pub(super) const TARGETS_PAGE: &str = "SELECT * FROM targets \
     WHERE name > ? AND instr(lower(name), ?) > 0 ORDER BY name LIMIT ?";

pub(super) const SECRETS_OF_TARGET: &str =
    "SELECT id, name FROM producers WHERE target_id = ? ORDER BY name LIMIT ?";

pub(super) fn dynamic_secrets_page() -> String {
    format!(
        "SELECT {PRODUCER_LISTING_COLUMNS} FROM producers p \
         LEFT JOIN targets t ON t.id = p.target_id \
         WHERE p.name > ? AND instr(lower(p.name), ?) > 0 ORDER BY p.name LIMIT ?"
    )
}

pub(super) const TARGETS_BY_ID: &str = "SELECT * FROM targets WHERE id > ? ORDER BY id LIMIT ?";

/// `n` target ids.
pub(super) fn iam_paths_of_targets(n: usize) -> String {
    format!(
        "SELECT DISTINCT target_id, iam_path FROM producers WHERE target_id IN ({})",
        placeholders(n)
    )
}

pub(super) const INLINE_CONNECTION_GROUPS: &str =
    "SELECT inline_connection_key, MAX(id) FROM producers \
     WHERE inline_connection_key IS NOT NULL AND inline_connection_key > ? \
     GROUP BY inline_connection_key ORDER BY inline_connection_key LIMIT ?";

/// `n` producer ids.
pub(super) fn inline_connections_by_id(n: usize) -> String {
    format!(
        "SELECT {INLINE_CONNECTION_COLUMNS} FROM producers WHERE id IN ({})",
        placeholders(n)
    )
}

/// `n` connection keys.
pub(super) fn iam_paths_of_inline_connections(n: usize) -> String {
    format!(
        "SELECT DISTINCT inline_connection_key, iam_path FROM producers \
         WHERE inline_connection_key IN ({})",
        placeholders(n)
    )
}

pub(super) const AUTH_METHODS_PAGE: &str = "SELECT * FROM api_keys \
     WHERE name > ? AND instr(lower(name), ?) > 0 ORDER BY name LIMIT ?";

pub(super) const ROLES_PAGE: &str = "SELECT * FROM roles \
     WHERE name > ? AND instr(lower(name), ?) > 0 ORDER BY name LIMIT ?";

/// `n` role ids.
pub(super) fn rules_of_roles(n: usize) -> String {
    format!(
        "SELECT role_id, rule_type, path, capabilities FROM role_rules \
         WHERE role_id IN ({}) ORDER BY role_id, rule_type, path",
        placeholders(n)
    )
}

/// The extra condition of a lease listing of `scope`.
fn scope_condition(scope: LeaseScope) -> String {
    match scope {
        LeaseScope::Live => format!(" AND {LIVE_LEASE}"),
        LeaseScope::All => String::new(),
    }
}

/// One secret's leases older than (created_at, id), newest first.
pub(super) fn leases_of_secret(scope: LeaseScope) -> String {
    format!(
        "SELECT * FROM leases WHERE producer_id = ?{} \
         AND created_at <= ? AND (created_at < ? OR id < ?) \
         ORDER BY created_at DESC, id DESC LIMIT ?",
        scope_condition(scope)
    )
}

/// The leases of the secrets under a name range with ids above a bound, by
/// secret id then newest first. SQLite walks the subquery's ids in order
/// and each one's index range in turn, so the order needs no sort.
pub(super) fn leases_under_prefix(scope: LeaseScope) -> String {
    format!(
        "SELECT * FROM leases WHERE producer_id IN \
         (SELECT id FROM producers WHERE name >= ? AND name < ? AND id > ?){} \
         ORDER BY producer_id, created_at DESC, id DESC LIMIT ?",
        scope_condition(scope)
    )
}

/// `n` producer ids.
pub(super) fn producer_names(n: usize) -> String {
    format!(
        "SELECT id, name FROM producers WHERE id IN ({})",
        placeholders(n)
    )
}

pub(super) const PURGE_REVOKED_LEASES: &str = "DELETE FROM leases WHERE id IN (SELECT id \
     FROM leases WHERE retained_since IS NOT NULL AND retained_since < ? \
     ORDER BY retained_since LIMIT ?) AND state = ?";

/// Deletes a dynamic secret unless one of its IAM-user leases is live.
pub(super) fn delete_idle_producer() -> String {
    format!(
        "DELETE FROM producers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM leases \
         WHERE producer_id = ? AND {LIVE_LEASE} AND mode = ?) RETURNING name"
    )
}

/// `?, ?, ?` for an `IN` list of `n` values.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

/// Live leases by state, for the metrics: those with a due time through the
/// due index, pending ones through their own partial index (matched by the
/// literal `'pending'` only, never by a bound value).
pub(super) const LIVE_LEASE_COUNTS: &str =
    "SELECT state, COUNT(*) FROM leases WHERE due_at IS NOT NULL GROUP BY state \
     UNION ALL SELECT state, COUNT(*) FROM leases WHERE state = 'pending' GROUP BY state";

#[cfg(test)]
mod plans {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::SqliteStore;

    /// Every page query, with a name for failures.
    fn page_queries() -> Vec<(&'static str, String)> {
        let mut queries = vec![
            ("subfolders >", folder_subfolders(">")),
            ("subfolders >=", folder_subfolders(">=")),
            ("folder secrets >", folder_dynamic_secrets(">")),
            ("folder secrets >=", folder_dynamic_secrets(">=")),
            ("folder keys >", folder_protection_keys(">")),
            ("folder keys >=", folder_protection_keys(">=")),
            ("targets", TARGETS_PAGE.into()),
            ("secrets of a target", SECRETS_OF_TARGET.into()),
            ("dynamic secrets", dynamic_secrets_page()),
            ("targets by id", TARGETS_BY_ID.into()),
            ("iam paths of targets", iam_paths_of_targets(3)),
            ("inline connection groups", INLINE_CONNECTION_GROUPS.into()),
            ("inline connections by id", inline_connections_by_id(3)),
            ("iam paths of inline", iam_paths_of_inline_connections(3)),
            ("auth methods", AUTH_METHODS_PAGE.into()),
            ("roles", ROLES_PAGE.into()),
            ("rules of roles", rules_of_roles(3)),
            ("producer names", producer_names(3)),
            ("purge", PURGE_REVOKED_LEASES.into()),
            ("delete idle producer", delete_idle_producer()),
        ];
        for scope in [LeaseScope::Live, LeaseScope::All] {
            queries.push(("leases of a secret", leases_of_secret(scope)));
            queries.push(("leases under a prefix", leases_under_prefix(scope)));
        }
        queries
    }

    /// The steps of `sql`'s plan.
    async fn plan(store: &SqliteStore, sql: &str) -> Vec<String> {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&store.pool)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        plan.into_iter().map(|(_, _, _, step)| step).collect()
    }

    /// Whether a plan reads index ranges only: no table scanned whole (a
    /// `SCAN`, with or without an index, walks everything), no ORDER BY
    /// sorted in a temporary b-tree.
    fn reads_index_ranges_in_order(steps: &[String]) -> bool {
        !steps
            .iter()
            .any(|step| step.contains("TEMP B-TREE") || step.starts_with("SCAN "))
    }

    /// `EXPLAIN QUERY PLAN` of every page query: each table is searched
    /// through an index range (or its primary key), none is scanned, and no
    /// ORDER BY needs a sort.
    #[tokio::test]
    async fn every_page_query_reads_an_index_range_in_order() {
        let store = SqliteStore::in_memory().await.unwrap();
        let unindexed = plan(&store, "SELECT * FROM leases ORDER BY principal LIMIT 3").await;
        assert!(
            !reads_index_ranges_in_order(&unindexed),
            "the check tells a sort from an index: {unindexed:?}"
        );
        let mut failures = Vec::new();
        for (name, sql) in page_queries() {
            let steps = plan(&store, &sql).await;
            if !reads_index_ranges_in_order(&steps) {
                failures.push(format!("{name}: {steps:?}\n  {sql}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// The metrics' count reads the due index and the pending one (a partial
    /// index holding pending leases only, so scanning it is reading them),
    /// never the table (revoked leases are kept for retention); grouping the
    /// few live states it finds may take a temporary b-tree.
    #[tokio::test]
    async fn live_lease_counts_read_indexes_only() {
        let store = SqliteStore::in_memory().await.unwrap();
        let steps = plan(&store, LIVE_LEASE_COUNTS).await;
        assert!(
            !steps
                .iter()
                .any(|step| step.starts_with("SCAN ") && !step.contains("INDEX")),
            "{steps:?}"
        );
        for index in ["leases_due", "leases_pending"] {
            assert!(steps.iter().any(|s| s.contains(index)), "{steps:?}");
        }
    }
}
