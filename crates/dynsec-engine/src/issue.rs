//! Issuing a credential: the `get-dynamic-secret-value` use case.
//!
//! iam_user: write a `Pending` lease naming the user (the durable intent), then
//! CreateUser, then everything else concurrently; any failure tears the user
//! down before the error is returned. assumed_role: AssumeRole, then record the
//! lease. The work runs on its own task, so a client that hangs up mid-way
//! cannot leave an intent half-done.

use crate::authz::{authorize, Requested, UseCase};
use crate::aws_port::AwsHandle;
use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, SecondsFormat, Utc};
use dynsec_aws::{
    AssumeRoleRequest, FederationTokenRequest, MfaCode, NewIamUser, SessionTokenRequest,
};
use dynsec_core::iam_names::{
    DYNAMIC_SECRET_TAG, EXPIRES_AT_TAG, LEASE_ID_TAG, MANAGED_BY_TAG, TMP_USER_PREFIX,
};
use dynsec_core::{
    AccessMode, ItemPath, Lease, LeaseState, NewLease, SecretString, ValidationError,
};
use dynsec_store::ProducerRecord;
use tracing::{info, warn};

/// Length of a lease id; also the unique part of user and session names.
const LEASE_ID_LEN: usize = dynsec_core::username::LEASE_ID_LEN;

/// A freshly issued credential. Holds secrets: never log it.
#[derive(Debug)]
pub enum IssuedValue {
    IamUser {
        lease_id: String,
        user_name: String,
        user_arn: String,
        access_key_id: Option<String>,
        secret_access_key: Option<SecretString>,
        console_password: Option<SecretString>,
        console_sign_in_url: Option<String>,
        expires_at: DateTime<Utc>,
        ttl_secs: u64,
        ready: Option<ReadyReport>,
    },
    AssumedRole {
        lease_id: String,
        role_arn: String,
        assumed_role_arn: Option<String>,
        access_key_id: String,
        secret_access_key: SecretString,
        session_token: SecretString,
        expires_at: DateTime<Utc>,
        ttl_secs: u64,
        ready: Option<ReadyReport>,
    },
    /// federation_token or session_token.
    StsToken {
        lease_id: String,
        mode: AccessMode,
        /// `arn:aws:sts::<account>:federated-user/<name>` (federation_token).
        federated_user_arn: Option<String>,
        access_key_id: String,
        secret_access_key: SecretString,
        session_token: SecretString,
        expires_at: DateTime<Utc>,
        ttl_secs: u64,
        ready: Option<ReadyReport>,
    },
}

/// How the ready-wait of a dynamic secret with a `secure-access-delay` went
/// (none without one, or for a credential with no key to try).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyReport {
    /// From the start of the wait until the credential was seen working (or
    /// the delay ran out).
    pub waited: std::time::Duration,
    /// Whether GetCallerIdentity signed with it answered within the delay.
    pub seen_working: bool,
}

impl IssuedValue {
    fn ready_mut(&mut self) -> &mut Option<ReadyReport> {
        match self {
            Self::IamUser { ready, .. }
            | Self::AssumedRole { ready, .. }
            | Self::StsToken { ready, .. } => ready,
        }
    }

    /// The lease the credential was issued under.
    pub fn lease_id(&self) -> &str {
        match self {
            Self::IamUser { lease_id, .. }
            | Self::AssumedRole { lease_id, .. }
            | Self::StsToken { lease_id, .. } => lease_id,
        }
    }

    /// The credential to sign a ready-wait with, if it has a key.
    fn credential(&self) -> Option<dynsec_aws::CredentialRef<'_>> {
        match self {
            Self::IamUser {
                access_key_id: Some(id),
                secret_access_key: Some(secret),
                ..
            } => Some(dynsec_aws::CredentialRef {
                access_key_id: id,
                secret_access_key: secret,
                session_token: None,
            }),
            Self::IamUser { .. } => None,
            Self::AssumedRole {
                access_key_id,
                secret_access_key,
                session_token,
                ..
            }
            | Self::StsToken {
                access_key_id,
                secret_access_key,
                session_token,
                ..
            } => Some(dynsec_aws::CredentialRef {
                access_key_id,
                secret_access_key,
                session_token: Some(session_token),
            }),
        }
    }
}

