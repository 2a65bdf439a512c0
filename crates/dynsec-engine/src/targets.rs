//! AWS targets: named admin connections that dynamic secrets refer to.

use crate::authz::{authorize, Requested, UseCase};
use crate::connection::{admin_state, target_aad};
use crate::paging::{fill, parse_token, Paged};
use crate::rotation::RotationSchedule;
use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::{
    limits, AdminKeyState, AwsConnection, ConnectionFields, HostIdentitySettings, ItemPath,
    ValidationError,
};
use dynsec_store::paging::listing::Targets;
use dynsec_store::{ConnectionSlot, TargetRecord};

/// An update met a connection changed since it was read (a rotation).
pub(crate) fn changed_meanwhile(name: &ItemPath) -> EngineError {
    EngineError::Conflict(format!(
        "the AWS connection of '{name}' changed while it was being updated (its admin key rotated); read it again and retry"
    ))
}

/// `use-gw-cloud-identity` as a request sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostIdentityInput {
    /// `role-arn`: a role the host's identity assumes.
    pub role_arn: Option<String>,
    /// `generate-external-id`: assume the role with an external id the
    /// gateway generates (kept across updates; shown by get-target).
    pub generate_external_id: bool,
}

/// How many of the dynamic secrets using a target a target listing shows
/// (`target_items_assoc`); `get-target` shows them all.
pub const TARGET_ASSOCS_LISTED: u32 = 100;

/// A target as the caller describes it. On update, an empty secret keeps the
/// stored one, so a region or description can change without re-entering it.
#[derive(Debug, Clone)]
pub struct TargetInput {
    pub name: ItemPath,
    pub description: String,
    pub connection: AwsConnection,
    pub protection_key: Option<String>,
    pub delete_protection: bool,
    /// `enable-admin-rotation` / `admin-rotation-interval-days`.
    pub admin_rotation: RotationSchedule,
    /// `use-gw-cloud-identity`: no key; `connection` carries only the
    /// region and endpoints.
    pub host_identity: Option<HostIdentityInput>,
}

/// What anyone allowed to read a target sees: no secret.
#[derive(Debug, Clone)]
pub struct TargetView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub access_key_id: String,
    pub region: String,
    /// Endpoint overrides of the connection (not secret).
    pub iam_endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
    pub protection_key: Option<String>,
    pub delete_protection: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    /// Dynamic secrets using this target: (id, name), as far as the caller
    /// may list them.
    pub dynamic_secrets: Vec<(i64, String)>,
    /// Rotation schedule, last rotation, host identity (no secret).
    pub admin: AdminKeyState,
}

/// The target with its connection, secret included (`get-target-details`).
#[derive(Debug, Clone)]
pub struct TargetDetails {
    pub target: TargetView,
    pub connection: AwsConnection,
}

impl Engine {
    pub async fn create_target(
        &self,
        caller: &Caller,
        input: TargetInput,
    ) -> Result<TargetView, EngineError> {
        authorize(caller, UseCase::CreateTarget, &Requested::name(&input.name))?;
        if input.host_identity.is_none() {
            input.connection.validate(&ConnectionFields::TARGET)?;
        }
        let mut state = AdminKeyState::default();
        apply_admin_settings(&mut state, &input, self.now().timestamp())?;
        limits::text("description", &input.description, limits::DESCRIPTION)?;
        let protection_key = self
            .protection_key_field("key", input.protection_key.as_deref())
            .await?;
        let now = self.now();
        let uid = dynsec_crypto::random_id(20);
        let mut record = TargetRecord {
            id: 0,
            connection: self
                .seal_connection(
                    &target_aad(&uid),
                    &input.connection,
                    &state,
                    protection_key.as_deref(),
                )
                .await?,
            uid,
            name: input.name.to_string(),
            description: input.description,
            protection_key,
            delete_protection: input.delete_protection,
            created_at: now,
            modified_at: now,
        };
        record.id = self.store().insert_target(&record).await?;
        self.target_view(caller, record).await
    }

