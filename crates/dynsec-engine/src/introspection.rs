//! What a caller may learn about itself: whether its token is still good and
//! until when (`validate-token`), and which capabilities its rules grant on a
//! path (`describe-permissions`). Clients such as the web console use them to
//! say when a session ends and to disable what the caller may not do — the
//! operations themselves still check every request.

use crate::{Caller, Engine, EngineError};
use chrono::{DateTime, Utc};
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::ItemPath;
use dynsec_crypto::hash_credential;
use std::net::IpAddr;

/// Every capability a rule can grant, in the order they are reported.
const GRANTABLE: [Capability; 6] = [
    Capability::Read,
    Capability::List,
    Capability::Create,
    Capability::Update,
    Capability::Delete,
    Capability::Reveal,
];

/// A token that is still good: whose it is and when it stops working.
#[derive(Debug, Clone)]
pub struct TokenStatus {
    pub caller: Caller,
    /// Name of the auth method the token was issued to (`/admin`, `/users/alice`).
    pub auth_method_name: String,
    pub expires_at: DateTime<Utc>,
}

impl Engine {
    /// The status of `token` used from `client`, or `None` when it is unknown,
    /// expired, its key is gone or expired, or `client` is outside the key's
    /// bound IPs — the same judgement every other operation makes, without
    /// saying which of these it was.
    pub async fn validate_token(
        &self,
        token: &str,
        client: IpAddr,
    ) -> Result<Option<TokenStatus>, EngineError> {
        let caller = match self.caller(Some(token), client).await {
            Ok(caller) => caller,
            Err(EngineError::Unauthenticated(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        // Both records were just read by `caller`; a concurrent purge or
        // key deletion in between makes the token invalid, which is the truth.
        let Some(record) = self.store().token(&hash_credential(token)).await? else {
            return Ok(None);
        };
        let Some(key) = self.store().api_key(&caller.access_id).await? else {
            return Ok(None);
        };
        Ok(Some(TokenStatus {
            caller,
            auth_method_name: key.name,
            expires_at: record.expires_at,
        }))
    }

    /// The capabilities `caller` holds on `path` for objects of `rule_type`:
    /// everything for the admin, nothing where a rule denies, else what its
    /// rules grant. Never says whether anything exists at `path`.
    pub fn describe_permissions(
        &self,
        caller: &Caller,
        rule_type: RuleType,
        path: &ItemPath,
    ) -> Vec<Capability> {
        GRANTABLE
            .into_iter()
            .filter(|capability| caller.can(rule_type, path.as_str(), *capability))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::memory_engine;
    use dynsec_core::access::PathRule;

    fn caller(rules: Vec<PathRule>) -> Caller {
        Caller {
            access_id: "p-someone".into(),
            is_admin: false,
            rules,
        }
    }

    fn path(raw: &str) -> ItemPath {
        crate::test_support::path(raw)
    }

    #[tokio::test]
    async fn permissions_are_what_the_rules_grant_and_deny_wins() {
        let (engine, _store) = memory_engine().await;
        let rules = vec![
            PathRule::new(
                RuleType::Item,
                "/dev/*",
                vec![Capability::Read, Capability::List, Capability::Update],
            )
            .unwrap(),
            PathRule::new(RuleType::Item, "/dev/secret/*", vec![Capability::Deny]).unwrap(),
            PathRule::new(RuleType::Target, "/aws/*", vec![Capability::Read]).unwrap(),
        ];
        let alice = caller(rules);
        let shown = |t, p| engine.describe_permissions(&alice, t, &path(p));
        assert_eq!(
            shown(RuleType::Item, "/dev/app"),
            vec![Capability::Read, Capability::List, Capability::Update]
        );
        assert_eq!(shown(RuleType::Item, "/dev/secret/x"), vec![]);
        assert_eq!(shown(RuleType::Item, "/prod/app"), vec![]);
        // Rules of one type say nothing about another.
        assert_eq!(shown(RuleType::Target, "/dev/app"), vec![]);
        assert_eq!(shown(RuleType::Target, "/aws/prod"), vec![Capability::Read]);

        let admin = Caller {
            is_admin: true,
            ..caller(Vec::new())
        };
        assert_eq!(
            engine.describe_permissions(&admin, RuleType::Target, &path("/any")),
            GRANTABLE.to_vec()
        );
    }

    #[tokio::test]
    async fn a_valid_token_reports_its_owner_and_expiry_and_a_bad_one_is_just_invalid() {
        let (engine, _store) = memory_engine().await;
        let admin = engine.bootstrap_admin(None).await.unwrap().unwrap();
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        let issued = engine
            .authenticate(&admin.access_id, &admin.access_key, client)
            .await
            .result
            .unwrap();
        let status = engine
            .validate_token(issued.token.expose(), client)
            .await
            .unwrap()
            .expect("the token just issued is valid");
        assert_eq!(status.caller.access_id, admin.access_id);
        assert!(status.caller.is_admin);
        assert_eq!(status.auth_method_name, "/admin");
        // The store keeps milliseconds.
        assert!(
            (status.expires_at - issued.expires_at)
                .num_milliseconds()
                .abs()
                < 1
        );

        assert!(engine
            .validate_token("t-not-a-token", client)
            .await
            .unwrap()
            .is_none());
    }
}
