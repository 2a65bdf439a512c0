//! [`AwsAdmin`]: IAM and STS clients built from one [`AwsConnection`], and the
//! STS side (AssumeRole).
//!
//! The service configs are assembled by hand rather than through
//! `aws_config::load_from_env`: a connection's credentials must be exactly the
//! ones the operator stored, never whatever a profile or instance role on the
//! gateway host happens to provide.

use crate::error::{AwsError, AwsErrorKind};
use aws_credential_types::Credentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use dynsec_core::{AwsConnection, SecretString};
use std::fmt;
use std::time::{Duration, SystemTime};

pub(crate) const IAM: &str = "IAM";
pub(crate) const STS: &str = "STS";

/// A hung endpoint must not pin a lease operation forever; the caller retries.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Clients for one AWS connection. Cheap to clone (the SDK clients are `Arc`s).
#[derive(Clone)]
pub struct AwsAdmin {
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) sts: aws_sdk_sts::Client,
    region: String,
    iam_endpoint: Option<String>,
    sts_endpoint: Option<String>,
}

impl fmt::Debug for AwsAdmin {
    // Deliberately no credentials, not even the key id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsAdmin")
            .field("region", &self.region)
            .field("iam_endpoint", &self.iam_endpoint)
            .field("sts_endpoint", &self.sts_endpoint)
            .finish_non_exhaustive()
    }
}

/// Parameters of an STS AssumeRole call.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleRequest<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    /// Emulators accept any value; the caller validates 900..=43200 (see `dynsec_core::spec`).
    pub duration_secs: u64,
    pub external_id: Option<&'a str>,
    pub session_tags: &'a [(String, String)],
    pub transitive_tag_keys: &'a [String],
}

/// Temporary credentials returned by AssumeRole. `Debug` redacts the secrets.
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: Option<SystemTime>,
    pub assumed_role_arn: Option<String>,
}

impl AwsAdmin {
    /// Builds the clients. Endpoint per service: the connection's override, else
    /// `AWS_ENDPOINT_URL_IAM` / `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`,
    /// else AWS's own. `max_attempts` (at least 1) feeds the SDK's standard retry,
    /// which backs off on throttling and 5xx.
    pub fn new(conn: &AwsConnection, max_attempts: u32) -> Self {
        let env = |name: &str| std::env::var(name).ok();
        let iam_endpoint =
            resolve_endpoint(conn.iam_endpoint.as_deref(), "AWS_ENDPOINT_URL_IAM", env);
        let sts_endpoint =
            resolve_endpoint(conn.sts_endpoint.as_deref(), "AWS_ENDPOINT_URL_STS", env);

        let credentials = Credentials::new(
            conn.access_key_id.clone(),
            conn.secret_access_key.expose().to_owned(),
            conn.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "dynsec-connection",
        );
        let retry = RetryConfig::standard().with_max_attempts(max_attempts.max(1));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let region = Region::new(conn.region.clone());

        let mut iam = aws_sdk_iam::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone());
        if let Some(url) = &iam_endpoint {
            iam = iam.endpoint_url(url);
        }
        let mut sts = aws_sdk_sts::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = &sts_endpoint {
            sts = sts.endpoint_url(url);
        }

