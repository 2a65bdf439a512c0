//! What a target and a dynamic secret say about AWS, and the rules they must obey.

use crate::{SecretString, ValidationError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// STS bounds for AssumeRole's DurationSeconds (15 minutes to 12 hours).
/// AWS emulators don't enforce them, so the gateway does.
pub const MIN_ROLE_TTL_SECS: u64 = 900;
pub const MAX_ROLE_TTL_SECS: u64 = 43_200;

/// STS bounds for GetFederationToken's and GetSessionToken's
/// DurationSeconds (15 minutes to 36 hours, for an IAM user's key).
pub const MIN_STS_TOKEN_TTL_SECS: u64 = 900;
pub const MAX_STS_TOKEN_TTL_SECS: u64 = 129_600;

/// AssumeRole signed with temporary credentials (role chaining) lasts at
/// most 1 hour, whatever the role allows.
pub const MAX_CHAINED_ROLE_TTL_SECS: u64 = 3_600;

/// Akeyless's bound on `secure-access-delay`, in seconds.
pub const MAX_SECURE_ACCESS_DELAY_SECS: u64 = 120;

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
    /// STS GetFederationToken: a federated-user session of the admin user,
    /// limited to the secret's policies.
    FederationToken,
    /// STS GetSessionToken: a session of the admin user itself (with MFA
    /// when the secret names a device).
    SessionToken,
}

impl AccessMode {
    /// Accepts `iam_user`, and both `assumed_role` (docs) and `assume_role` (clients).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        match raw.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "iam_user" => Ok(Self::IamUser),
            "assumed_role" | "assume_role" => Ok(Self::AssumedRole),
            "federation_token" => Ok(Self::FederationToken),
            "session_token" => Ok(Self::SessionToken),
            other => Err(ValidationError::new(
                field,
                format!(
                    "unknown access mode '{other}' (expected iam_user, assumed_role, federation_token or session_token)"
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IamUser => "iam_user",
            Self::AssumedRole => "assumed_role",
            Self::FederationToken => "federation_token",
            Self::SessionToken => "session_token",
        }
    }

    /// Whether a lease of this mode is a temporary IAM user, which
    /// revocation deletes; the others are STS sessions that end at their
    /// expiry (assumed_role ones earlier with early revocation).
    pub fn is_iam_user(self) -> bool {
        self == Self::IamUser
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

/// How one face names a connection's fields, so that an error names the
/// field the caller actually sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionFields {
    pub access_key_id: &'static str,
    pub secret_access_key: &'static str,
    pub session_token: &'static str,
    pub region: &'static str,
    pub iam_endpoint: &'static str,
    pub sts_endpoint: &'static str,
}

impl ConnectionFields {
    /// A target's fields (`create-aws-target`, `update-aws-target`).
    pub const TARGET: Self = Self {
        access_key_id: "access-key-id",
        secret_access_key: "access-key",
        session_token: "session-token",
        region: "region",
        iam_endpoint: "iam-endpoint",
        sts_endpoint: "sts-endpoint",
    };
    /// A dynamic secret's inline connection.
    pub const INLINE: Self = Self {
        access_key_id: "aws-access-key-id",
        secret_access_key: "aws-access-secret-key",
        session_token: "aws-session-token",
        region: "region",
        iam_endpoint: "iam-endpoint",
        sts_endpoint: "sts-endpoint",
    };
}

/// Longest secret access key accepted (AWS's are 40 characters).
const MAX_SECRET_KEY: usize = 256;
/// Longest session token accepted (STS's run to a few kilobytes).
const MAX_SESSION_TOKEN: usize = 16_384;
/// Longest region name accepted.
const MAX_REGION: usize = 64;

impl AwsConnection {
    /// Checks every field as AWS (and the HTTP layer under the SDK) would
    /// accept it: access key ids `[A-Z0-9]{16,128}`, secret keys and session
    /// tokens printable ASCII without whitespace, regions `[a-z0-9-]+`,
    /// endpoints `http(s)://` URLs of printable ASCII. A value that slips
    /// past this (a newline in a key id) makes the SDK panic while signing,
    /// so the engine runs it on stored connections too, before every use.
    /// Errors name the field as `fields` spells it and never echo a value.
    pub fn validate(&self, fields: &ConnectionFields) -> Result<(), ValidationError> {
        validate_access_key_id(fields.access_key_id, &self.access_key_id)?;
        validate_secret_text(
            fields.secret_access_key,
            self.secret_access_key.expose(),
            MAX_SECRET_KEY,
        )?;
        if let Some(token) = &self.session_token {
            validate_secret_text(fields.session_token, token.expose(), MAX_SESSION_TOKEN)?;
        }
        self.validate_location(fields)
    }

    /// Checks the region and endpoints only: all a connection that uses the
    /// gateway host's identity (no key) has.
    pub fn validate_location(&self, fields: &ConnectionFields) -> Result<(), ValidationError> {
        validate_region(fields.region, &self.region)?;
        for (field, url) in [
            (fields.iam_endpoint, &self.iam_endpoint),
            (fields.sts_endpoint, &self.sts_endpoint),
        ] {
            if let Some(url) = url {
                validate_endpoint(field, url)?;
            }
        }
        Ok(())
    }
}

/// `[A-Z0-9]{16,128}`, the shape of every AWS access key id.
pub fn validate_access_key_id(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let shape_ok = (16..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if shape_ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be an AWS access key id: 16 to 128 upper-case letters and digits",
        ))
    }
}

