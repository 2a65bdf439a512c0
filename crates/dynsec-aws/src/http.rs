//! [`AwsHttp`]: one HTTP client (connection pool, TLS root store) shared by
//! every SDK client the process builds.
//!
//! Left to itself, each `aws_sdk_*::Client` gets a hyper client of its own: a
//! fresh connection pool (so every AwsAdmin built per call opens new TCP+TLS
//! connections) and a root store parsed from the system certificates when the
//! client is built and again for its first request. Handing every SDK client
//! the same [`AwsHttp`] keeps one pool for all of them (IAM and STS of every
//! connection; hyper keys idle connections by scheme and host), and parses the
//! root store once per distinct timeout setting — once, since every dynsec
//! client uses the same timeouts.

use aws_sdk_iam::config::{
    HttpClient, RuntimeComponents, RuntimeComponentsBuilder, SharedHttpClient,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// A handle to one shared HTTP client; cheap to clone.
#[derive(Clone)]
pub struct AwsHttp {
    client: SharedHttpClient,
    tls_setups: Arc<AtomicUsize>,
}

impl fmt::Debug for AwsHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsHttp")
            .field("tls_setups", &self.tls_setups())
            .finish_non_exhaustive()
    }
}

impl Default for AwsHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl AwsHttp {
    /// A new client with a pool of its own: hyper 1 over rustls with aws-lc,
    /// the system's root certificates (the SDK's `default-https-client`).
    pub fn new() -> Self {
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        let tls_setups = Arc::new(AtomicUsize::new(0));
        let client = SharedHttpClient::new(PooledClient {
            inner,
            connectors: RwLock::new(HashMap::new()),
            tls_setups: Arc::clone(&tls_setups),
        });
        Self { client, tls_setups }
    }

    /// The process's client, built on first use. [`crate::AwsAdmin::new`]
    /// uses it, so every admin the process builds shares one pool. A pool is a
    /// process resource, like the SDK's own cache of system certificates;
    /// whoever wants a separate one (a test comparing pools) calls
    /// [`AwsHttp::new`].
    pub fn shared() -> Self {
        static SHARED: OnceLock<AwsHttp> = OnceLock::new();
        SHARED.get_or_init(AwsHttp::new).clone()
    }

    /// How many TLS connectors (each with its own parse of the root store)
    /// this client has set up so far. One in steady state; for benchmarks
    /// and tests.
    pub fn tls_setups(&self) -> usize {
        self.tls_setups.load(Ordering::Relaxed)
    }

    pub(crate) fn sdk_client(&self) -> SharedHttpClient {
        self.client.clone()
    }
}

/// Connector settings that make a connector different (what the SDK's own
/// hyper client keys its cache by).
type ConnectorKey = (Option<Duration>, Option<Duration>);

struct PooledClient {
    inner: SharedHttpClient,
    connectors: RwLock<HashMap<ConnectorKey, SharedHttpConnector>>,
    tls_setups: Arc<AtomicUsize>,
}

impl fmt::Debug for PooledClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledClient").finish_non_exhaustive()
    }
}

impl HttpClient for PooledClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let cached = self
            .connectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(connector) = cached {
            return connector;
        }
        let mut connectors = self.connectors.write().unwrap_or_else(|e| e.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| {
                self.tls_setups.fetch_add(1, Ordering::Relaxed);
                self.inner.http_connector(settings, components)
            })
            .clone()
    }

    /// Not forwarded: the SDK's client answers this by building (and
    /// dropping) a whole TLS connector — a parse of the root store — for
    /// every SDK client constructed, only to warm the certificate cache; it
    /// never reports an error. The connector is built once, on first use.
    fn validate_base_client_config(
        &self,
        _runtime_components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}
