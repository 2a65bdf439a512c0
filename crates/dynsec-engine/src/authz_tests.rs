//! The authorization table, and each use case enforcing it: against a real
//! in-memory SQLite engine, a caller lacking any one thing its use case
//! needs is refused, and one holding exactly that passes the check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Needs, On, Rule, UseCase};
use crate::test_support::{
    admin, connection, inline_producer, key_input, memory_engine, path, target_input,
};
use crate::{
    AuthMethodInput, Caller, Engine, EngineError, ItemQuery, ProducerTargetInput, TargetInput,
};
use dynsec_core::access::{Capability, PathRule, RuleType};

/// Every use case, for the tests that walk them all ([`run`] matches them
/// exhaustively, so a new one is listed there or does not compile).
const ALL: [UseCase; 41] = [
    UseCase::CreateTarget,
    UseCase::UpdateTarget,
    UseCase::GetTarget,
    UseCase::GetTargetDetails,
    UseCase::ListTargets,
    UseCase::DeleteTarget,
    UseCase::RotateTargetAdminKey,
    UseCase::CreateDynamicSecret,
    UseCase::UpdateDynamicSecret,
    UseCase::GetDynamicSecret,
    UseCase::ListDynamicSecrets,
    UseCase::DeleteDynamicSecret,
    UseCase::RotateDynamicSecretAdminKey,
    UseCase::GetValue,
    UseCase::ListLeases,
    UseCase::RevokeLease,
    UseCase::RevokeAllLeases,
    UseCase::UpdateLeaseTtl,
    UseCase::ForgetLeases,
    UseCase::ListLeasesUnder,
    UseCase::RevokeLeasesUnder,
    UseCase::ListItems,
    UseCase::DescribeItem,
    UseCase::DeleteItem,
    UseCase::CreateProtectionKey,
    UseCase::GetProtectionKey,
    UseCase::ListProtectionKeys,
    UseCase::RotateMasterKey,
    UseCase::CreateAuthMethod,
    UseCase::GetAuthMethod,
    UseCase::ListAuthMethods,
    UseCase::DeleteAuthMethod,
    UseCase::CreateRole,
    UseCase::GetRole,
    UseCase::ListRoles,
    UseCase::DeleteRole,
    UseCase::SetRoleRule,
    UseCase::DeleteRoleRule,
    UseCase::AssocRoleAm,
    UseCase::DeleteAssoc,
    UseCase::DescribePermissions,
];

/// What a use case's table row asks for, rule by rule.
type Needed = Vec<(On, RuleType, Capability)>;