/// A secret key or session token: printable ASCII, no whitespace, at most
/// `max` characters. The value is never echoed.
fn validate_secret_text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(ValidationError::new(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(
            field,
            "may hold printable ASCII only, without spaces, tabs or line breaks",
        ));
    }
    Ok(())
}

/// `[a-z0-9-]+`, like `us-east-1`.
fn validate_region(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let shape_ok = value.len() <= MAX_REGION
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if shape_ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be an AWS region name: lower-case letters, digits and '-' (e.g. us-east-1)",
        ))
    }
}

fn validate_endpoint(field: &str, url: &str) -> Result<(), ValidationError> {
    crate::limits::text(field, url, crate::limits::URL)?;
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if scheme_ok && url.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be an http:// or https:// URL of printable ASCII",
        ))
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
    // dynsec extensions (`crate::iam_extensions`); defaults when stored
    // settings predate them.
    /// `permissions-boundary-arn` (iam_user): set on CreateUser.
    #[serde(default)]
    pub permissions_boundary_arn: Option<String>,
    /// `aws-user-tags` (iam_user): extra IAM tags beside dynsec's own.
    #[serde(default)]
    pub user_tags: Vec<(String, String)>,
    /// `aws-user-inline-policy` (iam_user): a compact JSON policy document.
    #[serde(default)]
    pub user_inline_policy: Option<String>,
    /// `session-policy-arns` (session modes): managed session policies.
    #[serde(default)]
    pub session_policy_arns: Vec<String>,
    /// `session-policy` (session modes): a compact JSON session policy.
    #[serde(default)]
    pub session_policy: Option<String>,
    /// `max-ttl`: no credential of this secret lives longer, extensions included.
    #[serde(default)]
    pub max_ttl_secs: Option<u64>,
    /// `max-ttl` as the user wrote it.
    #[serde(default)]
    pub max_ttl_text: String,
    /// assumed_role: revoking a lease denies its session through the role's
    /// `dynsec-revoked-sessions` inline policy (roles in the connection's own
    /// account). Off: assumed_role leases only expire. Ignored by iam_user
    /// (its credentials are always revocable).
    #[serde(default)]
    pub early_revocation: bool,
    /// Akeyless's `secure-access-delay`: the longest issuance waits for a new
    /// credential to be seen working (0 = hand it out at once), at most
    /// [`MAX_SECURE_ACCESS_DELAY_SECS`].
    #[serde(default)]
    pub secure_access_delay_secs: u64,
    /// session_token: the admin user's MFA device (serial number or ARN);
    /// get-value then needs `mfa-code=<code>`.
    #[serde(default)]
    pub mfa_serial: Option<String>,
}

