//! What each use case needs from its caller: one table, checked by the use
//! case itself.
//!
//! Every public use case a face (HTTP API, console, a future gRPC) calls
//! takes the authenticated [`Caller`] first and, before it touches anything,
//! runs [`authorize`] with its [`UseCase`] on the paths the request names. The
//! check is made on the requested paths, so a denial never depends on whether
//! the object exists, and every face gets the same rules for free.
//!
//! [`UseCase::needs`] is one exhaustive match with no default arm: a new use
//! case does not compile until it states what it needs. The rules that
//! depend on what is stored (renames: [`Engine::may_move`]; grants:
//! [`Engine::may_grant`], [`Engine::may_lift_denies`]; the secrets a forced
//! target deletion removes; a lease's or an association's object) are
//! checked in the use case once that object is read.
//!
//! Bootstrap and internal paths (the first admin, `auth`, housekeeping, the
//! reaper) take no caller.
//!
//! [`Engine::may_move`]: crate::Engine::may_move
//! [`Engine::may_grant`]: crate::Engine::may_grant
//! [`Engine::may_lift_denies`]: crate::Engine::may_lift_denies

use crate::{Caller, EngineError};
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::ItemPath;

/// Every use case a face calls with a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UseCase {
    CreateTarget,
    /// Also the read of the target an update starts from.
    UpdateTarget,
    GetTarget,
    /// The target with its connection's secret.
    GetTargetDetails,
    ListTargets,
    DeleteTarget,
    RotateTargetAdminKey,
    CreateDynamicSecret,
    /// Also the read of the dynamic secret an update starts from.
    UpdateDynamicSecret,
    GetDynamicSecret,
    ListDynamicSecrets,
    DeleteDynamicSecret,
    /// The inline connection's admin key.
    RotateDynamicSecretAdminKey,
    /// Issuing a credential (`get-dynamic-secret-value`).
    GetValue,
    /// A dynamic secret's live leases (tmp-creds).
    ListLeases,
    RevokeLease,
    RevokeAllLeases,
    UpdateLeaseTtl,
    /// Soft-delete: leases forgotten without touching AWS.
    ForgetLeases,
    /// Leases across dynamic secrets under a path (`list-leases`).
    ListLeasesUnder,
    /// Revoking them (`revoke-leases`).
    RevokeLeasesUnder,
    ListItems,
    DescribeItem,
    DeleteItem,
    CreateProtectionKey,
    GetProtectionKey,
    ListProtectionKeys,
    RotateMasterKey,
    CreateAuthMethod,
    GetAuthMethod,
    ListAuthMethods,
    DeleteAuthMethod,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    SetRoleRule,
    DeleteRoleRule,
    AssocRoleAm,
    DeleteAssoc,
    /// The caller's own capabilities on a path.
    DescribePermissions,
}

/// Which of the request's paths a rule is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The object the use case is about (`name`, `role-name`).
    Name,
    /// The name a rename moves it to (`new-name`), when it differs.
    NewName,
    /// The target a dynamic secret is pointed at (`target-name`), when named.
    Target,
    /// The auth method an association links (`am-name`).
    AuthMethod,
}

/// One capability a use case needs on one of the request's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub on: On,
    pub rule_type: RuleType,
    pub capability: Capability,
}

/// A [`Rule`] as a literal, so a table row is a `'static` constant.
macro_rules! rule {
    ($on:expr, $rule_type:expr, $capability:expr) => {
        Rule {
            on: $on,
            rule_type: $rule_type,
            capability: $capability,
        }
    };
}

/// What a use case requires of its caller before it touches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Each rule, checked in this order on the requested paths.
    Rules(&'static [Rule]),
    /// Nothing up front: the answer holds only the entries the caller may
    /// `list` (or, for leases, `read` on their secret).
    Listed,
    /// Nothing up front: each object the use case reaches is checked once it
    /// is read (each lease's secret for `revoke-leases`, an association's
    /// role), and a caller without the right learns nothing of it.
    EachObject,
    /// The admin key only.
    Admin,
    /// Any authenticated caller: it is about the caller's own rights.
    AnyCaller,
}

