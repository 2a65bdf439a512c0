//! Sealing and opening AWS connections, and reaching AWS through them: a
//! stored key, or the gateway host's own identity (`use-gw-cloud-identity`).
//! A connection's sealed secret may carry, beside its key, the new key of a
//! rotation in progress (`rotation.rs`), sealed the same way.

use crate::aws_port::AwsHandle;
use crate::{Engine, EngineError};
use dynsec_aws::{HostIdentity, HostRole};
use dynsec_core::{AdminKeyState, AwsConnection, ConnectionFields, SecretString};
use dynsec_store::{
    ConnectionColumns, ConnectionInUse, ConnectionOwner, ProducerRecord, TargetRecord,
};
use serde_json::json;
use std::sync::Arc;

/// Names the host identity's assumed-role sessions in the role's CloudTrail.
const HOST_ROLE_SESSION_NAME: &str = "dynsec-gateway";

/// Where a connection's admin credentials come from.
#[derive(Debug, Clone)]
pub(crate) enum AdminConnection {
    /// A key stored (sealed) with the target or dynamic secret.
    Key(AwsConnection),
    /// The gateway host's default credential chain, perhaps assuming a role.
    Host(HostIdentity),
}

impl AdminConnection {
    /// Identifies the credentials (never a secret): the account cache and
    /// the orphan sweep's distinct connections key by it.
    pub(crate) fn identity_key(&self) -> String {
        match self {
            Self::Key(c) => format!(
                "key|{}|{}|{:?}|{:?}",
                c.access_key_id, c.region, c.iam_endpoint, c.sts_endpoint
            ),
            Self::Host(h) => format!(
                "host|{}|{:?}|{:?}|{:?}",
                h.region,
                h.iam_endpoint,
                h.sts_endpoint,
                h.assume_role
                    .as_ref()
                    .map(|r| (&r.role_arn, &r.external_id))
            ),
        }
    }

    /// Whether the stored credentials are temporary (a session token): AWS
    /// then caps chained AssumeRole at 1 h and refuses GetFederationToken and
    /// GetSessionToken. The host's identity is not known until it is
    /// resolved, so it does not count here; AWS refuses what it must.
    pub(crate) fn carries_session_token(&self) -> bool {
        match self {
            Self::Key(c) => c.session_token.is_some(),
            Self::Host(_) => false,
        }
    }

    pub(crate) fn region(&self) -> &str {
        match self {
            Self::Key(c) => &c.region,
            Self::Host(h) => &h.region,
        }
    }
}

/// The admin-key state stored beside a connection (`{}`: none).
pub(crate) fn admin_state(cols: &ConnectionColumns) -> Result<AdminKeyState, EngineError> {
    if cols.admin_json.trim().is_empty() {
        return Ok(AdminKeyState::default());
    }
    serde_json::from_str(&cols.admin_json)
        .map_err(|_| EngineError::Internal("a connection's admin-key state is not valid".into()))
}

/// [`AdminKeyState`] as the store keeps it.
pub(crate) fn admin_json(state: &AdminKeyState) -> String {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string(state).unwrap_or_else(|_| "{}".into())
}

/// A rotation's new key, sealed beside the connection's current one.
pub(crate) struct PendingKey {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

/// Associated data binding a sealed secret to the record that owns it.
pub(crate) fn target_aad(uid: &str) -> String {
    format!("target/{uid}")
}

pub(crate) fn producer_aad(uid: &str) -> String {
    format!("producer/{uid}")
}

impl Engine {
    /// Splits a connection into plain columns and a sealed secret bound to
    /// `aad`, wrapped by the protection key `key` if the record selects one.
    /// The admin-key state is `state`'s.
    pub(crate) async fn seal_connection(
        &self,
        aad: &str,
        conn: &AwsConnection,
        state: &AdminKeyState,
        key: Option<&str>,
    ) -> Result<ConnectionColumns, EngineError> {
        self.seal_connection_with(aad, conn, None, state, key).await
    }

