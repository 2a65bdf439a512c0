//! The `dynsec-revoked-sessions` inline policy of a role: how dynsec ends
//! assumed-role sessions before they expire, as AWS documents for "revoking
//! IAM role temporary security credentials" — a `Deny *` on the role whose
//! condition matches the revoked sessions by `aws:userid`
//! (`<role id>:<session name>`) and bounds it with `aws:TokenIssueTime`, so a
//! later session of the same name is not caught.
//!
//! Pure: [`RevokedSessions`] parses the current document, records
//! revocations, prunes what has expired and renders the document within the
//! role's inline-policy budget; [`crate::AwsAdmin::revoke_role_sessions`]
//! does the read-modify-write against IAM.
//!
//! Document shape (written compact; spread out here):
//!
//! ```json
//! {"Version":"2012-10-17","Statement":[
//!   {"Sid":"DynsecRevokedUntil1763913600","Effect":"Deny","Action":"*","Resource":"*",
//!    "Condition":{"StringLike":{"aws:userid":["*:dynsec-a1","*:dynsec-b2"]},
//!                 "DateLessThan":{"aws:TokenIssueTime":"2025-11-23T15:04:06Z"}}},
//!   {"Sid":"DynsecAllUntil1763956800","Effect":"Deny","Action":"*","Resource":"*",
//!    "Condition":{"StringLike":{"aws:userid":"*:dynsec-*"},
//!                 "DateLessThan":{"aws:TokenIssueTime":"2025-11-23T15:10:00Z"}}}]}
//! ```
//!
//! - One `DynsecRevokedUntil<t>` statement per hour in which revoked
//!   sessions expire: every session listed in it has expired by unix time
//!   `t`, so the statement is pruned then. Its bound is one second after the
//!   latest revocation in it (`TokenIssueTime` has second precision and
//!   `DateLessThan` is strict; session names are unique, so a later bound
//!   catches nothing new).
//! - When the document would not fit the budget, every dynsec session of the
//!   role issued before now is denied instead: one `DynsecAllUntil<t>`
//!   statement replaces the list (it covers every listed session, all issued
//!   before their revocation) and stays until the longest possible session
//!   begun before it has expired. A session issued in the same second as
//!   the fallback is caught too.
//! - Statements dynsec did not write are kept as they are (and count).

use crate::error::{AwsError, AwsErrorKind};
use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The inline policy's name on each role.
pub const REVOKED_SESSIONS_POLICY: &str = "dynsec-revoked-sessions";

/// AWS's limit for all inline policies of one role together, in
/// characters, whitespace not counted.
pub const ROLE_INLINE_POLICY_BUDGET: usize = 10_240;

/// The longest an AssumeRole session can last (a role's maximum session
/// duration is at most 12 h): how long a fallback statement must stay.
pub const MAX_SESSION_SECS: u64 = 43_200;

/// Width of the expiry buckets: statements are pruned on the hour.
const BUCKET_SECS: u64 = 3_600;

const LIST_SID: &str = "DynsecRevokedUntil";
const ALL_SID: &str = "DynsecAllUntil";
const OP: &str = "PutRolePolicy";

/// The revoked sessions of one role, as held in its inline policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSessions {
    /// What every dynsec session name starts with (`dynsec-`), for the
    /// fallback's `*:<prefix>*`.
    session_prefix: String,
    /// Bucket end (unix seconds) → the sessions expiring before it.
    buckets: BTreeMap<u64, Bucket>,
    fallback: Option<Fallback>,
    foreign: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bucket {
    sessions: BTreeSet<String>,
    /// `DateLessThan aws:TokenIssueTime`, unix seconds.
    issued_before: u64,
}

/// "Every dynsec session of this role issued before `issued_before`",
/// kept until `until` (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback {
    pub issued_before: u64,
    pub until: u64,
}

/// What [`RevokedSessions::render`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderedPolicy {
    /// Nothing left to deny: delete the policy.
    Empty,
    Document {
        json: String,
        /// Its size as AWS counts it ([`policy_size`]).
        size: usize,
        /// The listed sessions did not fit, so every dynsec session of the
        /// role issued before now is denied instead.
        fell_back: bool,
    },
}

impl RevokedSessions {
    /// No revoked sessions yet. `session_prefix` (what every dynsec session
    /// name starts with) must be made of session-name characters.
    pub fn new(session_prefix: &str) -> Result<Self, AwsError> {
        if session_prefix.is_empty() || !session_prefix.chars().all(is_session_name_char) {
            return Err(invalid(format!(
                "'{session_prefix}' cannot start role session names"
            )));
        }
        Ok(Self {
            session_prefix: session_prefix.to_owned(),
            buckets: BTreeMap::new(),
            fallback: None,
            foreign: Vec::new(),
        })
    }

