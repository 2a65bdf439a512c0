//! Protection keys (Akeyless's DFC keys): create, read, list and delete.
//! A key is one or more random store fragments, sealed under the master key,
//! combined with an optional customer fragment the store never sees.

use super::{protection_key_aad, FRAGMENT_LEN};
use crate::authz::{authorize, Requested, UseCase};
use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::{ItemPath, ValidationError};
use dynsec_crypto::{KeyFragment, ProtectionKey};
use dynsec_store::ProtectionKeyRecord;
use zeroize::Zeroizing;

/// The only algorithm protection keys use (Akeyless's name for it).
const ALG_AES256GCM: &str = "AES256GCM";
/// Most store fragments a key may be split into (the Akeyless SDK sends 3 by default).
const MAX_SPLIT_LEVEL: u8 = 3;

/// A protection key as callers see it (never its material).
#[derive(Debug, Clone)]
pub struct ProtectionKeyView {
    pub id: i64,
    pub name: String,
    pub alg: String,
    pub split_level: u8,
    pub customer_fragment_id: Option<String>,
    pub description: String,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

impl From<ProtectionKeyRecord> for ProtectionKeyView {
    fn from(r: ProtectionKeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            alg: r.alg,
            split_level: r.split_level,
            customer_fragment_id: r.customer_fragment_id,
            description: r.description,
            delete_protection: r.delete_protection,
            created_at: r.created_at,
            modified_at: r.modified_at,
        }
    }
}

/// `create-dfc-key` as the caller describes it.
#[derive(Debug, Clone)]
pub struct ProtectionKeyInput {
    pub name: ItemPath,
    /// Empty means the default, `AES256GCM`.
    pub alg: String,
    /// Store fragments; `None` means 1.
    pub split_level: Option<u64>,
    pub customer_fragment_id: Option<String>,
    pub description: String,
    pub delete_protection: bool,
}

impl Engine {
    pub async fn create_protection_key(
        &self,
        caller: &Caller,
        input: ProtectionKeyInput,
    ) -> Result<ProtectionKeyView, EngineError> {
        authorize(
            caller,
            UseCase::CreateProtectionKey,
            &Requested::name(&input.name),
        )?;
        dynsec_core::limits::text(
            "description",
            &input.description,
            dynsec_core::limits::DESCRIPTION,
        )?;
        let alg = if input.alg.trim().is_empty() {
            ALG_AES256GCM.to_string()
        } else {
            input
                .alg
                .trim()
                .to_ascii_uppercase()
                .replace(['-', '_'], "")
        };
        if alg != ALG_AES256GCM {
            return Err(ValidationError::new("alg", "only AES256GCM is supported").into());
        }
        let split_level = match input.split_level.unwrap_or(1) {
            n @ 1..=3 => n as u8,
            _ => {
                return Err(ValidationError::new(
                    "split-level",
                    format!("must be between 1 and {MAX_SPLIT_LEVEL}"),
                )
                .into())
            }
        };
        let customer_fragment_id = input
            .customer_fragment_id
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty());
        let customer = match &customer_fragment_id {
            Some(id) => Some(self.customer_fragment(id).ok_or_else(|| {
                ValidationError::new(
                    "customer-frg-id",
                    format!(
                        "customer fragment '{id}' is not configured in this gateway (--customer-fragments)"
                    ),
                )
            })?),
            None => None,
        };
        // Items share one namespace in Akeyless; a key must not shadow a dynamic secret.
        if self
            .store()
            .producer_by_name(input.name.as_str())
            .await?
            .is_some()
        {
            return Err(EngineError::Conflict(format!(
                "the name '{}' is taken by a dynamic secret; dynamic secrets and protection keys share one namespace, so pick another name",
                input.name
            )));
        }
        let store_fragments: Vec<KeyFragment> =
            (0..split_level).map(|_| KeyFragment::generate()).collect();
        let mut parts: Vec<&KeyFragment> = store_fragments.iter().collect();
        parts.extend(customer.as_ref());
        let key = ProtectionKey::combine(&parts)
            .ok_or_else(|| EngineError::Internal("a protection key needs a fragment".into()))?;
        let mut material = Zeroizing::new(Vec::with_capacity(FRAGMENT_LEN * store_fragments.len()));
        for fragment in &store_fragments {
            material.extend_from_slice(fragment.as_bytes());
        }
        let uid = dynsec_crypto::random_id(20);
        let now = self.now();
        let mut record = ProtectionKeyRecord {
            id: 0,
            sealed_fragments: self.inner.sealer.seal(&protection_key_aad(&uid), &material),
            uid,
            name: input.name.to_string(),
            alg,
            split_level,
            customer_fragment_id,
            key_id: key.id().to_hex(),
            description: input.description,
            delete_protection: input.delete_protection,
            created_at: now,
            modified_at: now,
        };
        record.id = self.store().insert_protection_key(&record).await?;
        Ok(record.into())
    }

    pub async fn get_protection_key(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<ProtectionKeyView, EngineError> {
        authorize(caller, UseCase::GetProtectionKey, &Requested::name(name))?;
        self.protection_key_record(name.as_str())
            .await?
            .map(Into::into)
            .ok_or_else(|| EngineError::not_found(format!("protection key '{name}' not found")))
    }

    /// Protection keys whose name contains `filter` (case-insensitive), as
    /// far as `caller` may list them.
    pub async fn list_protection_keys(
        &self,
        caller: &Caller,
        filter: &str,
    ) -> Result<Vec<ProtectionKeyView>, EngineError> {
        authorize(caller, UseCase::ListProtectionKeys, &Requested::nothing())?;
        let needle = filter.to_lowercase();
        Ok(self
            .store()
            .list_protection_keys()
            .await?
            .into_iter()
            .filter(|k| k.name.to_lowercase().contains(&needle))
            .filter(|k| caller.can(RuleType::Item, &k.name, Capability::List))
            .map(Into::into)
            .collect())
    }

    /// Deletes a protection key. Refused under delete protection and while a
    /// target or dynamic secret uses it: what it protects would be lost.
    /// Faces delete keys through [`Engine::delete_item`], which checks.
    pub(crate) async fn delete_protection_key(&self, name: &ItemPath) -> Result<i64, EngineError> {
        let record = self
            .protection_key_record(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("protection key '{name}' not found")))?;
        if record.delete_protection {
            return Err(EngineError::Conflict(format!(
                "protection key '{name}' has delete protection on; turn it off first"
            )));
        }
        let mut users: Vec<String> = self
            .store()
            .list_targets()
            .await?
            .into_iter()
            .filter(|t| t.protection_key.as_deref() == Some(record.name.as_str()))
            .map(|t| format!("target {}", t.name))
            .collect();
        users.extend(
            self.store()
                .list_producers()
                .await?
                .into_iter()
                .filter(|p| p.settings.protection_key.as_deref() == Some(record.name.as_str()))
                .map(|p| format!("dynamic secret {}", p.name)),
        );
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!(
                "protection key '{name}' is used by {}; delete them or move them to another key first",
                users.join(", ")
            )));
        }
        self.store().delete_protection_key(record.id).await?;
        Ok(record.id)
    }

    pub(super) async fn protection_key_record(
        &self,
        name: &str,
    ) -> Result<Option<ProtectionKeyRecord>, EngineError> {
        Ok(self.store().protection_key_by_name(name).await?)
    }
}
