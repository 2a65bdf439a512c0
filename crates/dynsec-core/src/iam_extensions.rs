//! The IAM surface beyond Akeyless's fields (dynsec extensions): extra tags
//! on temporary users, their permissions boundary and inline policy, session
//! policies, and the per-secret `max-ttl`. Each is checked as IAM or STS
//! would check it, so a refusal is a 400 naming the field at create/update,
//! never a failed issuance later.

use crate::ValidationError;

/// IAM allows 50 tags on a user; dynsec sets 4 of its own.
pub const MAX_USER_TAGS: usize = 46;
/// Tag keys dynsec sets itself (and the orphan sweep relies on): reserved.
pub const RESERVED_TAG_PREFIX: &str = "dynsec:";
/// IAM's limit on the inline policies of one user together (whitespace not counted).
pub const MAX_USER_INLINE_POLICY: usize = 2048;
/// STS's limit on an inline session policy's plaintext.
pub const MAX_SESSION_POLICY: usize = 2048;
/// STS accepts at most 10 managed session policies.
pub const MAX_SESSION_POLICY_ARNS: usize = 10;

/// Parses `"k=v,k2=v2"` pairs for `field` (blank entries dropped; a value may be empty).
pub fn parse_tag_pairs(field: &str, raw: &str) -> Result<Vec<(String, String)>, ValidationError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ValidationError::new(
                field,
                format!("'{pair}' is not key=value"),
            )),
        })
        .collect()
}

/// IAM's tag alphabet: letters, digits, spaces and `_ . : / = + - @`.
fn tag_text_ok(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

/// `aws-user-tags` as IAM accepts them beside dynsec's own: keys 1–128
/// characters, values up to 256, IAM's alphabet, no `aws:` or `dynsec:`
/// keys, no key twice (IAM compares keys ignoring case), at most
/// [`MAX_USER_TAGS`].
pub fn validate_user_tags(field: &str, tags: &[(String, String)]) -> Result<(), ValidationError> {
    if tags.len() > MAX_USER_TAGS {
        return Err(ValidationError::new(
            field,
            format!(
                "more than {MAX_USER_TAGS} tags (IAM allows 50 per user and dynsec sets 4 of its own)"
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || !tag_text_ok(key) {
            return Err(ValidationError::new(
                field,
                format!("tag key '{key}' is not an IAM tag key (1-128 letters, digits, spaces and _ . : / = + - @)"),
            ));
        }
        if value.chars().count() > 256 || !tag_text_ok(value) {
            return Err(ValidationError::new(
                field,
                format!("the value of tag '{key}' is not an IAM tag value (up to 256 letters, digits, spaces and _ . : / = + - @)"),
            ));
        }
        let lower = key.to_lowercase();
        if lower.starts_with("aws:") {
            return Err(ValidationError::new(
                field,
                format!("tag key '{key}': the aws: prefix is reserved by AWS"),
            ));
        }
        if lower.starts_with(RESERVED_TAG_PREFIX) {
            return Err(ValidationError::new(
                field,
                format!("tag key '{key}': dynsec: tags are set by the gateway and cannot be given or overridden"),
            ));
        }
        if !seen.insert(lower) {
            return Err(ValidationError::new(
                field,
                format!("tag key '{key}' is given twice (IAM tag keys ignore case)"),
            ));
        }
    }
    Ok(())
}

/// A policy document as IAM takes it: a JSON object, returned compact (IAM
/// does not count whitespace), at most `max` characters.
pub fn policy_document(field: &str, raw: &str, max: usize) -> Result<String, ValidationError> {
    // The raw text is bounded first, so a huge body costs nothing to refuse.
    crate::limits::text(field, raw, 16 * max)?;
    let parsed: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| ValidationError::new(field, format!("is not a JSON policy document: {e}")))?;
    if !parsed.is_object() {
        return Err(ValidationError::new(
            field,
            "must be a JSON object (a policy document with Version and Statement)",
        ));
    }
    let compact = parsed.to_string();
    let len = compact.chars().count();
    if len > max {
        return Err(ValidationError::new(
            field,
            format!("is {len} characters without whitespace; IAM allows {max}"),
        ));
    }
    Ok(compact)
}

/// A managed policy's ARN: `arn:<partition>:iam::<account or aws>:policy/<name>`.
pub fn validate_policy_arn(field: &str, arn: &str) -> Result<(), ValidationError> {
    crate::limits::text(field, arn, crate::limits::ARN)?;
    let ok = arn.starts_with("arn:")
        && arn.contains(":iam::")
        && arn.contains(":policy/")
        && arn.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("'{arn}' is not a managed policy ARN (arn:aws:iam::<account>:policy/<name>)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tags_follow_iam_rules_and_spare_dynsec_tags() {
        let ok = parse_tag_pairs("aws-user-tags", "team=payments, cost center=42,empty=").unwrap();
        validate_user_tags("aws-user-tags", &ok).unwrap();
        for bad in [
            "dynsec:managed-by=me",
            "DYNSEC:lease-id=x",
            "aws:foo=bar",
            "a=1,A=2",
            "k=v#",
            "k!=v",
        ] {
            let tags = parse_tag_pairs("aws-user-tags", bad).unwrap();
            let err = validate_user_tags("aws-user-tags", &tags).unwrap_err();
            assert_eq!(err.field, "aws-user-tags", "{bad}");
        }
        assert!(parse_tag_pairs("aws-user-tags", "novalue").is_err());
        let many: Vec<_> = (0..47).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(validate_user_tags("aws-user-tags", &many).is_err());
    }

    #[test]
    fn policy_documents_are_json_objects_within_the_limit() {
        let doc = policy_document(
            "aws-user-inline-policy",
            r#"{ "Version": "2012-10-17",
                 "Statement": [ { "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*" } ] }"#,
            MAX_USER_INLINE_POLICY,
        )
        .unwrap();
        assert!(!doc.contains(' '), "{doc}");
        for bad in ["not json", "[1]", "\"s\""] {
            assert_eq!(
                policy_document("p", bad, 100).unwrap_err().field,
                "p",
                "{bad}"
            );
        }
        let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(2048));
        assert!(policy_document("p", &big, MAX_USER_INLINE_POLICY)
            .unwrap_err()
            .reason
            .contains("2048"));
    }

    #[test]
    fn policy_arns() {
        validate_policy_arn("b", "arn:aws:iam::123456789012:policy/Boundary").unwrap();
        validate_policy_arn("b", "arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        for bad in [
            "Boundary",
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:s3:::b",
        ] {
            assert!(validate_policy_arn("b", bad).is_err(), "{bad}");
        }
    }
}
