//! Rows as the engine reads and writes them.

use chrono::{DateTime, Utc};
use dynsec_core::ProducerSettings;

/// An API key; only the hash of the access key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub access_id: String,
    pub name: String,
    pub key_hash: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub description: String,
    /// After this instant the key no longer authenticates.
    pub access_expires: Option<DateTime<Utc>>,
    /// CIDRs the caller's address must fall in; empty means anywhere.
    pub bound_ips: Vec<String>,
    /// Token lifetime for this key; `None` means the gateway default.
    pub jwt_ttl_secs: Option<u64>,
    pub delete_protection: bool,
}

/// An issued auth token; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub access_id: String,
    pub expires_at: DateTime<Utc>,
}

/// An AWS connection as stored: plain non-secret fields, and the secret access
/// key + session token as one sealed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionColumns {
    pub access_key_id: String,
    pub region: String,
    pub iam_endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
    pub sealed_secret: Vec<u8>,
    /// The connection's admin-key state (rotation schedule and progress,
    /// host identity) as JSON the engine reads and writes
    /// (`dynsec_core::AdminKeyState`); `{}` for a connection with none. Never
    /// holds a secret. Compared as text by [`crate::Store::update_connection_if`].
    pub admin_json: String,
}

/// Whose connection [`crate::Store::update_connection_if`] replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionSlot {
    /// `targets.id`.
    Target(i64),
    /// `producers.id`, its inline connection.
    DynamicSecret(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    pub id: i64,
    /// Stable identity bound into the sealed secret as associated data.
    pub uid: String,
    pub name: String,
    pub description: String,
    pub connection: ConnectionColumns,
    pub protection_key: Option<String>,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    pub id: i64,
    pub uid: String,
    pub name: String,
    /// The target it uses, or `None` when it carries its connection inline.
    pub target_id: Option<i64>,
    pub inline_connection: Option<ConnectionColumns>,
    pub settings: ProducerSettings,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}