impl Engine {
    /// Issues a new credential from the dynamic secret `name` for `caller`
    /// (a user-name template may name its access id). `args` are the
    /// caller's `k=v` options; only `role-arn=<arn>` is understood.
    pub async fn get_value(
        &self,
        caller: &Caller,
        name: &ItemPath,
        args: &[String],
    ) -> Result<IssuedValue, EngineError> {
        self.get_value_unless(caller, name, args, std::future::pending())
            .await
    }

    /// [`Engine::get_value`], whose ready-wait (`secure-access-delay`) ends
    /// early when `client_gone` completes: the credential is then handed to
    /// nobody, and stays recorded as the active lease it is until it is
    /// revoked or expires. The issuance itself (intent, AWS calls,
    /// activation) always runs to its end on its own task; the wait starts
    /// only once the lease is active, so it never holds an intent open.
    pub async fn get_value_unless(
        &self,
        caller: &Caller,
        name: &ItemPath,
        args: &[String],
        client_gone: impl std::future::Future<Output = ()> + Send,
    ) -> Result<IssuedValue, EngineError> {
        authorize(caller, UseCase::GetValue, &Requested::name(name))?;
        let access_id = caller.access_id.as_str();
        let producer = self.producer_record(name).await?;
        let mut issued = self.issue(producer.clone(), access_id, args).await?;
        let delay = producer.settings.secure_access_delay_secs;
        if delay == 0 {
            return Ok(issued);
        }
        let Some(credential) = issued.credential() else {
            return Ok(issued);
        };
        let aws = self
            .aws_for(&producer, self.config().issue_max_attempts)
            .await?;
        let wait = aws.wait_until_usable(&credential, std::time::Duration::from_secs(delay));
        let report = tokio::select! {
            wait = wait => ReadyReport { waited: wait.waited, seen_working: wait.is_ready() },
            () = client_gone => {
                warn!(lease = %issued.lease_id(), "the client went away during the ready-wait; the credential was handed to nobody");
                return Err(EngineError::Unavailable(
                    "the client went away before the credential was seen working".into(),
                ));
            }
        };
        info!(lease = %issued.lease_id(), waited_ms = report.waited.as_millis() as u64, seen_working = report.seen_working, "ready-wait done");
        *issued.ready_mut() = Some(report);
        Ok(issued)
    }

    async fn issue(
        &self,
        producer: ProducerRecord,
        access_id: &str,
        args: &[String],
    ) -> Result<IssuedValue, EngineError> {
        // A dynamic secret's protection key is needed to issue from it, also
        // when the secret it protects (its target's) is sealed elsewhere.
        self.require_protection_key(producer.settings.protection_key.as_deref())
            .await?;
        let args = parse_args(args)?;
        let engine = self.clone();
        let access_id = access_id.to_owned();
        let mode = producer.settings.access_mode;
        let started = std::time::Instant::now();
        // Own task: finishes (or rolls back) even if the caller goes away.
        let result = tokio::spawn(async move {
            match mode {
                AccessMode::IamUser => engine.issue_iam_user(&producer, &access_id).await,
                AccessMode::AssumedRole => {
                    engine.issue_assumed_role(&producer, args.role_arn).await
                }
                AccessMode::FederationToken | AccessMode::SessionToken => {
                    engine.issue_sts_token(&producer, args.mfa_code).await
                }
            }
        })
        .await
        .map_err(|e| EngineError::Internal(format!("issuance task failed: {e}")))
        .and_then(|issued| issued);
        self.metrics().issuance(
            mode,
            crate::telemetry::outcome_of(&result),
            started.elapsed(),
        );
        result
    }

