//! Using protection keys: validating a record's key selection, deriving the
//! selected key (store fragments ⊕ customer fragment, checked against its
//! fingerprint), and sealing or opening a record's secret under it (under the
//! master key when the record selects none).

use super::{protection_key_aad, FRAGMENT_LEN};
use crate::{Engine, EngineError};
use dynsec_core::{ItemPath, ValidationError};
use dynsec_crypto::{KeyFragment, ProtectionKey};
use dynsec_store::ProtectionKeyRecord;
use zeroize::Zeroizing;

impl Engine {
    /// Validates a record's protection key selection (`field` names the
    /// request field): normalizes the path, requires that the key exists (400
    /// otherwise) and that this gateway can produce it (its customer fragment
    /// is configured). Blank means none.
    pub(crate) async fn protection_key_field(
        &self,
        field: &str,
        name: Option<&str>,
    ) -> Result<Option<String>, EngineError> {
        let Some(raw) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        let path = ItemPath::parse(field, raw)?;
        let record = self
            .protection_key_record(path.as_str())
            .await?
            .ok_or_else(|| {
                ValidationError::new(field, format!("protection key '{path}' does not exist"))
            })?;
        self.derive_protection_key(&record).await?;
        Ok(Some(record.name))
    }

    /// Fails unless the protection key `name` (if any) can be produced here:
    /// what it protects is not served without it.
    pub(crate) async fn require_protection_key(
        &self,
        name: Option<&str>,
    ) -> Result<(), EngineError> {
        if let Some(name) = name {
            self.protection_key(name).await?;
        }
        Ok(())
    }

    /// The key material of the protection key `name`.
    async fn protection_key(&self, name: &str) -> Result<ProtectionKey, EngineError> {
        let record = self.protection_key_record(name).await?.ok_or_else(|| {
            EngineError::Internal(format!("protection key '{name}' is missing from the store"))
        })?;
        self.derive_protection_key(&record).await
    }

    /// Opens the store fragments and combines them with the customer
    /// fragment, checking the result against the key's fingerprint.
    async fn derive_protection_key(
        &self,
        record: &ProtectionKeyRecord,
    ) -> Result<ProtectionKey, EngineError> {
        let customer = match &record.customer_fragment_id {
            Some(id) => Some(self.customer_fragment(id).ok_or_else(|| {
                EngineError::Conflict(format!(
                    "protection key '{}' needs customer fragment '{id}', which this gateway is not configured with",
                    record.name
                ))
            })?),
            None => None,
        };
        let material = Box::pin(
            self.open_master_sealed(&protection_key_aad(&record.uid), &record.sealed_fragments),
        )
        .await
        .map_err(|e| {
            EngineError::Internal(format!(
                "cannot decrypt the fragments of protection key '{}': {e}",
                record.name
            ))
        })?;
        if material.is_empty() || material.len() % FRAGMENT_LEN != 0 {
            return Err(EngineError::Internal(format!(
                "fragments of protection key '{}' are corrupt",
                record.name
            )));
        }
        let fragments = material
            .chunks(FRAGMENT_LEN)
            .map(KeyFragment::from_bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Internal(format!("protection key '{}': {e}", record.name)))?;
        let mut parts: Vec<&KeyFragment> = fragments.iter().collect();
        parts.extend(customer.as_ref());
        let key = ProtectionKey::combine(&parts)
            .ok_or_else(|| EngineError::Internal("a protection key needs a fragment".into()))?;
        if key.id().to_hex() != record.key_id {
            return Err(match &record.customer_fragment_id {
                Some(id) => EngineError::Conflict(format!(
                    "customer fragment '{id}' configured in this gateway is not the one protection key '{}' was created with",
                    record.name
                )),
                None => EngineError::Internal(format!(
                    "protection key '{}' does not match its fingerprint",
                    record.name
                )),
            });
        }
        Ok(key)
    }

    /// Seals a record's secret: under the protection key `key` when the record
    /// selects one, under the master key otherwise.
    pub(crate) async fn seal_secret(
        &self,
        aad: &str,
        plaintext: &[u8],
        key: Option<&str>,
    ) -> Result<Vec<u8>, EngineError> {
        match key {
            None => Ok(self.inner.sealer.seal(aad, plaintext)),
            Some(name) => Ok(self.protection_key(name).await?.seal(aad, plaintext)),
        }
    }

    /// Opens what [`Engine::seal_secret`] sealed. The ciphertext names its
    /// wrapping key, so a record sealed before it selected a key still opens.
    pub(crate) async fn open_secret(
        &self,
        aad: &str,
        sealed: &[u8],
        key: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, EngineError> {
        let sealer = &self.inner.sealer;
        let opened = match key {
            Some(name) if !sealer.is_master_wrapped(sealed) => {
                self.protection_key(name).await?.open(aad, sealed)
            }
            _ => Box::pin(self.open_master_sealed(aad, sealed)).await,
        };
        opened
            .map_err(|e| EngineError::Internal(format!("cannot decrypt the secret of {aad}: {e}")))
    }
}