    /// [`Engine::seal_connection`], with a rotation's new key sealed beside
    /// the current one (read back by [`Engine::open_pending_key`]).
    pub(crate) async fn seal_connection_with(
        &self,
        aad: &str,
        conn: &AwsConnection,
        pending: Option<&PendingKey>,
        state: &AdminKeyState,
        key: Option<&str>,
    ) -> Result<ConnectionColumns, EngineError> {
        let mut value = json!({
            "secret_access_key": conn.secret_access_key.expose(),
            "session_token": conn.session_token.as_ref().map(SecretString::expose),
        });
        if let Some(pending) = pending {
            value["pending_access_key_id"] = json!(pending.access_key_id);
            value["pending_secret_access_key"] = json!(pending.secret_access_key.expose());
        }
        let secret = zeroize::Zeroizing::new(value.to_string());
        drop(value);
        Ok(ConnectionColumns {
            access_key_id: conn.access_key_id.clone(),
            region: conn.region.clone(),
            iam_endpoint: conn.iam_endpoint.clone(),
            sts_endpoint: conn.sts_endpoint.clone(),
            sealed_secret: self.seal_secret(aad, secret.as_bytes(), key).await?,
            admin_json: admin_json(state),
        })
    }

    /// The rotation's new key sealed in `cols`, if any.
    pub(crate) async fn open_pending_key(
        &self,
        aad: &str,
        cols: &ConnectionColumns,
        key: Option<&str>,
    ) -> Result<Option<PendingKey>, EngineError> {
        let plain = zeroize::Zeroizing::new(self.open_secret(aad, &cols.sealed_secret, key).await?);
        let value: serde_json::Value = serde_json::from_slice(&plain).map_err(|_| {
            EngineError::Internal(format!("sealed secret of {aad} is not valid JSON"))
        })?;
        let text = |name: &str| value.get(name).and_then(|v| v.as_str());
        Ok(
            match (
                text("pending_access_key_id"),
                text("pending_secret_access_key"),
            ) {
                (Some(id), Some(secret)) => Some(PendingKey {
                    access_key_id: id.to_owned(),
                    secret_access_key: SecretString::new(secret),
                }),
                _ => None,
            },
        )
    }

    /// Reverses [`Engine::seal_connection`] (`key`: the record's protection key).
    pub(crate) async fn open_connection(
        &self,
        aad: &str,
        cols: &ConnectionColumns,
        key: Option<&str>,
    ) -> Result<AwsConnection, EngineError> {
        let plain = self.open_secret(aad, &cols.sealed_secret, key).await?;
        let value: serde_json::Value = serde_json::from_slice(&plain).map_err(|_| {
            EngineError::Internal(format!("sealed secret of {aad} is not valid JSON"))
        })?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .map(SecretString::new)
        };
        Ok(AwsConnection {
            access_key_id: cols.access_key_id.clone(),
            secret_access_key: field("secret_access_key").unwrap_or_default(),
            session_token: field("session_token"),
            region: cols.region.clone(),
            iam_endpoint: cols.iam_endpoint.clone(),
            sts_endpoint: cols.sts_endpoint.clone(),
        })
    }

    /// The AWS connection a dynamic secret uses: its target's, or its inline
    /// one — refused if a stored field could not be used (see [`usable`]).
    pub(crate) async fn producer_connection(
        &self,
        producer: &ProducerRecord,
    ) -> Result<AdminConnection, EngineError> {
        match (&producer.target_id, &producer.inline_connection) {
            (Some(target_id), _) => {
                let target = self
                    .store()
                    .target_by_id(*target_id)
                    .await?
                    .ok_or_else(|| {
                        EngineError::Internal(format!(
                            "target {target_id} of '{}' is missing",
                            producer.name
                        ))
                    })?;
                self.target_connection(&target).await
            }
            (None, Some(inline)) => {
                let conn = self
                    .open_connection(
                        &producer_aad(&producer.uid),
                        inline,
                        producer.settings.protection_key.as_deref(),
                    )
                    .await?;
                usable(
                    conn,
                    &ConnectionFields::INLINE,
                    &format!("dynamic secret '{}'", producer.name),
                    "gateway-update-producer-aws",
                )
                .map(AdminConnection::Key)
            }
            (None, None) => Err(EngineError::Internal(format!(
                "dynamic secret '{}' has neither a target nor an inline connection",
                producer.name
            ))),
        }
    }

