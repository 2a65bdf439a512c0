//! Rows as both dialects return them, and their conversion to records.
//!
//! The SQLite and PostgreSQL schemas use the same column names and the same
//! plain types (text, 64-bit integers, bytes, booleans; times as unix
//! milliseconds), so one `FromRow` struct per table decodes either backend's
//! rows, and how a record maps to columns is written once. Only the SQL differs
//! per dialect.

use crate::records::{ApiKeyRecord, ConnectionColumns, ProducerRecord, TargetRecord, TokenRecord};
use crate::{ProtectionKeyRecord, Result, RoleRecord, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use dynsec_core::access::{Capability, PathRule, RuleType};
use dynsec_core::{AccessMode, CreatedIamUser, Lease, LeaseState, ProducerSettings};
use serde::{Deserialize, Serialize};

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64, column: &str) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(column.to_string()))
}

fn opt_from_millis(ms: Option<i64>, column: &str) -> Result<Option<DateTime<Utc>>> {
    ms.map(|ms| from_millis(ms, column)).transpose()
}

/// A count or size that must fit the column's signed 64 bits.
pub(crate) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `lease.due_at()` as stored (see `dynsec_core::Lease::due_at`).
pub(crate) fn due_millis(lease: &Lease) -> Option<i64> {
    lease.due_at().map(millis)
}

/// `lease.retained_since()` as stored (see `dynsec_core::Lease::retained_since`).
pub(crate) fn retained_millis(lease: &Lease) -> Option<i64> {
    lease.retained_since().map(millis)
}

/// `leases.created_json`: what issuance created, in a format of the store's
/// own (so renaming a domain field cannot silently change stored data).
#[derive(Serialize, Deserialize)]
struct CreatedJson {
    user_name: String,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    login_profile: bool,
    #[serde(default)]
    attached_policies: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    inline_policy: Option<String>,
    #[serde(default)]
    permissions_boundary: Option<String>,
}

/// The `created_json` column of `lease`.
pub(crate) fn created_json(lease: &Lease) -> Result<Option<String>> {
    lease
        .created
        .as_ref()
        .map(|c| {
            serde_json::to_string(&CreatedJson {
                user_name: c.user_name.clone(),
                access_key_id: c.access_key_id.clone(),
                login_profile: c.login_profile,
                attached_policies: c.attached_policies.clone(),
                groups: c.groups.clone(),
                inline_policy: c.inline_policy.clone(),
                permissions_boundary: c.permissions_boundary.clone(),
            })
            .map_err(|e| StoreError::Corrupt(format!("leases.created_json: {e}")))
        })
        .transpose()
}

fn parse_created(json: Option<String>) -> Result<Option<CreatedIamUser>> {
    json.map(|json| {
        let c: CreatedJson = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("leases.created_json: {e}")))?;
        Ok(CreatedIamUser {
            user_name: c.user_name,
            access_key_id: c.access_key_id,
            login_profile: c.login_profile,
            attached_policies: c.attached_policies,
            groups: c.groups,
            inline_policy: c.inline_policy,
            permissions_boundary: c.permissions_boundary,
        })
    })
    .transpose()
}

/// The names of the claimed states, for `state IN (...)` binds.
pub(crate) fn claimed_states() -> [&'static str; 2] {
    LeaseState::CLAIMED.map(LeaseState::as_str)
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    access_id: String,
    name: String,
    key_hash: String,
    is_admin: bool,
    created_at: i64,
    description: String,
    access_expires: Option<i64>,
    bound_ips: String,
    jwt_ttl_secs: Option<i64>,
    delete_protection: bool,
}

impl TryFrom<ApiKeyRow> for ApiKeyRecord {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> Result<Self> {
        Ok(Self {
            access_id: r.access_id,
            name: r.name,
            key_hash: r.key_hash,
            is_admin: r.is_admin,
            created_at: from_millis(r.created_at, "api_keys.created_at")?,
            description: r.description,
            access_expires: opt_from_millis(r.access_expires, "api_keys.access_expires")?,
            bound_ips: split_list(&r.bound_ips),
            jwt_ttl_secs: r.jwt_ttl_secs.and_then(|s| u64::try_from(s).ok()),
            delete_protection: r.delete_protection,
        })
    }
}

