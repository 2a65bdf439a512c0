//! The engine's AWS port: exactly the AWS calls the use cases make, behind a
//! trait the engine owns, so issuance, rollback, revocation, the account
//! check, early revocation, the orphan sweep and admin-key rotation run the
//! same over the AWS SDK (`aws_sdk.rs`, what the gateway uses) and over the
//! engine's in-memory fake (`fake_aws.rs`, its unit tests' AWS).
//!
//! [`AwsPort`] gives the handle of one connection; an [`AwsHandle`] is that
//! connection's calls. The data crossing the port (requests, what was
//! created, credentials, errors) is `dynsec_aws`'s plain types: the port
//! hides the SDK, not the vocabulary. Futures are boxed so the traits stay
//! object-safe (`Arc<dyn AwsPort>` in the engine).

use crate::connection::AdminConnection;
use dynsec_aws::{
    AdminAccessKey, AssumeRoleRequest, AwsError, CreatedIamUser, CredentialRef,
    FederationTokenRequest, IssuedIamUser, NewAdminKey, NewIamUser, ReadyWait, RevokedSession,
    RevokedSessionsWrite, SessionCredentials, SessionTokenRequest, TeardownPath, UserWithTags,
};
use dynsec_core::AwsConnection;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// Gives the AWS handle of a connection.
pub(crate) trait AwsPort: Send + Sync {
    /// The handle for `conn` with `max_attempts` SDK attempts per call; kept
    /// by the implementation while the connection's settings stay the same.
    fn handle<'a>(
        &'a self,
        conn: &'a AdminConnection,
        max_attempts: u32,
    ) -> BoxFuture<'a, Arc<dyn AwsHandle>>;

    /// A handle of its own for a stored key, kept by nobody: admin-key
    /// rotation signs with keys that exist only for the rotation's length.
    fn unkept(&self, conn: &AwsConnection, max_attempts: u32) -> Arc<dyn AwsHandle>;
}

/// One connection's AWS calls. Every error is classified
/// ([`dynsec_aws::AwsErrorKind`]): NotFound, Retryable, Denied, Invalid.
pub(crate) trait AwsHandle: Send + Sync {
    /// CreateUser with tags, path and boundary, then the user's policies,
    /// groups, access key, login profile and inline policy. Nothing is
    /// undone on error (`err.operation` names the step that failed).
    fn create_user<'a>(
        &'a self,
        req: &'a NewIamUser<'a>,
    ) -> BoxFuture<'a, Result<IssuedIamUser, AwsError>>;

    /// Deletes exactly what issuance created, then the user (discovery when
    /// DeleteUser answers DeleteConflict). A user already gone is done.
    fn teardown_created<'a>(
        &'a self,
        created: &'a CreatedIamUser,
    ) -> BoxFuture<'a, Result<TeardownPath, AwsError>>;

    /// Deletes everything the user holds, found by listing, then the user.
    /// A user already gone is done.
    fn teardown_user<'a>(&'a self, user_name: &'a str) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Sets (adds or overwrites) tags on a user.
    fn tag_user<'a>(
        &'a self,
        user_name: &'a str,
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Users under a path prefix, with their tags (the orphan sweep's).
    fn list_users_with_tags<'a>(
        &'a self,
        path_prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserWithTags>, AwsError>>;

    /// The account these admin credentials act in (GetCallerIdentity).
    fn account_id(&self) -> BoxFuture<'_, Result<String, AwsError>>;

    fn assume_role<'a>(
        &'a self,
        req: &'a AssumeRoleRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>>;

    fn get_federation_token<'a>(
        &'a self,
        req: &'a FederationTokenRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>>;

    fn get_session_token<'a>(
        &'a self,
        req: &'a SessionTokenRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>>;

    /// The read-modify-write of the role's `dynsec-revoked-sessions` policy
    /// (early revocation), read back; `now` is unix seconds.
    fn revoke_role_sessions<'a>(
        &'a self,
        role_arn: &'a str,
        sessions: &'a [RevokedSession],
        now: u64,
    ) -> BoxFuture<'a, Result<RevokedSessionsWrite, AwsError>>;

    /// The ready-wait: GetCallerIdentity signed with `credential` until it
    /// works or `max_wait` passed. Cancel-safe.
    fn wait_until_usable<'a>(
        &'a self,
        credential: &'a CredentialRef<'a>,
        max_wait: Duration,
    ) -> BoxFuture<'a, ReadyWait>;

    /// The admin user's own access keys (rotation).
    fn own_access_keys(&self) -> BoxFuture<'_, Result<Vec<AdminAccessKey>, AwsError>>;

    /// CreateAccessKey for the admin user itself (rotation).
    fn create_own_access_key(&self) -> BoxFuture<'_, Result<NewAdminKey, AwsError>>;

    /// That `new_key` works and acts as this connection's user (rotation).
    fn prove_admin_key<'a>(
        &'a self,
        new_key: &'a CredentialRef<'a>,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<ReadyWait, AwsError>>;

    /// DeleteAccessKey of one of the admin user's keys, never the one this
    /// handle signs with; a key already gone counts as deleted (rotation).
    fn delete_own_access_key<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
}
