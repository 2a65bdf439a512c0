//! Gateway URL normalization and endpoint building.
//!
//! Accepts what people paste: the seed's `https:\\host:8000` (backslashes become slashes), a
//! bare `host:8000` (gets `http://`), trailing slashes, and a base already ending in `/api/v2`.

use anyhow::{bail, Context, Result};

/// The gateway URL used when none is configured.
pub const DEFAULT_GATEWAY_URL: &str = "http://127.0.0.1:8000";

/// Normalizes a user-supplied gateway URL into `scheme://host[:port][/path]` without a
/// trailing slash.
pub fn normalize(input: &str) -> Result<String> {
    let cleaned = input.trim().replace('\\', "/");
    if cleaned.is_empty() {
        bail!("the gateway URL is empty");
    }
    let lower = cleaned.to_ascii_lowercase();
    let with_scheme = if let Some(scheme) = ["https:", "http:"]
        .into_iter()
        .find(|scheme| lower.starts_with(scheme))
    {
        // `https://h`, `https:/h` and `https:h` all mean `https://h`.
        let rest = cleaned[scheme.len()..].trim_start_matches('/');
        format!("{}//{rest}", &lower[..scheme.len()])
    } else if let Some((scheme, _)) = cleaned.split_once("://") {
        bail!("unsupported gateway URL scheme '{scheme}': use http:// or https://");
    } else {
        format!("http://{}", cleaned.trim_start_matches('/'))
    };
    let trimmed = with_scheme.trim_end_matches('/');
    let parsed =
        reqwest::Url::parse(trimmed).with_context(|| format!("invalid gateway URL '{trimmed}'"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        bail!("invalid gateway URL '{trimmed}': no host");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("invalid gateway URL '{trimmed}': remove the query or fragment");
    }
    Ok(trimmed.to_owned())
}

/// The endpoint of `operation` under a normalized gateway URL.
pub fn endpoint(base: &str, operation: &str) -> String {
    if base.ends_with("/api/v2") {
        format!("{base}/{operation}")
    } else {
        format!("{base}/api/v2/{operation}")
    }
}

/// The gateway's root (where `/health` lives) under a normalized gateway URL.
pub fn root(base: &str) -> &str {
    base.strip_suffix("/api/v2").unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_what_people_paste() {
        let cases = [
            (
                "https:\\\\gw.example.com:8000",
                "https://gw.example.com:8000",
            ),
            ("'https:\\\\gw:8000'".trim_matches('\''), "https://gw:8000"),
            ("https://gw:8000/", "https://gw:8000"),
            ("HTTPS://gw:8000", "https://gw:8000"),
            ("https:/gw:8000", "https://gw:8000"),
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
            ("gw.example.com:8000", "http://gw.example.com:8000"),
            ("localhost", "http://localhost"),
            ("  http://gw:8000/api/v2/  ", "http://gw:8000/api/v2"),
            ("http://[::1]:8000", "http://[::1]:8000"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).ok().as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn rejects_nonsense() {
        for input in [
            "",
            "   ",
            "ftp://gw",
            "http://",
            "http://gw:8000?x=1",
            "http://gw:notaport",
        ] {
            assert!(normalize(input).is_err(), "{input}");
        }
    }

    #[test]
    fn builds_endpoints() {
        assert_eq!(
            endpoint("http://gw:8000", "auth"),
            "http://gw:8000/api/v2/auth"
        );
        assert_eq!(
            endpoint("https://gw:8000/api/v2", "list-items"),
            "https://gw:8000/api/v2/list-items"
        );
        assert_eq!(
            endpoint("https://gw/prefix", "auth"),
            "https://gw/prefix/api/v2/auth"
        );
        assert_eq!(root("https://gw:8000/api/v2"), "https://gw:8000");
        assert_eq!(root("https://gw/prefix"), "https://gw/prefix");
    }
}
