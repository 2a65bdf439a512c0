//! An in-memory AWS behind the engine's port, for the engine's unit tests
//! (test-only). It keeps accounts' admin users and their keys, temporary
//! users with everything issuance gives them, and each role's
//! `dynsec-revoked-sessions` policy (built by `dynsec_aws`'s own pure
//! [`RevokedSessions`], so pruning and the fallback behave as against IAM),
//! and answers the port's calls as IAM and STS would for what the engine
//! relies on.
//!
//! Faults are armed per AWS operation name (`"CreateUser"`,
//! `"AttachUserPolicy"`, `"GetCallerIdentity"`, ...): a failure of a chosen
//! class ([`AwsErrorKind`]), a delay (tokio time, so paused tests skip it),
//! or a lost reply (the call takes effect here, the engine sees a retryable
//! error, as after a timeout), or a hold until the test lets the call go.
//! Every operation attempted is counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::aws_port::{AwsHandle, AwsPort};
use crate::clock::{Clock, TokioClock};
use crate::connection::AdminConnection;
use dynsec_aws::{
    AdminAccessKey, AssumeRoleRequest, AwsError, AwsErrorKind, CallerIdentity, CreatedIamUser,
    CredentialRef, Fallback, FederationTokenRequest, IssuedIamUser, NewAdminKey, NewIamUser,
    ReadyWait, RenderedPolicy, RevokedSession, RevokedSessions, RevokedSessionsWrite,
    SessionCredentials, SessionTokenRequest, TeardownPath, UserWithTags, LEASE_ID_TAG,
    ROLE_INLINE_POLICY_BUDGET, ROLE_SESSION_PREFIX,
};
use dynsec_core::{AwsConnection, SecretString};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What an armed fault does to the call it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The call fails with this class and changes nothing.
    Fail(AwsErrorKind),
    /// The call waits this long (tokio time), then runs.
    Delay(Duration),
    /// The call takes effect, but its reply is lost: a retryable error.
    LoseReply,
}

#[derive(Debug)]
struct Armed {
    operation: &'static str,
    fault: Fault,
    /// How many more calls it hits.
    times: u32,
}

/// A temporary user as issuance left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FakeUser {
    pub path: String,
    pub tags: Vec<(String, String)>,
    pub policies: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub access_keys: BTreeSet<String>,
    pub login_profile: bool,
    pub inline_policies: BTreeSet<String>,
}

impl FakeUser {
    fn holds_nothing_but(&self, created: &CreatedIamUser) -> bool {
        let expected = |items: &BTreeSet<String>, recorded: &[String]| {
            items.iter().all(|i| recorded.contains(i))
        };
        expected(&self.policies, &created.attached_policies)
            && expected(&self.groups, &created.groups)
            && self
                .access_keys
                .iter()
                .all(|k| created.access_key_id.as_deref() == Some(k))
            && (!self.login_profile || created.login_profile)
            && self
                .inline_policies
                .iter()
                .all(|p| created.inline_policy.as_deref() == Some(p))
    }
}

#[derive(Debug, Clone)]
struct AdminKey {
    account: String,
    user: String,
    secret: String,
    created: SystemTime,
}

/// A call held until the test lets it go: [`FakeAws::hold`].
#[derive(Debug, Default)]
pub(crate) struct Gate {
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl Gate {
    /// Waits until the held call is reached (it has not run yet).
    pub(crate) async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held call run.
    pub(crate) fn release(&self) {
        self.release.notify_one();
    }
}

#[derive(Debug, Default)]
struct World {
    /// Every admin key by its id.
    admin_keys: BTreeMap<String, AdminKey>,
    /// Temporary users by (account, name).
    users: BTreeMap<(String, String), FakeUser>,
    /// Each role's `dynsec-revoked-sessions` document, by role ARN.
    role_policies: BTreeMap<String, String>,
    /// What each role's other inline policies use of its budget, by ARN.
    role_other_policies: BTreeMap<String, usize>,
    faults: Vec<Armed>,
    holds: Vec<(&'static str, Arc<Gate>)>,
    calls: Vec<&'static str>,
    next_id: u64,
}

impl World {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:016}", self.next_id)
    }
}

/// The fake AWS: cheap to clone, every clone the same world.
#[derive(Debug, Clone)]
pub(crate) struct FakeAws {
    world: Arc<Mutex<World>>,
    /// STS's clock, for when sessions expire: the engine's under test (see
    /// [`FakeAws::clock`]), so a session ends when the test's time says.
    clock: TokioClock,
}

