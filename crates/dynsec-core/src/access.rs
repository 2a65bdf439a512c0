//! Access rules: capabilities on path patterns, grouped by rule type, and
//! client-address bounds (CIDRs).
//!
//! A request is allowed when some rule of the right type whose pattern matches
//! the path grants the capability, and no matching rule of that type says
//! `deny`. `*` in a pattern matches any run of characters, `/` included, so
//! `/prod/*` covers everything under `/prod/` (but not `/production`).

use crate::ValidationError;
use std::fmt;
use std::net::IpAddr;

/// What a rule allows (or, for `Deny`, forbids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    Read,
    Create,
    Update,
    Delete,
    List,
    /// Reading a target's secret (`get-target-details`). A dynsec extension:
    /// `read` alone shows a target without its secret.
    Reveal,
    Deny,
}

impl Capability {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Ok(match raw.trim().to_ascii_lowercase().as_str() {
            "read" => Self::Read,
            "create" => Self::Create,
            "update" => Self::Update,
            "delete" => Self::Delete,
            "list" => Self::List,
            "reveal" => Self::Reveal,
            "deny" => Self::Deny,
            other => {
                return Err(ValidationError::new(
                    "capability",
                    format!("unknown capability '{other}' (read, create, update, delete, list, reveal, deny)"),
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Reveal => "reveal",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of object a rule's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleType {
    /// Dynamic secrets (and other items).
    Item,
    Target,
    Role,
    AuthMethod,
}

impl RuleType {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Ok(match raw.trim() {
            "" | "item-rule" => Self::Item,
            "target-rule" => Self::Target,
            "role-rule" => Self::Role,
            "auth-method-rule" => Self::AuthMethod,
            other => {
                return Err(ValidationError::new(
                    "rule-type",
                    format!("unknown rule type '{other}' (item-rule, target-rule, role-rule, auth-method-rule)"),
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Item => "item-rule",
            Self::Target => "target-rule",
            Self::Role => "role-rule",
            Self::AuthMethod => "auth-method-rule",
        }
    }
}

/// One rule of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    pub rule_type: RuleType,
    /// A path pattern; `*` matches anything.
    pub path: String,
    pub capabilities: Vec<Capability>,
}

impl PathRule {
    /// Validates and normalizes a rule given to `set-role-rule`.
    pub fn new(
        rule_type: RuleType,
        path: &str,
        capabilities: Vec<Capability>,
    ) -> Result<Self, ValidationError> {
        let path = path.trim();
        if path.is_empty() {
            return Err(ValidationError::new("path", "must not be empty"));
        }
        if path.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "path",
                "control characters are not allowed",
            ));
        }
        if capabilities.is_empty() {
            return Err(ValidationError::new(
                "capability",
                "at least one capability is required",
            ));
        }
        let path = normalize_rule_path(path);
        let mut capabilities = capabilities;
        capabilities.sort();
        capabilities.dedup();
        Ok(Self {
            rule_type,
            path,
            capabilities,
        })
    }
}

/// A rule's path as stored: trimmed, with a leading `/` unless it is `*`
/// alone. Setting and deleting a rule both go through it, so a rule set as
/// `prod/*` can be deleted as `prod/*` too.
pub fn normalize_rule_path(path: &str) -> String {
    let path = path.trim();
    if path.starts_with('/') || path == "*" {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// Glob match where `*` matches any (possibly empty) run of characters.
pub fn pattern_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((star_pi, star_si)) = star {
            pi = star_pi + 1;
            si = star_si + 1;
            star = Some((star_pi, star_si + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether `rules` allow `capability` on `path` for objects of `rule_type`:
/// some matching rule grants it and no matching rule denies.
pub fn allows(rules: &[PathRule], rule_type: RuleType, path: &str, capability: Capability) -> bool {
    let mut granted = false;
    for rule in rules
        .iter()
        .filter(|r| r.rule_type == rule_type && pattern_matches(&r.path, path))
    {
        if rule.capabilities.contains(&Capability::Deny) {
            return false;
        }
        granted |= rule.capabilities.contains(&capability);
    }
    granted
}

/// An IPv4 or IPv6 network, `10.0.0.0/8` or a bare address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new(field, format!("'{raw}' is not an IP address or CIDR"));
        let (addr, prefix) = match raw.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (raw.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // Compare IPv4-mapped IPv6 peers as IPv4.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn masked(value: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(width - prefix);
    (value >> shift) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(t: RuleType, path: &str, caps: &[Capability]) -> PathRule {
        PathRule::new(t, path, caps.to_vec()).unwrap()
    }

    #[test]
    fn rule_paths_normalize_alike() {
        assert_eq!(normalize_rule_path("prod/*"), "/prod/*");
        assert_eq!(normalize_rule_path(" /prod/* "), "/prod/*");
        assert_eq!(normalize_rule_path("*"), "*");
        assert_eq!(
            rule(RuleType::Item, "prod/*", &[Capability::Read]).path,
            normalize_rule_path("prod/*")
        );
    }

    #[test]
    fn wildcards() {
        assert!(pattern_matches("/prod/*", "/prod/aws/x"));
        assert!(pattern_matches("/prod/*", "/prod/x"));
        assert!(!pattern_matches("/prod/*", "/production/x"));
        assert!(!pattern_matches("/prod/*", "/prod"));
        assert!(pattern_matches("*", "/anything"));
        assert!(pattern_matches("/*/aws/*", "/prod/aws/x"));
        assert!(!pattern_matches("/*/aws/*", "/prod/db/x"));
        assert!(pattern_matches("/prod/a*c", "/prod/abc"));
        assert!(pattern_matches("/exact", "/exact"));
        assert!(!pattern_matches("/exact", "/exact/more"));
    }

    #[test]
    fn deny_wins_and_types_are_separate() {
        use Capability::*;
        let rules = vec![
            rule(RuleType::Item, "/prod/*", &[Read, List]),
            rule(RuleType::Item, "/prod/secret/*", &[Deny]),
            rule(RuleType::Target, "/aws/*", &[Read]),
        ];
        assert!(allows(&rules, RuleType::Item, "/prod/aws/x", Read));
        assert!(!allows(&rules, RuleType::Item, "/prod/aws/x", Delete));
        assert!(!allows(&rules, RuleType::Item, "/prod/secret/x", Read));
        assert!(!allows(&rules, RuleType::Item, "/dev/x", Read));
        assert!(
            !allows(&rules, RuleType::Item, "/aws/t", Read),
            "target rules don't grant items"
        );
        assert!(allows(&rules, RuleType::Target, "/aws/t", Read));
        assert!(!allows(&rules, RuleType::Target, "/aws/t", Reveal));
    }

    #[test]
    fn cidrs() {
        let net = Cidr::parse("bound-ips", "10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let host = Cidr::parse("bound-ips", "127.0.0.1").unwrap();
        assert!(host.contains("127.0.0.1".parse().unwrap()));
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        assert!(Cidr::parse("bound-ips", "0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("bound-ips", "fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert_eq!(
            Cidr::parse("bound-ips", "10.0.0.0/33").unwrap_err().field,
            "bound-ips"
        );
        assert!(Cidr::parse("bound-ips", "nonsense").is_err());
    }
}