    async fn issue_iam_user(
        &self,
        producer: &ProducerRecord,
        access_id: &str,
    ) -> Result<IssuedValue, EngineError> {
        let settings = &producer.settings;
        let aws = self
            .aws_for(producer, self.config().issue_max_attempts)
            .await?;
        let lease_id = dynsec_crypto::random_id(LEASE_ID_LEN);
        let now = self.now();
        let user_name = user_name_of(producer, &lease_id, access_id, now)?;
        // Before the intent is written: nothing exists yet to roll back.
        let expires_at = expiry(now, settings.ttl_secs)?;
        let mut lease = Lease::pending(NewLease {
            id: lease_id.clone(),
            producer_id: producer.id,
            producer_name: producer.name.clone(),
            mode: AccessMode::IamUser,
            principal: user_name.clone(),
            owner: self.instance_id().to_string(),
            created_at: now,
            expires_at,
        });
        // Invariant 1: the intent is durable before CreateUser is sent.
        self.store().insert_lease(&lease).await?;
        // A delete may have won the race since the dynamic secret was read
        // (deletion refuses while an intent exists, so it happened before
        // ours): close the intent without touching AWS.
        if self.store().producer_by_id(producer.id).await?.is_none() {
            lease.state = LeaseState::Revoked;
            lease.last_error = Some("dynamic secret deleted before issuance".into());
            // Only from pending: if recovery took it over meanwhile, its record stands.
            self.store()
                .update_lease_if(&lease, LeaseState::Pending)
                .await?;
            return Err(EngineError::not_found(format!(
                "dynamic secret '{}' not found",
                producer.name
            )));
        }

        // Everything from here on is one unit of work: should it panic, the
        // intent goes to the reaper, which tears down whatever exists.
        let intent = lease.clone();
        match crate::duty::unit_of_work(
            "issuance",
            self.create_and_activate(producer, aws.as_ref(), lease),
        )
        .await
        {
            Ok(result) => result,
            Err(reason) => {
                self.hand_intent_to_reaper(intent, &reason).await;
                Err(EngineError::Internal(reason))
            }
        }
    }

    /// CreateUser and the rest for the intent `lease`, then its activation.
    async fn create_and_activate(
        &self,
        producer: &ProducerRecord,
        aws: &dyn AwsHandle,
        mut lease: Lease,
    ) -> Result<IssuedValue, EngineError> {
        let settings = &producer.settings;
        let lease_id = lease.id.clone();
        let user_name = lease.principal.clone();
        let expires_at = lease.expires_at;
        let tags = vec![
            (MANAGED_BY_TAG.to_string(), self.config().managed_by.clone()),
            (DYNAMIC_SECRET_TAG.to_string(), tag_value(&producer.name)),
            (LEASE_ID_TAG.to_string(), lease_id.clone()),
            (
                EXPIRES_AT_TAG.to_string(),
                expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
        ];
        // The secret's own tags after dynsec's: validation keeps them off
        // the `dynsec:` keys, so they can never override ours.
        let tags: Vec<(String, String)> = tags
            .into_iter()
            .chain(settings.user_tags.iter().cloned())
            .collect();
        let console_password = settings
            .console_access
            .then(|| crate::password::generate(&settings.password));
        let request = NewIamUser {
            user_name: &user_name,
            path: self.iam_path_of(settings),
            tags: &tags,
            policy_arns: &settings.user_policies,
            groups: &settings.user_groups,
            access_key: settings.programmatic_access,
            console_password: console_password.as_ref(),
            permissions_boundary: settings.permissions_boundary_arn.as_deref(),
            inline_policy: settings.user_inline_policy.as_deref(),
        };
        let created = match aws.create_user(&request).await {
            Ok(created) => created,
            Err(err) if never_created(&err) => {
                // AWS refused CreateUser itself: there is no user to tear
                // down, and trying to (with the same refused credentials)
                // would keep the lease revoking forever.
                warn!(lease = %lease_id, user = %user_name, error = %err, "AWS refused to create the user; closing the intent");
                lease.state = LeaseState::Revoked;
                lease.last_error = Some(format!(
                    "issuance refused by AWS before the user existed: {err}"
                ));
                if let Err(store_err) = self.store().update_lease(&lease).await {
                    // The intent stays `pending`; recovery rolls it back.
                    warn!(lease = %lease.id, error = %store_err, "cannot close the intent");
                }
                return Err(err.into());
            }
            Err(err) => {
                warn!(lease = %lease_id, user = %user_name, error = %err, "issuance failed; rolling back");
                self.roll_back(aws, &mut lease, &err.to_string()).await;
                return Err(err.into());
            }
        };

        lease.state = LeaseState::Active;
        // Written with the activation, so a lease handed out always knows
        // what its revocation deletes.
        lease.created = Some(created.created.clone());
        lease.access_key_id = created.access_key_id.clone();
        lease.account_id = account_of(&created.user_arn).map(str::to_owned);
        // Only from `pending`: if recovery took the intent over (this issuance
        // outlived ABANDONED_INTENT_AFTER), its revocation is under way.
        match self
            .store()
            .update_lease_if(&lease, LeaseState::Pending)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                warn!(lease = %lease_id, "issuance outlived its intent; not handing the credential out");
                return Err(EngineError::Unavailable(
                    "issuance took too long and was rolled back; try again".into(),
                ));
            }
            Err(err) => {
                // We cannot record the credential as handed out, so we must not hand it out.
                warn!(lease = %lease_id, error = %err, "cannot activate lease; rolling back");
                self.roll_back(aws, &mut lease, "lease could not be activated")
                    .await;
                return Err(err.into());
            }
        }
        self.wake_reaper();
        info!(lease = %lease_id, user = %user_name, dynamic_secret = %producer.name, "issued iam_user credential");

