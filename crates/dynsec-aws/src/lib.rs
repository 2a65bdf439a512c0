//! The AWS side of dynsec, on the official AWS SDK for Rust: temporary IAM
//! users (created with their grants, torn down by what was created or by
//! discovery, listed for the orphan sweep), STS credentials (AssumeRole,
//! GetFederationToken, GetSessionToken), waiting until a new credential
//! works, early revocation of assumed-role sessions through a role's inline
//! policy, and rotation of a connection's own admin key.
//!
//! Every call goes through an [`AwsAdmin`] and fails with a classified
//! [`AwsError`] (`NotFound` / `Retryable` / `Denied` / `Invalid`), so the
//! engine can tell trouble worth retrying from denied or invalid requests.
//! Secrets cross this API only as `dynsec_core::SecretString` (redacted
//! `Debug`); no error message or log line carries key material.
//!
//! # Wiring it into the engine
//!
//! **Keep one `AwsAdmin` per connection.** [`AwsAdmin::new`] is cheap (no
//! I/O, SDK clients built on first use, the STS client only if STS is
//! called) and every admin shares the process's [`AwsHttp`]: one connection
//! pool and one TLS root store for all SDK clients. Cache the admin keyed by
//! the connection's settings (key id, secret, session token, region,
//! endpoints) and build a new one when they change; in steady state an
//! issuance and a revocation then open no new connection (measured through
//! a keep-alive proxy: `tests/moto_iam.rs`). A cached admin also remembers
//! its [`AwsAdmin::caller_identity`] (the account check asks STS once).
//! [`AwsAdmin::from_host_identity`] builds one from the gateway host's
//! default credential chain (`use-gw-cloud-identity`), optionally assuming a
//! role with an external id; cache it the same way.
//!
//! **Issuance (`iam_user`).** Write the intent, then [`AwsAdmin::create_user`]
//! ([`NewIamUser`]: path, tags — dynsec's own and the secret's extra ones —
//! permissions boundary, managed policies, groups, access key, console
//! password, inline policy). Store the returned [`IssuedIamUser::created`]
//! ([`CreatedIamUser`], no secrets) with the lease. On failure run
//! [`AwsAdmin::teardown_user`] (it does not know what got created).
//! Before handing the key out, [`AwsAdmin::wait_until_usable`] with
//! [`IssuedIamUser::credential`] and `secure-access-delay` as the limit
//! returns as soon as IAM accepts the key and says how long that took; it is
//! cancel-safe (drop it when the client goes away).
//!
//! **Revocation (`iam_user`).** [`AwsAdmin::teardown_created`] with the stored
//! [`CreatedIamUser`]: deletes exactly that concurrently, then DeleteUser; on
//! `DeleteConflict` (something was added since) it runs the discovery
//! teardown itself, and reports which path it took ([`TeardownPath`]).
//! Leases issued before `CreatedIamUser` was stored have nothing to pass:
//! use [`AwsAdmin::teardown_user`] (and the orphan sweep always does).
//!
//! **STS modes.** [`AwsAdmin::assume_role`] (session policy ARNs and an
//! inline session policy), [`AwsAdmin::get_federation_token`] and
//! [`AwsAdmin::get_session_token`] (MFA serial and code). The latter two need
//! a long-term IAM user key and are refused with [`AwsErrorKind::Invalid`]
//! for a connection with a session token (or the host identity). The
//! engine checks TTL bounds; emulators don't.
//!
//! **Early revocation of assumed-role sessions.** Name sessions
//! [`ROLE_SESSION_PREFIX`]`<lease id>`. Under a store lock per role, call
//! [`AwsAdmin::revoke_role_sessions`] (role ARN in the connection's own
//! account, the sessions with their expiry, now): it reads the role's
//! [`REVOKED_SESSIONS_POLICY`], prunes expired entries, adds the sessions,
//! fits the document into what the role's other inline policies leave of
//! [`ROLE_INLINE_POLICY_BUDGET`] — falling back to "deny every dynsec
//! session of this role issued before now" when it would not fit
//! ([`RevokedSessionsWrite::fell_back`]: say so in the answer) — writes it
//! (deletes it when empty) and reads it back. Call it with no sessions to
//! prune. [`AwsAdmin::deny_all_role_sessions`] is the explicit fallback.
//! The document builder itself is [`RevokedSessions`] (pure).
//! Admin policy needed: `iam:GetRolePolicy`, `iam:PutRolePolicy`,
//! `iam:DeleteRolePolicy`, `iam:ListRolePolicies` on the roles.
//!
//! **Admin-key rotation.** With the current key's admin `A`: record "rotation
//! started at T" → [`AwsAdmin::create_own_access_key`] (refused when the user
//! already has two keys, or for session/host credentials) → seal and store the
//! new key → [`AwsAdmin::prove_admin_key`] (GetCallerIdentity signed with
//! it, same user) → with an admin `B` built from the new key,
//! [`AwsAdmin::delete_own_access_key`] of the old one (refused for the key
//! `B` signs with). After a crash, [`AwsAdmin::own_access_keys`] shows the
//! extra key: one created at or after T that is not the stored key is the
//! rotation's own and can be deleted; dynsec never deletes a key it did not
//! create. Admin policy needed: `iam:ListAccessKeys`, `iam:CreateAccessKey`,
//! `iam:DeleteAccessKey` on the admin user itself.
//!
//! **Metrics.** Every IAM and STS client built here counts its calls
//! (service, operation, outcome `ok` or the error class) and their
//! durations in [`AwsCallMetrics::shared`]; register it with the gateway's
//! metrics registry.
//!
//! Emulator workarounds live in one module (`quirks.rs`), each with the
//! emulator behaviour it handles.

mod admin;
mod admin_keys;
mod error;
mod http;
mod metrics;
mod quirks;
mod readiness;
mod revoked_sessions;
mod role_policy;
mod sts;
mod teardown;
mod users;

pub use admin::{AwsAdmin, CallerIdentity, CredentialRef, HostIdentity, HostRole};
pub use admin_keys::{AdminAccessKey, NewAdminKey, MAX_KEYS_PER_USER};
pub use error::{AwsError, AwsErrorKind};
pub use http::AwsHttp;
pub use metrics::{AwsCallLabels, AwsCallMetrics, AwsOperationLabels};
pub use readiness::ReadyWait;
pub use revoked_sessions::{
    policy_size, Fallback, RenderedPolicy, RevokedSessions, MAX_SESSION_SECS,
    REVOKED_SESSIONS_POLICY, ROLE_INLINE_POLICY_BUDGET,
};
pub use role_policy::{RevokedSession, RevokedSessionsWrite, ROLE_SESSION_PREFIX};
pub use sts::{
    AssumeRoleRequest, FederationTokenRequest, MfaCode, SessionCredentials, SessionTokenRequest,
};
pub use teardown::TeardownPath;
pub use users::{
    CreatedIamUser, IssuedIamUser, NewIamUser, UserWithTags, INLINE_USER_POLICY, LEASE_ID_TAG,
};