    /// Reads the role's current document (as IAM returns it, decoded);
    /// `None` when the role has no such policy.
    pub fn parse(document: Option<&str>, session_prefix: &str) -> Result<Self, AwsError> {
        let mut parsed = Self::new(session_prefix)?;
        let Some(document) = document else {
            return Ok(parsed);
        };
        let doc: Value = serde_json::from_str(document)
            .map_err(|e| invalid(format!("the existing policy is not JSON: {e}")))?;
        let statements = match doc.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            None => Vec::new(),
            Some(_) => return Err(invalid("the existing policy's Statement is not a list")),
        };
        for statement in statements {
            let sid = statement.get("Sid").and_then(Value::as_str).unwrap_or("");
            if let Some(end) = sid.strip_prefix(LIST_SID).and_then(|t| t.parse().ok()) {
                let (sessions, issued_before) = read_condition(&statement)?;
                let sessions = sessions
                    .into_iter()
                    .map(|pattern| {
                        pattern
                            .strip_prefix("*:")
                            .map(str::to_owned)
                            .ok_or_else(|| {
                                invalid(format!("unexpected aws:userid pattern '{pattern}'"))
                            })
                    })
                    .collect::<Result<_, _>>()?;
                parsed.buckets.insert(
                    end,
                    Bucket {
                        sessions,
                        issued_before,
                    },
                );
            } else if let Some(until) = sid.strip_prefix(ALL_SID).and_then(|t| t.parse().ok()) {
                let (_, issued_before) = read_condition(&statement)?;
                parsed.fallback = Some(Fallback {
                    issued_before,
                    until,
                });
            } else {
                parsed.foreign.push(statement);
            }
        }
        Ok(parsed)
    }

    /// Denies session `session_name` (expiring at `expires_at`), revoked at
    /// `now` (unix seconds). A name that could not be matched exactly is
    /// refused.
    pub fn revoke(
        &mut self,
        session_name: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<(), AwsError> {
        if !is_session_name(session_name) {
            return Err(invalid(format!(
                "'{session_name}' is not a role session name (2-64 of letters, digits and +=,.@_-)"
            )));
        }
        let end = expires_at.div_ceil(BUCKET_SECS).saturating_mul(BUCKET_SECS);
        let bucket = self.buckets.entry(end).or_insert_with(|| Bucket {
            sessions: BTreeSet::new(),
            issued_before: 0,
        });
        bucket.sessions.insert(session_name.to_owned());
        bucket.issued_before = bucket.issued_before.max(now + 1);
        Ok(())
    }

    /// Denies every dynsec session of the role issued before `now` (for as
    /// long as any of them can live), replacing the list it covers.
    pub fn deny_all_issued_before(&mut self, now: u64) {
        let until = (now + 1).saturating_add(MAX_SESSION_SECS);
        self.fallback = Some(Fallback {
            issued_before: now + 1,
            until: self.fallback.map_or(until, |f| f.until.max(until)),
        });
        self.buckets.clear();
    }

    /// Drops what can no longer match a live session at `now`; returns how
    /// many sessions were dropped from the list.
    pub fn prune(&mut self, now: u64) -> usize {
        let live = self.buckets.split_off(&(now + 1));
        let dropped = std::mem::replace(&mut self.buckets, live)
            .values()
            .map(|b| b.sessions.len())
            .sum();
        if self.fallback.is_some_and(|f| f.until <= now) {
            self.fallback = None;
        }
        dropped
    }

    /// The sessions listed by name, in name order.
    pub fn sessions(&self) -> impl Iterator<Item = &str> {
        self.buckets
            .values()
            .flat_map(|b| b.sessions.iter().map(String::as_str))
    }

    pub fn fallback(&self) -> Option<Fallback> {
        self.fallback
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.fallback.is_none() && self.foreign.is_empty()
    }

    /// The document, compact; `budget` is what the role's other inline
    /// policies leave of [`ROLE_INLINE_POLICY_BUDGET`]. When the list does not
    /// fit, falls back to denying every dynsec session issued before `now`
    /// (and stays so). Fails only when even that does not fit.
    pub fn render(&mut self, budget: usize, now: u64) -> Result<RenderedPolicy, AwsError> {
        if self.is_empty() {
            return Ok(RenderedPolicy::Empty);
        }
        let json = self.to_json();
        let size = policy_size(&json);
        if size <= budget {
            return Ok(RenderedPolicy::Document {
                json,
                size,
                fell_back: false,
            });
        }
        self.deny_all_issued_before(now);
        let json = self.to_json();
        let size = policy_size(&json);
        if size <= budget {
            return Ok(RenderedPolicy::Document {
                json,
                size,
                fell_back: true,
            });
        }
        Err(invalid(format!(
            "even denying every dynsec session takes {size} characters, but the role's other \
             inline policies leave only {budget} of its {ROLE_INLINE_POLICY_BUDGET}"
        )))
    }

    /// Written by hand rather than through `serde_json::Value`, whose key
    /// order depends on a cargo feature: the document (and its size) must be
    /// the same whatever else is built. Every value in our statements is a
    /// session name, a date or a number, none of which needs escaping.
    fn to_json(&self) -> String {
        let mut statements: Vec<String> = self.foreign.iter().map(Value::to_string).collect();
        for (end, bucket) in &self.buckets {
            let patterns: Vec<String> = bucket
                .sessions
                .iter()
                .map(|s| format!("\"*:{s}\""))
                .collect();
            statements.push(deny_statement(
                &format!("{LIST_SID}{end}"),
                &format!("[{}]", patterns.join(",")),
                bucket.issued_before,
            ));
        }
        if let Some(fallback) = self.fallback {
            statements.push(deny_statement(
                &format!("{ALL_SID}{}", fallback.until),
                &format!("\"*:{}*\"", self.session_prefix),
                fallback.issued_before,
            ));
        }
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            statements.join(",")
        )
    }
}