        let console_sign_in_url = console_password
            .as_ref()
            .and_then(|_| account_of(&created.user_arn))
            .map(|account| format!("https://{account}.signin.aws.amazon.com/console"));
        Ok(IssuedValue::IamUser {
            lease_id,
            user_name: created.user_name,
            user_arn: created.user_arn,
            access_key_id: created.access_key_id,
            secret_access_key: created.secret_access_key,
            console_password,
            console_sign_in_url,
            expires_at,
            ttl_secs: settings.ttl_secs,
            ready: None,
        })
    }

    /// After a panic mid-issuance: the intent (if still pending) becomes a
    /// due revocation, so the reaper tears down whatever was created.
    async fn hand_intent_to_reaper(&self, mut lease: Lease, reason: &str) {
        lease.state = LeaseState::Revoking;
        lease.last_error = Some(format!("issuance failed: {reason}"));
        lease.next_attempt_at = Some(self.now());
        match self
            .store()
            .update_lease_if(&lease, LeaseState::Pending)
            .await
        {
            Ok(_) => self.wake_reaper(),
            // Still pending: the housekeeper takes it over once it is stale.
            Err(err) => {
                warn!(lease = %lease.id, error = %err, "cannot hand the intent to the reaper")
            }
        }
    }

    /// Tears down what a failed issuance may have created. If AWS can't be
    /// reached now, the lease is left `Revoking` for the reaper to finish.
    async fn roll_back(&self, aws: &dyn AwsHandle, lease: &mut Lease, reason: &str) {
        lease.last_error = Some(format!("issuance failed: {reason}"));
        match aws.teardown_user(&lease.principal).await {
            Ok(()) => lease.state = LeaseState::Revoked,
            Err(err) => {
                warn!(lease = %lease.id, error = %err, "rollback failed; the reaper will retry");
                lease.state = LeaseState::Revoking;
                lease.attempts += 1;
                lease.next_attempt_at = Some(self.now() + self.backoff(lease.attempts));
            }
        }
        // Only from pending: an intent taken over meanwhile (this issuance
        // stalled, or another gateway took this one for dead) is the
        // taker's to finish.
        match self
            .store()
            .update_lease_if(lease, LeaseState::Pending)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                warn!(lease = %lease.id, "the intent was taken over during its rollback")
            }
            // The intent stays `Pending`; recovery will roll it back.
            Err(err) => warn!(lease = %lease.id, error = %err, "cannot record rollback"),
        }
        self.wake_reaper();
    }

    async fn issue_assumed_role(
        &self,
        producer: &ProducerRecord,
        chosen_role: Option<String>,
    ) -> Result<IssuedValue, EngineError> {
        let settings = &producer.settings;
        let role_arn =
            match chosen_role {
                Some(arn) if settings.role_arns.contains(&arn) => arn,
                Some(arn) => {
                    return Err(ValidationError::new(
                        "args",
                        format!("role-arn '{arn}' is not one of this dynamic secret's role ARNs"),
                    )
                    .into())
                }
                None => settings.role_arns.first().cloned().ok_or_else(|| {
                    ValidationError::new("aws-role-arns", "no role ARN configured")
                })?,
            };
        // Re-checked here: settings stored by an older version might not comply.
        if !(dynsec_core::spec::MIN_ROLE_TTL_SECS..=dynsec_core::spec::MAX_ROLE_TTL_SECS)
            .contains(&settings.ttl_secs)
        {
            return Err(ValidationError::new(
                "user-ttl",
                "assumed_role sessions last between 15m and 12h",
            )
            .into());
        }
        let aws = self
            .aws_for(producer, self.config().issue_max_attempts)
            .await?;
        let lease_id = dynsec_crypto::random_id(LEASE_ID_LEN);
        let session_name = format!("dynsec-{lease_id}");
        let creds = aws
            .assume_role(&AssumeRoleRequest {
                role_arn: &role_arn,
                session_name: &session_name,
                duration_secs: settings.ttl_secs,
                external_id: settings.external_id.as_deref(),
                session_tags: &settings.session_tags,
                transitive_tag_keys: &settings.transitive_tag_keys,
                session_policy_arns: &settings.session_policy_arns,
                session_policy: settings.session_policy.as_deref(),
            })
            .await?;
        let lease = self.session_lease(
            producer,
            &lease_id,
            AccessMode::AssumedRole,
            session_name,
            Some(role_arn.clone()),
            &creds,
        )?;
        self.store().insert_lease(&lease).await?;
        self.wake_reaper();
        info!(lease = %lease_id, role = %role_arn, dynamic_secret = %producer.name, "issued assumed_role credential");
        Ok(IssuedValue::AssumedRole {
            lease_id,
            role_arn,
            assumed_role_arn: creds.assumed_role_arn,
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            session_token: creds.session_token,
            expires_at: lease.expires_at,
            ttl_secs: settings.ttl_secs,
            ready: None,
        })
    }
}