impl FakeAws {
    pub(crate) fn new() -> Self {
        Self {
            world: Arc::default(),
            clock: TokioClock::new(),
        }
    }

    /// The clock the fake reads, for the engine under test to read too.
    pub(crate) fn clock(&self) -> TokioClock {
        self.clock
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new admin user `user` of `account` with one key, and the
    /// connection signing with it.
    pub(crate) fn add_admin(&self, account: &str, user: &str) -> AwsConnection {
        let mut world = self.world();
        let id = world.id("AKIAFAKE");
        let secret = format!("fake-secret-{id}");
        world.admin_keys.insert(
            id.clone(),
            AdminKey {
                account: account.into(),
                user: user.into(),
                secret: secret.clone(),
                created: SystemTime::now(),
            },
        );
        AwsConnection {
            access_key_id: id,
            secret_access_key: SecretString::new(secret),
            session_token: None,
            region: "us-east-1".into(),
            iam_endpoint: None,
            sts_endpoint: None,
        }
    }

    /// Arms `fault` for the next call of `operation`.
    pub(crate) fn inject(&self, operation: &'static str, fault: Fault) {
        self.inject_times(operation, fault, 1);
    }

    /// Arms `fault` for the next `times` calls of `operation`.
    pub(crate) fn inject_times(&self, operation: &'static str, fault: Fault, times: u32) {
        self.world().faults.push(Armed {
            operation,
            fault,
            times,
        });
    }

    /// Holds the next call of `operation` before it runs, until the
    /// returned gate is released.
    pub(crate) fn hold(&self, operation: &'static str) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        self.world().holds.push((operation, gate.clone()));
        gate
    }

    /// The temporary users of `account`, by name.
    pub(crate) fn users(&self, account: &str) -> BTreeMap<String, FakeUser> {
        self.world()
            .users
            .iter()
            .filter(|((a, _), _)| a == account)
            .map(|((_, name), user)| (name.clone(), user.clone()))
            .collect()
    }

    /// Puts a user there as if something else (or an earlier issuance)
    /// had created it.
    pub(crate) fn put_user(&self, account: &str, name: &str, user: FakeUser) {
        self.world()
            .users
            .insert((account.into(), name.into()), user);
    }

    /// How many times `operation` was attempted.
    pub(crate) fn count(&self, operation: &str) -> usize {
        self.world()
            .calls
            .iter()
            .filter(|c| **c == operation)
            .count()
    }

    /// The admin user's access key ids in `account`.
    pub(crate) fn admin_keys_of(&self, account: &str, user: &str) -> Vec<String> {
        self.world()
            .admin_keys
            .iter()
            .filter(|(_, k)| k.account == account && k.user == user)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The role's `dynsec-revoked-sessions` document, if it has one.
    pub(crate) fn role_policy(&self, role_arn: &str) -> Option<String> {
        self.world().role_policies.get(role_arn).cloned()
    }

    /// The sessions the role's policy denies by name.
    pub(crate) fn denied_sessions(&self, role_arn: &str) -> BTreeSet<String> {
        self.revoked_sessions(role_arn)
            .sessions()
            .map(str::to_owned)
            .collect()
    }

    /// The role policy's "every dynsec session issued before" deny, if the
    /// list fell back to it.
    pub(crate) fn denied_all_before(&self, role_arn: &str) -> Option<Fallback> {
        self.revoked_sessions(role_arn).fallback()
    }

    fn revoked_sessions(&self, role_arn: &str) -> RevokedSessions {
        RevokedSessions::parse(self.role_policy(role_arn).as_deref(), ROLE_SESSION_PREFIX)
            .expect("the fake writes only documents it can read")
    }

    /// Gives the role other inline policies of `size` characters in all,
    /// leaving the rest of [`ROLE_INLINE_POLICY_BUDGET`] to dynsec's.
    pub(crate) fn set_other_role_policies(&self, role_arn: &str, size: usize) {
        self.world()
            .role_other_policies
            .insert(role_arn.into(), size);
    }

    fn handle_for(&self, key: Option<&AwsConnection>) -> Arc<dyn AwsHandle> {
        Arc::new(FakeHandle {
            aws: self.clone(),
            key: key.map(|k| (k.access_key_id.clone(), k.secret_access_key.clone())),
        })
    }
}

impl AwsPort for FakeAws {
    fn handle<'a>(
        &'a self,
        conn: &'a AdminConnection,
        _max_attempts: u32,
    ) -> BoxFuture<'a, Arc<dyn AwsHandle>> {
        let key = match conn {
            AdminConnection::Key(key) => Some(key),
            // The fake host has no credentials: every call is denied.
            AdminConnection::Host(_) => None,
        };
        let handle = self.handle_for(key);
        Box::pin(async move { handle })
    }

