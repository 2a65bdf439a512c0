//! Lease lifecycle after issuance: listing, revoking (on request or at expiry),
//! changing a TTL. A lease becomes `Revoked` only once AWS confirmed the
//! teardown; failures leave it `Failed` with the error and the next attempt.

use crate::authz::{authorize, Requested, UseCase};
use crate::early_revocation::uses_early_revocation;
use crate::issue::seconds;
use crate::{Caller, Engine, EngineError};
use chrono::Utc;
use dynsec_core::ttl::MAX_TTL_SECS;
use dynsec_core::{AccessMode, ItemPath, Lease, LeaseState, ValidationError};
use dynsec_store::{LeaseScope, PageToken, ProducerRecord};

/// The most (and the default number of) leases one tmp-creds answer lists.
pub const TMP_CREDS_MAX: u32 = dynsec_store::MAX_PAGE_SIZE;
use rand::Rng;
use std::time::Duration;
use tracing::{info, warn};

/// What revoking every lease of a dynamic secret did.
#[derive(Debug, Default)]
pub struct RevokeAll {
    /// Leases not revoked yet (being retried).
    pub remaining: usize,
    /// assumed_role leases whose session deny was written, each with its
    /// state text in `last_error`.
    pub sessions_denied: Vec<Lease>,
}

/// SDK attempts per AWS call while revoking; the reaper retries beyond that forever.
const REVOKE_MAX_ATTEMPTS: u32 = 3;
/// How long a revocation on request waits for another gateway's revocation
/// of the same lease to end before reporting it as still in progress.
const OTHER_CLAIM_WAIT: Duration = Duration::from_secs(10);
const OTHER_CLAIM_POLL: Duration = Duration::from_millis(200);

/// Soft-delete arrives as a revocation (`soft-delete` on revoke-tmp-creds):
/// what revoking needs first, then the admin key.
fn forget_allowed(caller: &Caller, name: &ItemPath) -> Result<(), EngineError> {
    authorize(caller, UseCase::RevokeLease, &Requested::name(name))?;
    authorize(caller, UseCase::ForgetLeases, &Requested::name(name))
}

impl Engine {
    /// Up to `limit` (default and most: [`TMP_CREDS_MAX`]) live leases of a
    /// dynamic secret, newest first, starting after lease `after` (the last
    /// one of a previous answer) when given: one store page, read from the
    /// secret's live-lease index, however many leases the secret has.
    pub async fn list_leases(
        &self,
        caller: &Caller,
        name: &ItemPath,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<Lease>, EngineError> {
        authorize(caller, UseCase::ListLeases, &Requested::name(name))?;
        let limit = match limit {
            None => TMP_CREDS_MAX,
            Some(n) if (1..=TMP_CREDS_MAX).contains(&n) => n,
            Some(n) => {
                return Err(ValidationError::new(
                    "limit",
                    format!("must be between 1 and {TMP_CREDS_MAX}; got {n}"),
                )
                .into())
            }
        };
        let producer = self.producer_record(name).await?;
        let start = match after.map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(id) => match self.store().lease(id).await? {
                Some(lease) if lease.producer_id == producer.id => {
                    Some(PageToken::after_lease(&lease))
                }
                _ => {
                    return Err(ValidationError::new(
                        "after",
                        format!(
                            "no temporary credential '{id}' of dynamic secret '{name}' (give the id of the last one a previous answer listed)"
                        ),
                    )
                    .into())
                }
            },
        };
        Ok(self
            .store()
            .leases_of_secret(producer.id, LeaseScope::Live, start.as_ref(), limit)
            .await?
            .items)
    }