/// A policy's size as IAM counts it against its limits: characters,
/// whitespace not counted.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// `userid` is the JSON of the `aws:userid` value (a string or a list).
fn deny_statement(sid: &str, userid: &str, issued_before: u64) -> String {
    format!(
        r#"{{"Sid":"{sid}","Effect":"Deny","Action":"*","Resource":"*","Condition":{{"StringLike":{{"aws:userid":{userid}}},"DateLessThan":{{"aws:TokenIssueTime":"{}"}}}}}}"#,
        iso8601(issued_before)
    )
}

/// The `aws:userid` patterns and the `aws:TokenIssueTime` bound of one of
/// our statements.
fn read_condition(statement: &Value) -> Result<(Vec<String>, u64), AwsError> {
    let condition = statement
        .get("Condition")
        .ok_or_else(|| invalid("a dynsec statement lost its Condition"))?;
    let patterns = match condition.pointer("/StringLike/aws:userid") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("a dynsec statement's aws:userid list holds a non-string"))?,
        _ => return Err(invalid("a dynsec statement lost its aws:userid condition")),
    };
    let issued_before = condition
        .pointer("/DateLessThan/aws:TokenIssueTime")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::from_str(t, Format::DateTime).ok())
        .and_then(|t| u64::try_from(t.secs()).ok())
        .ok_or_else(|| invalid("a dynsec statement lost its aws:TokenIssueTime bound"))?;
    Ok((patterns, issued_before))
}

fn iso8601(unix_secs: u64) -> String {
    let secs = i64::try_from(unix_secs).unwrap_or(i64::MAX);
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "9999-12-31T23:59:59Z".to_owned())
}

/// AWS's RoleSessionName: 2–64 characters of `[\w+=,.@-]`. None of them is
/// a `StringLike` wildcard, so a listed name matches only itself.
fn is_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(is_session_name_char)
}