/// `bound_ips` and `capabilities` are stored comma-separated.
pub(crate) fn join_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_hash: String,
    access_id: String,
    expires_at: i64,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<Self> {
        Ok(Self {
            token_hash: r.token_hash,
            access_id: r.access_id,
            expires_at: from_millis(r.expires_at, "tokens.expires_at")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TargetRow {
    id: i64,
    uid: String,
    name: String,
    description: String,
    access_key_id: String,
    region: String,
    iam_endpoint: Option<String>,
    sts_endpoint: Option<String>,
    sealed_secret: Vec<u8>,
    admin_json: String,
    protection_key: Option<String>,
    delete_protection: bool,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<TargetRow> for TargetRecord {
    type Error = StoreError;
    fn try_from(r: TargetRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uid: r.uid,
            name: r.name,
            description: r.description,
            connection: ConnectionColumns {
                access_key_id: r.access_key_id,
                region: r.region,
                iam_endpoint: r.iam_endpoint,
                sts_endpoint: r.sts_endpoint,
                sealed_secret: r.sealed_secret,
                admin_json: r.admin_json,
            },
            protection_key: r.protection_key,
            delete_protection: r.delete_protection,
            created_at: from_millis(r.created_at, "targets.created_at")?,
            modified_at: from_millis(r.modified_at, "targets.modified_at")?,
        })
    }
}

/// The columns a producer query must select (in either dialect).
pub(crate) const PRODUCER_COLUMNS: &str = "id, uid, name, target_id, settings_json, \
     protection_key, inline_access_key_id, inline_region, inline_iam_endpoint, \
     inline_sts_endpoint, inline_sealed_secret, inline_admin_json, delete_protection, created_at, \
     modified_at";

/// [`PRODUCER_COLUMNS`] of table alias `p`, and the target summary of alias
/// `t` (a `LEFT JOIN targets t ON t.id = p.target_id`): a [`ProducerListingRow`].
pub(crate) const PRODUCER_LISTING_COLUMNS: &str = "p.id, p.uid, p.name, p.target_id, \
     p.settings_json, p.protection_key, p.inline_access_key_id, p.inline_region, \
     p.inline_iam_endpoint, p.inline_sts_endpoint, p.inline_sealed_secret, p.inline_admin_json, \
     p.delete_protection, \
     p.created_at, p.modified_at, t.name AS target_name, t.access_key_id AS target_access_key_id, \
     t.region AS target_region";

/// The condition selecting live leases, written out (not bound) so both
/// dialects can use the partial index `leases_live_of_producer`, whose
/// predicate it must match.
pub(crate) const LIVE_LEASE: &str = "state <> 'revoked'";

/// A dynamic secret joined with its target's summary.
#[derive(sqlx::FromRow)]
pub(crate) struct ProducerListingRow {
    #[sqlx(flatten)]
    producer: ProducerRow,
    target_name: Option<String>,
    target_access_key_id: Option<String>,
    target_region: Option<String>,
}

impl TryFrom<ProducerListingRow> for crate::ProducerListing {
    type Error = StoreError;
    fn try_from(r: ProducerListingRow) -> Result<Self> {
        let producer = ProducerRecord::try_from(r.producer)?;
        let target = match (producer.target_id, r.target_name) {
            (Some(id), Some(name)) => Some(crate::TargetSummary {
                id,
                name,
                access_key_id: r.target_access_key_id.unwrap_or_default(),
                region: r.target_region.unwrap_or_default(),
            }),
            (Some(_), None) => return Err(StoreError::Corrupt("producers.target_id".into())),
            (None, _) => None,
        };
        Ok(Self { producer, target })
    }
}

/// The columns of a producer that the store derives from the record: its
/// folder, its IAM path (settings' `iam_path`) and its inline connection's
/// key (for the orphan sweep's distinct connections).
pub(crate) struct ProducerDerived {
    pub parent: String,
    pub iam_path: String,
    pub inline_connection_key: Option<String>,
}

impl ProducerDerived {
    pub(crate) fn of(p: &ProducerRecord) -> Self {
        Self {
            parent: crate::folders::parent_of(&p.name).to_string(),
            iam_path: p.settings.iam_path.clone(),
            inline_connection_key: match p.target_id {
                Some(_) => None,
                None => p.inline_connection.as_ref().map(inline_connection_key),
            },
        }
    }
}

/// What makes two inline connections the same connection: access key id,
/// region and endpoints, space-separated (none of them contains a space;
/// the migrations compute the same text).
pub(crate) fn inline_connection_key(c: &ConnectionColumns) -> String {
    format!(
        "{} {} {} {}",
        c.access_key_id,
        c.region,
        c.iam_endpoint.as_deref().unwrap_or(""),
        c.sts_endpoint.as_deref().unwrap_or("")
    )
}

/// A row of `producers` with an inline connection, as the connections
/// listing reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct InlineConnectionRow {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub protection_key: Option<String>,
    pub inline_access_key_id: Option<String>,
    pub inline_region: Option<String>,
    pub inline_iam_endpoint: Option<String>,
    pub inline_sts_endpoint: Option<String>,
    pub inline_sealed_secret: Option<Vec<u8>>,
    pub inline_admin_json: String,
}

pub(crate) const INLINE_CONNECTION_COLUMNS: &str = "id, uid, name, protection_key, \
     inline_access_key_id, inline_region, inline_iam_endpoint, inline_sts_endpoint, \
     inline_sealed_secret, inline_admin_json";

impl InlineConnectionRow {
    pub(crate) fn into_connection(self, iam_paths: Vec<String>) -> Result<crate::ConnectionInUse> {
        let corrupt = |c: &str| StoreError::Corrupt(format!("producers.{c}"));
        Ok(crate::ConnectionInUse {
            owner: crate::ConnectionOwner::DynamicSecret {
                id: self.id,
                name: self.name,
            },
            uid: self.uid,
            connection: ConnectionColumns {
                access_key_id: self
                    .inline_access_key_id
                    .ok_or_else(|| corrupt("inline_access_key_id"))?,
                region: self.inline_region.unwrap_or_default(),
                iam_endpoint: self.inline_iam_endpoint,
                sts_endpoint: self.inline_sts_endpoint,
                sealed_secret: self
                    .inline_sealed_secret
                    .ok_or_else(|| corrupt("inline_sealed_secret"))?,
                admin_json: self.inline_admin_json,
            },
            protection_key: self.protection_key,
            iam_paths,
        })
    }
}

/// A target as a connection in use.
pub(crate) fn target_connection(t: TargetRecord, iam_paths: Vec<String>) -> crate::ConnectionInUse {
    crate::ConnectionInUse {
        owner: crate::ConnectionOwner::Target {
            id: t.id,
            name: t.name,
        },
        uid: t.uid,
        connection: t.connection,
        protection_key: t.protection_key,
        iam_paths,
    }
}

/// `(owner key, iam_path)` pairs grouped into each owner's sorted paths.
pub(crate) fn group_paths<K: Ord>(
    pairs: Vec<(K, String)>,
) -> std::collections::BTreeMap<K, Vec<String>> {
    let mut grouped: std::collections::BTreeMap<K, Vec<String>> = Default::default();
    for (key, path) in pairs {
        grouped.entry(key).or_default().push(path);
    }
    for paths in grouped.values_mut() {
        paths.sort();
        paths.dedup();
    }
    grouped
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProducerRow {
    id: i64,
    uid: String,
    name: String,
    target_id: Option<i64>,
    settings_json: String,
    protection_key: Option<String>,
    inline_access_key_id: Option<String>,
    inline_region: Option<String>,
    inline_iam_endpoint: Option<String>,
    inline_sts_endpoint: Option<String>,
    inline_sealed_secret: Option<Vec<u8>>,
    inline_admin_json: String,
    delete_protection: bool,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<ProducerRow> for ProducerRecord {
    type Error = StoreError;
    fn try_from(r: ProducerRow) -> Result<Self> {
        let mut settings: ProducerSettings = serde_json::from_str(&r.settings_json)
            .map_err(|e| StoreError::Corrupt(format!("producers.settings_json: {e}")))?;
        // The column (with its foreign key) is the truth, not the JSON.
        settings.protection_key = r.protection_key;
        let inline_connection = match r.inline_access_key_id {
            None => None,
            Some(access_key_id) => Some(ConnectionColumns {
                access_key_id,
                region: r.inline_region.unwrap_or_default(),
                iam_endpoint: r.inline_iam_endpoint,
                sts_endpoint: r.inline_sts_endpoint,
                sealed_secret: r
                    .inline_sealed_secret
                    .ok_or_else(|| StoreError::Corrupt("producers.inline_sealed_secret".into()))?,
                admin_json: r.inline_admin_json,
            }),
        };
        Ok(Self {
            id: r.id,
            uid: r.uid,
            name: r.name,
            target_id: r.target_id,
            inline_connection,
            settings,
            delete_protection: r.delete_protection,
            created_at: from_millis(r.created_at, "producers.created_at")?,
            modified_at: from_millis(r.modified_at, "producers.modified_at")?,
        })
    }
}

/// A producer's settings as stored: JSON, without the protection key (which
/// has a column of its own).
pub(crate) fn settings_json(settings: &ProducerSettings) -> Result<String> {
    let mut settings = settings.clone();
    settings.protection_key = None;
    serde_json::to_string(&settings).map_err(|e| StoreError::Corrupt(format!("settings: {e}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    id: String,
    producer_id: i64,
    producer_name: String,
    mode: String,
    principal: String,
    access_key_id: Option<String>,
    role_arn: Option<String>,
    account_id: Option<String>,
    state: String,
    owner: String,
    created_at: i64,
    expires_at: i64,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: Option<i64>,
    created_json: Option<String>,
    revoked_at: Option<i64>,
}

impl TryFrom<LeaseRow> for Lease {
    type Error = StoreError;
    fn try_from(r: LeaseRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            producer_id: r.producer_id,
            producer_name: r.producer_name,
            mode: AccessMode::parse("mode", &r.mode)
                .map_err(|_| StoreError::Corrupt("leases.mode".into()))?,
            principal: r.principal,
            access_key_id: r.access_key_id,
            role_arn: r.role_arn,
            account_id: r.account_id,
            state: LeaseState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt("leases.state".into()))?,
            owner: r.owner,
            created_at: from_millis(r.created_at, "leases.created_at")?,
            expires_at: from_millis(r.expires_at, "leases.expires_at")?,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            last_error: r.last_error,
            next_attempt_at: opt_from_millis(r.next_attempt_at, "leases.next_attempt_at")?,
            created: parse_created(r.created_json)?,
            revoked_at: opt_from_millis(r.revoked_at, "leases.revoked_at")?,
        })
    }
}

/// Decodes every row, failing on the first bad one.
pub(crate) fn decode<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// Decodes an optional row.
pub(crate) fn decode_one<R, T>(row: Option<R>) -> Result<Option<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    row.map(T::try_from).transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoleRow {
    id: i64,
    name: String,
    description: String,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<RoleRow> for RoleRecord {
    type Error = StoreError;
    fn try_from(r: RoleRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            name: r.name,
            description: r.description,
            created_at: from_millis(r.created_at, "roles.created_at")?,
            modified_at: from_millis(r.modified_at, "roles.modified_at")?,
        })
    }
}

/// A rule with the role it belongs to.
#[derive(sqlx::FromRow)]
pub(crate) struct RoleRuleRow {
    role_id: i64,
    #[sqlx(flatten)]
    rule: RuleRow,
}

impl TryFrom<RoleRuleRow> for crate::RoleRule {
    type Error = StoreError;
    fn try_from(r: RoleRuleRow) -> Result<Self> {
        Ok(Self {
            role_id: r.role_id,
            rule: PathRule::try_from(r.rule)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RuleRow {
    rule_type: String,
    path: String,
    capabilities: String,
}

impl TryFrom<RuleRow> for PathRule {
    type Error = StoreError;
    fn try_from(r: RuleRow) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("role_rules.{what}"));
        Ok(PathRule {
            rule_type: RuleType::parse(&r.rule_type).map_err(|_| corrupt("rule_type"))?,
            path: r.path,
            capabilities: r
                .capabilities
                .split(',')
                .map(Capability::parse)
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| corrupt("capabilities"))?,
        })
    }
}

pub(crate) fn capabilities_text(rule: &PathRule) -> String {
    let caps: Vec<&str> = rule.capabilities.iter().map(|c| c.as_str()).collect();
    caps.join(",")
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssocRow {
    pub id: String,
    pub role_id: i64,
    pub role_name: String,
    pub access_id: String,
    pub auth_method_name: String,
}

impl TryFrom<AssocRow> for crate::AssocRecord {
    type Error = StoreError;
    fn try_from(r: AssocRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            role_id: r.role_id,
            role_name: r.role_name,
            access_id: r.access_id,
            auth_method_name: r.auth_method_name,
        })
    }
}

pub(crate) const ASSOC_SELECT: &str = "SELECT a.id, a.role_id, r.name AS role_name, a.access_id, \
     k.name AS auth_method_name FROM role_assocs a JOIN roles r ON r.id = a.role_id \
     JOIN api_keys k ON k.access_id = a.access_id";

#[derive(sqlx::FromRow)]
pub(crate) struct ProtectionKeyRow {
    id: i64,
    uid: String,
    name: String,
    alg: String,
    split_level: i64,
    customer_fragment_id: Option<String>,
    key_id: String,
    sealed_fragments: Vec<u8>,
    description: String,
    delete_protection: bool,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<ProtectionKeyRow> for ProtectionKeyRecord {
    type Error = StoreError;
    fn try_from(r: ProtectionKeyRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uid: r.uid,
            name: r.name,
            alg: r.alg,
            split_level: u8::try_from(r.split_level)
                .map_err(|_| StoreError::Corrupt("protection_keys.split_level".into()))?,
            customer_fragment_id: r.customer_fragment_id,
            key_id: r.key_id,
            sealed_fragments: r.sealed_fragments,
            description: r.description,
            delete_protection: r.delete_protection,
            created_at: from_millis(r.created_at, "protection_keys.created_at")?,
            modified_at: from_millis(r.modified_at, "protection_keys.modified_at")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SealedRow {
    pub row_id: i64,
    pub uid: String,
    pub sealed: Vec<u8>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstanceRow {
    id: String,
    heartbeat_at: i64,
    master_keys: String,
}

impl TryFrom<InstanceRow> for crate::InstanceRecord {
    type Error = StoreError;
    fn try_from(r: InstanceRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            heartbeat_at: from_millis(r.heartbeat_at, "instances.heartbeat_at")?,
            master_keys: split_list(&r.master_keys),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyHandoverRow {
    key_id: String,
    sealed_key: Vec<u8>,
    created_at: i64,
}

impl TryFrom<KeyHandoverRow> for crate::KeyHandover {
    type Error = StoreError;
    fn try_from(r: KeyHandoverRow) -> Result<Self> {
        Ok(Self {
            key_id: r.key_id,
            sealed_key: r.sealed_key,
            created_at: from_millis(r.created_at, "master_key_handovers.created_at")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_lease_condition_names_the_revoked_state() {
        assert_eq!(
            LIVE_LEASE,
            format!("state <> '{}'", LeaseState::Revoked.as_str())
        );
        for migration in [
            include_str!("../migrations/sqlite/0008_scale.sql"),
            include_str!("../migrations/postgres/0002_scale.sql"),
        ] {
            assert!(
                migration.contains(&format!("WHERE {LIVE_LEASE};")),
                "the partial index's predicate is the query's"
            );
        }
    }
}
