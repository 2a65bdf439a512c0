//! Length limits of every free-text value the gateway stores, and the one
//! check that enforces them.
//!
//! Every validator in this crate (and the engine's use cases for inputs that
//! are not a core type) measures its text through [`text`] and [`list`], so a
//! limit is stated once, here, and every face refuses an oversized value with
//! the same 400 naming the field. The limits are documented in README.md
//! ("Limits"); keep the two in step.

use crate::ValidationError;

/// Item, target, role and auth-method names (see [`crate::ItemPath`]).
pub const NAME: usize = 512;
/// Descriptions and comments of every object.
pub const DESCRIPTION: usize = 1024;
/// A role rule's path pattern.
pub const RULE_PATH: usize = 512;
/// `custom-username-template`.
pub const USERNAME_TEMPLATE: usize = 256;
/// `aws-external-id` (AWS's own limit).
pub const EXTERNAL_ID: usize = 1224;
/// A TTL as written (`"1h30m"`).
pub const TTL_TEXT: usize = 64;
/// Entries of a list field (policies, groups, role ARNs, tags, session tags,
/// transitive tag keys, bound IPs).
pub const LIST_ENTRIES: usize = 100;
/// One ARN (AWS's own limit).
pub const ARN: usize = 2048;
/// One item tag, session-tag value or tag key.
pub const TAG: usize = 256;
/// An endpoint URL.
pub const URL: usize = 2048;

/// Refuses `value` when it is longer than `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    // Counting stops at the first character past the limit, so a huge value
    // costs no more than a legal one.
    if value.chars().nth(max).is_some() {
        Err(ValidationError::new(
            field,
            format!("longer than {max} characters"),
        ))
    } else {
        Ok(())
    }
}

/// Refuses a list of more than `max_entries` entries, or with an entry longer
/// than `max_each` characters.
pub fn list<S: AsRef<str>>(
    field: &str,
    values: &[S],
    max_entries: usize,
    max_each: usize,
) -> Result<(), ValidationError> {
    if values.len() > max_entries {
        return Err(ValidationError::new(
            field,
            format!("more than {max_entries} entries"),
        ));
    }
    for value in values {
        if value.as_ref().chars().nth(max_each).is_some() {
            return Err(ValidationError::new(
                field,
                format!("an entry is longer than {max_each} characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_name_the_field() {
        text("description", &"x".repeat(DESCRIPTION), DESCRIPTION).unwrap();
        let err = text("description", &"x".repeat(600_000), DESCRIPTION).unwrap_err();
        assert_eq!(err.field, "description");
        assert!(err.reason.contains("1024"), "{}", err.reason);
        // Characters, not bytes.
        text("description", &"é".repeat(DESCRIPTION), DESCRIPTION).unwrap();
    }

    #[test]
    fn list_limits_count_entries_and_their_length() {
        list("tags", &["a"; LIST_ENTRIES], LIST_ENTRIES, TAG).unwrap();
        assert_eq!(
            list("tags", &["a"; LIST_ENTRIES + 1], LIST_ENTRIES, TAG)
                .unwrap_err()
                .field,
            "tags"
        );
        let long = "t".repeat(TAG + 1);
        assert!(list("tags", &[long], LIST_ENTRIES, TAG)
            .unwrap_err()
            .reason
            .contains("256"));
    }
}
