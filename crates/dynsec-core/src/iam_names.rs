//! The names dynsec gives what it creates in IAM, in one place: the tags on
//! every temporary user (issuance sets them, the orphan sweep and
//! CreateUser's retry read them back) and the user-name prefix.
//! Everything here starts with [`crate::iam_extensions::RESERVED_TAG_PREFIX`]
//! (tags) so a secret's own user tags can never set or override one.

/// The gateway that created the user (`EngineConfig::managed_by`).
pub const MANAGED_BY_TAG: &str = "dynsec:managed-by";
/// The dynamic secret the user was issued from (its path).
pub const DYNAMIC_SECRET_TAG: &str = "dynsec:dynamic-secret";
/// The lease the user was created for; CreateUser's EntityAlreadyExists is
/// taken up only for a user carrying this lease's id.
pub const LEASE_ID_TAG: &str = "dynsec:lease-id";
/// When the lease ends (RFC 3339, seconds): the orphan sweep removes an
/// unclaimed user only once this has passed. Kept true on TTL changes.
pub const EXPIRES_AT_TAG: &str = "dynsec:expires-at";

/// What every generated temporary user name starts with
/// (`tmp.<leaf>.<lease id>`), unless a username template says otherwise.
pub const TMP_USER_PREFIX: &str = "tmp.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam_extensions::RESERVED_TAG_PREFIX;

    #[test]
    fn every_tag_is_reserved_to_the_gateway() {
        for tag in [
            MANAGED_BY_TAG,
            DYNAMIC_SECRET_TAG,
            LEASE_ID_TAG,
            EXPIRES_AT_TAG,
        ] {
            assert!(tag.starts_with(RESERVED_TAG_PREFIX), "{tag}");
        }
    }
}