    /// Replaces the settable fields of `name` (renaming it to `input.name`,
    /// which `caller` may do only as [`Engine::may_move`] says).
    pub async fn update_target(
        &self,
        caller: &Caller,
        name: &ItemPath,
        input: TargetInput,
    ) -> Result<TargetView, EngineError> {
        authorize(caller, UseCase::UpdateTarget, &updating(name, &input.name))?;
        if &input.name != name {
            self.may_move(caller, RuleType::Target, name, &input.name)?;
        }
        limits::text("description", &input.description, limits::DESCRIPTION)?;
        let mut record = self.target_record(name).await?;
        let read = record.connection.clone();
        let mut state = admin_state(&record.connection)?;
        if let Some(rotation) = &state.rotation {
            return Err(EngineError::Conflict(format!(
                "the admin key of target '{name}' is being rotated (since {}); update it once the rotation is done",
                rotation.started_at
            )));
        }
        let was_host = state.host_identity.is_some();
        apply_admin_settings(&mut state, &input, self.now().timestamp())?;
        let mut connection = input.connection.clone();
        if input.host_identity.is_none() && connection.secret_access_key.is_empty() && !was_host {
            let stored = self
                .open_connection(
                    &target_aad(&record.uid),
                    &record.connection,
                    record.protection_key.as_deref(),
                )
                .await?;
            connection.secret_access_key = stored.secret_access_key;
            if connection.session_token.is_none() {
                connection.session_token = stored.session_token;
            }
        }
        if input.host_identity.is_none() {
            connection.validate(&ConnectionFields::TARGET)?;
            if state.rotation_enabled && connection.session_token.is_some() {
                return Err(ValidationError::new(
                    "enable-admin-rotation",
                    "a connection with a session token has no long-term key to rotate",
                )
                .into());
            }
        }
        let protection_key = self
            .protection_key_field("key", input.protection_key.as_deref())
            .await?;
        record.connection = self
            .seal_connection(
                &target_aad(&record.uid),
                &connection,
                &state,
                protection_key.as_deref(),
            )
            .await?;
        record.name = input.name.to_string();
        record.description = input.description;
        record.protection_key = protection_key;
        record.delete_protection = input.delete_protection;
        record.modified_at = self.now();
        // The connection first, only if it is still the one read: a key
        // rotated meanwhile must not be overwritten by the old one.
        if !self
            .store()
            .update_connection_if(ConnectionSlot::Target(record.id), &read, &record.connection)
            .await?
        {
            return Err(changed_meanwhile(name));
        }
        self.store().update_target(&record).await?;
        self.target_view(caller, record).await
    }

    /// The target an update of `name` (to `new_name`) starts from: an update
    /// replaces every field, so a face fills what its request leaves out
    /// from this. Checked as [`Engine::update_target`] is, before the lookup.
    pub async fn target_to_update(
        &self,
        caller: &Caller,
        name: &ItemPath,
        new_name: &ItemPath,
    ) -> Result<TargetView, EngineError> {
        authorize(caller, UseCase::UpdateTarget, &updating(name, new_name))?;
        let record = self.target_record(name).await?;
        self.target_view(caller, record).await
    }