    fn unkept(&self, conn: &AwsConnection, _max_attempts: u32) -> Arc<dyn AwsHandle> {
        self.handle_for(Some(conn))
    }
}

/// One connection's calls: signing with an admin key (id and secret).
struct FakeHandle {
    aws: FakeAws,
    key: Option<(String, SecretString)>,
}

/// Who signs a call.
#[derive(Debug, Clone)]
struct Me {
    key_id: String,
    account: String,
    user: String,
}

fn err(kind: AwsErrorKind, op: &'static str, code: &str, message: &str) -> AwsError {
    AwsError::new(kind, service_of(op), op, Some(code.into()), message)
}

fn service_of(op: &str) -> &'static str {
    match op {
        "GetCallerIdentity" | "AssumeRole" | "GetFederationToken" | "GetSessionToken" => "STS",
        _ => "IAM",
    }
}

fn injected(kind: AwsErrorKind, op: &'static str) -> AwsError {
    let code = match kind {
        AwsErrorKind::NotFound => "NoSuchEntity",
        AwsErrorKind::Retryable => "ServiceUnavailable",
        AwsErrorKind::Denied => "AccessDenied",
        AwsErrorKind::Invalid => "MalformedPolicyDocument",
    };
    err(kind, op, code, "injected by the test")
}

