//! The gateway's key material outside the database: the master keyring (its
//! file, or the operator's), customer fragments of split protection keys, and
//! `dynsec gateway create-customer-fragment`.
//!
//! The key file holds one base64 key, or during a rotation several, one per
//! line, current first (see [`dynsec_crypto::Keyring::to_text`]). It is only
//! ever replaced atomically (temp file, fsync, rename, fsync of the directory),
//! so a crash leaves either the old or the new contents — and the new contents
//! list every key still needed until every record is re-wrapped.
//!
//! One job per module: `master_key` (finding and loading the keyring),
//! `custody` (who may rewrite it: the gateway's key file or the operator;
//! the writes themselves are `dynsec_files`'), `customer_fragments` (loading `--customer-fragments`) and
//! `create_fragment` (the command that makes a new one).

mod create_fragment;
mod custody;
mod customer_fragments;
mod master_key;

pub use create_fragment::create_customer_fragment_main;
pub use customer_fragments::load_customer_fragments;
pub use master_key::{load_keyring, MASTER_KEY_FILE};