        Self {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            region: conn.region.clone(),
            iam_endpoint,
            sts_endpoint,
        }
    }

    /// STS AssumeRole with session name, duration, optional external id, session
    /// tags and transitive tag keys.
    pub async fn assume_role(
        &self,
        req: &AssumeRoleRequest<'_>,
    ) -> Result<SessionCredentials, AwsError> {
        const OP: &str = "AssumeRole";
        let duration = i32::try_from(req.duration_secs).map_err(|_| {
            AwsError::new(
                AwsErrorKind::Invalid,
                STS,
                OP,
                None,
                format!("duration of {} seconds is out of range", req.duration_secs),
            )
        })?;
        let tags = req
            .session_tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_sts::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|_| invalid_tag(STS, OP, k))
            })
            .collect::<Result<Vec<_>, _>>()?;

        tracing::debug!(
            role_arn = req.role_arn,
            session = req.session_name,
            "sts:AssumeRole"
        );
        let out = self
            .sts
            .assume_role()
            .role_arn(req.role_arn)
            .role_session_name(req.session_name)
            .duration_seconds(duration)
            .set_external_id(req.external_id.map(str::to_owned))
            .set_tags(non_empty(tags))
            .set_transitive_tag_keys(non_empty(req.transitive_tag_keys.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(STS, OP, &e))?;

        let creds = out.credentials().ok_or_else(|| {
            AwsError::new(
                AwsErrorKind::Retryable,
                STS,
                OP,
                None,
                "the response carried no credentials",
            )
        })?;
        Ok(SessionCredentials {
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: SecretString::new(creds.secret_access_key()),
            session_token: SecretString::new(creds.session_token()),
            expiration: SystemTime::try_from(*creds.expiration()).ok(),
            assumed_role_arn: out.assumed_role_user().map(|u| u.arn().to_owned()),
        })
    }

    /// Sets (adds or overwrites) tags on an IAM user.
    pub async fn tag_user(
        &self,
        user_name: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        const OP: &str = "TagUser";
        let tags = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_iam::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|_| invalid_tag(IAM, OP, k))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.iam
            .tag_user()
            .user_name(user_name)
            .set_tags(Some(tags))
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk(IAM, OP, &e))
    }

    /// The AWS account these admin credentials act in (STS GetCallerIdentity,
    /// which needs no permission).
    pub async fn account_id(&self) -> Result<String, AwsError> {
        const OP: &str = "GetCallerIdentity";
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(STS, OP, &e))?;
        out.account()
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::new(
                    AwsErrorKind::Retryable,
                    STS,
                    OP,
                    None,
                    "the response named no account",
                )
            })
    }
}

/// Explicit override, else the service-specific variable, else `AWS_ENDPOINT_URL`.
/// Blank values count as unset, as they do for the AWS CLI.
fn resolve_endpoint(
    explicit: Option<&str>,
    service_var: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let nonblank = |s: String| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_owned())
    };
    explicit
        .map(str::to_owned)
        .and_then(nonblank)
        .or_else(|| env(service_var).and_then(nonblank))
        .or_else(|| env("AWS_ENDPOINT_URL").and_then(nonblank))
}

pub(crate) fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Tag builders fail only on a missing key or value, which `&str`s cannot be.
pub(crate) fn invalid_tag(service: &'static str, op: &'static str, key: &str) -> AwsError {
    AwsError::new(
        AwsErrorKind::Invalid,
        service,
        op,
        None,
        format!("tag '{key}' could not be built"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn endpoint_precedence() {
        let all = env(&[
            ("AWS_ENDPOINT_URL_IAM", "http://iam-env"),
            ("AWS_ENDPOINT_URL", "http://generic"),
        ]);
        assert_eq!(
            resolve_endpoint(Some("http://conn"), "AWS_ENDPOINT_URL_IAM", &all).as_deref(),
            Some("http://conn")
        );
        assert_eq!(
            resolve_endpoint(None, "AWS_ENDPOINT_URL_IAM", &all).as_deref(),
            Some("http://iam-env")
        );
        assert_eq!(
            resolve_endpoint(None, "AWS_ENDPOINT_URL_STS", &all).as_deref(),
            Some("http://generic")
        );
        let blank = env(&[("AWS_ENDPOINT_URL_IAM", " ")]);
        assert_eq!(
            resolve_endpoint(Some(""), "AWS_ENDPOINT_URL_IAM", &blank),
            None
        );
    }

    #[test]
    fn debug_shows_no_credentials() {
        let conn = AwsConnection {
            access_key_id: "AKIAEXAMPLEKEYID0001".into(),
            secret_access_key: SecretString::new("wJalrXUtnFEMIsecret"),
            session_token: Some(SecretString::new("tokentokentoken")),
            region: "us-east-1".into(),
            iam_endpoint: Some("http://127.0.0.1:1".into()),
            sts_endpoint: None,
        };
        let admin = AwsAdmin::new(&conn, 3);
        let dbg = format!("{admin:?}");
        assert!(!dbg.contains("wJalr") && !dbg.contains("tokentoken") && !dbg.contains("AKIA"));
        let creds = SessionCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: SecretString::new("wJalrXUtnFEMIsecret"),
            session_token: SecretString::new("tokentokentoken"),
            expiration: None,
            assumed_role_arn: None,
        };
        let dbg = format!("{creds:?}");
        assert!(!dbg.contains("wJalr") && !dbg.contains("tokentoken"));
    }
}