impl FakeHandle {
    /// Runs one AWS operation: logs it, applies an armed fault, then
    /// `effect` on the world as the signing admin.
    async fn call<T>(
        &self,
        op: &'static str,
        effect: impl FnOnce(&mut World, &Me) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let hold = {
            let mut world = self.aws.world();
            let at = world.holds.iter().position(|(o, _)| *o == op);
            at.map(|i| world.holds.remove(i).1)
        };
        if let Some(gate) = hold {
            gate.reached.notify_one();
            gate.release.notified().await;
        }
        let fault = {
            let mut world = self.aws.world();
            world.calls.push(op);
            let armed = world
                .faults
                .iter_mut()
                .find(|a| a.operation == op && a.times > 0);
            let fault = armed.map(|a| {
                a.times -= 1;
                a.fault
            });
            world.faults.retain(|a| a.times > 0);
            fault
        };
        match fault {
            Some(Fault::Fail(kind)) => return Err(injected(kind, op)),
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::LoseReply) | None => {}
        }
        let mut world = self.aws.world();
        let me = self.me(&world, op)?;
        let out = effect(&mut world, &me);
        match fault {
            Some(Fault::LoseReply) => Err(err(
                AwsErrorKind::Retryable,
                op,
                "RequestTimeout",
                "the reply was lost (injected by the test)",
            )),
            _ => out,
        }
    }

    fn me(&self, world: &World, op: &'static str) -> Result<Me, AwsError> {
        let denied = || {
            err(
                AwsErrorKind::Denied,
                op,
                "InvalidClientTokenId",
                "the security token included in the request is invalid",
            )
        };
        let (key_id, secret) = self.key.as_ref().ok_or_else(denied)?;
        let key = world
            .admin_keys
            .get(key_id)
            .filter(|k| k.secret == secret.expose())
            .ok_or_else(denied)?;
        Ok(Me {
            key_id: key_id.clone(),
            account: key.account.clone(),
            user: key.user.clone(),
        })
    }

    fn identity(me: &Me) -> CallerIdentity {
        CallerIdentity {
            account: me.account.clone(),
            arn: format!("arn:aws:iam::{}:user/{}", me.account, me.user),
            user_id: format!("AIDA{}", me.user.to_uppercase()),
        }
    }

    fn session(
        &self,
        world: &mut World,
        arn: Option<String>,
        duration_secs: u64,
    ) -> SessionCredentials {
        let id = world.id("ASIAFAKE");
        let now = SystemTime::from(self.aws.clock.now());
        SessionCredentials {
            access_key_id: id.clone(),
            secret_access_key: SecretString::new(format!("session-secret-{id}")),
            session_token: SecretString::new(format!("session-token-{id}")),
            expiration: Some(now + Duration::from_secs(duration_secs)),
            assumed_role_arn: arn,
        }
    }

    /// One step of CreateUser's grants: its own fault point.
    async fn grant(
        &self,
        op: &'static str,
        user: &str,
        apply: impl FnOnce(&mut FakeUser, &mut World),
    ) -> Result<(), AwsError> {
        self.call(op, |world, me| {
            let key = (me.account.clone(), user.to_owned());
            let mut entry = world
                .users
                .remove(&key)
                .ok_or_else(|| err(AwsErrorKind::NotFound, op, "NoSuchEntity", "no such user"))?;
            apply(&mut entry, world);
            world.users.insert(key, entry);
            Ok(())
        })
        .await
    }

    async fn create(&self, req: &NewIamUser<'_>) -> Result<IssuedIamUser, AwsError> {
        let name = req.user_name.to_owned();
        let lease_tag = req
            .tags
            .iter()
            .find(|(k, _)| k == LEASE_ID_TAG)
            .map(|(_, v)| v.clone());
        let account = self
            .call("CreateUser", |world, me| {
                let key = (me.account.clone(), name.clone());
                if let Some(existing) = world.users.get(&key) {
                    // Taken up only when it carries this lease's tag.
                    let ours = existing
                        .tags
                        .iter()
                        .any(|(k, v)| k == LEASE_ID_TAG && Some(v) == lease_tag.as_ref());
                    if !ours {
                        return Err(err(
                            AwsErrorKind::Invalid,
                            "CreateUser",
                            "EntityAlreadyExists",
                            "user exists",
                        ));
                    }
                }
                world.users.entry(key).or_insert_with(|| FakeUser {
                    path: req.path.to_owned(),
                    tags: req.tags.to_vec(),
                    ..FakeUser::default()
                });
                Ok(me.account.clone())
            })
            .await?;
        let mut created = CreatedIamUser {
            user_name: name.clone(),
            permissions_boundary: req.permissions_boundary.map(str::to_owned),
            ..CreatedIamUser::default()
        };
        // Every grant runs (as the SDK adapter runs them concurrently); the
        // first failure is the answer.
        let mut first_error = None;
        let mut note = |result: Result<(), AwsError>| {
            if let Err(e) = result {
                first_error.get_or_insert(e);
                false
            } else {
                true
            }
        };
        for policy in req.policy_arns {
            let p = policy.clone();
            if note(
                self.grant("AttachUserPolicy", &name, |u, _| {
                    u.policies.insert(p);
                })
                .await,
            ) {
                created.attached_policies.push(policy.clone());
            }
        }
        for group in req.groups {
            let g = group.clone();
            if note(
                self.grant("AddUserToGroup", &name, |u, _| {
                    u.groups.insert(g);
                })
                .await,
            ) {
                created.groups.push(group.clone());
            }
        }
        let mut secret = None;
        if req.access_key {
            let minted = Arc::new(Mutex::new(None));
            let slot = minted.clone();
            if note(
                self.grant("CreateAccessKey", &name, |u, world| {
                    let id = world.id("AKIATMPU");
                    u.access_keys.insert(id.clone());
                    *slot.lock().unwrap() = Some(id);
                })
                .await,
            ) {
                created.access_key_id = minted.lock().unwrap().clone();
                secret = created
                    .access_key_id
                    .as_ref()
                    .map(|id| SecretString::new(format!("user-secret-{id}")));
            }
        }
        if req.console_password.is_some()
            && note(
                self.grant("CreateLoginProfile", &name, |u, _| u.login_profile = true)
                    .await,
            )
        {
            created.login_profile = true;
        }
        if req.inline_policy.is_some()
            && note(
                self.grant("PutUserPolicy", &name, |u, _| {
                    u.inline_policies
                        .insert(dynsec_aws::INLINE_USER_POLICY.into());
                })
                .await,
            )
        {
            created.inline_policy = Some(dynsec_aws::INLINE_USER_POLICY.into());
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(IssuedIamUser {
            user_name: name.clone(),
            user_arn: format!("arn:aws:iam::{account}:user{}{name}", req.path),
            access_key_id: created.access_key_id.clone(),
            secret_access_key: secret,
            created,
        })
    }
}