    /// Revokes one lease now; returns it as recorded. iam_user: the user is
    /// torn down before this returns. assumed_role: with `early-revocation`,
    /// its session is denied through the role's policy (the lease's
    /// `last_error` then holds the state text, [`crate::DENY_WRITTEN`]);
    /// without, refused: the session only expires.
    pub async fn revoke_lease(
        &self,
        caller: &Caller,
        name: &ItemPath,
        lease_id: &str,
    ) -> Result<Lease, EngineError> {
        authorize(caller, UseCase::RevokeLease, &Requested::name(name))?;
        let producer = self.producer_record(name).await?;
        let lease = self.lease_of(&producer, lease_id).await?;
        if matches!(
            lease.mode,
            AccessMode::FederationToken | AccessMode::SessionToken
        ) {
            return Err(ValidationError::new(
                "tmp-creds-id",
                format!(
                    "{} credentials cannot be revoked before they expire: AWS offers no way to end one such session (denying the admin user would deny all of them, and the admin); this one expires at {}",
                    lease.mode,
                    lease.expires_at.to_rfc3339()
                ),
            )
            .into());
        }
        if lease.mode == AccessMode::AssumedRole && !uses_early_revocation(&producer) {
            return Err(ValidationError::new(
                "tmp-creds-id",
                format!(
                    "assumed_role credentials of this dynamic secret cannot be revoked before they expire (turn on early-revocation to deny sessions through the role's policy); this one expires at {}",
                    lease.expires_at.to_rfc3339()
                ),
            )
            .into());
        }
        if lease.state == LeaseState::Pending {
            // Its issuance is still running (or about to be rolled back);
            // tearing the user down now would race CreateUser and the rest.
            return Err(EngineError::Conflict(format!(
                "credential {lease_id} is still being issued; try again in a moment"
            )));
        }
        let lease = self.revoke_now(lease).await;
        match lease.state {
            LeaseState::Revoked => Ok(lease),
            _ => Err(EngineError::Unavailable(format!(
                "revocation of {lease_id} did not complete and is retried automatically: {}",
                lease.last_error.unwrap_or_default()
            ))),
        }
    }