impl Engine {
    /// federation_token / session_token: one STS call with the admin user's
    /// key, then the lease (there is nothing to roll back: the session
    /// cannot be ended and expires by itself).
    async fn issue_sts_token(
        &self,
        producer: &ProducerRecord,
        mfa_code: Option<SecretString>,
    ) -> Result<IssuedValue, EngineError> {
        let settings = &producer.settings;
        let mode = settings.access_mode;
        // Re-checked here: settings stored by an older version might not comply.
        if !(dynsec_core::spec::MIN_STS_TOKEN_TTL_SECS..=dynsec_core::spec::MAX_STS_TOKEN_TTL_SECS)
            .contains(&settings.ttl_secs)
        {
            return Err(ValidationError::new(
                "user-ttl",
                format!("{mode} credentials last between 15m and 36h"),
            )
            .into());
        }
        let lease_id = dynsec_crypto::random_id(LEASE_ID_LEN);
        let aws = self
            .aws_for(producer, self.config().issue_max_attempts)
            .await?;
        let (creds, principal) = match mode {
            AccessMode::FederationToken => {
                if mfa_code.is_some() {
                    return Err(ValidationError::new(
                        "args",
                        "mfa-code applies to session_token credentials only",
                    )
                    .into());
                }
                // 2-32 characters of [\w+=,.@-]: `dynsec-` and the lease id.
                let name = format!("dynsec-{lease_id}");
                // The secret's policies and its session-policy ARNs both
                // limit the federated session (AWS's PolicyArns, at most 10).
                let policy_arns: Vec<String> = settings
                    .user_policies
                    .iter()
                    .chain(&settings.session_policy_arns)
                    .cloned()
                    .collect();
                let creds = aws
                    .get_federation_token(&FederationTokenRequest {
                        name: &name,
                        duration_secs: settings.ttl_secs,
                        policy_arns: &policy_arns,
                        policy: settings.session_policy.as_deref(),
                        tags: &[],
                    })
                    .await?;
                (creds, name)
            }
            _ => {
                let mfa = match (&settings.mfa_serial, &mfa_code) {
                    (Some(serial), Some(code)) => Some(MfaCode {
                        serial_number: serial,
                        code: code.expose(),
                    }),
                    (Some(serial), None) => {
                        return Err(ValidationError::new(
                            "args",
                            format!("this dynamic secret's sessions need MFA: pass mfa-code=<the code device {serial} shows now>"),
                        )
                        .into())
                    }
                    (None, Some(_)) => {
                        return Err(ValidationError::new(
                            "args",
                            "mfa-code was given, but this dynamic secret names no MFA device (mfa-serial)",
                        )
                        .into())
                    }
                    (None, None) => None,
                };
                let creds = aws
                    .get_session_token(&SessionTokenRequest {
                        duration_secs: settings.ttl_secs,
                        mfa,
                    })
                    .await?;
                (creds, "session-token".to_string())
            }
        };
        let lease = self.session_lease(producer, &lease_id, mode, principal, None, &creds)?;
        self.store().insert_lease(&lease).await?;
        self.wake_reaper();
        info!(lease = %lease_id, mode = %mode, dynamic_secret = %producer.name, "issued STS token credential");
        Ok(IssuedValue::StsToken {
            lease_id,
            mode,
            federated_user_arn: creds.assumed_role_arn,
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            session_token: creds.session_token,
            expires_at: lease.expires_at,
            ttl_secs: settings.ttl_secs,
            ready: None,
        })
    }
}

