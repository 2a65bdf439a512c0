//! API keys, the first admin, and auth tokens.
//!
//! Access keys and tokens are random 256-bit values; only their SHA-256 hashes
//! are stored, so the database alone cannot be used to log in.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{Cidr, PathRule};
use dynsec_core::SecretString;
use dynsec_crypto::{hash_credential, hashes_equal, random_id, random_secret};
use dynsec_store::{ApiKeyRecord, TokenRecord};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the API key created on first start.
const ADMIN_KEY_NAME: &str = "/admin";

/// Failed `auth` attempts tolerated within [`FAILURE_WINDOW`] per access id,
/// and per client address (higher: one address may front many users), before
/// further attempts are refused.
const MAX_FAILURES_PER_ID: usize = 10;
const MAX_FAILURES_PER_ADDRESS: usize = 50;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Bound on remembered keys, so a flood of random ids can't exhaust memory.
const MAX_TRACKED: usize = 10_000;

/// Who is calling, once their token checked out, with the path rules of every
/// role associated with their auth method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_id: String,
    pub is_admin: bool,
    pub rules: Vec<PathRule>,
}

/// Counts recent failed authentications per key (`id:<access id>`, `ip:<addr>`).
#[derive(Debug, Default)]
pub(crate) struct FailureLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureLimiter {
    /// Seconds to wait if any of `keys` is over the limit.
    fn blocked(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().find_map(|key| {
            let times = map.get_mut(key)?;
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW)
            {
                times.pop_front();
            }
            let limit = if key.starts_with("ip:") {
                MAX_FAILURES_PER_ADDRESS
            } else {
                MAX_FAILURES_PER_ID
            };
            (times.len() >= limit).then(|| {
                let oldest = times.front().copied().unwrap_or(now);
                FAILURE_WINDOW
                    .saturating_sub(now.duration_since(oldest))
                    .as_secs()
                    .max(1)
            })
        })
    }

    fn record(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) <= FAILURE_WINDOW)
            });
        }
        let full = map.len() >= MAX_TRACKED;
        for key in keys {
            match map.get_mut(key) {
                Some(times) => {
                    times.push_back(now);
                    // Only the last window matters; older entries would pile up.
                    while times.len() > MAX_FAILURES_PER_ADDRESS {
                        times.pop_front();
                    }
                }
                // Under a flood of distinct ids the map stops growing; keys
                // already tracked (the ones under attack) keep counting.
                None if full => {}
                None => {
                    map.insert(key.clone(), VecDeque::from([now]));
                }
            }
        }
    }
}

/// Whether `client` may use a key bound to `bound_ips` (empty: anywhere).
fn client_allowed(bound_ips: &[String], client: IpAddr) -> bool {
    bound_ips.is_empty()
        || bound_ips
            .iter()
            .filter_map(|c| Cidr::parse("bound-ips", c).ok())
            .any(|cidr| cidr.contains(client))
}

/// An API key as created: the access key is shown once and never again.
#[derive(Debug)]
pub struct NewAdminKey {
    pub access_id: String,
    pub access_key: SecretString,
    /// True when the key came from the operator (env), so it need not be printed.
    pub preset: bool,
}

/// A token returned by `auth`.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

impl Engine {
    /// On an empty store, creates the first admin key — from `preset` (the
    /// operator's `DYNSEC_ADMIN_ACCESS_ID`/`_KEY`) or freshly generated.
    /// Returns `None` when keys already exist.
    pub async fn bootstrap_admin(
        &self,
        preset: Option<(String, SecretString)>,
    ) -> Result<Option<NewAdminKey>, EngineError> {
        if self.store().api_key_count().await? > 0 {
            return Ok(None);
        }
        let (access_id, access_key, was_preset) = match preset {
            Some((id, key)) => {
                if !dynsec_core::access::is_access_id(&id) {
                    return Err(EngineError::Invalid(dynsec_core::ValidationError::new(
                        "DYNSEC_ADMIN_ACCESS_ID",
                        "must look like p-<4 to 32 letters and digits>",
                    )));
                }
                if key.expose().len() < 16 {
                    return Err(EngineError::Invalid(dynsec_core::ValidationError::new(
                        "DYNSEC_ADMIN_ACCESS_KEY",
                        "must be at least 16 characters",
                    )));
                }
                (id, key, true)
            }
            None => (
                format!("p-{}", random_id(12)),
                SecretString::new(random_secret()),
                false,
            ),
        };
        self.store()
            .insert_api_key(&ApiKeyRecord {
                access_id: access_id.clone(),
                name: ADMIN_KEY_NAME.into(),
                key_hash: hash_credential(access_key.expose()),
                is_admin: true,
                created_at: Utc::now(),
                description: "first admin, created at initial start".into(),
                access_expires: None,
                bound_ips: Vec::new(),
                jwt_ttl_secs: None,
                delete_protection: true,
            })
            .await?;
        Ok(Some(NewAdminKey {
            access_id,
            access_key,
            preset: was_preset,
        }))
    }

