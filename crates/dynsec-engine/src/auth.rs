//! API keys, the first admin, and auth tokens.
//!
//! Access keys and tokens are random 256-bit values; only their SHA-256 hashes
//! are stored, so the database alone cannot be used to log in.
//!
//! Failed attempts slow brute force without handing anyone a lockout: they
//! are counted in the store (so across a cluster) per (access id, client
//! address) and delay that pair's later answers; only an address flooding
//! unknown ids is refused outright.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{Cidr, PathRule};
use dynsec_core::SecretString;
use dynsec_crypto::{hash_credential, hashes_equal, random_id, random_secret};
use dynsec_store::{ApiKeyRecord, TokenRecord};
use std::net::IpAddr;
use std::time::Duration;

/// Name of the API key created on first start.
const ADMIN_KEY_NAME: &str = "/admin";

/// Failed `auth` attempts are counted per (access id, client address) pair
/// within [`FAILURE_WINDOW`]. The first [`FREE_FAILURES`] cost nothing; after
/// that every answer to that pair — right key or wrong — waits
/// [`FIRST_DELAY`], doubling per further failure up to
/// `EngineConfig::auth_max_delay`. Nothing is refused: someone who knows an
/// access id can slow only their own attempts, never lock the key out for
/// its owner at another address.
const FREE_FAILURES: u64 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Failures with ids that do not exist (or are not ids at all) tolerated per
/// client address within the window; past it, that address is refused (429)
/// until the window moves on. This bounds what guessing ids can write to the
/// store (one row per failure, purged each heartbeat); failures against
/// existing ids are bounded by their delays and the connection cap.
const MAX_UNKNOWN_ID_FAILURES_PER_ADDRESS: u64 = 50;

/// Who is calling, once their token checked out, with the path rules of every
/// role associated with their auth method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_id: String,
    pub is_admin: bool,
    pub rules: Vec<PathRule>,
}

/// The wait before answering the next attempt after `failures` recent
/// failures of the same pair.
pub(crate) fn auth_delay(failures: u64, max: Duration) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES)
        .unwrap_or(u32::MAX)
        .min(20);
    FIRST_DELAY.saturating_mul(1 << doublings).min(max)
}

/// The outcome of one `auth` attempt, with how long it was held back.
#[derive(Debug)]
pub struct AuthAttempt {
    /// The wait before the key was checked (zero unless this access id failed
    /// from this address several times within the last minute).
    pub delayed: Duration,
    pub result: Result<IssuedToken, EngineError>,
}

/// Limiter keys in the store's failure table.
fn pair_key(access_id: &str, client: IpAddr) -> String {
    format!("pair:{access_id}@{client}")
}

fn address_key(client: IpAddr) -> String {
    format!("ip:{client}")
}

impl Engine {
    /// Seconds until `client` may try again, when its failures with unknown
    /// ids reached the flood limit. Counted in the store, so the limit holds
    /// across every gateway on it.
    async fn address_flooding(&self, client: IpAddr) -> Result<Option<u64>, EngineError> {
        let now = self.now();
        let window = failure_window();
        let failures = self
            .store()
            .auth_failures_since(&address_key(client), now - window)
            .await?;
        if failures.count < MAX_UNKNOWN_ID_FAILURES_PER_ADDRESS {
            return Ok(None);
        }
        let oldest = failures.oldest.unwrap_or(now);
        let wait = (oldest + window - now).num_seconds().max(1);
        Ok(Some(u64::try_from(wait).unwrap_or(1)))
    }

    /// Recent failures of one access id from one address (cluster-wide).
    async fn pair_failures(&self, access_id: &str, client: IpAddr) -> Result<u64, EngineError> {
        let since = self.now() - failure_window();
        Ok(self
            .store()
            .auth_failures_since(&pair_key(access_id, client), since)
            .await?
            .count)
    }

    async fn record_auth_failure(
        &self,
        keys: &[String],
        reason: crate::telemetry::AuthFailure,
    ) -> Result<(), EngineError> {
        self.metrics().auth_failure(reason);
        Ok(self.store().record_auth_failure(keys, self.now()).await?)
    }

    /// Forgets failed authentications older than the window (each
    /// heartbeat), which bounds what a flood of bad logins can store.
    pub(crate) async fn purge_auth_failures(&self) -> Result<u64, EngineError> {
        Ok(self
            .store()
            .purge_auth_failures(self.now() - failure_window())
            .await?)
    }
}