    /// A connection the store lists as in use (the orphan sweep's), ready for
    /// AWS calls (see [`usable`]).
    pub(crate) async fn connection_in_use(
        &self,
        used: &ConnectionInUse,
    ) -> Result<AdminConnection, EngineError> {
        if let ConnectionOwner::Target { .. } = &used.owner {
            if let Some(host) = host_connection(&used.connection)? {
                return Ok(host);
            }
        }
        let (aad, fields, owner, fix) = match &used.owner {
            ConnectionOwner::Target { name, .. } => (
                target_aad(&used.uid),
                &ConnectionFields::TARGET,
                format!("target '{name}'"),
                "update-aws-target",
            ),
            ConnectionOwner::DynamicSecret { name, .. } => (
                producer_aad(&used.uid),
                &ConnectionFields::INLINE,
                format!("dynamic secret '{name}'"),
                "gateway-update-producer-aws",
            ),
        };
        let conn = self
            .open_connection(&aad, &used.connection, used.protection_key.as_deref())
            .await?;
        usable(conn, fields, &owner, fix).map(AdminConnection::Key)
    }

    /// A target's connection, ready for AWS calls (see [`usable`]): its
    /// stored key, or the host's identity when it uses that.
    pub(crate) async fn target_connection(
        &self,
        target: &TargetRecord,
    ) -> Result<AdminConnection, EngineError> {
        if let Some(host) = host_connection(&target.connection)? {
            return Ok(host);
        }
        let conn = self
            .open_connection(
                &target_aad(&target.uid),
                &target.connection,
                target.protection_key.as_deref(),
            )
            .await?;
        usable(
            conn,
            &ConnectionFields::TARGET,
            &format!("target '{}'", target.name),
            "update-aws-target",
        )
        .map(AdminConnection::Key)
    }

    /// AWS for a dynamic secret, with `max_attempts` SDK attempts per call.
    pub(crate) async fn aws_for(
        &self,
        producer: &ProducerRecord,
        max_attempts: u32,
    ) -> Result<Arc<dyn AwsHandle>, EngineError> {
        let conn = self.producer_connection(producer).await?;
        Ok(self.admin_of(&conn, max_attempts).await)
    }

    /// AWS for a connection, through the engine's port (which keeps the
    /// handle per settings: see `aws_clients.rs`).
    pub(crate) async fn admin_of(
        &self,
        conn: &AdminConnection,
        max_attempts: u32,
    ) -> Arc<dyn AwsHandle> {
        self.inner.aws.handle(conn, max_attempts).await
    }

    /// AWS for a stored key, kept by nobody (admin-key rotation's).
    pub(crate) fn unkept_admin(
        &self,
        conn: &AwsConnection,
        max_attempts: u32,
    ) -> Arc<dyn AwsHandle> {
        self.inner.aws.unkept(conn, max_attempts)
    }
}

/// The host's identity, when the connection's admin-key state says the
/// target uses it (`use-gw-cloud-identity`) instead of a stored key.
fn host_connection(cols: &ConnectionColumns) -> Result<Option<AdminConnection>, EngineError> {
    let Some(host) = admin_state(cols)?.host_identity else {
        return Ok(None);
    };
    Ok(Some(AdminConnection::Host(HostIdentity {
        region: cols.region.clone(),
        iam_endpoint: cols.iam_endpoint.clone(),
        sts_endpoint: cols.sts_endpoint.clone(),
        assume_role: host.role_arn.map(|role_arn| HostRole {
            role_arn,
            external_id: host.external_id,
            session_name: HOST_ROLE_SESSION_NAME.into(),
        }),
    })))
}

/// A stored connection as the AWS SDK can use it. Values are validated when
/// written, but a record written by an older version, restored from
/// elsewhere or edited in the database may hold anything — and a control
/// character in a key id makes the SDK panic while signing. Such a record is
/// refused with an error naming the field and the fix; a revocation records
/// it as the lease's `last_error` and retries.
fn usable(
    conn: AwsConnection,
    fields: &ConnectionFields,
    owner: &str,
    fix: &str,
) -> Result<AwsConnection, EngineError> {
    match conn.validate(fields) {
        Ok(()) => Ok(conn),
        Err(err) => Err(EngineError::Conflict(format!(
            "the AWS connection stored in {owner} is unusable: {err}; correct it with {fix}"
        ))),
    }
}
