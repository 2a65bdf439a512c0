//! The STS side: AssumeRole, GetFederationToken and GetSessionToken, each
//! returning [`SessionCredentials`], and GetCallerIdentity — of the admin, or
//! signed with any credential ([`AwsAdmin::caller_identity_with`]).
//!
//! STS does not check durations on emulators; callers validate TTL bounds
//! (900..=43200 s for AssumeRole and GetFederationToken — 129600 s for
//! GetSessionToken — and at most 3600 s when a session chains a session).

use crate::admin::{invalid_tag, non_empty, AwsAdmin, CallerIdentity, CredentialRef, STS};
use crate::error::{AwsError, AwsErrorKind};
use dynsec_core::SecretString;
use std::time::SystemTime;

/// Parameters of an STS AssumeRole call.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssumeRoleRequest<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    /// Emulators accept any value; the caller validates 900..=43200 (see `dynsec_core::spec`).
    pub duration_secs: u64,
    pub external_id: Option<&'a str>,
    pub session_tags: &'a [(String, String)],
    pub transitive_tag_keys: &'a [String],
    /// Session policies: the session gets at most what the role's policies
    /// and these managed policies both allow.
    pub session_policy_arns: &'a [String],
    /// An inline session policy (JSON), intersected like the ARNs.
    pub session_policy: Option<&'a str>,
}

/// Parameters of an STS GetFederationToken call.
#[derive(Debug, Clone, Copy, Default)]
pub struct FederationTokenRequest<'a> {
    /// The federated user's name (2–32 characters of `[\w+=,.@-]`), shown
    /// in its ARN `arn:aws:sts::<account>:federated-user/<name>`.
    pub name: &'a str,
    pub duration_secs: u64,
    /// Without any policy the federated user can do nothing (AWS's rule):
    /// the session gets what the admin user's policies and these both allow.
    pub policy_arns: &'a [String],
    pub policy: Option<&'a str>,
    pub tags: &'a [(String, String)],
}

/// Parameters of an STS GetSessionToken call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionTokenRequest<'a> {
    pub duration_secs: u64,
    /// The admin user's MFA device (serial number or ARN) and a current code
    /// from it, for a session that satisfies `aws:MultiFactorAuthPresent`.
    pub mfa: Option<MfaCode<'a>>,
}

/// An MFA device and the code it shows now.
#[derive(Clone, Copy)]
pub struct MfaCode<'a> {
    pub serial_number: &'a str,
    pub code: &'a str,
}

impl std::fmt::Debug for MfaCode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaCode")
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

/// Temporary credentials from STS. `Debug` redacts the secrets.
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: Option<SystemTime>,
    /// The session's ARN: `assumed-role/...` or `federated-user/...`;
    /// `None` for GetSessionToken, whose session acts as the admin user.
    pub assumed_role_arn: Option<String>,
}

impl SessionCredentials {
    /// These credentials, to sign a call with (e.g. a ready-wait).
    pub fn credential(&self) -> CredentialRef<'_> {
        CredentialRef {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: Some(&self.session_token),
        }
    }
}