impl Engine {
    /// The active lease of an STS session just issued: it expires when AWS
    /// says (or after the TTL, when AWS names no time), and nothing in AWS
    /// needs tearing down.
    fn session_lease(
        &self,
        producer: &ProducerRecord,
        lease_id: &str,
        mode: AccessMode,
        principal: String,
        role_arn: Option<String>,
        creds: &dynsec_aws::SessionCredentials,
    ) -> Result<Lease, EngineError> {
        let now = self.now();
        let expires_at = creds
            .expiration
            .map(DateTime::<Utc>::from)
            .map_or_else(|| expiry(now, producer.settings.ttl_secs), Ok)?;
        Ok(Lease::active_session(
            NewLease {
                id: lease_id.to_owned(),
                producer_id: producer.id,
                producer_name: producer.name.clone(),
                mode,
                principal,
                owner: self.instance_id().to_string(),
                created_at: now,
                expires_at,
            },
            creds.access_key_id.clone(),
            role_arn,
            creds
                .assumed_role_arn
                .as_deref()
                .and_then(account_of)
                .map(str::to_owned),
        ))
    }
}

/// Whether a failed [`AwsHandle::create_user`] proves no user of
/// ours was created: AWS (or the SDK, before sending) refused CreateUser
/// itself as denied or invalid, or the name belongs to someone else's user.
/// A timeout, a 5xx or a throttle proves nothing (the user may exist), nor
/// does a failure of a later step.
fn never_created(err: &dynsec_aws::AwsError) -> bool {
    use dynsec_aws::AwsErrorKind::{Denied, Invalid};
    err.operation == "CreateUser"
        && (matches!(err.kind, Denied | Invalid)
            // A user of that name exists and is not ours (ours would have
            // been taken up by `create_user`): nothing of ours to tear down,
            // and theirs must not be.
            || err.code.as_deref() == Some("EntityAlreadyExists"))
}

/// What a caller may pass to get-value in `args`.
#[derive(Debug, Default)]
struct GetValueArgs {
    /// assumed_role: which of the secret's roles.
    role_arn: Option<String>,
    /// session_token with an MFA device: the code it shows now.
    mfa_code: Option<SecretString>,
}

/// Reads the caller's `args`. Each arg is `k=v`, or (Akeyless's JSON form) a
/// JSON object of string values, `{"role-arn": "..."}`; both forms combine.
fn parse_args(args: &[String]) -> Result<GetValueArgs, ValidationError> {
    let mut parsed = GetValueArgs::default();
    for (key, value) in arg_pairs(args)? {
        match key.as_str() {
            "role-arn" if !value.trim().is_empty() => {
                parsed.role_arn = Some(value.trim().to_string())
            }
            "mfa-code" if !value.trim().is_empty() => {
                parsed.mfa_code = Some(SecretString::new(value.trim()))
            }
            _ => {
                return Err(ValidationError::new(
                    "args",
                    format!(
                        "unsupported argument '{key}' (supported: role-arn=<arn>, mfa-code=<code>)"
                    ),
                ))
            }
        }
    }
    Ok(parsed)
}

