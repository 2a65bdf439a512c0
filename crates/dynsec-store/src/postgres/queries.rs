//! PostgreSQL's page queries, in one place so that the test below can check
//! each one's plan: every listing reads an index range in the index's own
//! order — no sequential scan, no sort.

use crate::rows::{INLINE_CONNECTION_COLUMNS, LIVE_LEASE, PRODUCER_LISTING_COLUMNS};
use crate::LeaseScope;

/// `>` or `>=`: see `items_in_folder`.
pub(super) fn folder_subfolders(op: &str) -> String {
    format!(
        "SELECT path FROM folders WHERE parent = $1 AND path {op} $2 \
         AND (($3 AND producers > 0) OR ($4 AND keys > 0)) ORDER BY path LIMIT $5"
    )
}

pub(super) fn folder_dynamic_secrets(op: &str) -> String {
    format!(
        "SELECT {PRODUCER_LISTING_COLUMNS} FROM producers p \
         LEFT JOIN targets t ON t.id = p.target_id \
         WHERE p.parent = $1 AND p.name {op} $2 AND strpos(lower(p.name), $3) > 0 \
         ORDER BY p.name LIMIT $4"
    )
}

pub(super) fn folder_protection_keys(op: &str) -> String {
    format!(
        "SELECT * FROM protection_keys WHERE parent = $1 AND name {op} $2 \
         AND strpos(lower(name), $3) > 0 ORDER BY name LIMIT $4"
    )
}

pub(super) const TARGETS_PAGE: &str = "SELECT * FROM targets \
     WHERE name > $1 AND strpos(lower(name), $2) > 0 ORDER BY name LIMIT $3";

/// At most `$2` secrets of each (distinct) target in `$1`, by name: one
/// index range per target. Unordered across targets (the caller sorts the
/// at most `targets × $2` rows).
pub(super) const SECRETS_OF_TARGETS: &str = "SELECT t.id, p.id, p.name \
     FROM UNNEST($1::bigint[]) AS t(id) \
     CROSS JOIN LATERAL (SELECT id, name FROM producers WHERE target_id = t.id \
                         ORDER BY name LIMIT $2) p";

pub(super) fn dynamic_secrets_page() -> String {
    format!(
        "SELECT {PRODUCER_LISTING_COLUMNS} FROM producers p \
         LEFT JOIN targets t ON t.id = p.target_id \
         WHERE p.name > $1 AND strpos(lower(p.name), $2) > 0 ORDER BY p.name LIMIT $3"
    )
}

pub(super) const TARGETS_BY_ID: &str = "SELECT * FROM targets WHERE id > $1 ORDER BY id LIMIT $2";

pub(super) const IAM_PATHS_OF_TARGETS: &str =
    "SELECT DISTINCT target_id, iam_path FROM producers WHERE target_id = ANY($1)";

pub(super) const INLINE_CONNECTION_GROUPS: &str =
    "SELECT inline_connection_key, MAX(id) FROM producers \
     WHERE inline_connection_key IS NOT NULL AND inline_connection_key > $1 \
     GROUP BY inline_connection_key ORDER BY inline_connection_key LIMIT $2";

pub(super) fn inline_connections_by_id() -> String {
    format!("SELECT {INLINE_CONNECTION_COLUMNS} FROM producers WHERE id = ANY($1)")
}

pub(super) const IAM_PATHS_OF_INLINE_CONNECTIONS: &str =
    "SELECT DISTINCT inline_connection_key, iam_path FROM producers \
     WHERE inline_connection_key = ANY($1)";

pub(super) const AUTH_METHODS_PAGE: &str = "SELECT * FROM api_keys \
     WHERE name > $1 AND strpos(lower(name), $2) > 0 ORDER BY name LIMIT $3";

pub(super) const ROLES_PAGE: &str = "SELECT * FROM roles \
     WHERE name > $1 AND strpos(lower(name), $2) > 0 ORDER BY name LIMIT $3";

pub(super) const RULES_OF_ROLES: &str = "SELECT role_id, rule_type, path, capabilities \
     FROM role_rules WHERE role_id = ANY($1) ORDER BY role_id, rule_type, path";

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
        "SELECT * FROM leases WHERE producer_id = $1{} \
         AND created_at <= $2 AND (created_at < $2 OR id < $3) \
         ORDER BY created_at DESC, id DESC LIMIT $4",
        scope_condition(scope)
    )
}

/// The leases of the secrets under a name range with ids above a bound, by
/// secret id then newest first. `= ANY(array)` on the index's first column
/// keeps the index's order, so no sort and no more rows than the page are
/// read; `IN (subquery)` would be planned as a join whose output is sorted.
pub(super) fn leases_under_prefix(scope: LeaseScope) -> String {
    format!(
        "SELECT * FROM leases WHERE producer_id = ANY(ARRAY(SELECT id FROM producers \
         WHERE name >= $1 AND name < $2 AND id > $3 ORDER BY id)){} \
         ORDER BY producer_id, created_at DESC, id DESC LIMIT $4",
        scope_condition(scope)
    )
}

pub(super) const PRODUCER_NAMES: &str = "SELECT id, name FROM producers WHERE id = ANY($1)";

/// Rows another gateway is purging right now are skipped. The batch is
/// chosen once, in a materialized CTE: as `IN (SELECT … LIMIT … FOR UPDATE)`
/// the locking subquery may be re-run per row, skip the rows this statement
/// already deleted, and so delete more than the limit.
pub(super) const PURGE_REVOKED_LEASES: &str = "WITH batch AS MATERIALIZED (SELECT id \
     FROM leases WHERE retained_since IS NOT NULL AND retained_since < $1 \
     ORDER BY retained_since LIMIT $2 FOR UPDATE SKIP LOCKED) \
     DELETE FROM leases WHERE id IN (SELECT id FROM batch) AND state = $3";

