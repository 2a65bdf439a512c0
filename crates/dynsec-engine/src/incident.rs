//! Incident response across dynamic secrets: `list-leases` and
//! `revoke-leases` for every live lease under a path.
//!
//! A path covers the dynamic secret of that name and everything in the
//! folder below it (`/prod` covers `/prod` and `/prod/aws/x`, never
//! `/production`); `/` covers all. Authorization is per secret, with the
//! capabilities of the one-secret operations: a lease is listed when the
//! caller may `read` its secret (as `gateway-get-producer-tmp-creds`) and
//! revoked when it may `update` it (as `gateway-revoke-producer-tmp-creds`).
//! Leases of secrets the caller may not read are neither listed nor
//! mentioned, so the answer reveals nothing about them.

use crate::authz::{authorize, Requested, UseCase};
use crate::{Caller, Engine, EngineError};
use dynsec_core::access::{Capability, RuleType};
use dynsec_core::{ItemPath, Lease};
use dynsec_store::paging::listing::LeasesUnderPrefix;
use dynsec_store::{LeaseScope, PageToken};
use futures::StreamExt;

/// Store pages read at most per `list-leases` call while filling a page
/// of visible leases; the answer's token continues from there.
const MAX_STORE_PAGES_PER_CALL: usize = 10;
/// Store page size while `revoke-leases` walks a path.
const REVOKE_WALK_PAGE: u32 = 200;
/// Revocations run at once by one `revoke-leases` call.
const REVOKE_CONCURRENCY: usize = 8;

/// One page of live leases under a path.
#[derive(Debug)]
pub struct LeasePage {
    pub leases: Vec<Lease>,
    /// Continues the listing (`pagination-token`); `None` when it is complete.
    pub next: Option<String>,
}

/// What `revoke-leases` did with each lease it could see.
#[derive(Debug, Default)]
pub struct RevokeReport {
    pub revoked: Vec<Lease>,
    /// Leases left live, each with the reason.
    pub not_revoked: Vec<(Lease, String)>,
}

/// The store prefix for `path` and whether a secret's name falls under it.
struct Scope {
    prefix: String,
    exact: String,
}

impl Scope {
    /// `None`: every dynamic secret (the path `/`).
    fn of(path: Option<&ItemPath>) -> Self {
        let exact = path.map(|p| p.as_str().to_owned()).unwrap_or_default();
        Self {
            prefix: exact.clone(),
            exact,
        }
    }

    fn covers(&self, secret_name: &str) -> bool {
        self.exact.is_empty()
            || secret_name == self.exact
            || secret_name
                .strip_prefix(&self.exact)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl Engine {
    /// Live leases under `path` (`None`: everywhere) whose secret the caller may read, one page
    /// of at most `limit` (fewer when the caller may not see every lease in
    /// the stretch read; follow `next` until it is `None`).
    pub async fn list_leases_under(
        &self,
        caller: &Caller,
        path: Option<&ItemPath>,
        page_token: Option<&str>,
        limit: u32,
    ) -> Result<LeasePage, EngineError> {
        authorize(caller, UseCase::ListLeasesUnder, &Requested::nothing())?;
        let scope = Scope::of(path);
        let mut after = match page_token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(raw) => Some(PageToken::<LeasesUnderPrefix>::parse(
                "pagination-token",
                raw,
            )?),
            None => None,
        };
        let limit = limit.clamp(1, dynsec_store::MAX_PAGE_SIZE);
        let mut leases = Vec::new();
        for _ in 0..MAX_STORE_PAGES_PER_CALL {
            let want = limit.saturating_sub(u32::try_from(leases.len()).unwrap_or(limit));
            if want == 0 {
                break;
            }
            let page = self
                .store()
                .leases_under_prefix(&scope.prefix, LeaseScope::Live, after.as_ref(), want)
                .await?;
            leases.extend(page.items.into_iter().filter(|lease| {
                scope.covers(&lease.producer_name)
                    && caller.can(RuleType::Item, &lease.producer_name, Capability::Read)
            }));
            after = page.next;
            if after.is_none() {
                break;
            }
        }
        Ok(LeasePage {
            leases,
            next: after.map(|t| t.encode()),
        })
    }

    /// Revokes every live lease under `path` whose secret the caller may
    /// update, like `gateway-revoke-producer-tmp-creds` would one by one
    /// (so whatever that refuses — an assumed_role session AWS cannot end
    /// early, an issuance still running — is reported with its reason).
    /// Leases of secrets the caller may read but not update are reported
    /// as not permitted.
    pub async fn revoke_leases_under(
        &self,
        caller: &Caller,
        path: Option<&ItemPath>,
    ) -> Result<RevokeReport, EngineError> {
        authorize(caller, UseCase::RevokeLeasesUnder, &Requested::nothing())?;
        let scope = Scope::of(path);
        let mut report = RevokeReport::default();
        let mut after: Option<PageToken<LeasesUnderPrefix>> = None;
        loop {
            // Revoked leases leave the live listing behind the cursor, so
            // the walk never sees a lease twice.
            let page = self
                .store()
                .leases_under_prefix(
                    &scope.prefix,
                    LeaseScope::Live,
                    after.as_ref(),
                    REVOKE_WALK_PAGE,
                )
                .await?;
            let mut revocable = Vec::new();
            for lease in page.items {
                let secret = lease.producer_name.clone();
                if !scope.covers(&secret) || !caller.can(RuleType::Item, &secret, Capability::Read)
                {
                    continue;
                }
                if caller.can(RuleType::Item, &secret, Capability::Update) {
                    revocable.push(lease);
                } else {
                    report.not_revoked.push((
                        lease,
                        format!("not permitted: revoking needs 'update' on {secret}"),
                    ));
                }
            }
            let outcomes: Vec<(Lease, Result<Lease, EngineError>)> =
                futures::stream::iter(revocable)
                    .map(|lease| async move {
                        let outcome = match ItemPath::parse("path", &lease.producer_name) {
                            Ok(name) => self.revoke_lease(caller, &name, &lease.id).await,
                            Err(err) => Err(err.into()),
                        };
                        (lease, outcome)
                    })
                    .buffered(REVOKE_CONCURRENCY)
                    .collect()
                    .await;
            for (lease, outcome) in outcomes {
                match outcome {
                    // An early-revoked session comes back with its note
                    // ("deny written; ...") in its state.
                    Ok(revoked) => report.revoked.push(revoked),
                    Err(err) => report.not_revoked.push((lease, reason_of(&err))),
                }
            }
            after = page.next;
            if after.is_none() {
                return Ok(report);
            }
        }
    }
}

/// The caller-facing reason a revocation did not happen (the validation
/// error's reason without its field, which names another operation's field).
fn reason_of(err: &EngineError) -> String {
    match err {
        EngineError::Invalid(v) => v.reason.clone(),
        EngineError::Internal(detail) => {
            tracing::warn!(error = %detail, "revoke-leases: a revocation failed internally");
            "internal error (the gateway's log has the details)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(path: &str) -> Scope {
        Scope::of(Some(&ItemPath::parse("path", path).unwrap()))
    }

    #[test]
    fn a_path_covers_its_secret_and_folder_only() {
        let prod = scope("/prod");
        assert!(prod.covers("/prod"));
        assert!(prod.covers("/prod/aws/x"));
        assert!(!prod.covers("/production"));
        assert!(!prod.covers("/dev/prod"));
        let all = Scope::of(None);
        assert!(all.covers("/anything"));
    }
}
