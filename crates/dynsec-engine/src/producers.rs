//! AWS dynamic secrets ("producers"): where they live, what they issue.

use crate::authz::{authorize, Requested, UseCase};
use crate::connection::{admin_state, producer_aad};
use crate::paging::{fill, parse_token, Paged};
use crate::rotation::RotationSchedule;
use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::{AdminKeyState, AwsConnection, ItemPath, ProducerSettings, ValidationError};
use dynsec_store::paging::listing::DynamicSecrets;
use dynsec_store::{ConnectionSlot, ProducerListing, ProducerRecord};

/// Where a dynamic secret gets its AWS connection.
#[derive(Debug, Clone)]
pub enum ProducerTargetInput {
    /// A target by name (`target-name`).
    Named(String),
    /// The seed's second form: the connection carried by the dynamic secret.
    /// On update an empty secret keeps the stored one.
    Inline(AwsConnection),
}

#[derive(Debug, Clone)]
pub struct ProducerInput {
    pub name: ItemPath,
    pub target: ProducerTargetInput,
    pub settings: ProducerSettings,
    pub delete_protection: bool,
    /// `enable-admin-rotation` / `admin-rotation-interval-days`, for an
    /// inline connection (a target has its own).
    pub admin_rotation: RotationSchedule,
}

/// A dynamic secret as shown to callers (never the admin secret).
#[derive(Debug, Clone)]
pub struct ProducerView {
    pub id: i64,
    pub name: String,
    /// (id, name) of its target, or `None` for an inline connection.
    pub target: Option<(i64, String)>,
    /// The admin access key id it uses (not secret).
    pub admin_access_key_id: String,
    pub region: String,
    /// Endpoint overrides of an inline connection (`None` with a target).
    pub iam_endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
    pub settings: ProducerSettings,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    /// Admin-key state of the connection it uses (its inline one's, or its
    /// target's): rotation schedule, last rotation.
    pub admin: AdminKeyState,
}

impl Engine {
    /// Creates a dynamic secret. Using a target needs `read` on it.
    pub async fn create_producer(
        &self,
        caller: &Caller,
        mut input: ProducerInput,
    ) -> Result<ProducerView, EngineError> {
        authorize(
            caller,
            UseCase::CreateDynamicSecret,
            &Requested {
                target: named_target(&input.target),
                ..Requested::name(&input.name)
            },
        )?;
        input.settings.validate_for(input.name.as_str())?;
        self.item_name_free(&input.name).await?;
        input.settings.protection_key = self
            .protection_key_field(
                "producer-encryption-key-name",
                input.settings.protection_key.as_deref(),
            )
            .await?;
        let now = self.now();
        let mut record = ProducerRecord {
            id: 0,
            uid: dynsec_crypto::random_id(20),
            name: input.name.to_string(),
            target_id: None,
            inline_connection: None,
            settings: input.settings,
            delete_protection: input.delete_protection,
            created_at: now,
            modified_at: now,
        };
        let key = record.settings.protection_key.clone();
        self.apply_target(
            caller,
            &mut record,
            input.target,
            AdminKeyState::default(),
            input.admin_rotation,
            key.as_deref(),
        )
        .await?;
        self.check_against_connection(&record).await?;
        record.id = self.store().insert_producer(&record).await?;
        self.producer_view(record).await
    }

    /// Items share one namespace in Akeyless: a dynamic secret must not take
    /// a protection key's name (`create_protection_key` checks the converse).
    /// Creating and renaming both go through here.
    async fn item_name_free(&self, name: &ItemPath) -> Result<(), EngineError> {
        if self
            .store()
            .protection_key_by_name(name.as_str())
            .await?
            .is_some()
        {
            return Err(EngineError::Conflict(format!(
                "the name '{name}' is taken by a protection key; dynamic secrets and protection keys share one namespace, so pick another name"
            )));
        }
        Ok(())
    }

