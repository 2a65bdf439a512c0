//! Sealing and opening AWS connections, and reaching AWS through them.

use crate::{Engine, EngineError};
use dynsec_aws::AwsAdmin;
use dynsec_core::{AwsConnection, ConnectionFields, SecretString};
use dynsec_store::{ConnectionColumns, ProducerRecord, TargetRecord};
use serde_json::json;

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
    pub(crate) async fn seal_connection(
        &self,
        aad: &str,
        conn: &AwsConnection,
        key: Option<&str>,
    ) -> Result<ConnectionColumns, EngineError> {
        let secret = zeroize::Zeroizing::new(
            json!({
                "secret_access_key": conn.secret_access_key.expose(),
                "session_token": conn.session_token.as_ref().map(SecretString::expose),
            })
            .to_string(),
        );
        Ok(ConnectionColumns {
            access_key_id: conn.access_key_id.clone(),
            region: conn.region.clone(),
            iam_endpoint: conn.iam_endpoint.clone(),
            sts_endpoint: conn.sts_endpoint.clone(),
            sealed_secret: self.seal_secret(aad, secret.as_bytes(), key).await?,
        })
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
    ) -> Result<AwsConnection, EngineError> {
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
            }
            (None, None) => Err(EngineError::Internal(format!(
                "dynamic secret '{}' has neither a target nor an inline connection",
                producer.name
            ))),
        }
    }

    /// A target's connection, ready for AWS calls (see [`usable`]).
    pub(crate) async fn target_connection(
        &self,
        target: &TargetRecord,
    ) -> Result<AwsConnection, EngineError> {
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
    }

    /// AWS clients for a dynamic secret, with `max_attempts` SDK attempts
    /// per call: the connection's kept admin (see `aws_clients.rs`).
    pub(crate) async fn aws_for(
        &self,
        producer: &ProducerRecord,
        max_attempts: u32,
    ) -> Result<AwsAdmin, EngineError> {
        let conn = self.producer_connection(producer).await?;
        Ok(self.aws_admin(&conn, max_attempts))
    }

    /// The kept admin of a connection (see `aws_clients.rs`).
    pub(crate) fn aws_admin(&self, conn: &AwsConnection, max_attempts: u32) -> AwsAdmin {
        self.inner.aws.admin(conn, max_attempts)
    }
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