impl AwsAdmin {
    /// STS AssumeRole with session name, duration, optional external id,
    /// session tags, transitive tag keys and session policies.
    pub async fn assume_role(
        &self,
        req: &AssumeRoleRequest<'_>,
    ) -> Result<SessionCredentials, AwsError> {
        const OP: &str = "AssumeRole";
        let duration = duration_secs(OP, req.duration_secs)?;
        let tags = sts_tags(OP, req.session_tags)?;
        tracing::debug!(
            role_arn = req.role_arn,
            session = req.session_name,
            "sts:AssumeRole"
        );
        let out = self
            .sts()
            .assume_role()
            .role_arn(req.role_arn)
            .role_session_name(req.session_name)
            .duration_seconds(duration)
            .set_external_id(req.external_id.map(str::to_owned))
            .set_tags(non_empty(tags))
            .set_transitive_tag_keys(non_empty(req.transitive_tag_keys.to_vec()))
            .set_policy_arns(non_empty(policy_descriptors(req.session_policy_arns)))
            .set_policy(req.session_policy.map(str::to_owned))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(STS, OP, &e))?;
        session_credentials(
            OP,
            out.credentials(),
            out.assumed_role_user().map(|u| u.arn().to_owned()),
        )
    }

    /// STS GetFederationToken: a federated-user session of the admin user,
    /// limited to the request's policies. Refused without a call when the
    /// connection has no long-term IAM user key (AWS refuses it for session
    /// credentials and for the host identity's role).
    pub async fn get_federation_token(
        &self,
        req: &FederationTokenRequest<'_>,
    ) -> Result<SessionCredentials, AwsError> {
        const OP: &str = "GetFederationToken";
        self.require_user_key(STS, OP, "a federation_token credential")?;
        let duration = duration_secs(OP, req.duration_secs)?;
        let tags = sts_tags(OP, req.tags)?;
        tracing::debug!(name = req.name, "sts:GetFederationToken");
        let out = self
            .sts()
            .get_federation_token()
            .name(req.name)
            .duration_seconds(duration)
            .set_policy_arns(non_empty(policy_descriptors(req.policy_arns)))
            .set_policy(req.policy.map(str::to_owned))
            .set_tags(non_empty(tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(STS, OP, &e))?;
        session_credentials(
            OP,
            out.credentials(),
            out.federated_user().map(|u| u.arn().to_owned()),
        )
    }

    /// STS GetSessionToken: a session of the admin user itself, with MFA
    /// when a device and code are given. Refused without a call when the
    /// connection has no long-term IAM user key.
    pub async fn get_session_token(
        &self,
        req: &SessionTokenRequest<'_>,
    ) -> Result<SessionCredentials, AwsError> {
        const OP: &str = "GetSessionToken";
        self.require_user_key(STS, OP, "a session_token credential")?;
        let duration = duration_secs(OP, req.duration_secs)?;
        tracing::debug!(mfa = req.mfa.is_some(), "sts:GetSessionToken");
        let out = self
            .sts()
            .get_session_token()
            .duration_seconds(duration)
            .set_serial_number(req.mfa.map(|m| m.serial_number.to_owned()))
            .set_token_code(req.mfa.map(|m| m.code.to_owned()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(STS, OP, &e))?;
        session_credentials(OP, out.credentials(), None)
    }

    /// GetCallerIdentity signed with `credential` (through this connection's
    /// STS endpoint): whether that credential works now, and as whom. One
    /// attempt, no retry: see [`AwsAdmin::wait_until_usable`].
    pub async fn caller_identity_with(
        &self,
        credential: &CredentialRef<'_>,
    ) -> Result<CallerIdentity, AwsError> {
        caller_identity_of(&self.sts_signed_with(credential)).await
    }
}

pub(crate) async fn caller_identity_of(
    sts: &aws_sdk_sts::Client,
) -> Result<CallerIdentity, AwsError> {
    const OP: &str = "GetCallerIdentity";
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(STS, OP, &e))?;
    let field = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    match (field(out.account()), field(out.arn())) {
        (Some(account), Some(arn)) => Ok(CallerIdentity {
            account,
            arn,
            user_id: out.user_id().unwrap_or_default().to_owned(),
        }),
        _ => Err(AwsError::new(
            AwsErrorKind::Retryable,
            STS,
            OP,
            None,
            "the response named no account or ARN",
        )),
    }
}

fn duration_secs(op: &'static str, secs: u64) -> Result<i32, AwsError> {
    i32::try_from(secs).map_err(|_| {
        AwsError::new(
            AwsErrorKind::Invalid,
            STS,
            op,
            None,
            format!("duration of {secs} seconds is out of range"),
        )
    })
}

fn sts_tags(
    op: &'static str,
    tags: &[(String, String)],
) -> Result<Vec<aws_sdk_sts::types::Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_sts::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|_| invalid_tag(STS, op, k))
        })
        .collect()
}

fn policy_descriptors(arns: &[String]) -> Vec<aws_sdk_sts::types::PolicyDescriptorType> {
    arns.iter()
        .map(|arn| {
            aws_sdk_sts::types::PolicyDescriptorType::builder()
                .arn(arn)
                .build()
        })
        .collect()
}

fn session_credentials(
    op: &'static str,
    creds: Option<&aws_sdk_sts::types::Credentials>,
    session_arn: Option<String>,
) -> Result<SessionCredentials, AwsError> {
    let creds = creds.ok_or_else(|| {
        AwsError::new(
            AwsErrorKind::Retryable,
            STS,
            op,
            None,
            "the response carried no credentials",
        )
    })?;
    Ok(SessionCredentials {
        access_key_id: creds.access_key_id().to_owned(),
        secret_access_key: SecretString::new(creds.secret_access_key()),
        session_token: SecretString::new(creds.session_token()),
        expiration: SystemTime::try_from(*creds.expiration()).ok(),
        assumed_role_arn: session_arn,
    })
}