    /// Replaces every settable field of `name` (Akeyless clients always send
    /// defaults, so an update cannot tell unset from default). The target it
    /// keeps or sets needs `read`; a rename is allowed as
    /// [`Engine::may_move`] says.
    pub async fn update_producer(
        &self,
        caller: &Caller,
        name: &ItemPath,
        mut input: ProducerInput,
    ) -> Result<ProducerView, EngineError> {
        // The target is checked by `apply_target`, after the rename's rules:
        // `input` names the kept target too, which a face's request did not
        // (that one was checked up front by `producer_to_update`).
        authorize(
            caller,
            UseCase::UpdateDynamicSecret,
            &Requested {
                new_name: Some(&input.name),
                ..Requested::name(name)
            },
        )?;
        if &input.name != name {
            self.may_move(caller, RuleType::Item, name, &input.name)?;
            self.item_name_free(&input.name).await?;
        }
        input.settings.validate_for(input.name.as_str())?;
        input.settings.protection_key = self
            .protection_key_field(
                "producer-encryption-key-name",
                input.settings.protection_key.as_deref(),
            )
            .await?;
        let mut record = self.producer_record(name).await?;
        let read_inline = record
            .inline_connection
            .clone()
            .filter(|_| record.target_id.is_none());
        let previous_state = match &record.inline_connection {
            Some(cols) if record.target_id.is_none() => admin_state(cols)?,
            _ => AdminKeyState::default(),
        };
        if let Some(rotation) = &previous_state.rotation {
            return Err(EngineError::Conflict(format!(
                "the admin key of dynamic secret '{name}' is being rotated (since {}); update it once the rotation is done",
                rotation.started_at
            )));
        }
        let previous_inline = match &record.inline_connection {
            Some(cols) => Some(
                self.open_connection(
                    &producer_aad(&record.uid),
                    cols,
                    record.settings.protection_key.as_deref(),
                )
                .await?,
            ),
            None => None,
        };
        let target = match input.target {
            ProducerTargetInput::Inline(mut conn) if conn.secret_access_key.is_empty() => {
                if let Some(previous) = previous_inline {
                    conn.secret_access_key = previous.secret_access_key;
                    conn.session_token = conn.session_token.or(previous.session_token);
                }
                ProducerTargetInput::Inline(conn)
            }
            other => other,
        };
        self.apply_target(
            caller,
            &mut record,
            target,
            previous_state,
            input.admin_rotation,
            input.settings.protection_key.as_deref(),
        )
        .await?;
        record.name = input.name.to_string();
        record.settings = input.settings;
        record.delete_protection = input.delete_protection;
        record.modified_at = self.now();
        self.check_against_connection(&record).await?;
        // An inline connection kept inline is written first, only if it is
        // still the one read: a key rotated meanwhile must not be overwritten.
        if let (Some(read), Some(new), None) =
            (&read_inline, &record.inline_connection, record.target_id)
        {
            if !self
                .store()
                .update_connection_if(ConnectionSlot::DynamicSecret(record.id), read, new)
                .await?
            {
                return Err(crate::targets::changed_meanwhile(name));
            }
        }
        self.store().update_producer(&record).await?;
        self.producer_view(record).await
    }

    /// The dynamic secret an update of `name` starts from: an update
    /// replaces every field, so a face fills what its request leaves out
    /// from this. Checked as [`Engine::update_producer`] is (`new_name`,
    /// and `target` when the request names one), before the lookup.
    pub async fn producer_to_update(
        &self,
        caller: &Caller,
        name: &ItemPath,
        new_name: &ItemPath,
        target: Option<&str>,
    ) -> Result<ProducerView, EngineError> {
        authorize(
            caller,
            UseCase::UpdateDynamicSecret,
            &Requested {
                new_name: Some(new_name),
                target,
                ..Requested::name(name)
            },
        )?;
        let record = self.producer_record(name).await?;
        self.producer_view(record).await
    }

