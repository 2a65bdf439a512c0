//! Admin-key rotation of a connection (a target's, or a dynamic secret's
//! inline one): on demand (`target-rotate-admin-key`,
//! `dynamic-secret-rotate-admin-key`), on a schedule (`enable-admin-rotation`
//! every `admin-rotation-interval-days`, run by the housekeeper), and the
//! recovery of rotations a stopped gateway left half-way.
//!
//! The flow, each step written to the store (compare-and-swap on the
//! connection, `Store::update_connection_if`) before the one it allows:
//!
//! 1. `started` (old key id, start time, this instance) → CreateAccessKey;
//! 2. `created`: the new key sealed *beside* the current one (not used yet)
//!    → GetCallerIdentity signed with it, with the ready-wait, same user;
//! 3. `swapped`: the new key is the connection's key → DeleteAccessKey of the
//!    old one, through a client signing with the new key;
//! 4. done: no rotation in progress, `last_admin_rotation` set (at 3).
//!
//! **Crash invariant**: whatever step a process dies at, the stored key
//! works (the old key until 3 is written, and it is deleted only after),
//! and AWS holds at most one key more than the connection uses. The next
//! pass finishes or rolls back: `started` deletes a key of the admin user
//! created since the start that the connection does not use, `created`
//! deletes the recorded new key (it never became the connection's), and
//! `swapped` deletes the old key. Issuance and revocation read the stored
//! key throughout, so they keep working.

use crate::authz::{authorize, Requested, UseCase};
use crate::aws_port::AwsHandle;
use crate::connection::{admin_json, admin_state, producer_aad, target_aad, PendingKey};
use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_aws::{AwsError, MAX_KEYS_PER_USER};
use dynsec_core::{
    AdminKeyState, AwsConnection, ConnectionFields, ItemPath, RotationInProgress, RotationPhase,
    ValidationError,
};
use dynsec_store::{ConnectionColumns, ConnectionSlot, ProducerRecord, TargetRecord};
use std::time::Duration;
use tracing::{info, warn};

/// SDK attempts per AWS call of a rotation.
const ROTATION_MAX_ATTEMPTS: u32 = 3;
/// How long a new key may take to work before the rotation rolls back.
const PROVE_MAX_WAIT: Duration = Duration::from_secs(60);
/// A rotation still in progress after this long has outlived every AWS
/// retry, timeout and the ready-wait: whoever started it is taken to be gone.
const ROTATION_ABANDONED_AFTER_SECS: i64 = 600;
/// After a crash in `started`, a key of the admin user created at most this
/// long before the rotation's start (clock skew between gateway and AWS)
/// and not stored is the rotation's own.
const CLOCK_SKEW_SECS: i64 = 300;

/// `enable-admin-rotation` and `admin-rotation-interval-days` as a request
/// sets them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationSchedule {
    pub enabled: bool,
    pub interval_days: u32,
}

/// What a finished rotation did.
#[derive(Debug, Clone)]
pub struct AdminKeyRotation {
    /// The target or dynamic secret whose key rotated.
    pub name: String,
    pub old_access_key_id: String,
    pub new_access_key_id: String,
    pub rotated_at: DateTime<Utc>,
    /// How long IAM took to accept the new key.
    pub ready_after: Duration,
    /// False when DeleteAccessKey of the old key failed: the new key is in
    /// use, and the housekeeper deletes the old one on its next pass.
    pub old_key_deleted: bool,
}

/// A connection that may rotate, as read from the store.
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    slot: ConnectionSlot,
    /// "target '/aws/x'", "dynamic secret '/ds'" (for messages and logs).
    describe: String,
    aad: String,
    protection_key: Option<String>,
    fields: ConnectionFields,
    columns: ConnectionColumns,
}

impl Holder {
    fn of_target(t: &TargetRecord) -> Self {
        Self {
            slot: ConnectionSlot::Target(t.id),
            describe: format!("target '{}'", t.name),
            aad: target_aad(&t.uid),
            protection_key: t.protection_key.clone(),
            fields: ConnectionFields::TARGET,
            columns: t.connection.clone(),
        }
    }

