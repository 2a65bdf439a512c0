//! `custom-username-template`: how a dynamic secret names its temporary IAM
//! users.
//!
//! A template is literal text in IAM's user-name alphabet `[\w+=,.@-]` with
//! placeholders in double braces (spaces inside the braces are allowed):
//!
//! | placeholder | expands to | longest |
//! |---|---|---|
//! | `{{name}}` (Akeyless: `{{.DynamicSecretName}}`) | the dynamic secret's leaf name | its length |
//! | `{{lease_id}}` | the lease id | 16 |
//! | `{{random}}`, `{{random N}}` | N random lower-case letters and digits (8 by default, N 1–32) | N |
//! | `{{unix_time}}` | the issuance time, seconds since 1970 | 10 |
//! | `{{access_id}}` (Akeyless: `{{.UniqueIdentifier}}`) | the caller's access id | 34 |
//!
//! Names are unique per lease: when the template has no `{{lease_id}}`,
//! `.<lease id>` is appended. The template is checked when it is set, with
//! the worst case of every placeholder, so an issuance can never produce a
//! name IAM refuses (at most 64 characters). Expanded values are cleaned to
//! the alphabet (anything else becomes `-`), so no caller-controlled value
//! can inject a character IAM refuses.

use crate::spec::MAX_IAM_USER_NAME;
use crate::ValidationError;

/// The request field a template comes from.
pub const FIELD: &str = "custom-username-template";

/// Length of the lease id every name carries (see `dynsec_engine::issue`).
pub const LEASE_ID_LEN: usize = 16;
/// Longest access id (`p-` and up to 32 letters or digits, `crate::access::is_access_id`).
const MAX_ACCESS_ID_LEN: usize = 34;
/// Digits of a unix time until the year 2286.
const UNIX_TIME_LEN: usize = 10;
const DEFAULT_RANDOM_LEN: usize = 8;
const MAX_RANDOM_LEN: usize = 32;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Name,
    LeaseId,
    Random(usize),
    UnixTime,
    AccessId,
}

/// A parsed, syntactically valid template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameTemplate {
    parts: Vec<Part>,
}

/// What one issuance fills a template with.
pub struct UsernameValues<'a> {
    /// The dynamic secret's full name (`/prod/aws/dev`); its leaf is used.
    pub secret_name: &'a str,
    pub lease_id: &'a str,
    pub access_id: &'a str,
    pub unix_time: i64,
    /// Makes `n` random characters (the engine passes its CSPRNG).
    pub random: &'a mut dyn FnMut(usize) -> String,
}

/// Whether IAM accepts `c` in a user name.
fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// `raw` with every character IAM refuses in a user name replaced by `-`.
pub fn clean(raw: &str) -> String {
    raw.chars()
        .map(|c| if iam_name_char(c) { c } else { '-' })
        .collect()
}

/// The last segment of a dynamic secret's name.
fn leaf(secret_name: &str) -> &str {
    secret_name.rsplit('/').next().unwrap_or(secret_name)
}

impl UsernameTemplate {
    /// Parses `raw`, refusing unknown placeholders, unclosed braces and
    /// literal characters IAM does not allow (400 naming [`FIELD`]).
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let mut parts = Vec::new();
        let mut rest = raw;
        while !rest.is_empty() {
            match rest.find("{{") {
                Some(0) => {
                    let end = rest.find("}}").ok_or_else(|| {
                        ValidationError::new(FIELD, "a '{{' is not closed by '}}'")
                    })?;
                    parts.push(placeholder(rest[2..end].trim())?);
                    rest = &rest[end + 2..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = &rest[..end];
                    if let Some(bad) = literal.chars().find(|c| !iam_name_char(*c)) {
                        return Err(ValidationError::new(
                            FIELD,
                            format!(
                                "'{bad}' is not allowed in an IAM user name (letters, digits and + = , . @ _ - only; placeholders go in {{{{ }}}})"
                            ),
                        ));
                    }
                    parts.push(Part::Literal(literal.to_string()));
                    rest = &rest[end..];
                }
            }
        }
        if parts.is_empty() {
            return Err(ValidationError::new(FIELD, "must not be empty"));
        }
        Ok(Self { parts })
    }

    fn has_lease_id(&self) -> bool {
        self.parts.contains(&Part::LeaseId)
    }

