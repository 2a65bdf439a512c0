//! [`AwsAdmin`]: the IAM and STS clients of one AWS connection, built lazily
//! over one shared [`AwsHttp`], and where their credentials come from.
//!
//! The service configs are assembled by hand rather than through
//! `aws_config::load_from_env`: a stored connection's credentials must be
//! exactly the ones the operator stored, never whatever a profile or instance
//! role on the gateway host happens to provide. The host's own identity is
//! used only when asked for ([`AwsAdmin::from_host_identity`]).

use crate::error::{AwsError, AwsErrorKind};
use crate::http::AwsHttp;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, IdentityCache, Region, SharedIdentityCache};
use dynsec_core::{AwsConnection, SecretString};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub(crate) const IAM: &str = "IAM";
pub(crate) const STS: &str = "STS";

/// A hung endpoint must not pin a lease operation forever; the caller retries.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Clients for one AWS connection. Cheap to clone and meant to be kept: the
/// clones share the lazily built SDK clients, the credential cache and the
/// caller identity, and every `AwsAdmin` of a process shares one connection
/// pool (see [`AwsHttp`]). Build a new one when the connection's settings
/// change.
#[derive(Clone)]
pub struct AwsAdmin {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ClientSettings,
    credentials: SharedCredentialsProvider,
    /// Shared by the IAM and STS clients, so credentials that must be fetched
    /// (an assumed role) are fetched once for both.
    identity_cache: SharedIdentityCache,
    source: CredentialSource,
    iam: OnceLock<aws_sdk_iam::Client>,
    sts: OnceLock<aws_sdk_sts::Client>,
    caller: tokio::sync::OnceCell<CallerIdentity>,
}

/// Where an admin's credentials come from; decides which calls make sense
/// (a session cannot rotate "its" key, GetFederationToken needs a user key).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CredentialSource {
    /// A long-term IAM user access key.
    AccessKey { access_key_id: String },
    /// Temporary credentials (a session token came with the key).
    SessionToken,
    /// The gateway host's default credential chain, perhaps via AssumeRole.
    HostIdentity,
}

impl CredentialSource {
    fn describe(&self) -> &'static str {
        match self {
            Self::AccessKey { .. } => "access key",
            Self::SessionToken => "session credentials",
            Self::HostIdentity => "the gateway host's identity",
        }
    }
}

impl fmt::Debug for AwsAdmin {
    // Deliberately no credentials, not even the key id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.settings;
        f.debug_struct("AwsAdmin")
            .field("region", &s.region.as_ref())
            .field("iam_endpoint", &s.iam_endpoint)
            .field("sts_endpoint", &s.sts_endpoint)
            .field("credentials", &self.inner.source.describe())
            .finish_non_exhaustive()
    }
}

/// Who a set of credentials acts as (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    /// `arn:aws:iam::<account>:user/...`, `arn:aws:sts::<account>:assumed-role/...`.
    pub arn: String,
    pub user_id: String,
}

/// The gateway host's own identity as an admin connection: the SDK's default
/// credential chain (environment, shared profile, web identity token, ECS
/// container credentials, EC2 instance metadata — in that order), optionally
/// assuming a role with it. No key is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub region: String,
    pub iam_endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
    pub assume_role: Option<HostRole>,
}

/// The role a [`HostIdentity`] assumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    /// Names the session in the role's CloudTrail records, e.g. `dynsec-gateway`.
    pub session_name: String,
}

impl AwsAdmin {
    /// Builds an admin for a stored connection on the process's shared
    /// [`AwsHttp`]. Endpoint per service: the connection's override, else
    /// `AWS_ENDPOINT_URL_IAM` / `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`,
    /// else AWS's own. `max_attempts` (at least 1) feeds the SDK's standard
    /// retry, which backs off on throttling and 5xx. Nothing is sent and no
    /// SDK client is built until the first call.
    pub fn new(conn: &AwsConnection, max_attempts: u32) -> Self {
        Self::with_http(conn, max_attempts, &AwsHttp::shared())
    }

    /// [`AwsAdmin::new`] on a given HTTP client.
    pub fn with_http(conn: &AwsConnection, max_attempts: u32, http: &AwsHttp) -> Self {
        let credentials = static_credentials(
            &conn.access_key_id,
            &conn.secret_access_key,
            conn.session_token.as_ref(),
        );
        let source = if conn.session_token.is_some() {
            CredentialSource::SessionToken
        } else {
            CredentialSource::AccessKey {
                access_key_id: conn.access_key_id.clone(),
            }
        };
        let settings = ClientSettings::new(
            &conn.region,
            conn.iam_endpoint.as_deref(),
            conn.sts_endpoint.as_deref(),
            max_attempts,
            http,
        );
        Self::from_parts(settings, credentials, source)
    }