fn rules(use_case: UseCase) -> Needed {
    match use_case.needs() {
        Needs::Rules(rules) => rules
            .iter()
            .map(|r: &Rule| (r.on, r.rule_type, r.capability))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_table_states_what_each_operation_needed_before() {
    use Capability::*;
    use On::*;
    use RuleType::{AuthMethod as Am, Item, Role, Target as T};
    let expected: [(UseCase, Needed); 8] = [
        (UseCase::CreateTarget, vec![(Name, T, Create)]),
        (
            UseCase::UpdateTarget,
            vec![(Name, T, Update), (NewName, T, Create)],
        ),
        (
            UseCase::GetTargetDetails,
            vec![(Name, T, Read), (Name, T, Reveal)],
        ),
        (UseCase::RotateTargetAdminKey, vec![(Name, T, Update)]),
        (
            UseCase::CreateDynamicSecret,
            vec![(Name, Item, Create), (Target, T, Read)],
        ),
        (
            UseCase::UpdateDynamicSecret,
            vec![
                (Name, Item, Update),
                (NewName, Item, Create),
                (Target, T, Read),
            ],
        ),
        (
            UseCase::AssocRoleAm,
            vec![(Name, Role, Update), (AuthMethod, Am, Read)],
        ),
        (UseCase::CreateProtectionKey, vec![(Name, Item, Create)]),
    ];
    for (use_case, needs) in expected {
        assert_eq!(rules(use_case), needs, "{use_case:?}");
    }
    for (use_case, capability) in [
        (UseCase::GetDynamicSecret, Read),
        (UseCase::DescribeItem, Read),
        (UseCase::GetProtectionKey, Read),
        (UseCase::GetValue, Read),
        (UseCase::ListLeases, Read),
        (UseCase::RevokeLease, Update),
        (UseCase::RevokeAllLeases, Update),
        (UseCase::UpdateLeaseTtl, Update),
        (UseCase::RotateDynamicSecretAdminKey, Update),
        (UseCase::DeleteDynamicSecret, Delete),
        (UseCase::DeleteItem, Delete),
    ] {
        assert_eq!(
            rules(use_case),
            vec![(Name, Item, capability)],
            "{use_case:?}"
        );
    }
    for (use_case, rule_type, capability) in [
        (UseCase::GetTarget, T, Read),
        (UseCase::DeleteTarget, T, Delete),
        (UseCase::CreateAuthMethod, Am, Create),
        (UseCase::GetAuthMethod, Am, Read),
        (UseCase::DeleteAuthMethod, Am, Delete),
        (UseCase::CreateRole, Role, Create),
        (UseCase::GetRole, Role, Read),
        (UseCase::DeleteRole, Role, Delete),
        (UseCase::SetRoleRule, Role, Update),
        (UseCase::DeleteRoleRule, Role, Update),
    ] {
        assert_eq!(
            rules(use_case),
            vec![(Name, rule_type, capability)],
            "{use_case:?}"
        );
    }
    let admin_only: Vec<UseCase> = ALL
        .into_iter()
        .filter(|u| u.needs() == Needs::Admin)
        .collect();
    assert_eq!(
        admin_only,
        [UseCase::ForgetLeases, UseCase::RotateMasterKey],
        "nothing is admin-only by default"
    );
    for listing in [
        UseCase::ListTargets,
        UseCase::ListDynamicSecrets,
        UseCase::ListItems,
        UseCase::ListProtectionKeys,
        UseCase::ListAuthMethods,
        UseCase::ListRoles,
        UseCase::ListLeasesUnder,
    ] {
        assert_eq!(listing.needs(), Needs::Listed, "{listing:?}");
    }
    assert_eq!(UseCase::RevokeLeasesUnder.needs(), Needs::EachObject);
    assert_eq!(UseCase::DeleteAssoc.needs(), Needs::EachObject);
    assert_eq!(UseCase::DescribePermissions.needs(), Needs::AnyCaller);
}

fn caller(rules: Vec<PathRule>) -> Caller {
    Caller {
        access_id: "p-tester".into(),
        is_admin: false,
        rules,
    }
}

fn grant(rule_type: RuleType, capability: Capability) -> PathRule {
    PathRule::new(rule_type, "*", vec![capability]).unwrap()
}

/// What a caller needs beyond the table to get through `use_case` as
/// [`run`] calls it: what renames need of the old name
/// ([`Engine::may_move`]), and the per-object checks.
fn beyond_the_table(use_case: UseCase) -> Vec<(RuleType, Capability)> {
    match use_case {
        UseCase::UpdateTarget => vec![(RuleType::Target, Capability::Delete)],
        UseCase::UpdateDynamicSecret => vec![(RuleType::Item, Capability::Delete)],
        UseCase::DeleteAssoc => vec![(RuleType::Role, Capability::Update)],
        _ => Vec::new(),
    }
}

/// The grants that let a caller through `use_case`, each (type, capability)
/// on every path; `None` when only the admin gets through.
fn sufficient(use_case: UseCase) -> Option<Vec<(RuleType, Capability)>> {
    if use_case.needs() == Needs::Admin {
        return None;
    }
    let mut grants: Vec<(RuleType, Capability)> = rules(use_case)
        .into_iter()
        .map(|(_, rule_type, capability)| (rule_type, capability))
        .collect();
    grants.extend(beyond_the_table(use_case));
    Some(grants)
}

fn target(name: &str) -> TargetInput {
    target_input(name, connection("http://127.0.0.1:9"))
}

/// A fresh engine holding, as the admin made them: target `/aws/t`, the
/// dynamic secrets `/ds/a` (inline connection) and `/ds/t` (using the
/// target), role `/roles/r` and auth method `/am/m`, associated.
async fn world() -> Engine {
    let (engine, _store) = memory_engine().await;
    let admin = admin();
    engine
        .create_target(&admin, target("/aws/t"))
        .await
        .unwrap();
    engine
        .create_producer(&admin, inline_producer("/ds/a"))
        .await
        .unwrap();
    let mut using = inline_producer("/ds/t");
    using.target = ProducerTargetInput::Named("/aws/t".into());
    engine.create_producer(&admin, using).await.unwrap();
    engine
        .create_role(&admin, &path("/roles/r"), String::new())
        .await
        .unwrap();
    engine
        .create_auth_method(&admin, auth_method("/am/m"))
        .await
        .unwrap();
    engine
        .assoc_role_am(&admin, &path("/roles/r"), &path("/am/m"))
        .await
        .unwrap();
    engine
}

fn auth_method(name: &str) -> AuthMethodInput {
    AuthMethodInput {
        name: path(name),
        access_expires: None,
        bound_ips: Vec::new(),
        jwt_ttl_minutes: None,
        description: String::new(),
        delete_protection: false,
    }
}

/// Calls the engine's use case for `use_case` as a face would. Those that
/// would reach AWS are asked about a missing object: passing the check then
/// ends in not-found, before any AWS call.
async fn run(engine: &Engine, c: &Caller, use_case: UseCase) -> Result<(), EngineError> {
    let e = engine;
    let items = || ItemQuery {
        path: "/".into(),
        types: vec!["all".into()],
        filter: String::new(),
        current_folder: false,
        page_token: None,
        page_size: None,
    };
    match use_case {
        UseCase::CreateTarget => e.create_target(c, target("/aws/new")).await.map(drop),
        UseCase::UpdateTarget => {
            e.target_to_update(c, &path("/aws/t"), &path("/aws/u"))
                .await?;
            e.update_target(c, &path("/aws/t"), target("/aws/u"))
                .await
                .map(drop)
        }
        UseCase::GetTarget => e.get_target(c, &path("/aws/t")).await.map(drop),
        UseCase::GetTargetDetails => e.get_target_details(c, &path("/aws/t")).await.map(drop),
        UseCase::ListTargets => e.list_targets(c, "", None).await.map(drop),
        UseCase::DeleteTarget => e.delete_target(c, &path("/aws/t"), false).await.map(drop),
        UseCase::RotateTargetAdminKey => e
            .rotate_target_admin_key(c, &path("/aws/missing"))
            .await
            .map(drop),
        UseCase::CreateDynamicSecret => {
            let mut input = inline_producer("/ds/new");
            input.target = ProducerTargetInput::Named("/aws/t".into());
            e.create_producer(c, input).await.map(drop)
        }
        UseCase::UpdateDynamicSecret => {
            e.producer_to_update(c, &path("/ds/a"), &path("/ds/b"), Some("/aws/t"))
                .await?;
            let mut input = inline_producer("/ds/b");
            input.target = ProducerTargetInput::Named("/aws/t".into());
            e.update_producer(c, &path("/ds/a"), input).await.map(drop)
        }
        UseCase::GetDynamicSecret => e.get_producer(c, &path("/ds/a")).await.map(drop),
        UseCase::ListDynamicSecrets => e.list_producers(c, "", None).await.map(drop),
        UseCase::DeleteDynamicSecret => e.delete_producer(c, &path("/ds/a")).await.map(drop),
        UseCase::RotateDynamicSecretAdminKey => e
            .rotate_producer_admin_key(c, &path("/ds/missing"))
            .await
            .map(drop),
        UseCase::GetValue => e.get_value(c, &path("/ds/missing"), &[]).await.map(drop),
        UseCase::ListLeases => e.list_leases(c, &path("/ds/a"), None, None).await.map(drop),
        UseCase::RevokeLease => e.revoke_lease(c, &path("/ds/a"), "l-none").await.map(drop),
        UseCase::RevokeAllLeases => e.revoke_all(c, &path("/ds/a")).await.map(drop),
        UseCase::UpdateLeaseTtl => e
            .update_lease_ttl(c, &path("/ds/a"), "l-none", 5)
            .await
            .map(drop),
        UseCase::ForgetLeases => e.forget_lease(c, &path("/ds/a"), "l-none").await.map(drop),
        UseCase::ListLeasesUnder => e.list_leases_under(c, None, None, 10).await.map(drop),
        UseCase::RevokeLeasesUnder => e.revoke_leases_under(c, None).await.map(drop),
        UseCase::ListItems => e.list_items(c, &items()).await.map(drop),
        UseCase::DescribeItem => e.describe_item(c, &path("/ds/a")).await.map(drop),
        UseCase::DeleteItem => e.delete_item(c, &path("/ds/a")).await.map(drop),
        UseCase::CreateProtectionKey => e
            .create_protection_key(c, key_input("/keys/k", None, None))
            .await
            .map(drop),
        UseCase::GetProtectionKey => e
            .get_protection_key(c, &path("/keys/missing"))
            .await
            .map(drop),
        UseCase::ListProtectionKeys => e.list_protection_keys(c, "").await.map(drop),
        UseCase::RotateMasterKey => e.rotate_master_key(c).await.map(drop),
        UseCase::CreateAuthMethod => e
            .create_auth_method(c, auth_method("/am/new"))
            .await
            .map(drop),
        UseCase::GetAuthMethod => e.get_auth_method(c, &path("/am/m")).await.map(drop),
        UseCase::ListAuthMethods => e.list_auth_methods(c, "", None).await.map(drop),
        UseCase::DeleteAuthMethod => e.delete_auth_method(c, &path("/am/m")).await,
        UseCase::CreateRole => e
            .create_role(c, &path("/roles/new"), String::new())
            .await
            .map(drop),
        UseCase::GetRole => e.get_role(c, &path("/roles/r")).await.map(drop),
        UseCase::ListRoles => e.list_roles(c, "", None).await.map(drop),
        UseCase::DeleteRole => e.delete_role(c, &path("/roles/r")).await,
        UseCase::SetRoleRule => {
            // A deny takes rights away: granting it needs nothing more.
            let deny = PathRule::new(RuleType::Item, "/x/*", vec![Capability::Deny]).unwrap();
            e.set_role_rule(c, &path("/roles/r"), deny).await
        }
        UseCase::DeleteRoleRule => {
            e.delete_role_rule(c, &path("/roles/r"), RuleType::Item, "/x/*")
                .await
        }
        UseCase::AssocRoleAm => e
            .assoc_role_am(c, &path("/roles/r"), &path("/am/m"))
            .await
            .map(drop),
        UseCase::DeleteAssoc => {
            let role = e.get_role(&admin(), &path("/roles/r")).await?;
            e.delete_assoc(c, &role.assocs[0].id).await
        }
        UseCase::DescribePermissions => {
            e.describe_permissions(c, RuleType::Item, &path("/ds/a"));
            Ok(())
        }
    }
}

fn refused(result: &Result<(), EngineError>) -> bool {
    matches!(result, Err(EngineError::Forbidden(_)))
}

#[tokio::test]
async fn each_use_case_refuses_a_caller_lacking_what_it_needs() {
    for use_case in ALL {
        let grants = sufficient(use_case);
        let wants_something = match &grants {
            None => true,
            Some(grants) => !grants.is_empty(),
        };
        if wants_something {
            let result = run(&world().await, &caller(Vec::new()), use_case).await;
            assert!(refused(&result), "{use_case:?} without rights: {result:?}");
        }
        match grants {
            // Admin-only: everything else a caller may hold does not do.
            None => {
                let everything = [
                    RuleType::Item,
                    RuleType::Target,
                    RuleType::Role,
                    RuleType::AuthMethod,
                ]
                .into_iter()
                .flat_map(|t| {
                    [
                        Capability::Create,
                        Capability::Read,
                        Capability::Update,
                        Capability::Delete,
                        Capability::List,
                        Capability::Reveal,
                    ]
                    .map(|c| grant(t, c))
                })
                .collect();
                let result = run(&world().await, &caller(everything), use_case).await;
                assert!(refused(&result), "{use_case:?} by a non-admin: {result:?}");
            }
            // Each needed grant on its own matters.
            Some(grants) => {
                for missing in 0..grants.len() {
                    let rules = grants
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != missing)
                        .map(|(_, (t, c))| grant(*t, *c))
                        .collect();
                    let result = run(&world().await, &caller(rules), use_case).await;
                    assert!(
                        refused(&result),
                        "{use_case:?} without {:?}: {result:?}",
                        grants[missing]
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn each_use_case_lets_a_caller_holding_what_it_needs_through() {
    for use_case in ALL {
        let who = match sufficient(use_case) {
            None => admin(),
            Some(grants) => caller(grants.into_iter().map(|(t, c)| grant(t, c)).collect()),
        };
        let result = run(&world().await, &who, use_case).await;
        assert!(!refused(&result), "{use_case:?}: {result:?}");
    }
}

#[tokio::test]
async fn a_denial_does_not_depend_on_whether_the_object_exists() {
    let engine = world().await;
    let nobody = caller(Vec::new());
    let existing = engine
        .get_target(&nobody, &path("/aws/t"))
        .await
        .unwrap_err();
    let missing = engine
        .get_target(&nobody, &path("/aws/none"))
        .await
        .unwrap_err();
    assert_eq!(
        existing.to_string().replace("/aws/t", "X"),
        missing.to_string().replace("/aws/none", "X")
    );
    let existing = engine
        .delete_item(&nobody, &path("/ds/a"))
        .await
        .unwrap_err();
    let missing = engine
        .delete_item(&nobody, &path("/ds/none"))
        .await
        .unwrap_err();
    assert_eq!(
        existing.to_string().replace("/ds/a", "X"),
        missing.to_string().replace("/ds/none", "X")
    );
    assert!(matches!(existing, EngineError::Forbidden(_)));
}

/// A forced target deletion deletes the dynamic secrets using it, so it
/// needs `delete` on each — checked on the secrets deleted, not on a list
/// read earlier: one the caller may not delete stops it, with nothing
/// deleted.
#[tokio::test]
async fn a_forced_target_deletion_needs_delete_on_every_secret_it_removes() {
    let engine = world().await;
    let admin = admin();
    let mut other = inline_producer("/locked/t2");
    other.target = ProducerTargetInput::Named("/aws/t".into());
    engine.create_producer(&admin, other).await.unwrap();
    let rules = vec![
        grant(RuleType::Target, Capability::Delete),
        PathRule::new(RuleType::Item, "/ds/*", vec![Capability::Delete]).unwrap(),
    ];
    let err = engine
        .delete_target(&caller(rules.clone()), &path("/aws/t"), true)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err:?}");
    assert!(err.to_string().contains("/locked/t2"), "{err}");
    // Nothing was deleted: both secrets and the target are still there.
    for name in ["/ds/t", "/locked/t2"] {
        engine.get_producer(&admin, &path(name)).await.unwrap();
    }
    engine.get_target(&admin, &path("/aws/t")).await.unwrap();

    // Allowed on both: the target and both secrets go.
    let mut rules = rules;
    rules.push(PathRule::new(RuleType::Item, "/locked/*", vec![Capability::Delete]).unwrap());
    engine
        .delete_target(&caller(rules), &path("/aws/t"), true)
        .await
        .unwrap();
    for name in ["/ds/t", "/locked/t2"] {
        let err = engine.get_producer(&admin, &path(name)).await.unwrap_err();
        assert!(matches!(err, EngineError::NotFound(_)), "{name}: {err:?}");
    }
}