    /// The longest name this template can produce for the dynamic secret
    /// `secret_name`, the lease id suffix included.
    pub fn worst_case_len(&self, secret_name: &str) -> usize {
        let parts: usize = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.len(),
                Part::Name => leaf(secret_name).chars().count(),
                Part::LeaseId => LEASE_ID_LEN,
                Part::Random(n) => *n,
                Part::UnixTime => UNIX_TIME_LEN,
                Part::AccessId => MAX_ACCESS_ID_LEN,
            })
            .sum();
        let suffix = if self.has_lease_id() {
            0
        } else {
            1 + LEASE_ID_LEN
        };
        parts + suffix
    }

    /// Refuses a template whose worst case exceeds IAM's 64 characters for
    /// the dynamic secret `secret_name`.
    pub fn check_fits(&self, secret_name: &str) -> Result<(), ValidationError> {
        let worst = self.worst_case_len(secret_name);
        if worst > MAX_IAM_USER_NAME {
            let suffix = if self.has_lease_id() {
                ""
            } else {
                ", the appended '.<lease id>' (17) included"
            };
            return Err(ValidationError::new(
                FIELD,
                format!(
                    "user names could reach {worst} characters (counting {{{{name}}}} as this secret's leaf name, {{{{lease_id}}}} 16, {{{{unix_time}}}} 10, {{{{access_id}}}} 34{suffix}); IAM allows {MAX_IAM_USER_NAME}"
                ),
            ));
        }
        Ok(())
    }

    /// The user name for one issuance.
    pub fn expand(&self, values: &mut UsernameValues<'_>) -> String {
        let mut name = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::Name => name.push_str(&clean(leaf(values.secret_name))),
                Part::LeaseId => name.push_str(&clean(values.lease_id)),
                Part::Random(n) => name.push_str(&clean(&(values.random)(*n))),
                Part::UnixTime => name.push_str(&values.unix_time.to_string()),
                Part::AccessId => name.push_str(&clean(values.access_id)),
            }
        }
        if !self.has_lease_id() {
            name.push('.');
            name.push_str(&clean(values.lease_id));
        }
        name
    }
}

fn placeholder(inner: &str) -> Result<Part, ValidationError> {
    let mut words = inner.split_whitespace();
    let head = words.next().unwrap_or_default();
    let arg = words.next();
    if words.next().is_some() {
        return Err(unknown(inner));
    }
    let part = match (head, arg) {
        ("name" | ".DynamicSecretName", None) => Part::Name,
        ("lease_id", None) => Part::LeaseId,
        ("unix_time", None) => Part::UnixTime,
        ("access_id" | ".UniqueIdentifier", None) => Part::AccessId,
        ("random", None) => Part::Random(DEFAULT_RANDOM_LEN),
        ("random", Some(n)) => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_RANDOM_LEN).contains(&n) => Part::Random(n),
            _ => {
                return Err(ValidationError::new(
                    FIELD,
                    format!(
                    "{{{{random {n}}}}}: the length must be a number from 1 to {MAX_RANDOM_LEN}"
                ),
                ))
            }
        },
        _ => return Err(unknown(inner)),
    };
    Ok(part)
}

fn unknown(inner: &str) -> ValidationError {
    ValidationError::new(
        FIELD,
        format!(
            "unknown placeholder '{{{{{inner}}}}}' (known: {{{{name}}}}, {{{{lease_id}}}}, {{{{random}}}}, {{{{random N}}}}, {{{{unix_time}}}}, {{{{access_id}}}})"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(template: &str, secret: &str) -> String {
        let mut random = |n: usize| "r".repeat(n);
        UsernameTemplate::parse(template)
            .unwrap()
            .expand(&mut UsernameValues {
                secret_name: secret,
                lease_id: "abcdefghijklmnop",
                access_id: "p-caller01",
                unix_time: 1_700_000_000,
                random: &mut random,
            })
    }

    #[test]
    fn placeholders_expand() {
        assert_eq!(
            expand(
                "ci-{{name}}-{{ access_id }}-{{unix_time}}-{{lease_id}}",
                "/p/dev"
            ),
            "ci-dev-p-caller01-1700000000-abcdefghijklmnop"
        );
        assert_eq!(
            expand("{{.DynamicSecretName}}_{{.UniqueIdentifier}}", "/x/y z"),
            "y-z_p-caller01.abcdefghijklmnop"
        );
        assert_eq!(expand("u{{random}}", "/a"), "urrrrrrrr.abcdefghijklmnop");
        assert_eq!(expand("u{{random 3}}", "/a"), "urrr.abcdefghijklmnop");
    }

    #[test]
    fn the_lease_id_is_appended_only_when_missing() {
        assert!(expand("svc-{{name}}", "/a/b").ends_with(".abcdefghijklmnop"));
        assert_eq!(expand("{{lease_id}}", "/a/b"), "abcdefghijklmnop");
    }

    #[test]
    fn bad_templates_are_refused_naming_the_field() {
        for bad in [
            "",
            "{{ttl}}",
            "a b",
            "a/b",
            "{{name",
            "{{random 0}}",
            "{{random 33}}",
            "{{random x}}",
            "{{name extra}}",
        ] {
            let err = UsernameTemplate::parse(bad).unwrap_err();
            assert_eq!(err.field, FIELD, "{bad:?}");
        }
    }

    #[test]
    fn worst_case_lengths_are_checked() {
        // 34 + 1 + 10 + 17 = 62: fits.
        let t = UsernameTemplate::parse("{{access_id}}-{{unix_time}}").unwrap();
        assert_eq!(t.worst_case_len("/a"), 62);
        t.check_fits("/a").unwrap();
        // 3 more literal characters: 65.
        let t = UsernameTemplate::parse("abc{{access_id}}-{{unix_time}}").unwrap();
        let err = t.check_fits("/a").unwrap_err();
        assert_eq!(err.field, FIELD);
        assert!(err.reason.contains("65"), "{}", err.reason);
        // The leaf name counts with its real length.
        let t = UsernameTemplate::parse("{{name}}").unwrap();
        t.check_fits(&format!("/f/{}", "n".repeat(47))).unwrap();
        assert!(t.check_fits(&format!("/f/{}", "n".repeat(48))).is_err());
    }
}