    /// Exchanges an access id and key for a token. Refused when the key is
    /// wrong, expired, used from outside its bound CIDRs, or when too many
    /// attempts failed recently for this access id or client address.
    pub async fn authenticate(
        &self,
        access_id: &str,
        access_key: &SecretString,
        client: IpAddr,
    ) -> Result<IssuedToken, EngineError> {
        // One message for every failure, so callers can't probe which ids exist.
        let refused =
            || EngineError::Unauthenticated("access denied: wrong access id or access key".into());
        if !dynsec_core::access::is_access_id(access_id) {
            // Not an id at all (perhaps the key, swapped in): nothing to look
            // up, and nothing to remember it by; the address still counts.
            let address = [format!("ip:{client}")];
            if let Some(wait) = self.inner.auth_failures.blocked(&address) {
                return Err(EngineError::RateLimited(format!(
                    "too many failed authentication attempts; retry in {wait} s"
                )));
            }
            self.inner.auth_failures.record(&address);
            return Err(refused());
        }
        let limiter_keys = [format!("id:{access_id}"), format!("ip:{client}")];
        if let Some(wait) = self.inner.auth_failures.blocked(&limiter_keys) {
            return Err(EngineError::RateLimited(format!(
                "too many failed authentication attempts; retry in {wait} s"
            )));
        }
        let key = match self.store().api_key(access_id).await? {
            Some(key)
                if !access_key.is_empty()
                    && hashes_equal(&key.key_hash, &hash_credential(access_key.expose())) =>
            {
                key
            }
            _ => {
                self.inner.auth_failures.record(&limiter_keys);
                return Err(refused());
            }
        };
        if key.access_expires.is_some_and(|at| at <= Utc::now()) {
            self.inner.auth_failures.record(&limiter_keys);
            return Err(EngineError::Unauthenticated(
                "access denied: this access key has expired".into(),
            ));
        }
        if !client_allowed(&key.bound_ips, client) {
            self.inner.auth_failures.record(&limiter_keys);
            return Err(EngineError::Unauthenticated(format!(
                "access denied: client address {client} is outside this key's bound IPs"
            )));
        }
        let token = SecretString::new(format!("t-{}", random_secret()));
        let ttl = key
            .jwt_ttl_secs
            .map(Duration::from_secs)
            .unwrap_or(self.config().token_ttl);
        let mut expires_at = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| Utc::now().checked_add_signed(ttl))
            .ok_or_else(|| {
                EngineError::Internal(format!("token lifetime {ttl:?} is out of range"))
            })?;
        if let Some(limit) = key.access_expires {
            expires_at = expires_at.min(limit);
        }
        self.store()
            .insert_token(&TokenRecord {
                token_hash: hash_credential(token.expose()),
                access_id: key.access_id,
                expires_at,
            })
            .await?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Resolves a token from a request body to its caller and their rules.
    pub async fn caller(&self, token: Option<&str>, client: IpAddr) -> Result<Caller, EngineError> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            EngineError::Unauthenticated(
                "missing token: call /auth and pass its token in the request body".into(),
            )
        })?;
        let invalid = || EngineError::Unauthenticated("invalid or expired token".into());
        let Some(record) = self.store().token(&hash_credential(token)).await? else {
            return Err(invalid());
        };
        if record.expires_at <= Utc::now() {
            return Err(invalid());
        }
        let Some(key) = self.store().api_key(&record.access_id).await? else {
            return Err(invalid());
        };
        if key.access_expires.is_some_and(|at| at <= Utc::now())
            || !client_allowed(&key.bound_ips, client)
        {
            return Err(invalid());
        }
        let rules = if key.is_admin {
            Vec::new()
        } else {
            self.store().rules_for_access_id(&key.access_id).await?
        };
        Ok(Caller {
            access_id: key.access_id,
            is_admin: key.is_admin,
            rules,
        })
    }

    /// Drops expired token hashes (called periodically by the gateway).
    pub async fn purge_expired_tokens(&self) -> Result<u64, EngineError> {
        Ok(self.store().purge_tokens(Utc::now()).await?)
    }
}
