//! The engine's AWS clients: one [`AwsAdmin`] per connection, kept for as
//! long as the connection's settings stay the same.
//!
//! Building an admin per issuance or revocation would give every call fresh
//! SDK clients; since every admin shares one [`AwsHttp`] (one connection
//! pool, one parse of the TLS root store) that alone no longer opens new
//! connections, but the SDK clients, their credential cache and the caller
//! identity (the account check asks STS once per admin) would still be
//! rebuilt and re-asked each time. So the engine keeps the admins here,
//! keyed by a fingerprint of everything the admin is built from: key id,
//! secret, session token, region, endpoints, SDK attempts. A connection whose
//! settings change (a target updated, a key rotated, an inline connection
//! replaced) gets a new fingerprint and so a new admin; the old one is never
//! used again and ages out. Issuance, revocation, TTL changes and the orphan
//! sweep all come through here, so a target's dynamic secrets share one admin.
//!
//! The fingerprint is an HMAC under a key drawn at start-up, never written
//! anywhere: it identifies settings within this process only and says nothing
//! about the secret it covers. It has no `Debug` of its own worth showing.
//!
//! Bounded: at most [`MAX_CACHED_CONNECTIONS`] admins; a new one beyond that
//! evicts the least recently used. An evicted connection's next use builds a
//! new admin over the same pool (its idle connections are still there) and
//! asks STS its account again; nothing else is lost.

use dynsec_aws::{AwsAdmin, AwsHttp};
use dynsec_core::{AwsConnection, SecretString};
use dynsec_crypto::MacKey;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// How many connections' admins are kept. A gateway rarely has more than a
/// few dozen distinct connections in use; each kept admin is a few tens of
/// KB once its SDK clients exist.
pub(crate) const MAX_CACHED_CONNECTIONS: usize = 256;

/// The kept admins of one engine.
pub(crate) struct AwsClients {
    http: AwsHttp,
    fingerprint_key: MacKey,
    capacity: usize,
    entries: Mutex<Entries>,
}

impl fmt::Debug for AwsClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsClients")
            .field("cached", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Entries {
    by_fingerprint: HashMap<Fingerprint, Entry>,
    /// Incremented on every lookup; an entry's `last_used` is the tick of
    /// its latest lookup, so the smallest one is the least recently used.
    tick: u64,
}

struct Entry {
    admin: AwsAdmin,
    last_used: u64,
}

/// HMAC of a connection's settings under the cache's own key.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Fingerprint(String);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

impl AwsClients {
    /// A cache of at most `capacity` admins, all over `http`.
    pub(crate) fn new(http: AwsHttp, capacity: usize) -> Self {
        let key_material = zeroize::Zeroizing::new(dynsec_crypto::random_secret());
        Self {
            http,
            fingerprint_key: MacKey::derive_from(key_material.as_bytes(), "dynsec aws clients"),
            capacity: capacity.max(1),
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The admin for `conn` with `max_attempts` SDK attempts per call: the
    /// kept one if these settings were seen before, else a new one (cheap:
    /// no I/O, SDK clients built on first use).
    pub(crate) fn admin(&self, conn: &AwsConnection, max_attempts: u32) -> AwsAdmin {
        let fingerprint = self.fingerprint(conn, max_attempts);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.tick += 1;
        let tick = entries.tick;
        if let Some(entry) = entries.by_fingerprint.get_mut(&fingerprint) {
            entry.last_used = tick;
            return entry.admin.clone();
        }
        if entries.by_fingerprint.len() >= self.capacity {
            let oldest = entries
                .by_fingerprint
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(fingerprint, _)| fingerprint.clone());
            if let Some(oldest) = oldest {
                entries.by_fingerprint.remove(&oldest);
            }
        }
        let admin = AwsAdmin::with_http(conn, max_attempts, &self.http);
        entries.by_fingerprint.insert(
            fingerprint,
            Entry {
                admin: admin.clone(),
                last_used: tick,
            },
        );
        admin
    }

    /// How many admins are kept.
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_fingerprint
            .len()
    }

    /// Every field the admin is built from, each length-prefixed so that no
    /// two different settings serialize alike, under the cache's HMAC key.
    fn fingerprint(&self, conn: &AwsConnection, max_attempts: u32) -> Fingerprint {
        // Destructured: a field added to AwsConnection must be decided on here.
        let AwsConnection {
            access_key_id,
            secret_access_key,
            session_token,
            region,
            iam_endpoint,
            sts_endpoint,
        } = conn;
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(256));
        let mut field = |value: Option<&str>| match value {
            None => buf.push(0),
            Some(v) => {
                buf.push(1);
                buf.extend_from_slice(&(v.len() as u64).to_be_bytes());
                buf.extend_from_slice(v.as_bytes());
            }
        };
        field(Some(access_key_id.as_str()));
        field(Some(secret_access_key.expose()));
        field(session_token.as_ref().map(SecretString::expose));
        field(Some(region.as_str()));
        field(iam_endpoint.as_deref());
        field(sts_endpoint.as_deref());
        field(Some(max_attempts.to_string().as_str()));
        Fingerprint(self.fingerprint_key.mac_hex(&buf))
    }
}

