//! The admin-key state of an AWS connection (a target's, or a dynamic
//! secret's inline one): scheduled rotation (`enable-admin-rotation`,
//! `admin-rotation-interval-days`), the last rotation, a rotation in
//! progress, and whether the connection is the gateway host's own identity
//! (`use-gw-cloud-identity`). Stored as JSON beside the connection; never
//! holds a secret (a rotation's new secret is sealed with the connection's).
//! Times are unix seconds.

use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Longest rotation interval accepted, in days (ten years).
pub const MAX_ROTATION_INTERVAL_DAYS: u32 = 3650;
/// First wait before a failed scheduled rotation is tried again; doubled
/// per failure up to [`MAX_ROTATION_RETRY_SECS`].
pub const FIRST_ROTATION_RETRY_SECS: i64 = 300;
pub const MAX_ROTATION_RETRY_SECS: i64 = 6 * 3600;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminKeyState {
    /// `enable-admin-rotation`: the housekeeper rotates the key every
    /// `rotation_interval_days`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rotation_enabled: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotation_interval_days: u32,
    /// When scheduled rotation was turned on: a key never rotated is first
    /// due an interval after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_enabled_at: Option<i64>,
    /// When the key was last rotated (`last_admin_rotation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotation: Option<i64>,
    /// A rotation that has begun and not yet finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationInProgress>,
    /// The last rotation attempt's failure, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<RotationFailure>,
    /// `use-gw-cloud-identity`: no key stored; the gateway host's default
    /// credential chain is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_identity: Option<HostIdentitySettings>,
}

/// How far a rotation got. Each phase is written before the step it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationPhase {
    /// About to call CreateAccessKey: a key created after `started_at` that
    /// the connection does not store may be this rotation's.
    Started,
    /// The new key exists and is sealed beside the current one (not yet in
    /// use); `new_access_key_id` names it.
    Created,
    /// The new key is the connection's key; the old one is still to delete.
    Swapped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationInProgress {
    pub phase: RotationPhase,
    pub old_access_key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_access_key_id: Option<String>,
    pub started_at: i64,
    /// The gateway instance running it (`<node>.<epoch>`): when that
    /// instance is gone, the rotation is finished or rolled back by another.
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationFailure {
    pub at: i64,
    /// Safe to show: an AWS error class and message, never key material.
    pub error: String,
    pub attempts: u32,
}

/// The gateway host's identity, optionally assuming a role (Akeyless's
/// `role-arn`, with the external id `generate-external-id` made).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentitySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl AdminKeyState {
    /// Sets the schedule as a create/update request gives it; turning it on
    /// starts the first interval now (`now`, unix seconds), keeping it on
    /// keeps the interval running from the last rotation.
    pub fn set_schedule(
        &mut self,
        enabled: bool,
        interval_days: u32,
        now: i64,
    ) -> Result<(), ValidationError> {
        if enabled && interval_days == 0 {
            return Err(ValidationError::new(
                "admin-rotation-interval-days",
                "must be at least 1 when enable-admin-rotation is on",
            ));
        }
        if interval_days > MAX_ROTATION_INTERVAL_DAYS {
            return Err(ValidationError::new(
                "admin-rotation-interval-days",
                format!("must be at most {MAX_ROTATION_INTERVAL_DAYS}"),
            ));
        }
        if enabled && !self.rotation_enabled {
            self.rotation_enabled_at = Some(now);
        }
        if !enabled {
            self.rotation_enabled_at = None;
        }
        self.rotation_enabled = enabled;
        self.rotation_interval_days = interval_days;
        Ok(())
    }

    /// When the scheduled rotation is next due (unix seconds): an interval
    /// after the last rotation (or after rotation was turned on), later
    /// while failed attempts back off. `None` when not scheduled.
    pub fn next_rotation_due(&self) -> Option<i64> {
        if !self.rotation_enabled || self.rotation_interval_days == 0 {
            return None;
        }
        let base = self.last_rotation.or(self.rotation_enabled_at)?;
        let due = base.saturating_add(i64::from(self.rotation_interval_days) * 86_400);
        Some(match &self.last_failure {
            Some(failure) => due.max(failure.at.saturating_add(retry_after(failure.attempts))),
            None => due,
        })
    }
}

/// Seconds to wait after the `attempts`-th failed rotation.
pub fn retry_after(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST_ROTATION_RETRY_SECS << doublings).min(MAX_ROTATION_RETRY_SECS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_schedule_is_due_an_interval_after_the_last_rotation() {
        let mut state = AdminKeyState::default();
        assert_eq!(state.next_rotation_due(), None, "not scheduled");
        state.set_schedule(true, 2, 1_000).unwrap();
        assert_eq!(state.next_rotation_due(), Some(1_000 + 2 * 86_400));
        state.last_rotation = Some(5_000);
        assert_eq!(state.next_rotation_due(), Some(5_000 + 2 * 86_400));
        state.set_schedule(true, 2, 9_000).unwrap();
        assert_eq!(
            state.rotation_enabled_at,
            Some(1_000),
            "kept on: not restarted"
        );
        state.set_schedule(false, 2, 9_000).unwrap();
        assert_eq!(state.next_rotation_due(), None);
    }

    #[test]
    fn failures_back_off_without_moving_the_schedule() {
        let mut state = AdminKeyState::default();
        state.set_schedule(true, 1, 0).unwrap();
        state.last_failure = Some(RotationFailure {
            at: 86_400,
            error: "denied".into(),
            attempts: 3,
        });
        assert_eq!(state.next_rotation_due(), Some(86_400 + 1_200));
        assert_eq!(retry_after(1), 300);
        assert_eq!(retry_after(40), MAX_ROTATION_RETRY_SECS);
    }

    #[test]
    fn bad_intervals_name_the_field() {
        let mut state = AdminKeyState::default();
        let err = state.set_schedule(true, 0, 0).unwrap_err();
        assert_eq!(err.field, "admin-rotation-interval-days");
        assert!(state
            .set_schedule(true, MAX_ROTATION_INTERVAL_DAYS + 1, 0)
            .is_err());
        assert!(
            !state.rotation_enabled,
            "a refused schedule changes nothing"
        );
    }

    #[test]
    fn the_stored_json_round_trips_and_empty_means_none() {
        let parse = |text: &str| serde_json::from_str::<AdminKeyState>(text).unwrap();
        assert_eq!(parse("{}"), AdminKeyState::default());
        let state = AdminKeyState {
            rotation: Some(RotationInProgress {
                phase: RotationPhase::Created,
                old_access_key_id: "AKIAOLD".into(),
                new_access_key_id: Some("AKIANEW".into()),
                started_at: 7,
                by: "node.1".into(),
            }),
            ..AdminKeyState::default()
        };
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(parse(&text), state);
    }
}