/// Deletes a dynamic secret unless one of its IAM-user leases is live.
pub(super) fn delete_idle_producer() -> String {
    format!(
        "DELETE FROM producers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM leases \
         WHERE producer_id = $1 AND {LIVE_LEASE} AND mode = $2) RETURNING name"
    )
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
    use crate::PostgresStore;
    use sqlx::postgres::PgArguments;
    use sqlx::Arguments;

    /// A value to bind while explaining (the plan is for real values).
    enum Arg {
        Int(i64),
        Text(&'static str),
        Flag(bool),
        Ints(Vec<i64>),
        Texts(Vec<String>),
    }
    use Arg::*;

    fn page_queries() -> Vec<(&'static str, String, Vec<Arg>)> {
        let folder = || vec![Text("/prod"), Text("/prod/a"), Text("x"), Int(51)];
        let name_page = || vec![Text("/a"), Text("x"), Int(51)];
        let mut queries = vec![
            (
                "subfolders",
                folder_subfolders(">="),
                vec![
                    Text("/prod"),
                    Text("/prod/a"),
                    Flag(true),
                    Flag(false),
                    Int(51),
                ],
            ),
            ("folder secrets", folder_dynamic_secrets(">"), folder()),
            ("folder keys", folder_protection_keys(">="), folder()),
            ("targets", TARGETS_PAGE.into(), name_page()),
            (
                "secrets of targets",
                SECRETS_OF_TARGETS.into(),
                vec![Ints(vec![1, 2]), Int(100)],
            ),
            ("dynamic secrets", dynamic_secrets_page(), name_page()),
            ("targets by id", TARGETS_BY_ID.into(), vec![Int(0), Int(51)]),
            (
                "iam paths of targets",
                IAM_PATHS_OF_TARGETS.into(),
                vec![Ints(vec![1, 2])],
            ),
            (
                "inline connection groups",
                INLINE_CONNECTION_GROUPS.into(),
                vec![Text(""), Int(51)],
            ),
            (
                "inline connections by id",
                inline_connections_by_id(),
                vec![Ints(vec![1, 2])],
            ),
            (
                "iam paths of inline",
                IAM_PATHS_OF_INLINE_CONNECTIONS.into(),
                vec![Texts(vec!["AKIA us-east-1  ".into()])],
            ),
            ("auth methods", AUTH_METHODS_PAGE.into(), name_page()),
            ("roles", ROLES_PAGE.into(), name_page()),
            (
                "rules of roles",
                RULES_OF_ROLES.into(),
                vec![Ints(vec![1, 2])],
            ),
            (
                "producer names",
                PRODUCER_NAMES.into(),
                vec![Ints(vec![1, 2])],
            ),
            (
                "purge",
                PURGE_REVOKED_LEASES.into(),
                vec![Int(1_000), Int(1000), Text("revoked")],
            ),
            (
                "delete idle producer",
                delete_idle_producer(),
                vec![Int(1), Text("iam_user")],
            ),
        ];
        for scope in [LeaseScope::Live, LeaseScope::All] {
            queries.push((
                "leases of a secret",
                leases_of_secret(scope),
                vec![Int(1), Int(i64::MAX), Text("\u{10FFFF}"), Int(51)],
            ));
            queries.push((
                "leases under a prefix",
                leases_under_prefix(scope),
                vec![Text("/prod/"), Text("/prod0"), Int(0), Int(51)],
            ));
        }
        queries.push(("live lease counts", LIVE_LEASE_COUNTS.into(), vec![]));
        queries
    }

    /// The plan of `sql` with `args`, with sequential scans and sorts priced
    /// out: if one still appears, no index can serve the query.
    async fn plan(conn: &mut sqlx::PgConnection, sql: &str, args: Vec<Arg>) -> String {
        let mut bound = PgArguments::default();
        for arg in args {
            match arg {
                Int(v) => bound.add(v),
                Text(v) => bound.add(v),
                Flag(v) => bound.add(v),
                Ints(v) => bound.add(v),
                Texts(v) => bound.add(v),
            }
            .unwrap();
        }
        let lines: Vec<String> =
            sqlx::query_scalar_with(&format!("EXPLAIN (COSTS OFF) {sql}"), bound)
                .fetch_all(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        lines.join("\n")
    }

    fn reads_index_ranges_in_order(plan: &str) -> bool {
        !plan.contains("Seq Scan") && !plan.contains("Sort")
    }

    /// `EXPLAIN` of every page query with sequential scans and sorts
    /// disabled: each table is read through an index, and no ORDER BY needs
    /// a sort (PostgreSQL would still pick one if nothing else could serve
    /// the query, whatever the data).
    #[tokio::test]
    async fn every_page_query_reads_an_index_range_in_order() {
        let db = dynsec_testkit::PgDatabase::create().await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let mut conn = store.pool.acquire().await.unwrap();
        for setting in ["SET enable_seqscan = off", "SET enable_sort = off"] {
            sqlx::query(setting).execute(&mut *conn).await.unwrap();
        }
        let unindexed = plan(
            &mut conn,
            "SELECT * FROM leases ORDER BY principal LIMIT $1",
            vec![Int(3)],
        )
        .await;
        assert!(
            !reads_index_ranges_in_order(&unindexed),
            "the check tells a sort from an index: {unindexed}"
        );
        let mut failures = Vec::new();
        for (name, sql, args) in page_queries() {
            let plan = plan(&mut conn, &sql, args).await;
            if !reads_index_ranges_in_order(&plan) {
                failures.push(format!("{name}:\n{plan}\n  {sql}"));
            }
        }
        drop(conn);
        store.close().await;
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