/// Every `(key, value)` the args carry, in order.
fn arg_pairs(args: &[String]) -> Result<Vec<(String, String)>, ValidationError> {
    let mut pairs = Vec::new();
    for arg in args {
        let trimmed = arg.trim();
        if trimmed.starts_with('{') {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(trimmed)
                .map_err(|e| {
                    ValidationError::new(
                        "args",
                        format!("an argument starting with '{{' must be a JSON object: {e}"),
                    )
                })?;
            for (key, value) in object {
                match value {
                    serde_json::Value::String(text) => pairs.push((key, text)),
                    _ => {
                        return Err(ValidationError::new(
                            "args",
                            format!("the JSON argument's '{key}' must be a string"),
                        ))
                    }
                }
            }
        } else {
            match trimmed.split_once('=') {
                Some((key, value)) => pairs.push((key.trim().to_string(), value.to_string())),
                None => {
                    return Err(ValidationError::new(
                        "args",
                        format!(
                            "unsupported argument '{arg}' (expected key=value or a JSON object)"
                        ),
                    ))
                }
            }
        }
    }
    Ok(pairs)
}

/// The user name of a new lease: the secret's `custom-username-template`
/// expanded, or `tmp.<leaf>.<lease id>`. A template that no longer fits
/// (stored by an older version, or a secret renamed since) is refused as the
/// secret's settings, before any intent is written.
fn user_name_of(
    producer: &ProducerRecord,
    lease_id: &str,
    access_id: &str,
    now: DateTime<Utc>,
) -> Result<String, ValidationError> {
    let Some(raw) = &producer.settings.username_template else {
        return Ok(temp_user_name(&producer.name, lease_id));
    };
    let template = dynsec_core::username::UsernameTemplate::parse(raw)?;
    template.check_fits(&producer.name)?;
    let mut random = dynsec_crypto::random_id;
    Ok(template.expand(&mut dynsec_core::username::UsernameValues {
        secret_name: &producer.name,
        lease_id,
        access_id,
        unix_time: now.timestamp(),
        random: &mut random,
    }))
}

/// `tmp.<leaf>.<lease id>`: unique, recognisable, within IAM's 64 characters
/// and its `[\w+=,.@-]` alphabet.
pub(crate) fn temp_user_name(producer_name: &str, lease_id: &str) -> String {
    let leaf = producer_name.rsplit('/').next().unwrap_or(producer_name);
    let room = dynsec_core::spec::MAX_IAM_USER_NAME - TMP_USER_PREFIX.len() - 1 - lease_id.len();
    let cleaned: String = leaf
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(room)
        .collect();
    format!("{TMP_USER_PREFIX}{cleaned}.{lease_id}")
}