    /// `None` for a dynamic secret that uses a target.
    fn of_producer(p: &ProducerRecord) -> Option<Self> {
        let columns = p.inline_connection.clone()?;
        if p.target_id.is_some() {
            return None;
        }
        Some(Self {
            slot: ConnectionSlot::DynamicSecret(p.id),
            describe: format!("dynamic secret '{}'", p.name),
            aad: producer_aad(&p.uid),
            protection_key: p.settings.protection_key.clone(),
            fields: ConnectionFields::INLINE,
            columns,
        })
    }
}

/// A step's write found the connection changed since it was read.
fn changed_meanwhile(holder: &Holder) -> EngineError {
    EngineError::Conflict(format!(
        "the connection of {} changed during its admin-key rotation; try again",
        holder.describe
    ))
}

fn aws(err: AwsError) -> EngineError {
    EngineError::Aws(err)
}

impl Engine {
    /// Rotates a target's admin key now (`target-rotate-admin-key`).
    pub async fn rotate_target_admin_key(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<AdminKeyRotation, EngineError> {
        authorize(
            caller,
            UseCase::RotateTargetAdminKey,
            &Requested::name(name),
        )?;
        let record = self.target_record(name).await?;
        self.rotate_in_own_task(Holder::of_target(&record)).await
    }

    /// Rotates the admin key of a dynamic secret's inline connection now
    /// (`dynamic-secret-rotate-admin-key`).
    pub async fn rotate_producer_admin_key(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<AdminKeyRotation, EngineError> {
        authorize(
            caller,
            UseCase::RotateDynamicSecretAdminKey,
            &Requested::name(name),
        )?;
        let record = self.producer_record(name).await?;
        match Holder::of_producer(&record) {
            Some(holder) => self.rotate_in_own_task(holder).await,
            None => {
                let target = match record.target_id {
                    Some(id) => self.store().target_by_id(id).await?.map(|t| t.name),
                    None => None,
                };
                Err(ValidationError::new(
                    "name",
                    format!(
                        "dynamic secret '{name}' uses target '{}' for its admin key; rotate it with target-rotate-admin-key",
                        target.unwrap_or_default()
                    ),
                )
                .into())
            }
        }
    }

    /// A rotation runs on its own task: a client hanging up must not leave
    /// it half-way (it would be finished by the next pass, but needlessly).
    async fn rotate_in_own_task(&self, holder: Holder) -> Result<AdminKeyRotation, EngineError> {
        let engine = self.clone();
        tokio::spawn(async move { engine.rotate(holder).await })
            .await
            .map_err(|e| EngineError::Internal(format!("admin-key rotation task failed: {e}")))?
    }

    async fn rotate(&self, holder: Holder) -> Result<AdminKeyRotation, EngineError> {
        let mut holder = holder;
        let state = admin_state(&holder.columns)?;
        if state.host_identity.is_some() {
            return Err(ValidationError::new(
                "name",
                format!(
                    "{} uses the gateway's cloud identity: it stores no admin key to rotate",
                    holder.describe
                ),
            )
            .into());
        }
        if let Some(rotation) = &state.rotation {
            if !self.rotation_abandoned(rotation).await? {
                return Err(EngineError::Conflict(format!(
                    "the admin key of {} is being rotated already (since {}); try again once it is done",
                    holder.describe,
                    rfc3339(rotation.started_at)
                )));
            }
            self.recover_rotation(&holder).await?;
            holder = self.reload(&holder).await?;
        }
        let mut state = admin_state(&holder.columns)?;
        let conn = self.rotatable_connection(&holder).await?;
        let old_admin = self.unkept_admin(&conn, ROTATION_MAX_ATTEMPTS);
        let keys = old_admin.own_access_keys().await.map_err(aws)?;
        if keys.len() >= MAX_KEYS_PER_USER {
            let others: Vec<&str> = keys
                .iter()
                .filter(|k| !k.in_use)
                .map(|k| k.access_key_id.as_str())
                .collect();
            return Err(EngineError::Conflict(format!(
                "the admin user of {} already has {} access keys, IAM's maximum; delete the one dynsec does not use ({}) before rotating",
                holder.describe,
                keys.len(),
                others.join(", ")
            )));
        }

        // 1. started → CreateAccessKey.
        let started_at = self.now().timestamp();
        state.rotation = Some(RotationInProgress {
            phase: RotationPhase::Started,
            old_access_key_id: conn.access_key_id.clone(),
            new_access_key_id: None,
            started_at,
            by: self.instance_id().to_string(),
        });
        let started = ConnectionColumns {
            admin_json: admin_json(&state),
            ..holder.columns.clone()
        };
        self.write_step(&holder, &holder.columns, &started).await?;
        let new_key = match old_admin.create_own_access_key().await {
            Ok(key) => key,
            Err(err) => {
                state.rotation = None;
                let cleared = ConnectionColumns {
                    admin_json: admin_json(&state),
                    ..started.clone()
                };
                self.write_step_or_leave(&holder, &started, &cleared).await;
                return Err(aws(err));
            }
        };

        // 2. created: sealed beside the current key → prove it.
        let pending = PendingKey {
            access_key_id: new_key.access_key_id.clone(),
            secret_access_key: new_key.secret_access_key.clone(),
        };
        if let Some(r) = state.rotation.as_mut() {
            r.phase = RotationPhase::Created;
            r.new_access_key_id = Some(new_key.access_key_id.clone());
        }
        let created = match self
            .seal_connection_with(
                &holder.aad,
                &conn,
                Some(&pending),
                &state,
                holder.protection_key.as_deref(),
            )
            .await
        {
            Ok(cols) => cols,
            Err(err) => {
                self.undo_new_key(&holder, old_admin.as_ref(), &new_key.access_key_id)
                    .await;
                return Err(err);
            }
        };
        if let Err(err) = self.write_step(&holder, &started, &created).await {
            // `started` stays: the next pass deletes the key if this fails too.
            self.undo_new_key(&holder, old_admin.as_ref(), &new_key.access_key_id)
                .await;
            return Err(err);
        }
        self.finish_from_created(&holder, &created, &conn, old_admin.as_ref(), pending, state)
            .await
    }

    /// Steps 2 (prove) to 4 of a rotation whose new key `pending` is
    /// recorded in `created`: on demand right after creating it, and when
    /// recovering an interrupted rotation. A key that does not work in time
    /// is deleted and the rotation cleared.
    async fn finish_from_created(
        &self,
        holder: &Holder,
        created: &ConnectionColumns,
        conn: &AwsConnection,
        old_admin: &dyn AwsHandle,
        pending: PendingKey,
        mut state: AdminKeyState,
    ) -> Result<AdminKeyRotation, EngineError> {
        let new_conn = AwsConnection {
            access_key_id: pending.access_key_id.clone(),
            secret_access_key: pending.secret_access_key.clone(),
            session_token: None,
            ..conn.clone()
        };
        let new_credential = dynsec_aws::CredentialRef {
            access_key_id: &new_conn.access_key_id,
            secret_access_key: &new_conn.secret_access_key,
            session_token: None,
        };
        let ready = match old_admin
            .prove_admin_key(&new_credential, PROVE_MAX_WAIT)
            .await
        {
            Ok(wait) => wait.waited,
            Err(err) => {
                self.roll_back_created(holder, created, conn, old_admin, &pending.access_key_id)
                    .await;
                return Err(aws(err));
            }
        };

        // 3. swapped: the new key is the connection's → delete the old one.
        let rotated_at = self.now();
        if let Some(r) = state.rotation.as_mut() {
            r.phase = RotationPhase::Swapped;
        }
        state.last_rotation = Some(rotated_at.timestamp());
        state.last_failure = None;
        let swapped = self
            .seal_connection(
                &holder.aad,
                &new_conn,
                &state,
                holder.protection_key.as_deref(),
            )
            .await?;
        if let Err(err) = self.write_step(holder, created, &swapped).await {
            self.roll_back_created(holder, created, conn, old_admin, &pending.access_key_id)
                .await;
            return Err(err);
        }
        info!(owner = %holder.describe, old = %conn.access_key_id, new = %new_conn.access_key_id, "admin key rotated; deleting the old key");
        let new_admin = self.unkept_admin(&new_conn, ROTATION_MAX_ATTEMPTS);
        let deleted = new_admin.delete_own_access_key(&conn.access_key_id).await;
        let old_key_deleted = match deleted {
            Ok(()) => {
                state.rotation = None;
                let done = ConnectionColumns {
                    admin_json: admin_json(&state),
                    ..swapped.clone()
                };
                self.write_step_or_leave(holder, &swapped, &done).await;
                true
            }
            Err(err) => {
                warn!(owner = %holder.describe, error = %err, "cannot delete the old admin key yet; the housekeeper retries");
                false
            }
        };
        Ok(AdminKeyRotation {
            name: holder.describe.clone(),
            old_access_key_id: conn.access_key_id.clone(),
            new_access_key_id: new_conn.access_key_id.clone(),
            rotated_at,
            ready_after: ready,
            old_key_deleted,
        })
    }

    /// The connection's stored key, if it is one that can rotate.
    async fn rotatable_connection(&self, holder: &Holder) -> Result<AwsConnection, EngineError> {
        let conn = self
            .open_connection(
                &holder.aad,
                &holder.columns,
                holder.protection_key.as_deref(),
            )
            .await?;
        if conn.session_token.is_some() {
            return Err(ValidationError::new(
                holder.fields.session_token,
                format!(
                    "{} uses temporary credentials (a session token): there is no long-term access key to rotate",
                    holder.describe
                ),
            )
            .into());
        }
        conn.validate(&holder.fields).map_err(|err| {
            EngineError::Conflict(format!(
                "the AWS connection stored in {} is unusable: {err}",
                holder.describe
            ))
        })?;
        Ok(conn)
    }

    async fn write_step(
        &self,
        holder: &Holder,
        expected: &ConnectionColumns,
        new: &ConnectionColumns,
    ) -> Result<(), EngineError> {
        if self
            .store()
            .update_connection_if(holder.slot, expected, new)
            .await?
        {
            Ok(())
        } else {
            Err(changed_meanwhile(holder))
        }
    }

    /// A write whose failure leaves a state the next pass finishes.
    async fn write_step_or_leave(
        &self,
        holder: &Holder,
        expected: &ConnectionColumns,
        new: &ConnectionColumns,
    ) {
        if let Err(err) = self.write_step(holder, expected, new).await {
            warn!(owner = %holder.describe, error = %err, "cannot record a rotation step; the next pass finishes it");
        }
    }

    /// Deletes a new key that never became the connection's.
    async fn undo_new_key(&self, holder: &Holder, old_admin: &dyn AwsHandle, new_key_id: &str) {
        if let Err(err) = old_admin.delete_own_access_key(new_key_id).await {
            warn!(owner = %holder.describe, key = %new_key_id, error = %err, "cannot delete the unused new admin key; the next pass retries");
        }
    }

    /// Undoes a rotation in `created`: deletes the new key, then seals the
    /// connection without it and clears the rotation. When the delete
    /// fails, `created` stays and the next pass retries it.
    async fn roll_back_created(
        &self,
        holder: &Holder,
        created: &ConnectionColumns,
        conn: &AwsConnection,
        old_admin: &dyn AwsHandle,
        new_key_id: &str,
    ) {
        if let Err(err) = old_admin.delete_own_access_key(new_key_id).await {
            warn!(owner = %holder.describe, key = %new_key_id, error = %err, "cannot delete the unproven new admin key; the next pass retries");
            return;
        }
        let Ok(mut state) = admin_state(created) else {
            return;
        };
        state.rotation = None;
        match self
            .seal_connection(&holder.aad, conn, &state, holder.protection_key.as_deref())
            .await
        {
            Ok(cleared) => self.write_step_or_leave(holder, created, &cleared).await,
            Err(err) => {
                warn!(owner = %holder.describe, error = %err, "cannot clear a rolled-back rotation; the next pass does")
            }
        }
    }

    async fn reload(&self, holder: &Holder) -> Result<Holder, EngineError> {
        let gone = || EngineError::not_found(format!("{} no longer exists", holder.describe));
        match holder.slot {
            ConnectionSlot::Target(id) => {
                let t = self.store().target_by_id(id).await?.ok_or_else(gone)?;
                Ok(Holder::of_target(&t))
            }
            ConnectionSlot::DynamicSecret(id) => {
                let p = self.store().producer_by_id(id).await?.ok_or_else(gone)?;
                Holder::of_producer(&p).ok_or_else(gone)
            }
        }
    }

    /// Whether whoever started `rotation` is gone: a stopped gateway (see
    /// the housekeeper's `is_dead`), or any run past every time limit.
    async fn rotation_abandoned(&self, rotation: &RotationInProgress) -> Result<bool, EngineError> {
        let age = self.now().timestamp() - rotation.started_at;
        if age > ROTATION_ABANDONED_AFTER_SECS {
            return Ok(true);
        }
        if rotation.by == self.instance_id() {
            return Ok(false);
        }
        self.is_dead(&rotation.by).await
    }

    /// Finishes or rolls back a rotation its gateway left half-way (see the
    /// module docs). Idempotent: AWS deletes of a key already gone succeed,
    /// and each write is a compare-and-swap, so of two gateways recovering
    /// at once one writes.
    async fn recover_rotation(&self, holder: &Holder) -> Result<(), EngineError> {
        let mut state = admin_state(&holder.columns)?;
        let Some(rotation) = state.rotation.clone() else {
            return Ok(());
        };
        let conn = self
            .open_connection(
                &holder.aad,
                &holder.columns,
                holder.protection_key.as_deref(),
            )
            .await?;
        let admin = self.unkept_admin(&conn, ROTATION_MAX_ATTEMPTS);
        state.rotation = None;
        let recovered = match rotation.phase {
            RotationPhase::Started => {
                let since = rotation.started_at - CLOCK_SKEW_SECS;
                for key in admin.own_access_keys().await.map_err(aws)? {
                    let created = key
                        .created
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .and_then(|d| i64::try_from(d.as_secs()).ok());
                    let ours = !key.in_use
                        && key.access_key_id != rotation.old_access_key_id
                        && created.is_some_and(|at| at >= since);
                    if ours {
                        admin
                            .delete_own_access_key(&key.access_key_id)
                            .await
                            .map_err(aws)?;
                        info!(owner = %holder.describe, key = %key.access_key_id, "deleted the admin key an interrupted rotation created");
                    }
                }
                ConnectionColumns {
                    admin_json: admin_json(&state),
                    ..holder.columns.clone()
                }
            }
            RotationPhase::Created => {
                let pending = self
                    .open_pending_key(
                        &holder.aad,
                        &holder.columns,
                        holder.protection_key.as_deref(),
                    )
                    .await?;
                if let Some(pending) = pending {
                    // Rolled forward: proven, swapped, old key deleted (or
                    // rolled back inside when the key does not work).
                    let mut in_progress = admin_state(&holder.columns)?;
                    if let Some(r) = in_progress.rotation.as_mut() {
                        r.by = self.instance_id().to_string();
                    }
                    let done = self
                        .finish_from_created(
                            holder,
                            &holder.columns,
                            &conn,
                            admin.as_ref(),
                            pending,
                            in_progress,
                        )
                        .await?;
                    info!(owner = %holder.describe, new = %done.new_access_key_id, "finished an interrupted rotation");
                    return Ok(());
                }
                if let Some(new_key) = &rotation.new_access_key_id {
                    if new_key != &conn.access_key_id {
                        admin.delete_own_access_key(new_key).await.map_err(aws)?;
                        info!(owner = %holder.describe, key = %new_key, "rolled back an interrupted rotation: deleted its unproven key");
                    }
                }
                // Sealed again without the pending key.
                self.seal_connection(&holder.aad, &conn, &state, holder.protection_key.as_deref())
                    .await?
            }
            RotationPhase::Swapped => {
                if rotation.old_access_key_id != conn.access_key_id {
                    admin
                        .delete_own_access_key(&rotation.old_access_key_id)
                        .await
                        .map_err(aws)?;
                    info!(owner = %holder.describe, key = %rotation.old_access_key_id, "finished an interrupted rotation: deleted the old key");
                }
                state.last_rotation = state.last_rotation.or(Some(self.now().timestamp()));
                ConnectionColumns {
                    admin_json: admin_json(&state),
                    ..holder.columns.clone()
                }
            }
        };
        self.write_step(holder, &holder.columns, &recovered).await
    }

    /// One pass of the admin-rotation duty: finishes or rolls back
    /// abandoned rotations, then rotates every key whose schedule is due.
    /// Each connection is its own unit of work: a failure is recorded on it
    /// (`last_failure`, retried with backoff) and the pass goes on. Returns
    /// how many connections it changed.
    pub(crate) async fn admin_rotation_pass(&self) -> Result<usize, EngineError> {
        let mut holders: Vec<Holder> = self
            .store()
            .list_targets()
            .await?
            .iter()
            .map(Holder::of_target)
            .collect();
        holders.extend(
            self.store()
                .list_producers()
                .await?
                .iter()
                .filter_map(Holder::of_producer),
        );
        let mut changed = 0;
        for holder in holders {
            let work = self.rotation_duty_for(holder.clone());
            match crate::duty::unit_of_work("admin-key rotation", work).await {
                Ok(Ok(true)) => changed += 1,
                Ok(Ok(false)) => {}
                Ok(Err(err)) => {
                    warn!(owner = %holder.describe, error = %err, "scheduled admin-key rotation failed; retried later");
                    self.record_rotation_failure(&holder, &err.to_string())
                        .await;
                }
                Err(error) => {
                    warn!(owner = %holder.describe, %error, "scheduled admin-key rotation failed; retried later");
                    self.record_rotation_failure(&holder, &error).await;
                }
            }
        }
        Ok(changed)
    }

    /// What the duty does for one connection; true if it changed it.
    async fn rotation_duty_for(&self, holder: Holder) -> Result<bool, EngineError> {
        let Ok(state) = admin_state(&holder.columns) else {
            warn!(owner = %holder.describe, "skipping a connection whose admin-key state cannot be read");
            return Ok(false);
        };
        if let Some(rotation) = &state.rotation {
            if self.rotation_abandoned(rotation).await? {
                self.recover_rotation(&holder).await?;
                return Ok(true);
            }
            return Ok(false);
        }
        let due = state
            .next_rotation_due()
            .is_some_and(|due| due <= self.now().timestamp());
        if !due || state.host_identity.is_some() {
            return Ok(false);
        }
        let done = self.rotate(holder).await?;
        info!(owner = %done.name, new = %done.new_access_key_id, "scheduled admin-key rotation done");
        Ok(true)
    }

    /// Records a failed scheduled rotation on the connection (its next try
    /// backs off). Best effort: a connection changed meanwhile is left as is.
    async fn record_rotation_failure(&self, holder: &Holder, error: &str) {
        let Ok(current) = self.reload(holder).await else {
            return;
        };
        let Ok(mut state) = admin_state(&current.columns) else {
            return;
        };
        let attempts = state.last_failure.as_ref().map_or(0, |f| f.attempts) + 1;
        state.last_failure = Some(dynsec_core::admin_key::RotationFailure {
            at: self.now().timestamp(),
            error: error.chars().take(1000).collect(),
            attempts,
        });
        let failed = ConnectionColumns {
            admin_json: admin_json(&state),
            ..current.columns.clone()
        };
        self.write_step_or_leave(&current, &current.columns, &failed)
            .await;
    }
}

/// Unix seconds as RFC 3339, for messages.
fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}
