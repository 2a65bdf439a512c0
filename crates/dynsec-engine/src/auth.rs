//! API keys, the first admin, and auth tokens.
//!
//! Access keys and tokens are random 256-bit values; only their SHA-256 hashes
//! are stored, so the database alone cannot be used to log in.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::SecretString;
use dynsec_crypto::{hash_credential, hashes_equal, random_id, random_secret};
use dynsec_store::{ApiKeyRecord, TokenRecord};

/// Name of the API key created on first start.
const ADMIN_KEY_NAME: &str = "/admin";

/// Who is calling, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_id: String,
    pub is_admin: bool,
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
                if !id.starts_with("p-") || id.len() < 4 {
                    return Err(EngineError::Invalid(dynsec_core::ValidationError::new(
                        "DYNSEC_ADMIN_ACCESS_ID",
                        "must look like p-<letters and digits>",
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
            })
            .await?;
        Ok(Some(NewAdminKey {
            access_id,
            access_key,
            preset: was_preset,
        }))
    }

    /// Exchanges an access id and key for a token.
    pub async fn authenticate(
        &self,
        access_id: &str,
        access_key: &SecretString,
    ) -> Result<IssuedToken, EngineError> {
        // One message for every failure, so callers can't probe which ids exist.
        let refused =
            || EngineError::Unauthenticated("access denied: wrong access id or access key".into());
        if access_id.is_empty() || access_key.is_empty() {
            return Err(refused());
        }
        let Some(key) = self.store().api_key(access_id).await? else {
            return Err(refused());
        };
        if !hashes_equal(&key.key_hash, &hash_credential(access_key.expose())) {
            return Err(refused());
        }
        let token = SecretString::new(format!("t-{}", random_secret()));
        let ttl = chrono::Duration::from_std(self.config().token_ttl)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let expires_at = Utc::now() + ttl;
        self.store()
            .insert_token(&TokenRecord {
                token_hash: hash_credential(token.expose()),
                access_id: key.access_id,
                expires_at,
            })
            .await?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Resolves a token from a request body to its caller.
    pub async fn caller(&self, token: Option<&str>) -> Result<Caller, EngineError> {
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
        Ok(Caller {
            access_id: key.access_id,
            is_admin: key.is_admin,
        })
    }

    /// Drops expired token hashes (called periodically by the gateway).
    pub async fn purge_expired_tokens(&self) -> Result<u64, EngineError> {
        Ok(self.store().purge_tokens(Utc::now()).await?)
    }
}