impl AwsHandle for FakeHandle {
    fn create_user<'a>(
        &'a self,
        req: &'a NewIamUser<'a>,
    ) -> BoxFuture<'a, Result<IssuedIamUser, AwsError>> {
        Box::pin(self.create(req))
    }

    fn teardown_created<'a>(
        &'a self,
        created: &'a CreatedIamUser,
    ) -> BoxFuture<'a, Result<TeardownPath, AwsError>> {
        Box::pin(self.call("DeleteUser", move |world, me| {
            let key = (me.account.clone(), created.user_name.clone());
            Ok(match world.users.remove(&key) {
                Some(user) if !user.holds_nothing_but(created) => TeardownPath::Discovered,
                _ => TeardownPath::AsCreated,
            })
        }))
    }

    fn teardown_user<'a>(&'a self, user_name: &'a str) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.call("DeleteUser", move |world, me| {
            world
                .users
                .remove(&(me.account.clone(), user_name.to_owned()));
            Ok(())
        }))
    }

    fn tag_user<'a>(
        &'a self,
        user_name: &'a str,
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.call("TagUser", move |world, me| {
            let user = world
                .users
                .get_mut(&(me.account.clone(), user_name.to_owned()))
                .ok_or_else(|| {
                    err(
                        AwsErrorKind::NotFound,
                        "TagUser",
                        "NoSuchEntity",
                        "no such user",
                    )
                })?;
            for (k, v) in tags {
                user.tags.retain(|(key, _)| key != k);
                user.tags.push((k.clone(), v.clone()));
            }
            Ok(())
        }))
    }

    fn list_users_with_tags<'a>(
        &'a self,
        path_prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserWithTags>, AwsError>> {
        Box::pin(self.call("ListUsers", move |world, me| {
            Ok(world
                .users
                .iter()
                .filter(|((a, _), u)| *a == me.account && u.path.starts_with(path_prefix))
                .map(|((_, name), u)| UserWithTags {
                    user_name: name.clone(),
                    path: u.path.clone(),
                    tags: u.tags.clone(),
                })
                .collect())
        }))
    }

    fn account_id(&self) -> BoxFuture<'_, Result<String, AwsError>> {
        Box::pin(self.call("GetCallerIdentity", move |_, me| Ok(me.account.clone())))
    }

    fn assume_role<'a>(
        &'a self,
        req: &'a AssumeRoleRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>> {
        Box::pin(self.call("AssumeRole", move |world, _| {
            let mut parts = req.role_arn.splitn(6, ':');
            let account = parts.nth(4).unwrap_or_default().to_owned();
            let role = req
                .role_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            Ok(self.session(
                world,
                Some(format!(
                    "arn:aws:sts::{account}:assumed-role/{role}/{}",
                    req.session_name
                )),
                req.duration_secs,
            ))
        }))
    }

    fn get_federation_token<'a>(
        &'a self,
        req: &'a FederationTokenRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>> {
        Box::pin(self.call("GetFederationToken", move |world, me| {
            let arn = format!("arn:aws:sts::{}:federated-user/{}", me.account, req.name);
            Ok(self.session(world, Some(arn), req.duration_secs))
        }))
    }

    fn get_session_token<'a>(
        &'a self,
        req: &'a SessionTokenRequest<'a>,
    ) -> BoxFuture<'a, Result<SessionCredentials, AwsError>> {
        Box::pin(self.call("GetSessionToken", move |world, _| {
            Ok(self.session(world, None, req.duration_secs))
        }))
    }

    fn revoke_role_sessions<'a>(
        &'a self,
        role_arn: &'a str,
        sessions: &'a [RevokedSession],
        now: u64,
    ) -> BoxFuture<'a, Result<RevokedSessionsWrite, AwsError>> {
        // The whole read-modify-write is one fault point, named after its
        // write: what the engine sees of it is one call's outcome.
        Box::pin(self.call("PutRolePolicy", move |world, me| {
            let invalid = |message: String| {
                err(
                    AwsErrorKind::Invalid,
                    "PutRolePolicy",
                    "InvalidInput",
                    &message,
                )
            };
            let account = role_arn.split(':').nth(4).unwrap_or_default();
            if account != me.account {
                return Err(invalid("the role is in another account".into()));
            }
            let role_name = role_arn.rsplit('/').next().unwrap_or_default().to_owned();
            let current = world.role_policies.get(role_arn).cloned();
            let mut policy = RevokedSessions::parse(current.as_deref(), ROLE_SESSION_PREFIX)?;
            for s in sessions {
                policy.revoke(&s.session_name, s.expires_at, now)?;
            }
            let pruned = policy.prune(now);
            let others = world
                .role_other_policies
                .get(role_arn)
                .copied()
                .unwrap_or(0);
            let budget = ROLE_INLINE_POLICY_BUDGET.saturating_sub(others);
            let mut write = RevokedSessionsWrite {
                role_name,
                listed: 0,
                pruned,
                fell_back: false,
                size: 0,
                budget,
                deleted: false,
            };
            match policy.render(budget, now)? {
                RenderedPolicy::Empty => {
                    world.role_policies.remove(role_arn);
                    write.deleted = true;
                }
                RenderedPolicy::Document {
                    json,
                    size,
                    fell_back,
                } => {
                    world.role_policies.insert(role_arn.to_owned(), json);
                    write.size = size;
                    write.fell_back = fell_back;
                }
            }
            write.listed = policy.sessions().count();
            Ok(write)
        }))
    }

    fn wait_until_usable<'a>(
        &'a self,
        _credential: &'a CredentialRef<'a>,
        _max_wait: Duration,
    ) -> BoxFuture<'a, ReadyWait> {
        Box::pin(async move {
            let outcome = self
                .call("GetCallerIdentity", |_, me| Ok(Self::identity(me)))
                .await;
            ReadyWait {
                waited: Duration::ZERO,
                attempts: 1,
                outcome,
            }
        })
    }

    fn own_access_keys(&self) -> BoxFuture<'_, Result<Vec<AdminAccessKey>, AwsError>> {
        Box::pin(self.call("ListAccessKeys", move |world, me| {
            Ok(world
                .admin_keys
                .iter()
                .filter(|(_, k)| k.account == me.account && k.user == me.user)
                .map(|(id, k)| AdminAccessKey {
                    access_key_id: id.clone(),
                    active: true,
                    created: Some(k.created),
                    in_use: *id == me.key_id,
                })
                .collect())
        }))
    }

    fn create_own_access_key(&self) -> BoxFuture<'_, Result<NewAdminKey, AwsError>> {
        Box::pin(self.call("CreateAccessKey", move |world, me| {
            let held = world
                .admin_keys
                .values()
                .filter(|k| k.account == me.account && k.user == me.user)
                .count();
            if held >= dynsec_aws::MAX_KEYS_PER_USER {
                return Err(err(
                    AwsErrorKind::Invalid,
                    "CreateAccessKey",
                    "LimitExceeded",
                    "cannot exceed quota for AccessKeysPerUser: 2",
                ));
            }
            let id = world.id("AKIAFAKE");
            let secret = format!("fake-secret-{id}");
            world.admin_keys.insert(
                id.clone(),
                AdminKey {
                    account: me.account.clone(),
                    user: me.user.clone(),
                    secret: secret.clone(),
                    created: SystemTime::now(),
                },
            );
            Ok(NewAdminKey {
                user_name: me.user.clone(),
                access_key_id: id,
                secret_access_key: SecretString::new(secret),
            })
        }))
    }

    fn prove_admin_key<'a>(
        &'a self,
        new_key: &'a CredentialRef<'a>,
        _max_wait: Duration,
    ) -> BoxFuture<'a, Result<ReadyWait, AwsError>> {
        Box::pin(async move {
            let outcome = self
                .call("GetCallerIdentity", |world, me| {
                    match world.admin_keys.get(new_key.access_key_id) {
                        Some(k)
                            if k.secret == new_key.secret_access_key.expose()
                                && k.account == me.account
                                && k.user == me.user =>
                        {
                            Ok(Self::identity(me))
                        }
                        Some(_) => Err(err(
                            AwsErrorKind::Invalid,
                            "GetCallerIdentity",
                            "InvalidClientTokenId",
                            "the new key is not the admin user's",
                        )),
                        None => Err(err(
                            AwsErrorKind::Denied,
                            "GetCallerIdentity",
                            "InvalidClientTokenId",
                            "the security token included in the request is invalid",
                        )),
                    }
                })
                .await;
            match outcome {
                Ok(identity) => Ok(ReadyWait {
                    waited: Duration::ZERO,
                    attempts: 1,
                    outcome: Ok(identity),
                }),
                Err(e) => Err(e),
            }
        })
    }

    fn delete_own_access_key<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.call("DeleteAccessKey", move |world, me| {
            if me.key_id == access_key_id {
                return Err(err(
                    AwsErrorKind::Invalid,
                    "DeleteAccessKey",
                    "InvalidInput",
                    "refusing to delete the key this connection signs with",
                ));
            }
            world.admin_keys.remove(access_key_id);
            Ok(())
        }))
    }
}