    pub async fn get_target(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<TargetView, EngineError> {
        authorize(caller, UseCase::GetTarget, &Requested::name(name))?;
        let record = self.target_record(name).await?;
        self.target_view(caller, record).await
    }

    pub async fn get_target_details(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<TargetDetails, EngineError> {
        authorize(caller, UseCase::GetTargetDetails, &Requested::name(name))?;
        let record = self.target_record(name).await?;
        let connection = self
            .open_connection(
                &target_aad(&record.uid),
                &record.connection,
                record.protection_key.as_deref(),
            )
            .await?;
        Ok(TargetDetails {
            target: self.target_view(caller, record).await?,
            connection,
        })
    }

    /// One page of the targets whose name contains `filter` (ASCII case
    /// ignored), by name, as far as `caller` may list them; each with the
    /// dynamic secrets using it (at most [`TARGET_ASSOCS_LISTED`] each, by
    /// name), read for the whole page in one query.
    pub async fn list_targets(
        &self,
        caller: &Caller,
        filter: &str,
        page_token: Option<&str>,
    ) -> Result<Paged<TargetView>, EngineError> {
        authorize(caller, UseCase::ListTargets, &Requested::nothing())?;
        let start = parse_token::<Targets>(page_token)?;
        let store = self.store();
        let page = fill(
            start,
            self.page_size(None),
            |after, limit| {
                Box::pin(async move { store.targets_page(filter, after.as_ref(), limit).await })
            },
            |record| {
                caller
                    .can(RuleType::Target, &record.name, Capability::List)
                    .then_some(record)
            },
        )
        .await?;
        let ids: Vec<i64> = page.items.iter().map(|t| t.id).collect();
        let mut users: std::collections::HashMap<i64, Vec<(i64, String)>> = Default::default();
        if !ids.is_empty() {
            for used_by in store
                .dynamic_secrets_of_targets(&ids, TARGET_ASSOCS_LISTED)
                .await?
            {
                users
                    .entry(used_by.target_id)
                    .or_default()
                    .push((used_by.id, used_by.name));
            }
        }
        Ok(Paged {
            items: page
                .items
                .into_iter()
                .map(|record| {
                    let dynamic_secrets =
                        listable(caller, users.remove(&record.id).unwrap_or_default());
                    view_of(record, dynamic_secrets)
                })
                .collect::<Result<_, _>>()?,
            next_page: page.next_page,
        })
    }

    /// Deletes a target. Refused while delete protection is on, and while
    /// dynamic secrets use it — unless `force`, which first deletes those
    /// dynamic secrets (revoking everything they issued, see
    /// [`Engine::delete_producer`]); if any of them can't be deleted, nothing
    /// more is and the target stays. Forcing needs `delete` on each of those
    /// dynamic secrets too: it deletes them, so each is checked on its record
    /// as read just before it is deleted, and the secrets using the target
    /// are read again until none is left (one created, renamed or pointed at
    /// the target meanwhile is checked as it is then, not as it was listed).
    pub async fn delete_target(
        &self,
        caller: &Caller,
        name: &ItemPath,
        force: bool,
    ) -> Result<i64, EngineError> {
        authorize(caller, UseCase::DeleteTarget, &Requested::name(name))?;
        let record = self.target_record(name).await?;
        if record.delete_protection {
            return Err(EngineError::Conflict(format!(
                "target '{name}' has delete protection on; turn it off first"
            )));
        }
        let mut users = self.store().producers_using_target(record.id).await?;
        if !users.is_empty() && !force {
            let names: Vec<&str> = users.iter().map(|p| p.name.as_str()).collect();
            return Err(EngineError::Conflict(format!(
                "target '{name}' is used by dynamic secrets {}; delete them first, or pass force-deletion to delete them with it",
                names.join(", ")
            )));
        }
        while !users.is_empty() {
            // All of this pass's refusals before any deletion.
            for producer in &users {
                caller.require(RuleType::Item, &producer.name, Capability::Delete)?;
            }
            if let Some(protected) = users.iter().find(|p| p.delete_protection) {
                return Err(EngineError::Conflict(format!(
                    "target '{name}' is used by '{}', which has delete protection on",
                    protected.name
                )));
            }
            for producer in users {
                // Read again: what is deleted is what is checked.
                let Some(current) = self.store().producer_by_id(producer.id).await? else {
                    continue;
                };
                if current.target_id != Some(record.id) {
                    continue;
                }
                caller.require(RuleType::Item, &current.name, Capability::Delete)?;
                self.remove_producer(current).await?;
            }
            users = self.store().producers_using_target(record.id).await?;
        }
        self.store().delete_target(record.id).await?;
        Ok(record.id)
    }

    pub(crate) async fn target_record(&self, name: &ItemPath) -> Result<TargetRecord, EngineError> {
        self.store()
            .target_by_name(name.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found(format!("target '{name}' not found")))
    }

    /// Resolves the `target-name` a dynamic secret refers to.
    pub(crate) async fn target_for_field(
        &self,
        field: &str,
        name: &str,
    ) -> Result<TargetRecord, EngineError> {
        let path = ItemPath::parse(field, name)?;
        self.store()
            .target_by_name(path.as_str())
            .await?
            .ok_or_else(|| {
                EngineError::Invalid(ValidationError::new(
                    field,
                    format!("target '{path}' does not exist"),
                ))
            })
    }

    async fn target_view(
        &self,
        caller: &Caller,
        record: TargetRecord,
    ) -> Result<TargetView, EngineError> {
        let dynamic_secrets = self
            .store()
            .producers_using_target(record.id)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        view_of(record, listable(caller, dynamic_secrets))
    }
}

/// The dynamic secrets (id, name) among `secrets` that `caller` may list:
/// a target's answer names no other.
fn listable(caller: &Caller, secrets: Vec<(i64, String)>) -> Vec<(i64, String)> {
    secrets
        .into_iter()
        .filter(|(_, name)| caller.can(RuleType::Item, name, Capability::List))
        .collect()
}

/// The paths an update of `name` to `new_name` names.
fn updating<'a>(name: &'a ItemPath, new_name: &'a ItemPath) -> Requested<'a> {
    Requested {
        new_name: Some(new_name),
        ..Requested::name(name)
    }
}

fn view_of(
    record: TargetRecord,
    dynamic_secrets: Vec<(i64, String)>,
) -> Result<TargetView, EngineError> {
    let admin = admin_state(&record.connection)?;
    Ok(TargetView {
        id: record.id,
        name: record.name,
        description: record.description,
        access_key_id: record.connection.access_key_id,
        region: record.connection.region,
        iam_endpoint: record.connection.iam_endpoint,
        sts_endpoint: record.connection.sts_endpoint,
        protection_key: record.protection_key,
        delete_protection: record.delete_protection,
        created_at: record.created_at,
        modified_at: record.modified_at,
        dynamic_secrets,
        admin,
    })
}

/// Applies a target request's admin-key settings to `state`: the rotation
/// schedule, and the host identity (which takes no key and cannot rotate).
/// Checks the connection's fields for the kind it is.
fn apply_admin_settings(
    state: &mut AdminKeyState,
    input: &TargetInput,
    now: i64,
) -> Result<(), ValidationError> {
    let conn = &input.connection;
    let schedule = input.admin_rotation;
    match &input.host_identity {
        Some(host) => {
            if !conn.access_key_id.is_empty()
                || !conn.secret_access_key.is_empty()
                || conn.session_token.is_some()
            {
                return Err(ValidationError::new(
                    "use-gw-cloud-identity",
                    "takes no access-key-id, access-key or session-token: the gateway host's own identity is used",
                ));
            }
            if schedule.enabled {
                return Err(ValidationError::new(
                    "enable-admin-rotation",
                    "a target using the gateway's cloud identity has no admin key to rotate",
                ));
            }
            conn.validate_location(&ConnectionFields::TARGET)?;
            let role_arn = host.role_arn.clone();
            if let Some(arn) = &role_arn {
                if !arn.starts_with("arn:") || !arn.contains(":role/") || arn.len() > 2048 {
                    return Err(ValidationError::new(
                        "role-arn",
                        "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
                    ));
                }
            } else if host.generate_external_id {
                return Err(ValidationError::new(
                    "generate-external-id",
                    "needs role-arn: the external id is given when assuming that role",
                ));
            }
            let kept_external_id = state
                .host_identity
                .as_ref()
                .and_then(|h| h.external_id.clone());
            let external_id = match (host.generate_external_id, kept_external_id) {
                (false, _) => None,
                (true, Some(kept)) => Some(kept),
                (true, None) => Some(format!("dynsec-{}", dynsec_crypto::random_id(32))),
            };
            state.host_identity = Some(HostIdentitySettings {
                role_arn,
                external_id,
            });
            state.set_schedule(false, schedule.interval_days, now)?;
        }
        None => {
            if schedule.enabled && conn.session_token.is_some() {
                return Err(ValidationError::new(
                    "enable-admin-rotation",
                    "a connection with a session token has no long-term key to rotate",
                ));
            }
            state.host_identity = None;
            state.set_schedule(schedule.enabled, schedule.interval_days, now)?;
        }
    }
    Ok(())
}