    /// An admin acting as the gateway host itself (see [`HostIdentity`]).
    /// Credentials are resolved on the first call (one AssumeRole shared by
    /// the IAM and STS clients) and refreshed by the SDK before they expire;
    /// on a host without any, every call fails. Profiles that need the
    /// `credential_process` or SSO providers are not supported (aws-config
    /// is built without those features).
    pub async fn from_host_identity(
        host: &HostIdentity,
        max_attempts: u32,
        http: &AwsHttp,
    ) -> Self {
        let settings = ClientSettings::new(
            &host.region,
            host.iam_endpoint.as_deref(),
            host.sts_endpoint.as_deref(),
            max_attempts,
            http,
        );
        let provider_config = ProviderConfig::default()
            .with_http_client(http.sdk_client())
            .with_region(Some(settings.region.clone()));
        let chain = DefaultCredentialsChain::builder()
            .region(settings.region.clone())
            .configure(provider_config)
            .build()
            .await;
        let credentials = match &host.assume_role {
            None => SharedCredentialsProvider::new(chain),
            Some(role) => {
                let mut provider = AssumeRoleProvider::builder(&role.role_arn)
                    .session_name(&role.session_name)
                    .configure(&settings.sdk_config_for_sts());
                if let Some(id) = &role.external_id {
                    provider = provider.external_id(id);
                }
                SharedCredentialsProvider::new(provider.build_from_provider(chain).await)
            }
        };
        Self::from_parts(settings, credentials, CredentialSource::HostIdentity)
    }

    fn from_parts(
        settings: ClientSettings,
        credentials: SharedCredentialsProvider,
        source: CredentialSource,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                credentials,
                identity_cache: IdentityCache::lazy().build(),
                source,
                iam: OnceLock::new(),
                sts: OnceLock::new(),
                caller: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// Whether `other` is this admin or a clone of it (sharing its SDK
    /// clients, credential cache and caller identity); for callers keeping
    /// admins, and their tests.
    pub fn shares_clients_with(&self, other: &AwsAdmin) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The IAM client, built on first use.
    pub(crate) fn iam(&self) -> &aws_sdk_iam::Client {
        self.inner.iam.get_or_init(|| {
            let inner = &self.inner;
            inner
                .settings
                .iam_client(inner.credentials.clone(), inner.identity_cache.clone())
        })
    }

    /// The STS client, built on first use: an `iam_user` issuance never
    /// needs one.
    pub(crate) fn sts(&self) -> &aws_sdk_sts::Client {
        self.inner.sts.get_or_init(|| {
            let inner = &self.inner;
            inner
                .settings
                .sts_client(inner.credentials.clone(), inner.identity_cache.clone())
        })
    }

    /// An STS client signing with other credentials (an issued key, a new
    /// admin key), on this connection's endpoint, region and HTTP client;
    /// one attempt per call, the caller decides about retries.
    pub(crate) fn sts_signed_with(&self, credential: &CredentialRef<'_>) -> aws_sdk_sts::Client {
        let provider = static_credentials(
            credential.access_key_id,
            credential.secret_access_key,
            credential.session_token,
        );
        self.inner
            .settings
            .with_max_attempts(1)
            .sts_client(provider, IdentityCache::no_cache())
    }

    /// Who this connection's credentials act as. Asked of STS once per
    /// `AwsAdmin` (GetCallerIdentity, which needs no permission): a key never
    /// changes accounts, and a failed answer is not kept.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, AwsError> {
        // Boxed, like the other composite calls: callers nest these futures
        // deep inside request handlers, and the compiler's layout depth is finite.
        Box::pin(
            self.inner
                .caller
                .get_or_try_init(|| crate::sts::caller_identity_of(self.sts())),
        )
        .await
        .cloned()
    }

    /// The AWS account these admin credentials act in.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        Ok(self.caller_identity().await?.account)
    }

    /// Refuses an operation that needs a long-term IAM user key (rotation,
    /// GetFederationToken, GetSessionToken) when this connection has none.
    pub(crate) fn require_user_key(
        &self,
        service: &'static str,
        op: &'static str,
        why: &str,
    ) -> Result<&str, AwsError> {
        match &self.inner.source {
            CredentialSource::AccessKey { access_key_id } => Ok(access_key_id),
            other => Err(AwsError::new(
                AwsErrorKind::Invalid,
                service,
                op,
                None,
                format!(
                    "{why} needs the long-term access key of an IAM user, but this connection uses {}",
                    other.describe()
                ),
            )),
        }
    }
}

/// Credentials to sign one call with, borrowed from wherever they are kept.
/// `Debug` shows the key id only.
#[derive(Clone, Copy)]
pub struct CredentialRef<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a SecretString,
    pub session_token: Option<&'a SecretString>,
}

impl fmt::Debug for CredentialRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRef")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.is_some())
            .finish_non_exhaustive()
    }
}

fn static_credentials(
    access_key_id: &str,
    secret: &SecretString,
    session_token: Option<&SecretString>,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        access_key_id,
        secret.expose(),
        session_token.map(|t| t.expose().to_owned()),
        None,
        "dynsec-connection",
    ))
}

/// Everything but the credentials that an SDK client of one connection needs.
#[derive(Clone)]
struct ClientSettings {
    region: Region,
    iam_endpoint: Option<String>,
    sts_endpoint: Option<String>,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
    http: AwsHttp,
}