impl AccessMode {
    /// Whether credentials of this mode are STS sessions that take session
    /// policies (`session-policy-arns`, `session-policy`).
    pub fn takes_session_policies(self) -> bool {
        match self {
            Self::IamUser | Self::SessionToken => false,
            Self::AssumedRole | Self::FederationToken => true,
        }
    }
}

impl ProducerSettings {
    /// Like [`ProducerSettings::validate`], plus the checks that depend on
    /// the dynamic secret's name (the user-name template's worst case).
    pub fn validate_for(&self, name: &str) -> Result<(), ValidationError> {
        self.validate()?;
        if let Some(template) = &self.username_template {
            crate::username::UsernameTemplate::parse(template)?.check_fits(name)?;
        }
        Ok(())
    }

    /// Enforces the rules AWS (not its emulators) would enforce, and our own.
    pub fn validate(&self) -> Result<(), ValidationError> {
        // Also checked when the TTL is parsed; settings built another way
        // must not overflow an expiry either.
        crate::ttl::at_most_max("user-ttl", self.ttl_secs)?;
        self.validate_lengths()?;
        if self.secure_access_delay_secs > MAX_SECURE_ACCESS_DELAY_SECS {
            return Err(ValidationError::new(
                "secure-access-delay",
                format!(
                    "must be between 0 and {MAX_SECURE_ACCESS_DELAY_SECS} seconds; got {}",
                    self.secure_access_delay_secs
                ),
            ));
        }
        self.validate_extensions()?;
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
            AccessMode::FederationToken | AccessMode::SessionToken => {
                if !(MIN_STS_TOKEN_TTL_SECS..=MAX_STS_TOKEN_TTL_SECS).contains(&self.ttl_secs) {
                    return Err(ValidationError::new(
                        "user-ttl",
                        format!(
                            "{} credentials last between 15m and 36h (900-129600 seconds); got {} seconds",
                            self.access_mode, self.ttl_secs
                        ),
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
                if self.access_mode == AccessMode::SessionToken
                    && (!self.user_policies.is_empty() || self.session_policy.is_some())
                {
                    return Err(ValidationError::new(
                        "session-policy",
                        "session_token credentials act with the admin user's own permissions; GetSessionToken takes no policies (use federation_token to limit them)",
                    ));
                }
                if self.access_mode == AccessMode::FederationToken && self.mfa_serial.is_some() {
                    return Err(ValidationError::new(
                        "mfa-serial",
                        "only session_token credentials use an MFA device",
                    ));
                }
                // The shape only (core parses no JSON): the API checks the
                // syntax, AWS the grammar.
                if let Some(policy) = &self.session_policy {
                    let policy = policy.trim();
                    if !(policy.starts_with('{') && policy.ends_with('}')) {
                        return Err(ValidationError::new(
                            "session-policy",
                            "must be a JSON policy document (an object)",
                        ));
                    }
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

impl ProducerSettings {
    /// The dynsec extensions: each valid, and given only where it applies
    /// (a field that would do nothing is refused, not ignored).
    fn validate_extensions(&self) -> Result<(), ValidationError> {
        use crate::iam_extensions as ext;
        if let Some(max) = self.max_ttl_secs {
            crate::ttl::at_most_max("max-ttl", max)?;
            if max == 0 {
                return Err(ValidationError::new("max-ttl", "must be greater than zero"));
            }
            if self.ttl_secs > max {
                return Err(ValidationError::new(
                    "user-ttl",
                    format!(
                        "{} seconds is longer than this secret's max-ttl ({max} seconds)",
                        self.ttl_secs
                    ),
                ));
            }
        }
        crate::limits::text("max-ttl", &self.max_ttl_text, crate::limits::TTL_TEXT)?;
        let iam_user_only = [
            (
                "permissions-boundary-arn",
                self.permissions_boundary_arn.is_some(),
            ),
            ("aws-user-tags", !self.user_tags.is_empty()),
            ("aws-user-inline-policy", self.user_inline_policy.is_some()),
            ("custom-username-template", self.username_template.is_some()),
        ];
        let session_only = [
            ("session-policy-arns", !self.session_policy_arns.is_empty()),
            ("session-policy", self.session_policy.is_some()),
        ];
        for (field, given) in iam_user_only {
            if given && self.access_mode != AccessMode::IamUser {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "applies to iam_user dynamic secrets only, not {}",
                        self.access_mode
                    ),
                ));
            }
        }
        for (field, given) in session_only {
            if given && !self.access_mode.takes_session_policies() {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "session policies apply to STS sessions, not {}",
                        self.access_mode
                    ),
                ));
            }
        }
        if let Some(arn) = &self.permissions_boundary_arn {
            ext::validate_policy_arn("permissions-boundary-arn", arn)?;
        }
        ext::validate_user_tags("aws-user-tags", &self.user_tags)?;
        if let Some(doc) = &self.user_inline_policy {
            ext::policy_document("aws-user-inline-policy", doc, ext::MAX_USER_INLINE_POLICY)?;
        }
        if self.session_policy_arns.len() > ext::MAX_SESSION_POLICY_ARNS {
            return Err(ValidationError::new(
                "session-policy-arns",
                format!(
                    "more than {} policy ARNs (STS's limit)",
                    ext::MAX_SESSION_POLICY_ARNS
                ),
            ));
        }
        for arn in &self.session_policy_arns {
            ext::validate_policy_arn("session-policy-arns", arn)?;
        }
        if let Some(doc) = &self.session_policy {
            ext::policy_document("session-policy", doc, ext::MAX_SESSION_POLICY)?;
        }
        if let Some(template) = &self.username_template {
            crate::username::UsernameTemplate::parse(template)?;
        }
        Ok(())
    }

    /// Every free-text field within its documented limit (`crate::limits`).
    fn validate_lengths(&self) -> Result<(), ValidationError> {
        use crate::limits::{self, list, text};
        text("description", &self.description, limits::DESCRIPTION)?;
        text("user-ttl", &self.ttl_text, limits::TTL_TEXT)?;
        if let Some(template) = &self.username_template {
            text(
                "custom-username-template",
                template,
                limits::USERNAME_TEMPLATE,
            )?;
        }
        if let Some(external_id) = &self.external_id {
            text("aws-external-id", external_id, limits::EXTERNAL_ID)?;
        }
        if let Some(policy) = &self.session_policy {
            // AWS's limit for a session policy, in characters.
            text("session-policy", policy, 2_048)?;
        }
        if let Some(serial) = &self.mfa_serial {
            text("mfa-serial", serial, limits::ARN)?;
        }
        list(
            "aws-user-policies",
            &self.user_policies,
            limits::LIST_ENTRIES,
            limits::ARN,
        )?;
        list(
            "aws-user-groups",
            &self.user_groups,
            limits::LIST_ENTRIES,
            128,
        )?;
        list(
            "aws-role-arns",
            &self.role_arns,
            limits::LIST_ENTRIES,
            limits::ARN,
        )?;
        list("tags", &self.tags, limits::LIST_ENTRIES, limits::TAG)?;
        list(
            "transitive-tag-keys",
            &self.transitive_tag_keys,
            limits::LIST_ENTRIES,
            limits::TAG,
        )?;
        let session_tags: Vec<String> = self
            .session_tags
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .collect();
        if self.session_tags.len() > limits::LIST_ENTRIES {
            return Err(ValidationError::new(
                "session-tags",
                format!("more than {} entries", limits::LIST_ENTRIES),
            ));
        }
        list(
            "session-tags",
            &session_tags,
            2 * limits::LIST_ENTRIES,
            limits::TAG,
        )?;
        text("iam-path", &self.iam_path, 512)
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
    crate::iam_extensions::parse_tag_pairs("session-tags", raw)
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
            permissions_boundary_arn: None,
            user_tags: vec![],
            user_inline_policy: None,
            session_policy_arns: vec![],
            session_policy: None,
            max_ttl_secs: None,
            max_ttl_text: String::new(),
            early_revocation: false,
            secure_access_delay_secs: 0,
            mfa_serial: None,
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
    fn sts_token_modes_have_their_own_bounds_and_settings() {
        for mode in [AccessMode::FederationToken, AccessMode::SessionToken] {
            let mut s = iam_user();
            s.access_mode = mode;
            s.user_policies = vec![];
            s.ttl_secs = 899;
            assert_eq!(s.validate().unwrap_err().field, "user-ttl", "{mode}");
            s.ttl_secs = 129_601;
            assert_eq!(s.validate().unwrap_err().field, "user-ttl", "{mode}");
            s.ttl_secs = 129_600;
            s.validate().unwrap();
            s.ttl_secs = 900;
            s.validate().unwrap();
        }
        let mut s = iam_user();
        s.access_mode = AccessMode::SessionToken;
        assert_eq!(s.validate().unwrap_err().field, "session-policy");
        s.user_policies = vec![];
        s.mfa_serial = Some("arn:aws:iam::123456789012:mfa/admin".into());
        s.validate().unwrap();
        s.access_mode = AccessMode::FederationToken;
        assert_eq!(s.validate().unwrap_err().field, "mfa-serial");
        s.mfa_serial = None;
        s.session_policy = Some("not json".into());
        assert_eq!(s.validate().unwrap_err().field, "session-policy");
        s.session_policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        s.validate().unwrap();
        assert_eq!(
            AccessMode::parse("access-mode", "federation_token").unwrap(),
            AccessMode::FederationToken
        );
        assert_eq!(
            AccessMode::parse("access-mode", "session-token").unwrap(),
            AccessMode::SessionToken
        );
    }

    #[test]
    fn secure_access_delay_is_0_to_120_seconds() {
        let mut s = iam_user();
        s.secure_access_delay_secs = 120;
        s.validate().unwrap();
        s.secure_access_delay_secs = 121;
        let err = s.validate().unwrap_err();
        assert_eq!(err.field, "secure-access-delay");
        assert!(err.reason.contains("between 0 and 120"), "{err}");
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

    fn connection() -> AwsConnection {
        AwsConnection {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            session_token: Some(SecretString::new("FwoGZXIvYXdzEBYaDH+/=")),
            region: "us-east-1".into(),
            iam_endpoint: Some("http://127.0.0.1:5000".into()),
            sts_endpoint: None,
        }
    }

    #[test]
    fn connections_refuse_what_the_sdk_cannot_sign() {
        connection().validate(&ConnectionFields::TARGET).unwrap();
        type Spoil = fn(&mut AwsConnection);
        let cases: Vec<(Spoil, &str, &str)> = vec![
            (
                |c| c.access_key_id = "AKIA\nFAKEFAKEFAKE1".into(),
                "access-key-id",
                "aws-access-key-id",
            ),
            (
                |c| c.access_key_id = "AKIA\rFAKEFAKEFAKE1".into(),
                "access-key-id",
                "aws-access-key-id",
            ),
            (
                |c| c.access_key_id = "akiaiosfodnn7example".into(),
                "access-key-id",
                "aws-access-key-id",
            ),
            (
                |c| c.access_key_id = "AKIA".into(),
                "access-key-id",
                "aws-access-key-id",
            ),
            (
                |c| c.access_key_id = String::new(),
                "access-key-id",
                "aws-access-key-id",
            ),
            (
                |c| c.secret_access_key = SecretString::new("abc\ndef"),
                "access-key",
                "aws-access-secret-key",
            ),
            (
                |c| c.secret_access_key = SecretString::new("abc def"),
                "access-key",
                "aws-access-secret-key",
            ),
            (
                |c| c.secret_access_key = SecretString::new("ab\u{e9}"),
                "access-key",
                "aws-access-secret-key",
            ),
            (
                |c| c.secret_access_key = SecretString::default(),
                "access-key",
                "aws-access-secret-key",
            ),
            (
                |c| c.session_token = Some(SecretString::new("tok\r\nen")),
                "session-token",
                "aws-session-token",
            ),
            (|c| c.region = "us-east-1\n".into(), "region", "region"),
            (|c| c.region = "US-EAST-1".into(), "region", "region"),
            (
                |c| c.iam_endpoint = Some("ftp://x".into()),
                "iam-endpoint",
                "iam-endpoint",
            ),
            (
                |c| c.sts_endpoint = Some("http://a\nb".into()),
                "sts-endpoint",
                "sts-endpoint",
            ),
        ];
        for (spoil, target_field, inline_field) in cases {
            let mut c = connection();
            spoil(&mut c);
            let err = c.validate(&ConnectionFields::TARGET).unwrap_err();
            assert_eq!(err.field, target_field, "{err}");
            assert_eq!(
                c.validate(&ConnectionFields::INLINE).unwrap_err().field,
                inline_field
            );
            // Never echoes the value.
            assert!(
                !err.reason.contains("FAKE") && !err.reason.contains("abc"),
                "{err}"
            );
        }
    }

    #[test]
    fn free_text_settings_are_capped() {
        let huge = "x".repeat(600_000);
        type Set = fn(&mut ProducerSettings, String);
        let cases: Vec<(Set, &str)> = vec![
            (|s, v| s.description = v, "description"),
            (
                |s, v| s.username_template = Some(v),
                "custom-username-template",
            ),
            (|s, v| s.external_id = Some(v), "aws-external-id"),
            (|s, v| s.tags = vec![v], "tags"),
            (|s, v| s.ttl_text = v, "user-ttl"),
            (
                |s, v| s.session_tags = vec![("k".into(), v)],
                "session-tags",
            ),
            (
                |s, v| s.transitive_tag_keys = vec![v],
                "transitive-tag-keys",
            ),
            (
                |s, v| s.user_policies = vec![format!("arn:{v}")],
                "aws-user-policies",
            ),
        ];
        for (set, field) in cases {
            let mut s = iam_user();
            set(&mut s, huge.clone());
            assert_eq!(s.validate().unwrap_err().field, field);
        }
        let mut s = iam_user();
        s.tags = vec!["t".into(); 101];
        assert_eq!(s.validate().unwrap_err().field, "tags");
    }

    #[test]
    fn max_ttl_caps_the_ttl() {
        let mut s = iam_user();
        s.max_ttl_secs = Some(3600);
        s.validate().unwrap();
        s.ttl_secs = 3601;
        let err = s.validate().unwrap_err();
        assert_eq!(err.field, "user-ttl");
        assert!(err.reason.contains("max-ttl"), "{err}");
        s.max_ttl_secs = Some(0);
        assert_eq!(s.validate().unwrap_err().field, "max-ttl");
    }

    #[test]
    fn extensions_are_refused_where_they_would_do_nothing() {
        let mut role = iam_user();
        role.access_mode = AccessMode::AssumedRole;
        role.role_arns = vec!["arn:aws:iam::123456789012:role/r".into()];
        role.session_policy = Some(r#"{"Version":"2012-10-17"}"#.into());
        role.session_policy_arns = vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()];
        role.validate().unwrap();
        role.permissions_boundary_arn = Some("arn:aws:iam::aws:policy/ReadOnlyAccess".into());
        assert_eq!(
            role.validate().unwrap_err().field,
            "permissions-boundary-arn"
        );

        let mut user = iam_user();
        user.session_policy = Some("{}".into());
        assert_eq!(user.validate().unwrap_err().field, "session-policy");
        user.session_policy = None;
        user.user_inline_policy = Some("[]".into());
        assert_eq!(user.validate().unwrap_err().field, "aws-user-inline-policy");
        user.user_inline_policy = None;
        user.username_template = Some("{{nope}}".into());
        assert_eq!(
            user.validate().unwrap_err().field,
            "custom-username-template"
        );
        user.username_template = Some("{{access_id}}-{{unix_time}}-xy".into());
        user.validate().unwrap();
        assert_eq!(
            user.validate_for("/a/b").unwrap_err().field,
            "custom-username-template"
        );
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