/// IAM tag values allow letters, digits, spaces and `_ . : / = + - @`, up to 256.
fn tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// The account id in `arn:aws:iam::123456789012:user/...`.
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// `secs` as a chrono duration, saturating at the largest one rather than
/// panicking; add it with `checked_add_signed` (see [`expiry`]).
pub(crate) fn seconds(secs: u64) -> chrono::Duration {
    i64::try_from(secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .unwrap_or(chrono::Duration::MAX)
}

/// `now` + a dynamic secret's TTL, or a 400 naming `user-ttl` when that is
/// past any representable time (TTLs are capped when set, but stored
/// settings may predate the cap).
fn expiry(now: DateTime<Utc>, ttl_secs: u64) -> Result<DateTime<Utc>, ValidationError> {
    now.checked_add_signed(seconds(ttl_secs)).ok_or_else(|| {
        ValidationError::new(
            "user-ttl",
            format!("{ttl_secs} seconds is too long: the expiry would be out of range"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_fit_iam_rules() {
        let long = format!("/prod/aws/{}", "x".repeat(100));
        let name = temp_user_name(&long, "abcdefghijklmnop");
        assert!(name.len() <= 64, "{name}");
        assert!(name.starts_with("tmp.xxx"));
        assert!(name.ends_with(".abcdefghijklmnop"));
        let odd = temp_user_name("/a/dev creds#1", "id");
        assert_eq!(odd, "tmp.dev-creds-1.id");
    }

    #[test]
    fn args_accept_role_arn_only() {
        assert_eq!(parse_args(&[]).unwrap().role_arn, None);
        assert_eq!(
            parse_args(&["role-arn=arn:aws:iam::1:role/r".into()])
                .unwrap()
                .role_arn
                .as_deref(),
            Some("arn:aws:iam::1:role/r")
        );
        assert_eq!(parse_args(&["ttl=5".into()]).unwrap_err().field, "args");
    }

    #[test]
    fn args_in_json_form_combine_with_key_value_ones() {
        assert_eq!(
            parse_args(&[r#"{"role-arn": "arn:aws:iam::1:role/r"}"#.into()])
                .unwrap()
                .role_arn
                .as_deref(),
            Some("arn:aws:iam::1:role/r")
        );
        // Later ones win, whatever their form.
        assert_eq!(
            parse_args(&[
                r#" {"role-arn":"arn:aws:iam::1:role/a"}"#.into(),
                "role-arn=arn:aws:iam::1:role/b".into(),
            ])
            .unwrap()
            .role_arn
            .as_deref(),
            Some("arn:aws:iam::1:role/b")
        );
        let args = parse_args(&[r#"{"mfa-code": "123456"}"#.into()]).unwrap();
        assert_eq!(args.mfa_code.unwrap().expose(), "123456");
        for bad in [
            r#"{"role-arn": 5}"#,
            r#"{"role-arn""#,
            r#"{"ttl": "5"}"#,
            "novalue",
        ] {
            let err = parse_args(&[bad.into()]).unwrap_err();
            assert_eq!(err.field, "args", "{bad}");
        }
    }

    #[test]
    fn huge_ttls_saturate_instead_of_panicking() {
        assert_eq!(seconds(60), chrono::Duration::minutes(1));
        assert_eq!(seconds(u64::MAX), chrono::Duration::MAX);
        assert_eq!(seconds(i64::MAX as u64), chrono::Duration::MAX);
        let now = Utc::now();
        assert_eq!(expiry(now, 60).unwrap(), now + chrono::Duration::minutes(1));
        for huge in [u64::MAX, i64::MAX as u64, i64::MAX as u64 / 1000] {
            assert_eq!(expiry(now, huge).unwrap_err().field, "user-ttl");
        }
    }

    #[test]
    fn only_a_refused_create_user_proves_there_is_no_user() {
        use dynsec_aws::{AwsError, AwsErrorKind::*};
        let err = |op, kind, code: Option<&str>| {
            AwsError::new(kind, "IAM", op, code.map(str::to_string), "m")
        };
        assert!(never_created(&err(
            "CreateUser",
            Denied,
            Some("AccessDenied")
        )));
        assert!(never_created(&err("CreateUser", Denied, None)));
        assert!(never_created(&err(
            "CreateUser",
            Invalid,
            Some("ValidationError")
        )));
        assert!(never_created(&err(
            "CreateUser",
            Retryable,
            Some("EntityAlreadyExists")
        )));
        assert!(!never_created(&err(
            "CreateUser",
            Retryable,
            Some("Throttling")
        )));
        assert!(
            !never_created(&err("CreateUser", Retryable, None)),
            "a timeout"
        );
        assert!(!never_created(&err(
            "AttachUserPolicy",
            Invalid,
            Some("NoSuchEntity")
        )));
        assert!(!never_created(&err(
            "CreateAccessKey",
            Denied,
            Some("AccessDenied")
        )));
    }

    #[test]
    fn helpers() {
        assert_eq!(
            account_of("arn:aws:iam::123456789012:user/x"),
            Some("123456789012")
        );
        assert_eq!(tag_value("/prod/aws#1"), "/prod/aws_1");
    }
}
