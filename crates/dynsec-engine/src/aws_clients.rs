//! The SDK adapter's kept clients: one [`AwsAdmin`] per connection (a
//! stored key, or the host's identity), kept for as long as the
//! connection's settings stay the same.
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
//! Host-identity connections (`use-gw-cloud-identity`) are kept in the same
//! cache, keyed by their region, endpoints, role, external id and attempts:
//! their credential chain is resolved once per admin and refreshed by the
//! SDK.
//!
//! Bounded: at most [`MAX_CACHED_CONNECTIONS`] admins of both kinds
//! together; a new one beyond that evicts the least recently used. An
//! evicted connection's next use builds a new admin over the same pool (its
//! idle connections are still there) and asks STS its account again;
//! nothing else is lost.

use dynsec_aws::{AwsAdmin, AwsHttp, HostIdentity, HostRole};
use dynsec_core::{AwsConnection, SecretString};
use dynsec_crypto::MacKey;
use hashlink::LruCache;
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
    /// Least recently used first.
    entries: Mutex<LruCache<Fingerprint, AwsAdmin>>,
}

impl fmt::Debug for AwsClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsClients")
            .field("cached", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// HMAC of a connection's settings under the cache's own key.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Fingerprint(String);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

/// The settings an admin is built from, serialized without ambiguity: each
/// field length-prefixed, so that no two different settings serialize alike.
struct Settings(zeroize::Zeroizing<Vec<u8>>);

impl Settings {
    /// `kind` keeps a stored key's settings apart from a host identity's.
    fn of_kind(kind: &str) -> Self {
        let mut settings = Self(zeroize::Zeroizing::new(Vec::with_capacity(256)));
        settings.field(Some(kind));
        settings
    }

    fn field(&mut self, value: Option<&str>) {
        match value {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.0.extend_from_slice(&(v.len() as u64).to_be_bytes());
                self.0.extend_from_slice(v.as_bytes());
            }
        }
    }
}

impl AwsClients {
    /// A cache of at most `capacity` admins, all over `http`.
    pub(crate) fn new(http: AwsHttp, capacity: usize) -> Self {
        let key_material = zeroize::Zeroizing::new(dynsec_crypto::random_secret());
        let capacity = capacity.max(1);
        Self {
            http,
            fingerprint_key: MacKey::derive_from(key_material.as_bytes(), "dynsec aws clients"),
            capacity,
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The admin for `conn` with `max_attempts` SDK attempts per call: the
    /// kept one if these settings were seen before, else a new one (cheap:
    /// no I/O, SDK clients built on first use).
    pub(crate) fn admin(&self, conn: &AwsConnection, max_attempts: u32) -> AwsAdmin {
        let fingerprint = self.fingerprint(conn, max_attempts);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(admin) = entries.get(&fingerprint) {
            return admin.clone();
        }
        let admin = AwsAdmin::with_http(conn, max_attempts, &self.http);
        // Evicts the least recently used one when full.
        entries.insert(fingerprint, admin.clone());
        admin
    }

    /// The admin acting as the gateway host (`host`), with `max_attempts`
    /// SDK attempts per call: the kept one for these settings, else a new
    /// one (building it sets up the default credential chain).
    pub(crate) async fn host_admin(&self, host: &HostIdentity, max_attempts: u32) -> AwsAdmin {
        let fingerprint = self.host_fingerprint(host, max_attempts);
        let kept = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&fingerprint)
            .cloned();
        if let Some(admin) = kept {
            return admin;
        }
        // Built without the lock held. Two callers racing here each build
        // one; the later insert wins, and both work.
        let admin = AwsAdmin::from_host_identity(host, max_attempts, &self.http).await;
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fingerprint, admin.clone());
        admin
    }

    /// How many admins are kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Every field a stored key's admin is built from, under the cache's
    /// HMAC key.
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
        let mut settings = Settings::of_kind("key");
        settings.field(Some(access_key_id.as_str()));
        settings.field(Some(secret_access_key.expose()));
        settings.field(session_token.as_ref().map(SecretString::expose));
        settings.field(Some(region.as_str()));
        settings.field(iam_endpoint.as_deref());
        settings.field(sts_endpoint.as_deref());
        settings.field(Some(max_attempts.to_string().as_str()));
        Fingerprint(self.fingerprint_key.mac_hex(&settings.0))
    }

    /// Every field a host identity's admin is built from.
    fn host_fingerprint(&self, host: &HostIdentity, max_attempts: u32) -> Fingerprint {
        // Destructured: a field added to either must be decided on here.
        let HostIdentity {
            region,
            iam_endpoint,
            sts_endpoint,
            assume_role,
        } = host;
        let mut settings = Settings::of_kind("host");
        settings.field(Some(region.as_str()));
        settings.field(iam_endpoint.as_deref());
        settings.field(sts_endpoint.as_deref());
        match assume_role {
            None => settings.field(None),
            Some(HostRole {
                role_arn,
                external_id,
                session_name,
            }) => {
                settings.field(Some(role_arn.as_str()));
                settings.field(external_id.as_deref());
                settings.field(Some(session_name.as_str()));
            }
        }
        settings.field(Some(max_attempts.to_string().as_str()));
        Fingerprint(self.fingerprint_key.mac_hex(&settings.0))
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

    #[tokio::test]
    async fn host_identity_admins_are_kept_in_the_same_bounded_cache() {
        let clients = AwsClients::new(AwsHttp::new(), 2);
        let host = HostIdentity {
            region: "us-east-1".into(),
            iam_endpoint: Some("http://127.0.0.1:1".into()),
            sts_endpoint: Some("http://127.0.0.1:1".into()),
            assume_role: None,
        };
        let first = clients.host_admin(&host, 3).await;
        assert!(clients
            .host_admin(&host, 3)
            .await
            .shares_clients_with(&first));
        let mut with_role = host.clone();
        with_role.assume_role = Some(HostRole {
            role_arn: "arn:aws:iam::123456789012:role/gw".into(),
            external_id: None,
            session_name: "dynsec-gateway".into(),
        });
        assert!(!clients
            .host_admin(&with_role, 3)
            .await
            .shares_clients_with(&first));
        assert!(!clients
            .host_admin(&host, 5)
            .await
            .shares_clients_with(&first));
        assert_eq!(clients.len(), 2, "bounded");
        clients.admin(&conn("one"), 3);
        assert_eq!(clients.len(), 2, "one bound for both kinds");
    }
}
