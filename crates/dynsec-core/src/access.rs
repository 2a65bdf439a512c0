//! Access rules: capabilities on path patterns, grouped by rule type, and
//! client-address bounds (CIDRs).
//!
//! A request is allowed when some rule of the right type whose pattern matches
//! the path grants the capability, and no matching rule of that type says
//! `deny`. `*` in a pattern matches any run of characters, `/` included, so
//! `/prod/*` covers everything under `/prod/` (but not `/production`).

use crate::ValidationError;
use ipnet::IpNet;
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
        crate::limits::text("path", path, crate::limits::RULE_PATH)?;
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

/// Whether every path `inner` matches is also matched by `outer` (the
/// language of `inner` is contained in that of `outer`).
///
/// For patterns whose only wildcard is `*` (any run of characters) this holds
/// exactly when `outer` matches `inner` read as a word in which each `*` is a
/// symbol of its own, one that only a `*` of `outer` can absorb: instantiate
/// every `*` of `inner` with a character `outer` never names, and the match
/// of `outer` must spend its own `*`s on them.
pub fn pattern_covers(outer: &str, inner: &str) -> bool {
    let p: Vec<char> = outer.chars().collect();
    let s: Vec<char> = inner.chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] != '*' && s[si] != '*' && p[pi] == s[si] {
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

/// Whether some path is matched by both patterns.
pub fn patterns_overlap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // reach[i][j]: the prefixes a[..i] and b[..j] can match one common word.
    let mut reach = vec![vec![false; b.len() + 1]; a.len() + 1];
    reach[0][0] = true;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            if !reach[i][j] {
                continue;
            }
            let (ca, cb) = (a.get(i), b.get(j));
            // A `*` may match nothing more.
            if ca == Some(&'*') {
                reach[i + 1][j] = true;
            }
            if cb == Some(&'*') {
                reach[i][j + 1] = true;
            }
            match (ca, cb) {
                // Both consume one common character.
                (Some(x), Some(y)) if *x != '*' && *y != '*' && x == y => {
                    reach[i + 1][j + 1] = true
                }
                // A `*` absorbs the other side's next character (or `*`).
                (Some('*'), Some(_)) => reach[i][j + 1] = true,
                (Some(_), Some('*')) => reach[i + 1][j] = true,
                _ => {}
            }
        }
    }
    reach[a.len()][b.len()]
}

/// Whether `rules` grant `capability` on every path `pattern` matches (for
/// objects of `rule_type`): one granting rule's pattern covers it, and no
/// deny rule of that type touches any of its paths. Conservative: a pattern
/// covered only by several rules together counts as not granted.
pub fn allows_pattern(
    rules: &[PathRule],
    rule_type: RuleType,
    pattern: &str,
    capability: Capability,
) -> bool {
    let of_type = || rules.iter().filter(|r| r.rule_type == rule_type);
    let denied = of_type()
        .any(|r| r.capabilities.contains(&Capability::Deny) && patterns_overlap(&r.path, pattern));
    !denied
        && of_type()
            .any(|r| r.capabilities.contains(&capability) && pattern_covers(&r.path, pattern))
}

