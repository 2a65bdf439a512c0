//! What each operation needs from the caller's path rules, checked before the
//! operation touches anything. The check is made on the requested path, so a
//! denied caller learns nothing about whether the object exists. Listing
//! operations need no up-front check; they show only what the caller may list.

use super::Op;
use crate::wire::parse;
use crate::ApiError;
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::ItemPath;
use dynsec_engine::Caller;
use serde::Deserialize;
use serde_json::Value;

/// The names an operation may refer to.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct Names {
    name: Option<String>,
    new_name: Option<String>,
    target_name: Option<String>,
    role_name: Option<String>,
    am_name: Option<String>,
}

/// What an operation requires.
enum Needs {
    /// Each (type, path, capability) must be granted.
    Rules(Vec<(RuleType, String, Capability)>),
    /// Filtered by `list` in the handler, or checked there after a lookup.
    InHandler,
    AdminOnly,
    /// About the caller's own token and rules: any authenticated caller.
    SelfService,
    /// `auth` itself.
    Nothing,
}

/// Fails with 403 unless `caller` may run `op` with `body`.
pub fn check(caller: &Caller, op: Op, body: &Value) -> Result<(), ApiError> {
    match needs(op, body)? {
        Needs::Rules(rules) => {
            for (rule_type, path, capability) in rules {
                caller.require(rule_type, &path, capability)?;
            }
            Ok(())
        }
        Needs::AdminOnly => Ok(caller.require_admin()?),
        Needs::InHandler | Needs::SelfService | Needs::Nothing => Ok(()),
    }
}

fn path(field: &str, value: &Option<String>) -> Result<String, ApiError> {
    let raw = crate::wire::required(field, value)?;
    ItemPath::parse(field, raw)
        .map(|p| p.to_string())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

fn optional_path(field: &str, value: &Option<String>) -> Result<Option<String>, ApiError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => path(field, value).map(Some),
        _ => Ok(None),
    }
}

fn needs(op: Op, body: &Value) -> Result<Needs, ApiError> {
    use Capability::*;
    use RuleType::{AuthMethod, Item, Role, Target};
    let names: Names = parse(body)?;
    let name = || path("name", &names.name);
    let one = |t: RuleType, c: Capability| -> Result<Needs, ApiError> {
        Ok(Needs::Rules(vec![(t, name()?, c)]))
    };
    // Renames need `create` on the new name; using a target needs `read` on it.
    let with_extras = |mut rules: Vec<(RuleType, String, Capability)>,
                       new_kind: RuleType|
     -> Result<Needs, ApiError> {
        if let Some(new) = optional_path("new-name", &names.new_name)? {
            rules.push((new_kind, new, Create));
        }
        if let Some(target) = optional_path("target-name", &names.target_name)? {
            rules.push((Target, target, Read));
        }
        Ok(Needs::Rules(rules))
    };
    match op {
        Op::Auth => Ok(Needs::Nothing),
        Op::CreateTarget => one(Target, Create),
        Op::UpdateTarget => with_extras(vec![(Target, name()?, Update)], Target),
        Op::GetTarget => one(Target, Read),
        Op::GetTargetDetails => Ok(Needs::Rules(vec![
            (Target, name()?, Read),
            (Target, name()?, Reveal),
        ])),
        Op::DeleteTarget => one(Target, Delete),
        // Rotating changes the stored key: an update of the item.
        Op::RotateTargetAdminKey => one(Target, Update),
        Op::RotateDynamicSecretAdminKey => one(Item, Update),
        Op::CreateProducerLegacy | Op::CreateDynamicSecret => {
            with_extras(vec![(Item, name()?, Create)], Item)
        }
        Op::UpdateProducerLegacy | Op::UpdateDynamicSecret => {
            with_extras(vec![(Item, name()?, Update)], Item)
        }
        Op::GetProducer | Op::DescribeItem | Op::GetValue | Op::ListTmpCreds => one(Item, Read),
        Op::RevokeTmpCreds | Op::UpdateTmpCreds => one(Item, Update),
        Op::DeleteProducerLegacy | Op::DeleteDynamicSecret | Op::DeleteItem => one(Item, Delete),
        Op::ListTargets
        | Op::ListProducers
        | Op::ListItems
        | Op::ListAuthMethods
        | Op::ListRoles => Ok(Needs::InHandler),
        // Across secrets: the engine checks `read` (listing) and `update`
        // (revoking) on each lease's secret (`dynsec_engine::incident`).
        Op::ListLeases | Op::RevokeLeases => Ok(Needs::InHandler),
        Op::CreateAuthMethod => one(AuthMethod, Create),
        Op::GetAuthMethod => one(AuthMethod, Read),
        Op::DeleteAuthMethod => one(AuthMethod, Delete),
        Op::CreateRole => one(Role, Create),
        Op::GetRole => one(Role, Read),
        Op::DeleteRole => one(Role, Delete),
        Op::SetRoleRule | Op::DeleteRoleRule => Ok(Needs::Rules(vec![(
            Role,
            path("role-name", &names.role_name)?,
            Update,
        )])),
        Op::AssocRoleAm => Ok(Needs::Rules(vec![
            (Role, path("role-name", &names.role_name)?, Update),
            (AuthMethod, path("am-name", &names.am_name)?, Read),
        ])),
        // The association names its role only once looked up.
        Op::DeleteAssoc => Ok(Needs::InHandler),
        // Protection keys are items, as in Akeyless: item rules govern creating
        // them (and describe-item / delete-item / list-items cover them too).
        Op::CreateDfcKey => one(Item, Create),
        Op::RotateMasterKey => Ok(Needs::AdminOnly),
        Op::ValidateToken | Op::DescribePermissions => Ok(Needs::SelfService),
        #[allow(unreachable_patterns)]
        _ => Ok(Needs::AdminOnly),
    }
}
