//! The AWS port over the AWS SDK for Rust: what the gateway runs on.
//! [`AwsAdmin`] is the handle of one connection; [`SdkAws`] gives it from the
//! kept clients (`aws_clients.rs`: one admin per connection's settings,
//! stored keys and host identities alike, at most 256, one shared
//! [`AwsHttp`]).

use crate::aws_clients::{AwsClients, MAX_CACHED_CONNECTIONS};
use crate::aws_port::{AwsHandle, AwsPort};
use crate::connection::AdminConnection;
use dynsec_aws::{
    AdminAccessKey, AssumeRoleRequest, AwsAdmin, AwsError, AwsHttp, CreatedIamUser, CredentialRef,
    FederationTokenRequest, IssuedIamUser, NewAdminKey, NewIamUser, ReadyWait, RevokedSession,
    RevokedSessionsWrite, SessionCredentials, SessionTokenRequest, TeardownPath, UserWithTags,
};
use dynsec_core::AwsConnection;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// The SDK adapter: kept admins over the process's one HTTP client.
#[derive(Debug)]
pub(crate) struct SdkAws {
    clients: AwsClients,
}

impl SdkAws {
    /// Over the process's shared [`AwsHttp`].
    pub(crate) fn shared() -> Self {
        Self {
            clients: AwsClients::new(AwsHttp::shared(), MAX_CACHED_CONNECTIONS),
        }
    }
}

impl AwsPort for SdkAws {
    fn handle<'a>(
        &'a self,
        conn: &'a AdminConnection,
        max_attempts: u32,
    ) -> BoxFuture<'a, Arc<dyn AwsHandle>> {
        Box::pin(async move {
            let admin = match conn {
                AdminConnection::Key(key) => self.clients.admin(key, max_attempts),
                AdminConnection::Host(host) => self.clients.host_admin(host, max_attempts).await,
            };
            Arc::new(admin) as Arc<dyn AwsHandle>
        })
    }

    fn unkept(&self, conn: &AwsConnection, max_attempts: u32) -> Arc<dyn AwsHandle> {
        Arc::new(AwsAdmin::new(conn, max_attempts))
    }
}

impl AwsHandle for AwsAdmin {
    fn create_user<'a>(
        &'a self,
        req: &'a NewIamUser<'a>,
    ) -> BoxFuture<'a, Result<IssuedIamUser, AwsError>> {
        Box::pin(AwsAdmin::create_user(self, req))
    }

    fn teardown_created<'a>(
        &'a self,
        created: &'a CreatedIamUser,
    ) -> BoxFuture<'a, Result<TeardownPath, AwsError>> {
        Box::pin(AwsAdmin::teardown_created(self, created))
    }

    fn teardown_user<'a>(&'a self, user_name: &'a str) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(AwsAdmin::teardown_user(self, user_name))
    }

    fn tag_user<'a>(
        &'a self,
        user_name: &'a str,
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(AwsAdmin::tag_user(self, user_name, tags))
    }

    fn list_users_with_tags<'a>(
        &'a self,
        path_prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserWithTags>, AwsError>> {
        Box::pin(AwsAdmin::list_users_with_tags(self, path_prefix))
    }

    fn account_id(&self) -> BoxFuture<'_, Result<String, AwsError>> {
        Box::pin(AwsAdmin::account_id(self))
    }

    fn assume_role<'a>(
        &'a self,
        req: &'a AssumeRoleRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>> {
        Box::pin(AwsAdmin::assume_role(self, req))
    }

    fn get_federation_token<'a>(
        &'a self,
        req: &'a FederationTokenRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>> {
        Box::pin(AwsAdmin::get_federation_token(self, req))
    }

    fn get_session_token<'a>(
        &'a self,
        req: &'a SessionTokenRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>> {
        Box::pin(AwsAdmin::get_session_token(self, req))
    }

    fn revoke_role_sessions<'a>(
        &'a self,
        role_arn: &'a str,
        sessions: &'a [RevokedSession],
        now: u64,
    ) -> BoxFuture<'a, Result<RevokedSessionsWrite, AwsError>> {
        Box::pin(AwsAdmin::revoke_role_sessions(
            self, role_arn, sessions, now,
        ))
    }

    fn wait_until_usable<'a>(
        &'a self,
        credential: &'a CredentialRef<'a>,
        max_wait: Duration,
    ) -> BoxFuture<'a, ReadyWait> {
        Box::pin(AwsAdmin::wait_until_usable(self, credential, max_wait))
    }

    fn own_access_keys(&self) -> BoxFuture<'_, Result<Vec<AdminAccessKey>, AwsError>> {
        Box::pin(AwsAdmin::own_access_keys(self))
    }

    fn create_own_access_key(&self) -> BoxFuture<'_, Result<NewAdminKey, AwsError>> {
        Box::pin(AwsAdmin::create_own_access_key(self))
    }

    fn prove_admin_key<'a>(
        &'a self,
        new_key: &'a CredentialRef<'a>,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<ReadyWait, AwsError>> {
        Box::pin(AwsAdmin::prove_admin_key(self, new_key, max_wait))
    }

    fn delete_own_access_key<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(AwsAdmin::delete_own_access_key(self, access_key_id))
    }
}