fn is_session_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(AwsErrorKind::Invalid, crate::admin::IAM, OP, None, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_763_910_000; // 2025-11-23T15:00:00Z
    const HOUR: u64 = 3_600;

    fn doc(policy: &mut RevokedSessions) -> (String, usize, bool) {
        match policy.render(ROLE_INLINE_POLICY_BUDGET, NOW).unwrap() {
            RenderedPolicy::Document {
                json,
                size,
                fell_back,
            } => (json, size, fell_back),
            RenderedPolicy::Empty => panic!("empty"),
        }
    }

    #[test]
    fn one_revocation_denies_that_session_issued_before_the_revocation() {
        let mut p = RevokedSessions::new("dynsec-").unwrap();
        p.revoke("dynsec-lease1", NOW + 900, NOW).unwrap();
        let (json, size, fell_back) = doc(&mut p);
        assert_eq!(
            json,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"DynsecRevokedUntil1763913600","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":["*:dynsec-lease1"]},"DateLessThan":{"aws:TokenIssueTime":"2025-11-23T15:00:01Z"}}}]}"#
        );
        assert_eq!(size, json.len());
        assert!(!fell_back);
        // It reads back as what was written.
        assert_eq!(RevokedSessions::parse(Some(&json), "dynsec-").unwrap(), p);
    }

    #[test]
    fn nothing_to_deny_renders_empty_and_a_missing_policy_parses_empty() {
        let mut p = RevokedSessions::parse(None, "dynsec-").unwrap();
        assert!(p.is_empty());
        assert_eq!(p.render(10, NOW).unwrap(), RenderedPolicy::Empty);
    }

    #[test]
    fn sessions_are_bucketed_by_expiry_hour_and_pruned_when_it_has_passed() {
        let mut p = RevokedSessions::new("dynsec-").unwrap();
        p.revoke("dynsec-a", NOW + 600, NOW).unwrap();
        p.revoke("dynsec-b", NOW + 3_000, NOW + 10).unwrap(); // same hour as a
        p.revoke("dynsec-c", NOW + 5 * HOUR, NOW + 20).unwrap();
        let (json, _, _) = doc(&mut p);
        assert_eq!(json.matches("\"Sid\"").count(), 2, "{json}");
        // The bound of a bucket follows its latest revocation.
        assert!(
            json.contains(r#"{"StringLike":{"aws:userid":["*:dynsec-a","*:dynsec-b"]},"DateLessThan":{"aws:TokenIssueTime":"2025-11-23T15:00:11Z"}}"#),
            "{json}"
        );

        assert_eq!(p.prune(NOW + 3_599), 0, "the hour has not passed yet");
        assert_eq!(p.prune(NOW + HOUR), 2);
        assert_eq!(p.sessions().collect::<Vec<_>>(), ["dynsec-c"]);
        assert_eq!(p.prune(NOW + 5 * HOUR), 1);
        assert!(p.is_empty());
        assert_eq!(
            p.render(ROLE_INLINE_POLICY_BUDGET, NOW).unwrap(),
            RenderedPolicy::Empty
        );
    }

    #[test]
    fn size_does_not_count_whitespace() {
        let compact = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let pretty = "{\n  \"Version\": \"2012-10-17\",\n\t\"Statement\": [ ]\r\n}\n";
        assert_eq!(policy_size(compact), compact.len());
        assert_eq!(policy_size(pretty), policy_size(compact));
        // Characters, not bytes.
        assert_eq!(policy_size("\"é\""), 3);
    }

    #[test]
    fn the_list_is_kept_up_to_exactly_the_budget_then_falls_back() {
        let mut p = RevokedSessions::new("dynsec-").unwrap();
        for i in 0..10 {
            p.revoke(&format!("dynsec-{i:016}"), NOW + 900, NOW)
                .unwrap();
        }
        let json = p.to_json();
        let exact = policy_size(&json);
        // Exactly the budget fits.
        let mut at = p.clone();
        assert_eq!(
            at.render(exact, NOW).unwrap(),
            RenderedPolicy::Document {
                json: json.clone(),
                size: exact,
                fell_back: false
            }
        );
        // One character less does not: every dynsec session of the role
        // issued before now is denied instead.
        let mut below = p.clone();
        let RenderedPolicy::Document {
            json: fallback,
            size,
            fell_back,
        } = below.render(exact - 1, NOW).unwrap()
        else {
            panic!("empty")
        };
        assert!(fell_back);
        assert!(size < exact);
        assert_eq!(
            fallback,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"DynsecAllUntil1763953201","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"*:dynsec-*"},"DateLessThan":{"aws:TokenIssueTime":"2025-11-23T15:00:01Z"}}}]}"#
        );
        assert_eq!(
            below.sessions().count(),
            0,
            "the list is covered by the fallback"
        );
        assert_eq!(
            below.fallback(),
            Some(Fallback {
                issued_before: NOW + 1,
                until: NOW + 1 + MAX_SESSION_SECS
            })
        );
        assert_eq!(
            RevokedSessions::parse(Some(&fallback), "dynsec-").unwrap(),
            below
        );
    }

    #[test]
    fn the_real_budget_holds_hundreds_of_sessions_and_falls_back_at_the_first_that_does_not_fit() {
        let mut p = RevokedSessions::new("dynsec-").unwrap();
        let mut fitted = 0;
        loop {
            let mut next = p.clone();
            next.revoke(&format!("dynsec-{fitted:016}"), NOW + 900, NOW)
                .unwrap();
            if policy_size(&next.to_json()) > ROLE_INLINE_POLICY_BUDGET {
                break;
            }
            p = next;
            fitted += 1;
        }
        // 28 characters per session ("*:dynsec-<16 digits>", quotes, comma).
        assert!((350..=370).contains(&fitted), "{fitted} sessions fit");
        let (_, size, fell_back) = doc(&mut p);
        assert!(!fell_back && size <= ROLE_INLINE_POLICY_BUDGET);
        p.revoke("dynsec-one-too-many", NOW + 900, NOW).unwrap();
        let (_, size, fell_back) = doc(&mut p);
        assert!(fell_back && size < 300, "{size}");
    }

    #[test]
    fn after_a_fallback_later_revocations_are_listed_beside_it_and_it_expires() {
        let mut p = RevokedSessions::new("dynsec-").unwrap();
        p.deny_all_issued_before(NOW);
        p.revoke("dynsec-later", NOW + HOUR + 10, NOW + 60).unwrap();
        let (json, _, _) = doc(&mut p);
        assert!(
            json.contains("DynsecAllUntil") && json.contains("*:dynsec-later"),
            "{json}"
        );
        let reread = RevokedSessions::parse(Some(&json), "dynsec-").unwrap();
        assert_eq!(reread, p);
        // A second fallback moves the bound and never shortens the stay.
        p.deny_all_issued_before(NOW + 120);
        assert_eq!(
            p.fallback(),
            Some(Fallback {
                issued_before: NOW + 121,
                until: NOW + 121 + MAX_SESSION_SECS
            })
        );
        p.prune(NOW + 121 + MAX_SESSION_SECS);
        assert!(p.is_empty());
    }

    #[test]
    fn statements_written_by_others_are_kept_and_counted() {
        let theirs = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let mut p = RevokedSessions::parse(Some(theirs), "dynsec-").unwrap();
        assert!(!p.is_empty());
        p.revoke("dynsec-a", NOW + 60, NOW).unwrap();
        let (json, _, _) = doc(&mut p);
        assert!(
            json.contains(r#""Sid":"Theirs""#) && json.contains("*:dynsec-a"),
            "{json}"
        );
        p.prune(NOW + HOUR);
        let RenderedPolicy::Document { json, .. } =
            p.render(ROLE_INLINE_POLICY_BUDGET, NOW).unwrap()
        else {
            panic!("their statement keeps the policy alive")
        };
        assert!(json.contains("Theirs") && !json.contains("dynsec-a"));
        // Too little room even for the fallback: a clear refusal.
        let err = p.render(50, NOW).unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::Invalid);
        assert!(err.message.contains("leave only 50"), "{}", err.message);
    }

    #[test]
    fn names_that_are_not_session_names_are_refused() {
        let mut p = RevokedSessions::new("dynsec-").unwrap();
        for bad in ["x", "dynsec-*", "dynsec-?", "a b", &"d".repeat(65)] {
            let err = p.revoke(bad, NOW, NOW).unwrap_err();
            assert!(err.message.contains("not a role session name"), "{bad}");
        }
        p.revoke("dynsec-A1_b+=,.@-", NOW, NOW).unwrap();
    }

    #[test]
    fn a_prefix_that_could_match_more_is_refused() {
        for bad in ["", "dynsec*", "a b"] {
            assert!(RevokedSessions::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn broken_documents_are_reported() {
        for (doc, says) in [
            ("not json", "not JSON"),
            (r#"{"Statement":"x"}"#, "not a list"),
            (
                r#"{"Statement":[{"Sid":"DynsecRevokedUntil1","Effect":"Deny"}]}"#,
                "lost its Condition",
            ),
            (
                r#"{"Statement":[{"Sid":"DynsecRevokedUntil1","Condition":{"StringLike":{"aws:userid":["x"]},"DateLessThan":{"aws:TokenIssueTime":"2025-11-23T15:00:01Z"}}}]}"#,
                "unexpected aws:userid pattern",
            ),
            (
                r#"{"Statement":[{"Sid":"DynsecAllUntil1","Condition":{"StringLike":{"aws:userid":"*:dynsec-*"},"DateLessThan":{"aws:TokenIssueTime":"yesterday"}}}]}"#,
                "TokenIssueTime",
            ),
        ] {
            let err = RevokedSessions::parse(Some(doc), "dynsec-").unwrap_err();
            assert!(err.message.contains(says), "{doc}: {}", err.message);
        }
        // A whole-statement object instead of a list is valid IAM grammar.
        let single = r#"{"Version":"2012-10-17","Statement":{"Sid":"Theirs","Effect":"Allow","Action":"*","Resource":"*"}}"#;
        assert!(!RevokedSessions::parse(Some(single), "dynsec-")
            .unwrap()
            .is_empty());
    }
}