impl ClientSettings {
    fn new(
        region: &str,
        iam_endpoint: Option<&str>,
        sts_endpoint: Option<&str>,
        max_attempts: u32,
        http: &AwsHttp,
    ) -> Self {
        let env = |name: &str| std::env::var(name).ok();
        Self {
            region: Region::new(region.to_owned()),
            iam_endpoint: resolve_endpoint(iam_endpoint, "AWS_ENDPOINT_URL_IAM", env),
            sts_endpoint: resolve_endpoint(sts_endpoint, "AWS_ENDPOINT_URL_STS", env),
            retry: RetryConfig::standard().with_max_attempts(max_attempts.max(1)),
            timeouts: TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
            http: http.clone(),
        }
    }

    fn with_max_attempts(&self, max_attempts: u32) -> Self {
        let mut settings = self.clone();
        settings.retry = RetryConfig::standard().with_max_attempts(max_attempts.max(1));
        settings
    }

    fn iam_client(
        &self,
        credentials: SharedCredentialsProvider,
        identity_cache: SharedIdentityCache,
    ) -> aws_sdk_iam::Client {
        let mut conf = aws_sdk_iam::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(self.region.clone())
            .identity_cache(identity_cache)
            .retry_config(self.retry.clone())
            .timeout_config(self.timeouts.clone())
            .http_client(self.http.sdk_client())
            // The one place every AWS call is counted (`metrics.rs`).
            .interceptor(crate::metrics::CallMetricsInterceptor);
        // `set_`, not `credentials_provider(..)`, which would wrap the
        // provider anew: the identity cache keys by the provider, and the
        // IAM and STS clients must share their cached credentials.
        conf.set_credentials_provider(Some(credentials));
        if let Some(url) = &self.iam_endpoint {
            conf = conf.endpoint_url(url);
        }
        aws_sdk_iam::Client::from_conf(conf.build())
    }

    fn sts_client(
        &self,
        credentials: SharedCredentialsProvider,
        identity_cache: SharedIdentityCache,
    ) -> aws_sdk_sts::Client {
        let mut conf = aws_sdk_sts::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(self.region.clone())
            .identity_cache(identity_cache)
            .retry_config(self.retry.clone())
            .timeout_config(self.timeouts.clone())
            .http_client(self.http.sdk_client())
            // The one place every AWS call is counted (`metrics.rs`).
            .interceptor(crate::metrics::CallMetricsInterceptor);
        // `set_`, not `credentials_provider(..)`, which would wrap the
        // provider anew: the identity cache keys by the provider, and the
        // IAM and STS clients must share their cached credentials.
        conf.set_credentials_provider(Some(credentials));
        if let Some(url) = &self.sts_endpoint {
            conf = conf.endpoint_url(url);
        }
        aws_sdk_sts::Client::from_conf(conf.build())
    }

    /// The shared config `aws_config`'s AssumeRole provider builds its STS
    /// client from: this connection's STS endpoint, region, retry, timeouts
    /// and HTTP client (its credentials are set by the provider).
    fn sdk_config_for_sts(&self) -> aws_config::SdkConfig {
        let mut conf = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(self.region.clone())
            .retry_config(self.retry.clone())
            .timeout_config(self.timeouts.clone())
            .http_client(self.http.sdk_client())
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new());
        if let Some(url) = &self.sts_endpoint {
            conf = conf.endpoint_url(url);
        }
        conf.build()
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
        assert!(dbg.contains("session credentials"), "{dbg}");
        let creds = crate::SessionCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: SecretString::new("wJalrXUtnFEMIsecret"),
            session_token: SecretString::new("tokentokentoken"),
            expiration: None,
            assumed_role_arn: None,
        };
        let dbg = format!("{creds:?}");
        assert!(!dbg.contains("wJalr") && !dbg.contains("tokentoken"));
        let secret = SecretString::new("wJalrXUtnFEMIsecret");
        let cref = CredentialRef {
            access_key_id: "AKIAX",
            secret_access_key: &secret,
            session_token: Some(&secret),
        };
        assert!(!format!("{cref:?}").contains("wJalr"));
    }

    #[test]
    fn clients_are_built_on_first_use_and_shared_by_clones() {
        let conn = AwsConnection {
            access_key_id: "AKIAEXAMPLEKEYID0001".into(),
            secret_access_key: SecretString::new("secret"),
            session_token: None,
            region: "us-east-1".into(),
            iam_endpoint: Some("http://127.0.0.1:1".into()),
            sts_endpoint: Some("http://127.0.0.1:1".into()),
        };
        let admin = AwsAdmin::with_http(&conn, 3, &AwsHttp::new());
        assert!(admin.inner.iam.get().is_none() && admin.inner.sts.get().is_none());
        let copy = admin.clone();
        copy.iam();
        assert!(
            admin.inner.iam.get().is_some(),
            "clones share the IAM client"
        );
        assert!(
            admin.inner.sts.get().is_none(),
            "STS is built only when needed"
        );
    }
}
