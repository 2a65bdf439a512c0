//! What the engine counts for `/metrics`: issuances and revocations by mode
//! and outcome with their durations, failed authentications by reason, and
//! — read from the store at scrape time, cached for [`LEASE_GAUGE_TTL`] —
//! live leases by state and the reaper's lag.
//!
//! Recorded at the use cases' choke points: `issue.rs::get_value` (every
//! issuance), `leases.rs::revoke_guarded` (every revocation: reaper,
//! request, take-over), `auth.rs::authenticate`. Labels are closed sets
//! (modes, outcome names, states, reasons): no names, ids or addresses.

use crate::{Engine, EngineError};
use dynsec_core::{AccessMode, LeaseState};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a scrape's reading of the store serves later scrapes: several
/// Prometheus servers (or gateways behind one) cost one count query per
/// interval, not one each.
pub const LEASE_GAUGE_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeOutcome {
    /// `iam_user` or `assumed_role`.
    pub mode: &'static str,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabel {
    pub mode: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// What one step of the orphan sweep came to (the label of
/// `dynsec_orphan_sweep_total`): failures are retried by the next pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SweepOutcome {
    /// An expired user of ours no live lease claims was torn down.
    Removed,
    /// Its teardown failed; the user is left for the next pass.
    TeardownFailed,
    /// A connection's users could not be listed; it is skipped this pass.
    ListingFailed,
}

impl SweepOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Removed => "removed",
            Self::TeardownFailed => "teardown_failed",
            Self::ListingFailed => "listing_failed",
        }
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// 10 ms to ~80 s: issuance against AWS takes tens to hundreds of
/// milliseconds (plus the wait until a new key works), a revocation of a
/// user with many attachments seconds.
fn use_case_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

/// Why an authentication failed (the label of `dynsec_auth_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// Unknown access id or wrong access key (one answer for both).
    WrongKey,
    /// Not shaped like an access id at all.
    MalformedId,
    Expired,
    BoundIps,
    /// Refused unchecked: the address's flood limit was reached.
    Flood,
    /// A request's token was missing, unknown or expired.
    BadToken,
}

impl AuthFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::WrongKey => "wrong_key",
            Self::MalformedId => "malformed_id",
            Self::Expired => "expired_key",
            Self::BoundIps => "outside_bound_ips",
            Self::Flood => "address_flood",
            Self::BadToken => "bad_token",
        }
    }
}

/// The engine's metrics; cheap to share (every family is an `Arc` inside).
#[derive(Debug)]
pub struct EngineMetrics {
    issuances: Family<ModeOutcome, Counter>,
    issuance_seconds: HistogramFamily<ModeLabel>,
    revocations: Family<ModeOutcome, Counter>,
    revocation_seconds: HistogramFamily<ModeLabel>,
    auth_failures: Family<ReasonLabel, Counter>,
    auth_delays: Counter,
    orphan_sweep: Family<OutcomeLabel, Counter>,
    leases: Family<StateLabel, Gauge>,
    reaper_lag_seconds: Gauge<f64, AtomicU64>,
    /// When the store was last read for the lease gauges.
    gauges_read_at: Mutex<Option<Instant>>,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        Self {
            issuances: Family::default(),
            issuance_seconds: Family::new_with_constructor(use_case_buckets),
            revocations: Family::default(),
            revocation_seconds: Family::new_with_constructor(use_case_buckets),
            auth_failures: Family::default(),
            auth_delays: Counter::default(),
            orphan_sweep: Family::default(),
            leases: Family::default(),
            reaper_lag_seconds: Gauge::default(),
            gauges_read_at: Mutex::new(None),
        }
    }
}