/// What an issuance created, as the lease records it.
pub(crate) fn created_record(created: &dynsec_aws::CreatedIamUser) -> dynsec_core::CreatedIamUser {
    // Destructured both ways: a field added to either side must be mapped.
    let dynsec_aws::CreatedIamUser {
        user_name,
        access_key_id,
        login_profile,
        attached_policies,
        groups,
        inline_policy,
        permissions_boundary,
    } = created.clone();
    dynsec_core::CreatedIamUser {
        user_name,
        access_key_id,
        login_profile,
        attached_policies,
        groups,
        inline_policy,
        permissions_boundary,
    }
}

/// A lease's record of what was created, for `teardown_created` of the
/// lease's own user (`principal`: the name the lease claims, which issuance
/// recorded as the created user's name too).
pub(crate) fn created_for_teardown(
    principal: &str,
    created: &dynsec_core::CreatedIamUser,
) -> dynsec_aws::CreatedIamUser {
    let dynsec_core::CreatedIamUser {
        user_name: _,
        access_key_id,
        login_profile,
        attached_policies,
        groups,
        inline_policy,
        permissions_boundary,
    } = created.clone();
    dynsec_aws::CreatedIamUser {
        user_name: principal.to_string(),
        access_key_id,
        login_profile,
        attached_policies,
        groups,
        inline_policy,
        permissions_boundary,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn conn(secret: &str) -> AwsConnection {
        AwsConnection {
            access_key_id: "AKIAEXAMPLEKEYID0001".into(),
            secret_access_key: SecretString::new(secret),
            session_token: None,
            region: "us-east-1".into(),
            iam_endpoint: Some("http://127.0.0.1:1".into()),
            sts_endpoint: Some("http://127.0.0.1:1".into()),
        }
    }

    #[test]
    fn the_same_settings_get_the_same_admin_and_any_change_a_new_one() {
        let clients = AwsClients::new(AwsHttp::new(), 16);
        let first = clients.admin(&conn("secret-one"), 3);
        assert!(clients
            .admin(&conn("secret-one"), 3)
            .shares_clients_with(&first));
        assert_eq!(clients.len(), 1);

        let mut changes: Vec<(&str, AwsConnection, u32)> = Vec::new();
        changes.push(("secret", conn("secret-two"), 3));
        let mut c = conn("secret-one");
        c.access_key_id = "AKIAEXAMPLEKEYID0002".into();
        changes.push(("key id", c, 3));
        let mut c = conn("secret-one");
        c.session_token = Some(SecretString::new("token"));
        changes.push(("session token", c, 3));
        let mut c = conn("secret-one");
        c.region = "eu-west-1".into();
        changes.push(("region", c, 3));
        let mut c = conn("secret-one");
        c.iam_endpoint = Some("http://127.0.0.1:2".into());
        changes.push(("IAM endpoint", c, 3));
        let mut c = conn("secret-one");
        c.sts_endpoint = None;
        changes.push(("STS endpoint", c, 3));
        changes.push(("attempts", conn("secret-one"), 5));
        for (what, changed, attempts) in &changes {
            assert!(
                !clients
                    .admin(changed, *attempts)
                    .shares_clients_with(&first),
                "a changed {what} must get a new admin"
            );
        }
        assert_eq!(clients.len(), 1 + changes.len());
        assert!(
            clients
                .admin(&conn("secret-one"), 3)
                .shares_clients_with(&first),
            "the original settings still have theirs"
        );
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let clients = AwsClients::new(AwsHttp::new(), 16);
        let mut a = conn("ab");
        a.access_key_id = "AKIAX".into();
        let mut b = conn("b");
        b.access_key_id = "AKIAXa".into();
        assert_ne!(clients.fingerprint(&a, 3), clients.fingerprint(&b, 3));
    }

    #[test]
    fn the_least_recently_used_admin_goes_when_the_cache_is_full() {
        let clients = AwsClients::new(AwsHttp::new(), 2);
        let one = clients.admin(&conn("one"), 3);
        let two = clients.admin(&conn("two"), 3);
        // `one` is used again, so `two` is the least recently used.
        clients.admin(&conn("one"), 3);
        clients.admin(&conn("three"), 3);
        assert_eq!(clients.len(), 2, "bounded");
        assert!(clients.admin(&conn("one"), 3).shares_clients_with(&one));
        assert!(
            !clients.admin(&conn("two"), 3).shares_clients_with(&two),
            "evicted, so rebuilt"
        );
    }

    #[test]
    fn debug_shows_no_settings() {
        let clients = AwsClients::new(AwsHttp::new(), 2);
        clients.admin(&conn("wJalrXUtnFEMIsecret"), 3);
        let fingerprint = clients.fingerprint(&conn("wJalrXUtnFEMIsecret"), 3);
        let shown = format!("{clients:?} {fingerprint:?}");
        assert!(
            !shown.contains("wJalr") && !shown.contains("AKIA"),
            "{shown}"
        );
        assert!(!shown.contains(&fingerprint.0), "{shown}");
    }

    #[test]
    fn created_records_round_trip_to_the_leases_user() {
        let created = dynsec_aws::CreatedIamUser {
            user_name: "tmp.x.abc".into(),
            access_key_id: Some("AKIAKEY".into()),
            login_profile: true,
            attached_policies: vec!["arn:aws:iam::1:policy/p".into()],
            groups: vec!["g".into()],
            inline_policy: Some("dynsec-inline".into()),
            permissions_boundary: Some("arn:aws:iam::1:policy/b".into()),
        };
        let record = created_record(&created);
        assert_eq!(record.user_name, "tmp.x.abc");
        assert_eq!(created_for_teardown("tmp.x.abc", &record), created);
    }
}