    pub async fn get_producer(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<ProducerView, EngineError> {
        authorize(caller, UseCase::GetDynamicSecret, &Requested::name(name))?;
        let record = self.producer_record(name).await?;
        self.producer_view(record).await
    }

    /// One page of the dynamic secrets whose name contains `filter` (ASCII
    /// case ignored), by name, as far as `caller` may list them; each with
    /// its target joined in by the store (no lookup per secret).
    pub async fn list_producers(
        &self,
        caller: &Caller,
        filter: &str,
        page_token: Option<&str>,
    ) -> Result<Paged<ProducerView>, EngineError> {
        authorize(caller, UseCase::ListDynamicSecrets, &Requested::nothing())?;
        let start = parse_token::<DynamicSecrets>(page_token)?;
        let store = self.store();
        fill(
            start,
            self.page_size(None),
            |after, limit| {
                Box::pin(async move {
                    store
                        .dynamic_secrets_page(filter, after.as_ref(), limit)
                        .await
                })
            },
            |listing| {
                caller
                    .can(RuleType::Item, &listing.producer.name, Capability::List)
                    .then(|| listed_view(listing))
            },
        )
        .await
    }

    /// Deletes a dynamic secret after revoking every credential it issued.
    /// Refused under delete protection, and when a revocation fails (the
    /// secret stays so its leases can still be revoked; they are retried).
    pub async fn delete_producer(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<i64, EngineError> {
        authorize(caller, UseCase::DeleteDynamicSecret, &Requested::name(name))?;
        let record = self.producer_record(name).await?;
        self.remove_producer(record).await
    }

    /// [`Engine::delete_producer`] of `record`, once the caller is allowed.
    pub(crate) async fn remove_producer(&self, record: ProducerRecord) -> Result<i64, EngineError> {
        let name = &record.name;
        if record.delete_protection {
            return Err(EngineError::Conflict(format!(
                "dynamic secret '{name}' has delete protection on; turn it off first"
            )));
        }
        self.revoke_all_of(&record).await?;
        // Expired entries of its roles go while the connection is known.
        self.prune_roles_of(&record).await;
        let live = self.store().leases_of_producer(record.id, false).await?;
        let early = crate::early_revocation::uses_early_revocation(&record);
        let outstanding: Vec<&str> = live
            .iter()
            .filter(|l| match l.mode {
                dynsec_core::AccessMode::IamUser => true,
                // Their denies must be written while the secret (and its
                // connection) still exists.
                dynsec_core::AccessMode::AssumedRole => early,
                dynsec_core::AccessMode::FederationToken
                | dynsec_core::AccessMode::SessionToken => false,
            })
            .map(|l| l.id.as_str())
            .collect();
        if !outstanding.is_empty() {
            return Err(EngineError::Conflict(format!(
                "dynamic secret '{name}' still has credentials being revoked ({}); try again shortly",
                outstanding.join(", ")
            )));
        }
        if !self.store().delete_producer(record.id).await? {
            return Err(EngineError::Conflict(format!(
                "dynamic secret '{name}' is issuing a credential right now; try again shortly"
            )));
        }
        Ok(record.id)
    }

    /// The rules that depend on the connection a dynamic secret uses:
    /// role chaining (AssumeRole signed with temporary credentials) is capped
    /// at 1 h by AWS, and early revocation needs the roles in the
    /// connection's own account.
    async fn check_against_connection(&self, record: &ProducerRecord) -> Result<(), EngineError> {
        if record.settings.access_mode == dynsec_core::AccessMode::AssumedRole
            && record.settings.ttl_secs > dynsec_core::spec::MAX_CHAINED_ROLE_TTL_SECS
        {
            let conn = self.producer_connection(record).await?;
            if conn.carries_session_token() {
                return Err(dynsec_core::ValidationError::new(
                    "user-ttl",
                    format!(
                        "the connection carries a session token, so AssumeRole chains roles, which AWS caps at 1h (3600 seconds); got {} seconds",
                        record.settings.ttl_secs
                    ),
                )
                .into());
            }
        }
        if matches!(
            record.settings.access_mode,
            dynsec_core::AccessMode::FederationToken | dynsec_core::AccessMode::SessionToken
        ) {
            let conn = self.producer_connection(record).await?;
            if conn.carries_session_token() {
                return Err(dynsec_core::ValidationError::new(
                    "access-mode",
                    format!(
                        "{} needs an IAM user's long-term access key, but the connection carries a session token (AWS refuses {} to temporary credentials)",
                        record.settings.access_mode,
                        match record.settings.access_mode {
                            dynsec_core::AccessMode::FederationToken => "GetFederationToken",
                            _ => "GetSessionToken",
                        }
                    ),
                )
                .into());
            }
        }
        self.check_early_revocation_roles(record).await
    }

    pub(crate) async fn producer_record(
        &self,
        name: &ItemPath,
    ) -> Result<ProducerRecord, EngineError> {
        self.store()
            .producer_by_name(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("dynamic secret '{name}' not found")))
    }

    /// Sets where the dynamic secret gets its connection. An inline one
    /// keeps `state` (its admin-key state) with `schedule` applied; a
    /// target brings its own, so a schedule set here is refused.
    async fn apply_target(
        &self,
        caller: &Caller,
        record: &mut ProducerRecord,
        target: ProducerTargetInput,
        mut state: AdminKeyState,
        schedule: RotationSchedule,
        key: Option<&str>,
    ) -> Result<(), EngineError> {
        match target {
            ProducerTargetInput::Named(name) => {
                if schedule.enabled {
                    return Err(ValidationError::new(
                        "enable-admin-rotation",
                        format!(
                            "applies to an inline connection; this dynamic secret uses target '{name}', so set it on the target"
                        ),
                    )
                    .into());
                }
                // Whoever points a dynamic secret at a target (or keeps it
                // there while changing what it issues) uses the target's
                // admin credentials, so needs `read` on it. Checked on the
                // normalized name, before whether it exists is revealed.
                let path = ItemPath::parse("target-name", &name)?;
                caller.require(RuleType::Target, path.as_str(), Capability::Read)?;
                let target = self.target_for_field("target-name", &name).await?;
                record.target_id = Some(target.id);
                record.inline_connection = None;
            }
            ProducerTargetInput::Inline(conn) => {
                conn.validate(&dynsec_core::ConnectionFields::INLINE)?;
                if schedule.enabled && conn.session_token.is_some() {
                    return Err(ValidationError::new(
                        "enable-admin-rotation",
                        "a connection with a session token has no long-term key to rotate",
                    )
                    .into());
                }
                state.set_schedule(
                    schedule.enabled,
                    schedule.interval_days,
                    self.now().timestamp(),
                )?;
                record.target_id = None;
                record.inline_connection = Some(
                    self.seal_connection(&producer_aad(&record.uid), &conn, &state, key)
                        .await?,
                );
            }
        }
        Ok(())
    }

    pub(crate) async fn producer_view(
        &self,
        record: ProducerRecord,
    ) -> Result<ProducerView, EngineError> {
        let (target, admin_access_key_id, region, endpoints, admin) =
            match (record.target_id, &record.inline_connection) {
                (Some(id), _) => {
                    let t =
                        self.store().target_by_id(id).await?.ok_or_else(|| {
                            EngineError::Internal(format!("target {id} is missing"))
                        })?;
                    let admin = admin_state(&t.connection)?;
                    (
                        Some((t.id, t.name)),
                        t.connection.access_key_id,
                        t.connection.region,
                        (None, None),
                        admin,
                    )
                }
                (None, Some(inline)) => (
                    None,
                    inline.access_key_id.clone(),
                    inline.region.clone(),
                    (inline.iam_endpoint.clone(), inline.sts_endpoint.clone()),
                    admin_state(inline)?,
                ),
                (None, None) => (
                    None,
                    String::new(),
                    String::new(),
                    (None, None),
                    AdminKeyState::default(),
                ),
            };
        Ok(ProducerView {
            id: record.id,
            name: record.name,
            target,
            admin_access_key_id,
            region,
            iam_endpoint: endpoints.0,
            sts_endpoint: endpoints.1,
            settings: record.settings,
            delete_protection: record.delete_protection,
            created_at: record.created_at,
            modified_at: record.modified_at,
            admin,
        })
    }
}

/// The target a request points a dynamic secret at, if it names one.
fn named_target(target: &ProducerTargetInput) -> Option<&str> {
    match target {
        ProducerTargetInput::Named(name) => Some(name),
        ProducerTargetInput::Inline(_) => None,
    }
}

/// A listed dynamic secret as callers see it, from the listing's own row and
/// its joined target summary.
pub(crate) fn listed_view(listing: ProducerListing) -> ProducerView {
    let record = listing.producer;
    let (target, admin_access_key_id, region, endpoints) =
        match (listing.target, &record.inline_connection) {
            (Some(t), _) => (
                Some((t.id, t.name)),
                t.access_key_id,
                t.region,
                (None, None),
            ),
            (None, Some(inline)) => (
                None,
                inline.access_key_id.clone(),
                inline.region.clone(),
                (inline.iam_endpoint.clone(), inline.sts_endpoint.clone()),
            ),
            (None, None) => (None, String::new(), String::new(), (None, None)),
        };
    ProducerView {
        id: record.id,
        name: record.name,
        target,
        admin_access_key_id,
        region,
        iam_endpoint: endpoints.0,
        sts_endpoint: endpoints.1,
        settings: record.settings,
        delete_protection: record.delete_protection,
        created_at: record.created_at,
        modified_at: record.modified_at,
        // A listing shows an inline connection's admin-key state; a target's
        // is on get-target (and get-producer), not joined into listings.
        admin: match &record.inline_connection {
            Some(inline) => admin_state(inline).unwrap_or_default(),
            None => dynsec_core::AdminKeyState::default(),
        },
    }
}