    /// Revokes every revocable lease of a dynamic secret (iam_user leases,
    /// and assumed_role ones with `early-revocation`).
    pub async fn revoke_all(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<RevokeAll, EngineError> {
        authorize(caller, UseCase::RevokeAllLeases, &Requested::name(name))?;
        let producer = self.producer_record(name).await?;
        self.revoke_all_of(&producer).await
    }

    pub(crate) async fn revoke_all_of(
        &self,
        producer: &ProducerRecord,
    ) -> Result<RevokeAll, EngineError> {
        // Page by page: a busy secret may hold 100k live leases. Revoking
        // does not move the cursor (it is the position of the last lease
        // read), so every live lease is visited once.
        let early = uses_early_revocation(producer);
        let mut outcome = RevokeAll::default();
        let mut after = None;
        loop {
            let page = self
                .store()
                .leases_of_secret(producer.id, LeaseScope::Live, after.as_ref(), TMP_CREDS_MAX)
                .await?;
            for lease in page.items {
                // Pending intents belong to an issuance in flight (or to recovery).
                let revocable = match lease.mode {
                    AccessMode::IamUser => true,
                    AccessMode::AssumedRole => early,
                    // STS sessions nothing can end early: they expire.
                    AccessMode::FederationToken | AccessMode::SessionToken => false,
                };
                if !revocable || lease.state == LeaseState::Pending {
                    continue;
                }
                let lease = self.revoke_now(lease).await;
                if lease.state != LeaseState::Revoked {
                    outcome.remaining += 1;
                } else if lease.mode == AccessMode::AssumedRole {
                    outcome.sessions_denied.push(lease);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(outcome)
    }

    /// Sets a lease to expire `new_ttl_minutes` from now.
    pub async fn update_lease_ttl(
        &self,
        caller: &Caller,
        name: &ItemPath,
        lease_id: &str,
        new_ttl_minutes: u64,
    ) -> Result<Lease, EngineError> {
        authorize(caller, UseCase::UpdateLeaseTtl, &Requested::name(name))?;
        if new_ttl_minutes == 0 {
            return Err(ValidationError::new("new-ttl-min", "must be greater than zero").into());
        }
        // The same cap as any TTL: keeps now + N minutes a valid timestamp.
        if new_ttl_minutes > MAX_TTL_SECS / 60 {
            return Err(ValidationError::new(
                "new-ttl-min",
                format!(
                    "must be at most 366 days ({} minutes); got {new_ttl_minutes}",
                    MAX_TTL_SECS / 60
                ),
            )
            .into());
        }
        let producer = self.producer_record(name).await?;
        let mut lease = self.lease_of(&producer, lease_id).await?;
        if !lease.mode.is_iam_user() {
            return Err(ValidationError::new(
                "tmp-creds-id",
                format!(
                    "{} credentials keep the duration AWS granted; their TTL cannot change",
                    lease.mode
                ),
            )
            .into());
        }
        if lease.state != LeaseState::Active {
            return Err(EngineError::Conflict(format!(
                "lease {lease_id} is {} and cannot be extended",
                lease.state
            )));
        }
        let now = self.now();
        let new_expiry = now
            .checked_add_signed(seconds(new_ttl_minutes.saturating_mul(60)))
            .ok_or_else(|| ValidationError::new("new-ttl-min", "is too large"))?;
        within_max_ttl(&producer, &lease, new_expiry, now)?;
        lease.expires_at = new_expiry;
        // Only while still active: a revocation may have started meanwhile.
        if !self
            .store()
            .update_lease_if(&lease, LeaseState::Active)
            .await?
        {
            return Err(EngineError::Conflict(format!(
                "lease {lease_id} is being revoked and cannot be extended"
            )));
        }
        self.wake_reaper();
        // Keep the user's expiry tag true, so the orphan sweep of a gateway
        // that lost this lease (a restored backup) doesn't cut it short.
        // Best effort: the lease itself is what the reaper acts on.
        let expiry = vec![(
            dynsec_core::iam_names::EXPIRES_AT_TAG.to_string(),
            lease
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )];
        let tagged = match self.aws_for(&producer, REVOKE_MAX_ATTEMPTS).await {
            Ok(aws) => aws
                .tag_user(&lease.principal, &expiry)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(error) = tagged {
            warn!(lease = %lease.id, %error, "cannot update the user's expiry tag");
        }
        Ok(lease)
    }

    async fn lease_of(
        &self,
        producer: &ProducerRecord,
        lease_id: &str,
    ) -> Result<Lease, EngineError> {
        if lease_id.trim().is_empty() {
            return Err(ValidationError::new("tmp-creds-id", "must not be empty").into());
        }
        match self.store().lease(lease_id.trim()).await? {
            Some(lease) if lease.producer_id == producer.id && lease.state.is_live() => Ok(lease),
            _ => Err(EngineError::not_found(format!(
                "no live temporary credential '{lease_id}' for dynamic secret '{}'",
                producer.name
            ))),
        }
    }

    /// Revokes a lease on request: claims it, then tears it down. When
    /// another gateway (or this one's reaper) is revoking it already, waits a
    /// little for that revocation and reports its outcome instead. Never
    /// returns an error, so callers can't drop a lease on the floor — the
    /// state says what happened.
    pub(crate) async fn revoke_now(&self, lease: Lease) -> Lease {
        let deadline = tokio::time::Instant::now() + OTHER_CLAIM_WAIT;
        loop {
            let claimed = self
                .store()
                .claim_lease(
                    &lease.id,
                    self.instance_id(),
                    self.now(),
                    self.claim_until(),
                )
                .await;
            let current = match claimed {
                // Boxed: keeps the futures of every caller (request handlers
                // included) from nesting the whole revocation inline.
                Ok(Some(claimed)) => return Box::pin(self.revoke_claimed(claimed)).await,
                Ok(None) => self.store().lease(&lease.id).await,
                Err(err) => Err(err),
            };
            match current {
                Ok(Some(current))
                    if current.state == LeaseState::Revoking
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(OTHER_CLAIM_POLL).await;
                }
                // Revoked, pending (its issuance decides), or still in
                // another's hands past the wait: say so.
                Ok(Some(current)) => return current,
                Ok(None) => return lease,
                Err(err) => {
                    warn!(lease = %lease.id, error = %err, "cannot claim lease for revocation");
                    let mut failed = lease;
                    failed.last_error = Some(format!("cannot claim the lease: {err}"));
                    return failed;
                }
            }
        }
    }

    /// Tears down a lease this gateway has claimed (see `claims.rs`) and
    /// records the outcome — only while the claim still holds, so a lease is
    /// recorded revoked once, by the gateway that did it.
    pub(crate) async fn revoke_claimed(&self, lease: Lease) -> Lease {
        self.revoke_guarded(lease, |engine, lease| async move {
            engine.revoke_attempt(lease).await
        })
        .await
    }

    /// Runs `attempt` on a lease this gateway has claimed as one unit of
    /// work: should it panic, the lease is recorded as failed (while the claim
    /// holds) and retried like any other failure. Tests inject the attempt.
    pub(crate) async fn revoke_guarded<F, Fut>(&self, lease: Lease, attempt: F) -> Lease
    where
        F: FnOnce(Engine, Lease) -> Fut,
        Fut: std::future::Future<Output = Lease>,
    {
        let mut fallback = lease.clone();
        let started = std::time::Instant::now();
        let outcome =
            match crate::duty::unit_of_work("revocation", attempt(self.clone(), lease)).await {
                Ok(lease) => lease,
                Err(error) => {
                    fallback.attempts = fallback.attempts.saturating_add(1);
                    let delay = self.backoff(fallback.attempts);
                    fallback.state = LeaseState::Failed;
                    fallback.owner = self.instance_id().to_string();
                    fallback.last_error = Some(error);
                    fallback.next_attempt_at = Some(self.now() + delay);
                    self.record_claimed(&fallback).await;
                    self.wake_reaper();
                    fallback
                }
            };
        self.metrics().revocation(
            outcome.mode,
            crate::telemetry::revocation_outcome(outcome.state),
            started.elapsed(),
        );
        outcome
    }

    /// Forgets a lease without touching AWS (Akeyless's `soft-delete`): for a
    /// credential that truly cannot be revoked (its account is gone, its
    /// admin keys will never work again). Admin only. The IAM user, if one
    /// exists, stays: the orphan sweep removes it after its expiry when a
    /// connection still reaches it, or an operator does.
    pub async fn forget_lease(
        &self,
        caller: &Caller,
        name: &ItemPath,
        lease_id: &str,
    ) -> Result<Lease, EngineError> {
        forget_allowed(caller, name)?;
        let producer = self.producer_record(name).await?;
        let lease = self.lease_of(&producer, lease_id).await?;
        self.forget(caller, lease).await
    }

    /// [`Engine::forget_lease`] for every live lease of a dynamic secret but
    /// those still being issued; returns the forgotten ones.
    pub async fn forget_all_leases(
        &self,
        caller: &Caller,
        name: &ItemPath,
    ) -> Result<Vec<Lease>, EngineError> {
        forget_allowed(caller, name)?;
        let producer = self.producer_record(name).await?;
        let mut forgotten = Vec::new();
        for lease in self.store().leases_of_producer(producer.id, false).await? {
            if lease.state != LeaseState::Pending {
                forgotten.push(self.forget(caller, lease).await?);
            }
        }
        Ok(forgotten)
    }

    async fn forget(&self, caller: &Caller, mut lease: Lease) -> Result<Lease, EngineError> {
        if lease.state == LeaseState::Pending {
            return Err(EngineError::Conflict(format!(
                "credential {} is still being issued; try again in a moment",
                lease.id
            )));
        }
        let previous = lease.state;
        lease.state = LeaseState::Revoked;
        lease.revoked_at = Some(self.now());
        lease.next_attempt_at = None;
        lease.last_error = Some(format!(
            "forgotten without touching AWS (soft-delete by {}); IAM user {} may still exist",
            caller.access_id, lease.principal
        ));
        // Not over a revocation that finished meanwhile, nor one in progress
        // that will record its own outcome.
        if !self.store().update_lease_if(&lease, previous).await? {
            return Err(EngineError::Conflict(format!(
                "credential {} changed state meanwhile; list it again and retry",
                lease.id
            )));
        }
        warn!(lease = %lease.id, user = %lease.principal, by = %caller.access_id, "lease forgotten without touching AWS (soft-delete)");
        Ok(lease)
    }

    /// One revocation attempt on a claimed lease (see [`Engine::revoke_claimed`]).
    pub(crate) async fn revoke_attempt(&self, mut lease: Lease) -> Lease {
        let (outcome, held) = self
            .with_claim(&lease.id, async {
                match self.store().producer_by_id(lease.producer_id).await {
                    Ok(Some(producer)) => match lease.mode {
                        AccessMode::IamUser => self
                            .teardown_in_its_account(&producer, &lease)
                            .await
                            .map(|()| None),
                        AccessMode::AssumedRole => self.end_session(&producer, &lease).await,
                        // Nothing in AWS to tear down; the session ends by itself.
                        AccessMode::FederationToken | AccessMode::SessionToken => Ok(None),
                    },
                    // Nothing exists in AWS to tear down; the session ends by itself.
                    Ok(None) if !lease.mode.is_iam_user() => Ok(None),
                    Ok(None) => Err(format!(
                        "dynamic secret '{}' no longer exists",
                        lease.producer_name
                    )),
                    Err(err) => Err(err.to_string()),
                }
            })
            .await;
        lease.attempts += 1;
        let revoked = outcome.is_ok();
        match outcome {
            Ok(note) => {
                lease.state = LeaseState::Revoked;
                lease.revoked_at = Some(self.now());
                lease.last_error = note;
                lease.next_attempt_at = None;
            }
            Err(error) => {
                let delay = self.backoff(lease.attempts);
                warn!(lease = %lease.id, user = %lease.principal, attempts = lease.attempts, retry_in_ms = delay.num_milliseconds(), %error, "revocation failed");
                lease.state = LeaseState::Failed;
                lease.last_error = Some(error);
                lease.next_attempt_at = Some(self.now() + delay);
            }
        }
        if !held || !self.record_claimed(&lease).await {
            // Another gateway took the lease over; its record stands.
            return match self.store().lease(&lease.id).await {
                Ok(Some(current)) => current,
                _ => lease,
            };
        }
        if revoked {
            info!(lease = %lease.id, user = %lease.principal, "revoked");
        } else {
            // The retry may be sooner than whatever the reaper sleeps until.
            self.wake_reaper();
        }
        lease
    }

    /// Ends an assumed_role lease: at its expiry there is nothing to do (the
    /// session has ended; with early revocation, expired entries are pruned
    /// from the role's policy on the way); before, with early revocation,
    /// its session is denied. Returns the lease's state text.
    async fn end_session(
        &self,
        producer: &ProducerRecord,
        lease: &Lease,
    ) -> Result<Option<String>, String> {
        if !uses_early_revocation(producer) {
            return Ok(None);
        }
        if lease.expires_at <= self.now() {
            if let Some(role_arn) = &lease.role_arn {
                self.prune_revoked_sessions(producer, role_arn).await;
            }
            return Ok(None);
        }
        self.deny_session(producer, lease).await.map(Some)
    }

    /// Tears the lease's IAM user down through its dynamic secret's current
    /// connection — but only if that connection still reaches the account the
    /// user was created in: elsewhere, a missing user would look revoked while
    /// the real one keeps working.
    async fn teardown_in_its_account(
        &self,
        producer: &ProducerRecord,
        lease: &Lease,
    ) -> Result<(), String> {
        let conn = self
            .producer_connection(producer)
            .await
            .map_err(|e| e.to_string())?;
        let aws = self.admin_of(&conn, REVOKE_MAX_ATTEMPTS).await;
        if let Some(expected) = &lease.account_id {
            let actual = self
                .account_reached(&conn, aws.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            if &actual != expected {
                return Err(format!(
                    "the AWS connection of '{}' now reaches account {actual}, but this credential was issued in \
                     account {expected}; point the connection back at account {expected} to revoke it",
                    producer.name
                ));
            }
        }
        // What issuance created, exactly (discovery on DeleteConflict);
        // discovery for leases recorded without it.
        match &lease.created {
            Some(created) => {
                // The lease's own user: the name it claims, which issuance
                // recorded as the created user's name too.
                let created = dynsec_core::CreatedIamUser {
                    user_name: lease.principal.clone(),
                    ..created.clone()
                };
                let path = aws
                    .teardown_created(&created)
                    .await
                    .map_err(|e| e.to_string())?;
                if path == dynsec_aws::TeardownPath::Discovered {
                    info!(lease = %lease.id, user = %lease.principal, "the user had gained something after issuance; removed it too");
                }
                Ok(())
            }
            None => aws
                .teardown_user(&lease.principal)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// The account a connection's admin credentials act in, asked of STS once
    /// per credentials and endpoint while it stays among the last
    /// [`crate::aws_clients::MAX_CACHED_CONNECTIONS`] seen.
    pub(crate) async fn account_reached(
        &self,
        conn: &crate::connection::AdminConnection,
        aws: &dyn crate::aws_port::AwsHandle,
    ) -> Result<String, dynsec_aws::AwsError> {
        let key = conn.identity_key();
        let cached = self
            .inner
            .admin_accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(account) = cached {
            return Ok(account);
        }
        let account = aws.account_id().await?;
        self.inner
            .admin_accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, account.clone());
        Ok(account)
    }

    /// Writes a claimed lease's outcome while the claim holds; returns
    /// whether it was written.
    async fn record_claimed(&self, lease: &Lease) -> bool {
        match self
            .store()
            .update_claimed_lease(lease, self.instance_id())
            .await
        {
            Ok(true) => true,
            Ok(false) => {
                warn!(lease = %lease.id, "the lease was taken over during its revocation; not recording this outcome");
                false
            }
            Err(err) => {
                // The claim stays in the store, lapses, and is retried from there.
                warn!(lease = %lease.id, error = %err, "cannot record lease state");
                self.inner
                    .health
                    .store_write_failed(format!("cannot record lease state: {err}"));
                // The reaper must back off instead of hitting the store again at once.
                self.inner
                    .lease_record_failed
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                false
            }
        }
    }

    /// Exponential backoff with jitter: half the capped delay plus a random half.
    pub(crate) fn backoff(&self, attempts: u32) -> chrono::Duration {
        let cap = self.config().max_retry_backoff;
        let exp = Duration::from_secs(1u64 << attempts.min(16)).min(cap);
        let half = exp / 2;
        let jitter = rand::rngs::OsRng.gen_range(0..=half.as_millis().max(1) as u64);
        chrono::Duration::from_std(half + Duration::from_millis(jitter))
            .unwrap_or(chrono::Duration::seconds(1))
    }

    pub(crate) fn wake_reaper(&self) {
        self.inner.reaper_wake.notify_one();
    }
}

/// Refuses an extension past the secret's `max-ttl`, counted from the
/// lease's issuance (refused rather than silently cut short, so the caller
/// knows how long the credential really lives).
fn within_max_ttl(
    producer: &ProducerRecord,
    lease: &Lease,
    new_expiry: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> Result<(), ValidationError> {
    let Some(max) = producer.settings.max_ttl_secs else {
        return Ok(());
    };
    let latest = lease
        .created_at
        .checked_add_signed(seconds(max))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
    if new_expiry <= latest {
        return Ok(());
    }
    let room = (latest - now).num_minutes().max(0);
    Err(ValidationError::new(
        "new-ttl-min",
        format!(
            "would outlive this dynamic secret's max-ttl ({max} seconds from issuance, until {}): at most {room} minutes from now",
            latest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    ))
}
