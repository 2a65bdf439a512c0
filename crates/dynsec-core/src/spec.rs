//! What a target and a dynamic secret say about AWS, and the rules they must obey.

use crate::{SecretString, ValidationError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// STS bounds for AssumeRole's DurationSeconds (15 minutes to 12 hours).
/// AWS emulators don't enforce them, so the gateway does.
pub const MIN_ROLE_TTL_SECS: u64 = 900;
pub const MAX_ROLE_TTL_SECS: u64 = 43_200;

/// IAM's limit on a user name.
pub const MAX_IAM_USER_NAME: usize = 64;

/// How a dynamic secret produces credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// A temporary IAM user with an access key and/or console password.
    IamUser,
    /// STS AssumeRole session credentials.
    AssumedRole,
}

impl AccessMode {
    /// Accepts `iam_user`, and both `assumed_role` (docs) and `assume_role` (clients).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        match raw.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "iam_user" => Ok(Self::IamUser),
            "assumed_role" | "assume_role" => Ok(Self::AssumedRole),
            other => Err(ValidationError::new(
                field,
                format!("unknown access mode '{other}' (expected iam_user or assumed_role)"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IamUser => "iam_user",
            Self::AssumedRole => "assumed_role",
        }
    }
}

impl fmt::Display for AccessMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AWS admin connection: what a target holds, or what a dynamic secret carries inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsConnection {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    pub region: String,
    /// Overrides the IAM endpoint (else `AWS_ENDPOINT_URL_IAM` / `AWS_ENDPOINT_URL`).
    pub iam_endpoint: Option<String>,
    /// Overrides the STS endpoint (else `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`).
    pub sts_endpoint: Option<String>,
}

impl AwsConnection {
    /// Checks the fields; `prefix` is prepended to field names (`aws-` for inline).
    pub fn validate(&self, key_id_field: &str, secret_field: &str) -> Result<(), ValidationError> {
        if self.access_key_id.trim().is_empty() {
            return Err(ValidationError::new(key_id_field, "must not be empty"));
        }
        if self.secret_access_key.is_empty() {
            return Err(ValidationError::new(secret_field, "must not be empty"));
        }
        if self.region.trim().is_empty() {
            return Err(ValidationError::new("region", "must not be empty"));
        }
        for (field, url) in [
            ("iam-endpoint", &self.iam_endpoint),
            ("sts-endpoint", &self.sts_endpoint),
        ] {
            if let Some(url) = url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ValidationError::new(
                        field,
                        "must be an http:// or https:// URL",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a generated console password must contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub length: u32,
    pub upper: bool,
    pub lower: bool,
    pub digits: bool,
    pub symbols: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: 20,
            upper: true,
            lower: true,
            digits: true,
            symbols: true,
        }
    }
}

impl PasswordPolicy {
    pub fn validate(&self) -> Result<(), ValidationError> {
        // IAM accepts 8..=128; fewer than 8 would be refused by AWS's default policy anyway.
        if !(8..=128).contains(&self.length) {
            return Err(ValidationError::new(
                "password-length",
                "must be between 8 and 128",
            ));
        }
        if !(self.upper || self.lower || self.digits || self.symbols) {
            return Err(ValidationError::new(
                "use-lower-letters",
                "at least one character class must be enabled",
            ));
        }
        Ok(())
    }
}

/// The settings of an AWS dynamic secret (everything but its name and connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerSettings {
    pub access_mode: AccessMode,
    pub user_policies: Vec<String>,
    pub user_groups: Vec<String>,
    pub role_arns: Vec<String>,
    pub programmatic_access: bool,
    pub console_access: bool,
    pub password: PasswordPolicy,
    pub ttl_secs: u64,
    /// The TTL as the user wrote it (`"12h"`), shown back unchanged.
    #[serde(default)]
    pub ttl_text: String,
    /// IAM path for temporary users, e.g. `/dynsec/`.
    pub iam_path: String,
    pub external_id: Option<String>,
    pub session_tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
    pub username_template: Option<String>,
    pub tags: Vec<String>,
    pub description: String,
    pub protection_key: Option<String>,
}

impl ProducerSettings {
    /// Enforces the rules AWS (not its emulators) would enforce, and our own.
    pub fn validate(&self) -> Result<(), ValidationError> {
        // Also checked when the TTL is parsed; settings built another way
        // must not overflow an expiry either.
        crate::ttl::at_most_max("user-ttl", self.ttl_secs)?;
        match self.access_mode {
            AccessMode::IamUser => {
                if !self.programmatic_access && !self.console_access {
                    return Err(ValidationError::new(
                        "aws-user-programmatic-access",
                        "iam_user mode needs programmatic or console access (or both)",
                    ));
                }
                for arn in &self.user_policies {
                    if !arn.starts_with("arn:") {
                        return Err(ValidationError::new(
                            "aws-user-policies",
                            format!("'{arn}' is not a policy ARN"),
                        ));
                    }
                }
                for group in &self.user_groups {
                    if group.is_empty() || group.len() > 128 || group.contains(char::is_whitespace)
                    {
                        return Err(ValidationError::new(
                            "aws-user-groups",
                            format!("'{group}' is not a valid IAM group name"),
                        ));
                    }
                }
                if self.console_access {
                    self.password.validate()?;
                }
                // Empty means "the gateway's configured path".
                if !self.iam_path.is_empty() {
                    validate_iam_path(&self.iam_path)?;
                }
            }
            AccessMode::AssumedRole => {
                if self.role_arns.is_empty() {
                    return Err(ValidationError::new(
                        "aws-role-arns",
                        "assumed_role mode needs at least one role ARN",
                    ));
                }
                for arn in &self.role_arns {
                    if !(arn.starts_with("arn:") && arn.contains(":role/")) {
                        return Err(ValidationError::new(
                            "aws-role-arns",
                            format!("'{arn}' is not a role ARN"),
                        ));
                    }
                }
                if !(MIN_ROLE_TTL_SECS..=MAX_ROLE_TTL_SECS).contains(&self.ttl_secs) {
                    return Err(ValidationError::new(
                        "user-ttl",
                        format!(
                            "assumed_role sessions last between 15m and 12h (900-43200 seconds); got {} seconds",
                            self.ttl_secs
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Checks an IAM path as IAM accepts it: `/`-delimited, at most 512
/// characters, printable ASCII.
pub fn validate_iam_path(path: &str) -> Result<(), ValidationError> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "iam-path",
            "must start and end with '/' and hold printable ASCII only",
        ))
    }
}

/// Parses `"k=v,k2=v2"` session tags.
pub fn parse_session_tags(raw: &str) -> Result<Vec<(String, String)>, ValidationError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ValidationError::new(
                "session-tags",
                format!("'{pair}' is not key=value"),
            )),
        })
        .collect()
}

/// Splits a comma-separated list, dropping blanks.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iam_user() -> ProducerSettings {
        ProducerSettings {
            access_mode: AccessMode::IamUser,
            user_policies: vec!["arn:aws:iam::123456789012:policy/p".into()],
            user_groups: vec!["devs".into()],
            role_arns: vec![],
            programmatic_access: true,
            console_access: false,
            password: PasswordPolicy::default(),
            ttl_secs: 3600,
            ttl_text: "60m".into(),
            iam_path: "/dynsec/".into(),
            external_id: None,
            session_tags: vec![],
            transitive_tag_keys: vec![],
            username_template: None,
            tags: vec![],
            description: String::new(),
            protection_key: None,
        }
    }

    #[test]
    fn access_mode_accepts_both_role_spellings() {
        assert_eq!(
            AccessMode::parse("m", "assume_role").unwrap(),
            AccessMode::AssumedRole
        );
        assert_eq!(
            AccessMode::parse("m", "assumed_role").unwrap(),
            AccessMode::AssumedRole
        );
        assert_eq!(
            AccessMode::parse("m", "IAM_USER").unwrap(),
            AccessMode::IamUser
        );
        assert!(AccessMode::parse("access-mode", "root")
            .unwrap_err()
            .reason
            .contains("root"));
    }

    #[test]
    fn role_ttl_must_fit_sts_bounds() {
        let mut s = iam_user();
        s.access_mode = AccessMode::AssumedRole;
        s.role_arns = vec!["arn:aws:iam::123456789012:role/r".into()];
        s.ttl_secs = 899;
        assert_eq!(s.validate().unwrap_err().field, "user-ttl");
        s.ttl_secs = 43_201;
        assert_eq!(s.validate().unwrap_err().field, "user-ttl");
        s.ttl_secs = 900;
        s.validate().unwrap();
    }

    #[test]
    fn ttl_is_capped_for_every_mode() {
        let mut s = iam_user();
        s.ttl_secs = crate::ttl::MAX_TTL_SECS;
        s.validate().unwrap();
        s.ttl_secs = crate::ttl::MAX_TTL_SECS + 1;
        assert_eq!(s.validate().unwrap_err().field, "user-ttl");
        s.ttl_secs = u64::MAX;
        assert_eq!(s.validate().unwrap_err().field, "user-ttl");
        s.access_mode = AccessMode::AssumedRole;
        s.role_arns = vec!["arn:aws:iam::123456789012:role/r".into()];
        s.ttl_secs = u64::MAX;
        assert_eq!(s.validate().unwrap_err().field, "user-ttl");
    }

    #[test]
    fn iam_paths() {
        validate_iam_path("/").unwrap();
        validate_iam_path("/dynsec/").unwrap();
        for bad in ["", "dynsec/", "/dynsec", "/a b/", "/\u{e9}/"] {
            assert_eq!(
                validate_iam_path(bad).unwrap_err().field,
                "iam-path",
                "{bad:?}"
            );
        }
        assert!(validate_iam_path(&format!("/{}/", "a".repeat(511))).is_err());
    }

    #[test]
    fn iam_user_needs_some_access() {
        let mut s = iam_user();
        s.validate().unwrap();
        s.programmatic_access = false;
        assert!(s.validate().is_err());
        s.console_access = true;
        s.validate().unwrap();
        s.password.length = 4;
        assert_eq!(s.validate().unwrap_err().field, "password-length");
    }

    #[test]
    fn session_tags_parse() {
        assert_eq!(
            parse_session_tags("team=a, env=prod").unwrap(),
            vec![("team".into(), "a".into()), ("env".into(), "prod".into())]
        );
        assert!(parse_session_tags("oops").is_err());
    }
}
