//! Domain model of dynsec: item paths, TTLs, AWS connection and dynamic-secret
//! settings, leases, and the validation rules that guard them.
//!
//! Pure: no I/O, no async runtime, no HTTP shapes. Serde derives exist only so the
//! store can persist settings; the wire format lives in `dynsec-api`.

pub mod access;
pub mod admin_key;
pub mod error;
pub mod iam_extensions;
pub mod iam_names;
pub mod lease;
pub mod limits;
pub mod path;
pub mod secret;
pub mod spec;
pub mod ttl;
pub mod username;

pub use admin_key::{AdminKeyState, HostIdentitySettings, RotationInProgress, RotationPhase};
pub use error::ValidationError;
pub use lease::{CreatedIamUser, Lease, LeaseState, NewLease};
pub use path::ItemPath;
pub use secret::SecretString;
pub use spec::{AccessMode, AwsConnection, ConnectionFields, PasswordPolicy, ProducerSettings};