/// Whether `raw` has the shape of an access id: `p-` and 4 to 32 letters or
/// digits. Access keys (43 characters of base64) never do, so a value that
/// passes can be written where ids go (the audit log) without risking a key.
pub fn is_access_id(raw: &str) -> bool {
    raw.strip_prefix("p-").is_some_and(|rest| {
        (4..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// An IPv4 or IPv6 network, `10.0.0.0/8` or a bare address (a host: `/32`
/// or `/128`), over [`ipnet::IpNet`]. The address is kept as written
/// (`10.1.2.3/8` shows as such) and its host bits are ignored when matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Parses `raw` as `address/prefix` or a bare address. The address is
    /// read by the standard library (which refuses octets with leading zeros,
    /// `010.0.0.1`, that other tools read as octal) rather than by ipnet's
    /// more lenient parser; ipnet checks the prefix against the family.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new(field, format!("'{raw}' is not an IP address or CIDR"));
        let (addr, prefix) = match raw.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (raw.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let net = match prefix {
            Some(prefix) => IpNet::new(addr, prefix).map_err(|_| bad())?,
            None => IpNet::from(addr),
        };
        Ok(Self(net))
    }

    /// Whether `ip` lies in this network. An IPv4-mapped IPv6 peer
    /// (`::ffff:10.0.0.1`, as a dual-stack socket reports IPv4 clients) is
    /// compared as the IPv4 address it carries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.contains(&ip)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
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
    fn pattern_containment() {
        for (outer, inner) in [
            ("*", "/anything/*"),
            ("/prod/*", "/prod/*"),
            ("/prod/*", "/prod/a/*"),
            ("/prod/*", "/prod/x"),
            ("/*/aws/*", "/prod/aws/*"),
            ("/a*", "/a*b"),
            ("/exact", "/exact"),
        ] {
            assert!(pattern_covers(outer, inner), "{outer} covers {inner}");
        }
        for (outer, inner) in [
            ("/prod/*", "*"),
            ("/prod/*", "/pro*"),
            ("/prod/x", "/prod/*"),
            ("/x/*/*", "/x/*"),
            ("/team/*", "/shared/aws"),
            ("/a*b", "/a*"),
        ] {
            assert!(
                !pattern_covers(outer, inner),
                "{outer} does not cover {inner}"
            );
        }
    }

    #[test]
    fn pattern_overlap() {
        for (a, b) in [
            ("*", "/x"),
            ("/prod/*", "/prod/secret/*"),
            ("/p*", "*d/x"),
            ("/a*c", "/ab*"),
            ("/x", "/x"),
        ] {
            assert!(
                patterns_overlap(a, b) && patterns_overlap(b, a),
                "{a} ~ {b}"
            );
        }
        for (a, b) in [
            ("/prod/*", "/dev/*"),
            ("/x", "/y"),
            ("/a*c", "/b*"),
            ("/a", "/a/*"),
        ] {
            assert!(
                !patterns_overlap(a, b) && !patterns_overlap(b, a),
                "{a} !~ {b}"
            );
        }
    }

    #[test]
    fn granting_a_pattern_needs_cover_and_no_deny_inside() {
        use Capability::*;
        let rules = vec![
            rule(RuleType::Item, "/team/*", &[Read, Create]),
            rule(RuleType::Item, "/team/locked/*", &[Deny]),
        ];
        assert!(allows_pattern(&rules, RuleType::Item, "/team/a/*", Read));
        assert!(
            !allows_pattern(&rules, RuleType::Item, "/team/*", Read),
            "a deny inside"
        );
        assert!(!allows_pattern(&rules, RuleType::Item, "*", Read));
        assert!(!allows_pattern(&rules, RuleType::Item, "/team/a/*", Update));
        assert!(!allows_pattern(&rules, RuleType::Target, "/team/a/*", Read));
    }

    #[test]
    fn access_id_shape() {
        assert!(is_access_id("p-abcdefghijkl"));
        assert!(is_access_id("p-testadmin0001"));
        for bad in [
            "",
            "p-",
            "p-abc",
            "x-abcdefghijkl",
            "p-abc def",
            "p-abcdefghijkl\n",
            // An access key: 43 characters of URL-safe base64.
            "p-K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYabcdef",
        ] {
            assert!(!is_access_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn rule_paths_are_capped() {
        let err = PathRule::new(
            RuleType::Item,
            &"/x".repeat(300_000),
            vec![Capability::Read],
        )
        .unwrap_err();
        assert_eq!(err.field, "path");
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

    #[test]
    fn cidrs_of_both_families_hosts_and_mapped_peers() {
        let parse = |raw: &str| Cidr::parse("bound-ips", raw).unwrap();
        let ip = |raw: &str| raw.parse::<IpAddr>().unwrap();
        // IPv6 prefixes and hosts.
        let net = parse("2001:db8:1::/48");
        assert!(net.contains(ip("2001:db8:1:ffff::1")));
        assert!(!net.contains(ip("2001:db8:2::1")));
        let host = parse("2001:db8::7");
        assert_eq!(host.to_string(), "2001:db8::7/128");
        assert!(host.contains(ip("2001:db8::7")));
        assert!(!host.contains(ip("2001:db8::8")));
        assert!(parse("::/0").contains(ip("fe80::1")));
        // Families never match each other; an IPv4-mapped peer counts as IPv4.
        assert!(!parse("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(!parse("::/0").contains(ip("10.0.0.1")));
        assert!(parse("10.0.0.0/8").contains(ip("::ffff:10.200.0.1")));
        assert!(!parse("10.0.0.0/8").contains(ip("::ffff:11.0.0.1")));
        // The address is kept as written; its host bits do not matter.
        let loose = parse(" 10.1.2.3/8 ");
        assert_eq!(loose.to_string(), "10.1.2.3/8");
        assert!(loose.contains(ip("10.99.0.1")));
        assert_eq!(parse("127.0.0.1").to_string(), "127.0.0.1/32");
        // Edges of the prefix: /32 and /128 are hosts, one more is refused.
        assert!(!parse("10.0.0.1/32").contains(ip("10.0.0.2")));
        assert!(parse("2001:db8::1/128").contains(ip("2001:db8::1")));
        for bad in [
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "010.0.0.0/8",
            "10.0.0",
            "",
            "10.0.0.0 /8",
        ] {
            let err = Cidr::parse("--trusted-proxies", bad).unwrap_err();
            assert_eq!(err.field, "--trusted-proxies", "{bad:?}");
            assert_eq!(
                err.reason,
                format!("'{bad}' is not an IP address or CIDR"),
                "{bad:?}"
            );
        }
    }
}