fn failure_window() -> chrono::Duration {
    chrono::Duration::from_std(FAILURE_WINDOW).unwrap_or(chrono::Duration::MAX)
}

fn rate_limited(wait: u64) -> EngineError {
    EngineError::RateLimited(format!(
        "too many failed authentication attempts with unknown access ids from this address; retry in {wait} s"
    ))
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
        let inserted = self
            .store()
            .insert_api_key(&ApiKeyRecord {
                access_id: access_id.clone(),
                name: ADMIN_KEY_NAME.into(),
                key_hash: hash_credential(access_key.expose()),
                is_admin: true,
                created_at: self.now(),
                description: "first admin, created at initial start".into(),
                access_expires: None,
                bound_ips: Vec::new(),
                jwt_ttl_secs: None,
                delete_protection: true,
            })
            .await;
        match inserted {
            Ok(()) => {}
            // Another gateway starting on the same empty store won the race.
            Err(dynsec_store::StoreError::Conflict(_))
                if self.store().api_key_count().await? > 0 =>
            {
                return Ok(None)
            }
            Err(err) => return Err(err.into()),
        }
        Ok(Some(NewAdminKey {
            access_id,
            access_key,
            preset: was_preset,
        }))
    }

    /// Exchanges an access id and key for a token. Refused when the key is
    /// wrong, expired or used from outside its bound CIDRs; held back (see
    /// [`FREE_FAILURES`]) after recent failures of this access id from this
    /// client address; refused unchecked while the address floods unknown ids.
    pub async fn authenticate(
        &self,
        access_id: &str,
        access_key: &SecretString,
        client: IpAddr,
    ) -> AuthAttempt {
        let mut delayed = Duration::ZERO;
        let result = self
            .authenticate_after_delay(access_id, access_key, client, &mut delayed)
            .await;
        AuthAttempt { delayed, result }
    }

    async fn authenticate_after_delay(
        &self,
        access_id: &str,
        access_key: &SecretString,
        client: IpAddr,
        delayed: &mut Duration,
    ) -> Result<IssuedToken, EngineError> {
        use crate::telemetry::AuthFailure;
        // One message for every failure, so callers can't probe which ids exist.
        let refused =
            || EngineError::Unauthenticated("access denied: wrong access id or access key".into());
        if let Some(wait) = self.address_flooding(client).await? {
            self.metrics().auth_failure(AuthFailure::Flood);
            return Err(rate_limited(wait));
        }
        if !dynsec_core::access::is_access_id(access_id) {
            // Not an id at all (perhaps the key, swapped in): nothing to look
            // up, and nothing to remember it by; the address counts.
            self.record_auth_failure(&[address_key(client)], AuthFailure::MalformedId)
                .await?;
            return Err(refused());
        }
        let pair = pair_key(access_id, client);
        // Before the key is looked at, so the wait says nothing about it.
        let wait = auth_delay(
            self.pair_failures(access_id, client).await?,
            self.config().auth_max_delay,
        );
        if !wait.is_zero() {
            self.metrics().auth_delayed();
            tokio::time::sleep(wait).await;
            *delayed = wait;
        }
        let key = match self.store().api_key(access_id).await? {
            Some(key)
                if !access_key.is_empty()
                    && hashes_equal(&key.key_hash, &hash_credential(access_key.expose())) =>
            {
                key
            }
            Some(_) => {
                self.record_auth_failure(&[pair], AuthFailure::WrongKey)
                    .await?;
                return Err(refused());
            }
            None => {
                // Counted for the pair too, so an unknown id is held back
                // exactly like a known one with a wrong key.
                self.record_auth_failure(&[pair, address_key(client)], AuthFailure::WrongKey)
                    .await?;
                return Err(refused());
            }
        };
        if key.access_expires.is_some_and(|at| at <= self.now()) {
            self.record_auth_failure(&[pair], AuthFailure::Expired)
                .await?;
            return Err(EngineError::Unauthenticated(
                "access denied: this access key has expired".into(),
            ));
        }
        if !client_allowed(&key.bound_ips, client) {
            self.record_auth_failure(&[pair], AuthFailure::BoundIps)
                .await?;
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
            .and_then(|ttl| self.now().checked_add_signed(ttl))
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
        let caller = self.resolve_caller(token, client).await;
        if matches!(caller, Err(EngineError::Unauthenticated(_))) {
            self.metrics()
                .auth_failure(crate::telemetry::AuthFailure::BadToken);
        }
        caller
    }

    async fn resolve_caller(
        &self,
        token: Option<&str>,
        client: IpAddr,
    ) -> Result<Caller, EngineError> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            EngineError::Unauthenticated(
                "missing token: call /auth and pass its token in the request body".into(),
            )
        })?;
        let invalid = || EngineError::Unauthenticated("invalid or expired token".into());
        let Some(record) = self.store().token(&hash_credential(token)).await? else {
            return Err(invalid());
        };
        if record.expires_at <= self.now() {
            return Err(invalid());
        }
        let Some(key) = self.store().api_key(&record.access_id).await? else {
            return Err(invalid());
        };
        if key.access_expires.is_some_and(|at| at <= self.now())
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
        Ok(self.store().purge_tokens(self.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::engine_over;
    use crate::EngineConfig;
    use dynsec_store::SqliteStore;
    use std::sync::Arc;

    #[test]
    fn the_delay_starts_after_three_failures_doubles_and_is_capped() {
        let max = Duration::from_secs(8);
        let delays: Vec<u128> = (0..12).map(|n| auth_delay(n, max).as_millis()).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]
        );
        assert_eq!(auth_delay(u64::MAX, max), max);
        assert_eq!(
            auth_delay(10, Duration::ZERO),
            Duration::ZERO,
            "0 turns it off"
        );
    }

    #[tokio::test]
    async fn wrong_keys_slow_their_own_address_and_never_lock_the_key_out() {
        let store: Arc<dyn dynsec_store::Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let config = EngineConfig {
            auth_max_delay: Duration::from_millis(20),
            ..EngineConfig::default()
        };
        let engine = engine_over(store, config).await;
        let admin = engine.bootstrap_admin(None).await.unwrap().unwrap();
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "203.0.113.1".parse().unwrap(),
            "203.0.113.2".parse().unwrap(),
            "203.0.113.3".parse().unwrap(),
        );
        let wrong = SecretString::new("wrong-key-0123456789".to_string());
        let mut delays = Vec::new();
        for _ in 0..10 {
            let attempt = engine.authenticate(&admin.access_id, &wrong, a).await;
            assert!(
                matches!(attempt.result, Err(EngineError::Unauthenticated(_))),
                "refused as wrong, never rate-limited: {:?}",
                attempt.result
            );
            delays.push(attempt.delayed);
        }
        assert!(delays[..3].iter().all(|d| d.is_zero()), "{delays:?}");
        assert!(
            delays[3..].iter().all(|d| *d == Duration::from_millis(20)),
            "{delays:?}"
        );
        // The right key from another address: at once.
        let from_b = engine
            .authenticate(&admin.access_id, &admin.access_key, b)
            .await;
        assert!(from_b.result.is_ok());
        assert!(from_b.delayed.is_zero());
        // From the failing address: held back, then let in.
        let from_a = engine
            .authenticate(&admin.access_id, &admin.access_key, a)
            .await;
        assert!(from_a.result.is_ok(), "{:?}", from_a.result);
        assert_eq!(from_a.delayed, Duration::from_millis(20));

        // Guessing ids floods: after 50 unknown ids the address is refused,
        // the right key included; other addresses are not.
        for i in 0..MAX_UNKNOWN_ID_FAILURES_PER_ADDRESS {
            let attempt = engine
                .authenticate(&format!("p-guess{i:04}"), &wrong, c)
                .await;
            assert!(attempt.delayed.is_zero(), "each new id starts fresh");
            assert!(matches!(
                attempt.result,
                Err(EngineError::Unauthenticated(_))
            ));
        }
        let flooded = engine
            .authenticate(&admin.access_id, &admin.access_key, c)
            .await;
        assert!(
            matches!(&flooded.result, Err(EngineError::RateLimited(m)) if m.contains("retry in")),
            "{:?}",
            flooded.result
        );
        assert!(engine
            .authenticate(&admin.access_id, &admin.access_key, b)
            .await
            .result
            .is_ok());

        let mut registry = prometheus_client::registry::Registry::default();
        engine.metrics().register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"dynsec_auth_failures_total{reason="wrong_key"} 60"#),
            "{text}"
        );
        assert!(
            text.contains(r#"dynsec_auth_failures_total{reason="address_flood"} 1"#),
            "{text}"
        );
        assert!(text.contains("dynsec_auth_delays_total 8"), "{text}");
    }
}