impl UseCase {
    /// What this use case needs. Exhaustive, with no default: a new use
    /// case states its needs here or does not compile.
    pub const fn needs(self) -> Needs {
        use Capability::{Create, Delete, Read, Reveal, Update};
        use On::{AuthMethod, Name, NewName, Target};
        use RuleType as T;
        match self {
            Self::CreateTarget => Needs::Rules(&[rule!(Name, T::Target, Create)]),
            Self::UpdateTarget => Needs::Rules(&[
                rule!(Name, T::Target, Update),
                rule!(NewName, T::Target, Create),
            ]),
            Self::GetTarget => Needs::Rules(&[rule!(Name, T::Target, Read)]),
            Self::GetTargetDetails => {
                Needs::Rules(&[rule!(Name, T::Target, Read), rule!(Name, T::Target, Reveal)])
            }
            Self::DeleteTarget => Needs::Rules(&[rule!(Name, T::Target, Delete)]),
            // Rotating changes the stored key: an update of the target.
            Self::RotateTargetAdminKey => Needs::Rules(&[rule!(Name, T::Target, Update)]),
            // Using a target's admin credentials needs `read` on the target.
            Self::CreateDynamicSecret => {
                Needs::Rules(&[rule!(Name, T::Item, Create), rule!(Target, T::Target, Read)])
            }
            Self::UpdateDynamicSecret => Needs::Rules(&[
                rule!(Name, T::Item, Update),
                rule!(NewName, T::Item, Create),
                rule!(Target, T::Target, Read),
            ]),
            Self::GetDynamicSecret
            | Self::DescribeItem
            | Self::GetProtectionKey
            | Self::GetValue
            | Self::ListLeases => Needs::Rules(&[rule!(Name, T::Item, Read)]),
            Self::RevokeLease
            | Self::RevokeAllLeases
            | Self::UpdateLeaseTtl
            | Self::RotateDynamicSecretAdminKey => Needs::Rules(&[rule!(Name, T::Item, Update)]),
            Self::DeleteDynamicSecret | Self::DeleteItem => {
                Needs::Rules(&[rule!(Name, T::Item, Delete)])
            }
            // Protection keys are items, as in Akeyless.
            Self::CreateProtectionKey => Needs::Rules(&[rule!(Name, T::Item, Create)]),
            Self::ForgetLeases | Self::RotateMasterKey => Needs::Admin,
            Self::ListTargets
            | Self::ListDynamicSecrets
            | Self::ListItems
            | Self::ListProtectionKeys
            | Self::ListAuthMethods
            | Self::ListRoles
            | Self::ListLeasesUnder => Needs::Listed,
            Self::RevokeLeasesUnder | Self::DeleteAssoc => Needs::EachObject,
            Self::CreateAuthMethod => Needs::Rules(&[rule!(Name, T::AuthMethod, Create)]),
            Self::GetAuthMethod => Needs::Rules(&[rule!(Name, T::AuthMethod, Read)]),
            Self::DeleteAuthMethod => Needs::Rules(&[rule!(Name, T::AuthMethod, Delete)]),
            Self::CreateRole => Needs::Rules(&[rule!(Name, T::Role, Create)]),
            Self::GetRole => Needs::Rules(&[rule!(Name, T::Role, Read)]),
            Self::DeleteRole => Needs::Rules(&[rule!(Name, T::Role, Delete)]),
            Self::SetRoleRule | Self::DeleteRoleRule => {
                Needs::Rules(&[rule!(Name, T::Role, Update)])
            }
            Self::AssocRoleAm => Needs::Rules(&[
                rule!(Name, T::Role, Update),
                rule!(AuthMethod, T::AuthMethod, Read),
            ]),
            Self::DescribePermissions => Needs::AnyCaller,
        }
    }
}

/// The paths a request names, as the checks need them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Requested<'a> {
    pub name: Option<&'a ItemPath>,
    pub new_name: Option<&'a ItemPath>,
    /// As the request gives it; parsed (`target-name`) when a rule needs it.
    pub target: Option<&'a str>,
    pub auth_method: Option<&'a ItemPath>,
}

impl<'a> Requested<'a> {
    /// A request about the object `name` only.
    pub fn name(name: &'a ItemPath) -> Self {
        Self {
            name: Some(name),
            ..Self::nothing()
        }
    }

    /// A request naming no path (listings, the master key).
    pub fn nothing() -> Self {
        Self {
            name: None,
            new_name: None,
            target: None,
            auth_method: None,
        }
    }
}

/// Fails with [`EngineError::Forbidden`] unless `caller` holds what
/// `use_case` needs on the `requested` paths. Rules on an optional path
/// (a new name equal to the old one, no target named) are skipped.
pub(crate) fn authorize(
    caller: &Caller,
    use_case: UseCase,
    requested: &Requested<'_>,
) -> Result<(), EngineError> {
    match use_case.needs() {
        Needs::Rules(rules) => {
            for rule in rules {
                let path = match rule.on {
                    On::Name => Some(
                        requested
                            .name
                            .ok_or_else(|| {
                                EngineError::Internal(format!(
                                    "{use_case:?} checks its name, but none was given"
                                ))
                            })?
                            .clone(),
                    ),
                    On::NewName => requested
                        .new_name
                        .filter(|new| Some(*new) != requested.name)
                        .cloned(),
                    On::Target => match requested.target.map(str::trim) {
                        Some(target) if !target.is_empty() => {
                            Some(ItemPath::parse("target-name", target)?)
                        }
                        _ => None,
                    },
                    On::AuthMethod => requested.auth_method.cloned(),
                };
                if let Some(path) = path {
                    caller.require(rule.rule_type, path.as_str(), rule.capability)?;
                }
            }
            Ok(())
        }
        Needs::Admin => caller.require_admin(),
        Needs::Listed | Needs::EachObject | Needs::AnyCaller => Ok(()),
    }
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