impl EngineMetrics {
    /// Adds every engine metric to `registry` (names in README's Telemetry).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "dynsec_issuances",
            "Credentials issued (get-dynamic-secret-value) by access mode and outcome",
            self.issuances.clone(),
        );
        registry.register_with_unit(
            "dynsec_issuance_duration",
            "Duration of issuances, AWS calls and the wait until the key works included",
            Unit::Seconds,
            self.issuance_seconds.clone(),
        );
        registry.register(
            "dynsec_revocations",
            "Revocation attempts (expiry, request, retry) by access mode and outcome: revoked, failed (retried with backoff), or taken over by another gateway",
            self.revocations.clone(),
        );
        registry.register_with_unit(
            "dynsec_revocation_duration",
            "Duration of revocation attempts",
            Unit::Seconds,
            self.revocation_seconds.clone(),
        );
        registry.register(
            "dynsec_auth_failures",
            "Failed authentications (auth, and requests with a bad token) by reason",
            self.auth_failures.clone(),
        );
        registry.register(
            "dynsec_auth_delays",
            "auth answers delayed after earlier failures of the same access id from the same address",
            self.auth_delays.clone(),
        );
        registry.register(
            "dynsec_orphan_sweep",
            "Orphan-sweep steps by outcome: removed (an expired user no lease claims), teardown_failed, listing_failed (both retried by the next pass)",
            self.orphan_sweep.clone(),
        );
        registry.register(
            "dynsec_leases",
            "Live leases in the store by state (cluster-wide: every gateway on one database reports the same)",
            self.leases.clone(),
        );
        registry.register_with_unit(
            "dynsec_reaper_lag",
            "Age of the oldest lease due for revocation (0 when none is overdue); cluster-wide",
            Unit::Seconds,
            self.reaper_lag_seconds.clone(),
        );
    }

    pub(crate) fn issuance(&self, mode: AccessMode, outcome: &'static str, took: Duration) {
        let mode = mode.as_str();
        self.issuances
            .get_or_create(&ModeOutcome { mode, outcome })
            .inc();
        self.issuance_seconds
            .get_or_create(&ModeLabel { mode })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn revocation(&self, mode: AccessMode, outcome: &'static str, took: Duration) {
        let mode = mode.as_str();
        self.revocations
            .get_or_create(&ModeOutcome { mode, outcome })
            .inc();
        self.revocation_seconds
            .get_or_create(&ModeLabel { mode })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn auth_failure(&self, reason: AuthFailure) {
        self.auth_failures
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    pub(crate) fn auth_delayed(&self) {
        self.auth_delays.inc();
    }

    pub(crate) fn orphan_sweep(&self, outcome: SweepOutcome) {
        self.orphan_sweep
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// How many orphan-sweep steps came to `outcome` so far.
    #[cfg(test)]
    pub(crate) fn orphan_sweep_count(&self, outcome: SweepOutcome) -> u64 {
        self.orphan_sweep
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .get()
    }

    /// Claims the right to read the store for the gauges: true at most once
    /// per [`LEASE_GAUGE_TTL`], so concurrent scrapes read it once.
    fn gauges_due(&self) -> bool {
        let mut read_at = self
            .gauges_read_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if read_at.is_some_and(|at| now.duration_since(at) < LEASE_GAUGE_TTL) {
            return false;
        }
        *read_at = Some(now);
        true
    }
}

/// An outcome label for a use case's result: `ok` or the error's kind.
pub(crate) fn outcome_of<T>(result: &Result<T, EngineError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => match err {
            EngineError::Invalid(_) => "invalid",
            EngineError::NotFound(_) => "not_found",
            EngineError::Conflict(_) => "conflict",
            EngineError::Unauthenticated(_) | EngineError::Forbidden(_) => "denied",
            EngineError::Unavailable(_) => "unavailable",
            EngineError::RateLimited(_) => "rate_limited",
            EngineError::Aws(aws) => match aws.kind {
                dynsec_aws::AwsErrorKind::NotFound => "aws_not_found",
                dynsec_aws::AwsErrorKind::Retryable => "aws_unavailable",
                dynsec_aws::AwsErrorKind::Denied => "aws_denied",
                dynsec_aws::AwsErrorKind::Invalid => "aws_invalid",
            },
            EngineError::Internal(_) => "internal",
        },
    }
}

/// The outcome label of a revocation attempt, from the state it left.
pub(crate) fn revocation_outcome(state: LeaseState) -> &'static str {
    match state {
        LeaseState::Revoked => "revoked",
        LeaseState::Failed => "failed",
        // Another gateway took the lease over, or its issuance decides.
        LeaseState::Revoking | LeaseState::Active | LeaseState::Pending => "taken_over",
    }
}

impl Engine {
    /// The engine's metrics, for the face that serves them.
    pub fn metrics(&self) -> &EngineMetrics {
        &self.inner.metrics
    }

    /// Brings the store-derived gauges (live leases by state, the reaper's
    /// lag) up to date, reading the store at most once per
    /// [`LEASE_GAUGE_TTL`]. A store that cannot be read leaves them as they
    /// were (and says so in the log): a scrape never fails for it.
    pub async fn refresh_lease_gauges(&self) {
        let metrics = self.metrics();
        if !metrics.gauges_due() {
            return;
        }
        match self.store().live_lease_counts().await {
            Ok(counts) => {
                for state in [
                    LeaseState::Pending,
                    LeaseState::Active,
                    LeaseState::Revoking,
                    LeaseState::Failed,
                ] {
                    let count = counts
                        .iter()
                        .filter(|(s, _)| *s == state)
                        .map(|(_, n)| *n)
                        .sum::<u64>();
                    metrics
                        .leases
                        .get_or_create(&StateLabel {
                            state: state.as_str(),
                        })
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot count leases for /metrics"),
        }
        match self.store().next_due().await {
            Ok(next) => {
                let lag = next
                    .map(|due| (self.now() - due).num_milliseconds().max(0))
                    .unwrap_or(0);
                metrics.reaper_lag_seconds.set(lag as f64 / 1000.0);
            }
            Err(err) => tracing::warn!(error = %err, "cannot read the reaper's lag for /metrics"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_a_closed_set() {
        assert_eq!(outcome_of::<()>(&Ok(())), "ok");
        assert_eq!(
            outcome_of::<()>(&Err(EngineError::Unavailable("x".into()))),
            "unavailable"
        );
        let aws = dynsec_aws::AwsError::new(
            dynsec_aws::AwsErrorKind::Denied,
            "IAM",
            "CreateUser",
            None,
            "no",
        );
        assert_eq!(outcome_of::<()>(&Err(EngineError::Aws(aws))), "aws_denied");
        assert_eq!(revocation_outcome(LeaseState::Revoked), "revoked");
        assert_eq!(revocation_outcome(LeaseState::Failed), "failed");
    }

    #[test]
    fn gauges_are_read_once_per_interval() {
        let metrics = EngineMetrics::default();
        assert!(metrics.gauges_due());
        assert!(
            !metrics.gauges_due(),
            "a second scrape uses the first's reading"
        );
    }
}
