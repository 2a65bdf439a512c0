//! AWS side of dynsec: temporary IAM users (create with grants and credentials,
//! complete teardown, listing for the orphan sweep) and STS AssumeRole sessions.
//!
//! Every call goes through [`AwsAdmin`], built from one `dynsec_core::AwsConnection`,
//! and fails with a classified [`AwsError`] so the engine can tell retryable
//! trouble from denied or invalid requests. Secrets cross this API only as
//! `dynsec_core::SecretString`, whose `Debug` is redacted.

mod admin;
mod error;
mod users;

pub use admin::{AssumeRoleRequest, AwsAdmin, SessionCredentials};
pub use error::{AwsError, AwsErrorKind};
pub use users::{IssuedIamUser, NewIamUser, UserWithTags, LEASE_ID_TAG};
