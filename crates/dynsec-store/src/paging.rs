//! Keyset pagination: a [`Page`] of records and the opaque [`PageToken`]
//! that continues it.
//!
//! Every paged listing orders its records by a unique key an index holds in
//! that order, and a token is the key of the last record returned: the next
//! page starts strictly after it (never an `OFFSET`). So a page costs
//! O(page) index reads wherever the listing is, and a record that exists
//! from the first page to the last is returned exactly once however many are
//! added or deleted meanwhile (a record renamed meanwhile may be seen under
//! both names, or under neither if it moved behind the cursor).
//!
//! A token is typed by its listing ([`listing`]): the engine parses the
//! client's string with [`PageToken::parse`] for the listing it is about to
//! call, so a malformed token — or one from another listing — is refused as
//! the client's error, naming the request field, before the store is asked.
//! On the wire it is base64url of a small versioned JSON document; clients
//! must treat it as opaque. It carries a position only, never a secret or a
//! right: whatever it says, the records returned are the listing's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dynsec_core::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// The largest page any listing returns; larger requests are cut to it.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A requested page size as the store applies it: at least 1, at most
/// [`MAX_PAGE_SIZE`].
pub(crate) fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE_SIZE)
}

/// One page of a listing, and where the next one starts (`None`: this was
/// the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, L: Listing> {
    pub items: Vec<T>,
    pub next: Option<PageToken<L>>,
}

impl<T, L: Listing> Page<T, L> {
    /// A page of at most `limit` out of `rows` (fetched with one extra row to
    /// learn whether more follow), the token made from the last one kept.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> CursorKey) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| PageToken::new(key(last)))
        } else {
            None
        };
        Self { items: rows, next }
    }
}

/// Which listing a token continues: one marker type per paged listing.
pub trait Listing: fmt::Debug + Clone + PartialEq + Eq + Send + Sync + 'static {
    /// The listing's name inside its tokens.
    const NAME: &'static str;
}

/// The paged listings, as [`PageToken`] type parameters.
pub mod listing {
    use super::Listing;

    macro_rules! listings {
        ($($(#[$doc:meta])* $marker:ident = $name:literal;)*) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $marker;
            impl Listing for $marker {
                const NAME: &'static str = $name;
            }
        )*};
    }

    listings! {
        /// A folder's immediate sub-folders and items (`list-items`).
        ItemsInFolder = "items";
        /// Targets by name (`list-targets`).
        Targets = "targets";
        /// Dynamic secrets by name (`dynamic-secret-list`).
        DynamicSecrets = "dynamic-secrets";
        /// API-key auth methods by name (`auth-method-list`).
        AuthMethods = "auth-methods";
        /// Roles by name (`list-roles`).
        Roles = "roles";
        /// One dynamic secret's leases, newest first (tmp-creds).
        LeasesOfSecret = "leases";
        /// Leases of every dynamic secret under a name prefix.
        LeasesUnderPrefix = "leases-under";
        /// The AWS connections in use (the orphan sweep).
        Connections = "connections";
    }
}

/// Where a page ends, in the order of its listing. Private: only the store
/// makes and reads positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "l", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum CursorKey {
    /// After the entry `name` of kind `kind` (see `FolderEntryKind::rank`).
    Items {
        name: String,
        kind: u8,
    },
    Targets {
        name: String,
    },
    DynamicSecrets {
        name: String,
    },
    AuthMethods {
        name: String,
    },
    Roles {
        name: String,
    },
    /// After the lease (`created_at` in unix ms, `id`), newest first.
    Leases {
        created_at: i64,
        id: String,
    },
    /// After that lease of dynamic secret `producer_id` (secrets by id).
    LeasesUnder {
        producer_id: i64,
        created_at: i64,
        id: String,
    },
    /// After target `id` (targets come first, by id).
    ConnectionsTarget {
        id: i64,
    },
    /// After the inline connection with that key (then by key).
    ConnectionsInline {
        key: String,
    },
}

impl CursorKey {
    fn listing(&self) -> &'static str {
        use listing::*;
        match self {
            Self::Items { .. } => ItemsInFolder::NAME,
            Self::Targets { .. } => Targets::NAME,
            Self::DynamicSecrets { .. } => DynamicSecrets::NAME,
            Self::AuthMethods { .. } => AuthMethods::NAME,
            Self::Roles { .. } => Roles::NAME,
            Self::Leases { .. } => LeasesOfSecret::NAME,
            Self::LeasesUnder { .. } => LeasesUnderPrefix::NAME,
            Self::ConnectionsTarget { .. } | Self::ConnectionsInline { .. } => Connections::NAME,
        }
    }
}

/// A lease listing's position: strictly older than (`created_at` in unix
/// ms, `id`). The first page starts above every lease.
pub(crate) fn lease_position(key: Option<&CursorKey>) -> (i64, String) {
    match key {
        Some(CursorKey::Leases { created_at, id })
        | Some(CursorKey::LeasesUnder { created_at, id, .. }) => (*created_at, id.clone()),
        _ => (i64::MAX, char::MAX.to_string()),
    }
}

/// A name listing's position: strictly after this name ("" before all).
pub(crate) fn name_position(key: Option<&CursorKey>) -> &str {
    match key {
        Some(
            CursorKey::Targets { name }
            | CursorKey::DynamicSecrets { name }
            | CursorKey::AuthMethods { name }
            | CursorKey::Roles { name },
        ) => name,
        _ => "",
    }
}

/// The version written into every token; a token of another version is
/// refused (the listing starts over).
const TOKEN_VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenDocument {
    v: u8,
    k: CursorKey,
}

/// Where the next page of listing `L` starts. Opaque: see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct PageToken<L: Listing> {
    key: CursorKey,
    listing: PhantomData<fn() -> L>,
}

impl<L: Listing> PageToken<L> {
    pub(crate) fn new(key: CursorKey) -> Self {
        Self {
            key,
            listing: PhantomData,
        }
    }

    pub(crate) fn key(&self) -> &CursorKey {
        &self.key
    }

    /// Reads a token a client sent back; `field` names the request field in
    /// the error (e.g. `pagination-token`).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let invalid = || {
            ValidationError::new(
                field,
                "is not a token this listing handed out; start again without it",
            )
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim().as_bytes())
            .map_err(|_| invalid())?;
        let document: TokenDocument = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if document.v != TOKEN_VERSION || document.k.listing() != L::NAME {
            return Err(invalid());
        }
        Ok(Self::new(document.k))
    }

    /// The token as handed to clients.
    pub fn encode(&self) -> String {
        let document = TokenDocument {
            v: TOKEN_VERSION,
            k: self.key.clone(),
        };
        // A document of strings and integers always serializes.
        let json = serde_json::to_vec(&document).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }
}

impl PageToken<listing::LeasesOfSecret> {
    /// The position just after `lease` in its secret's lease listing
    /// (newest first): for a client that continues after the last lease it
    /// was shown (the tmp-creds listing is a bare list without a token).
    /// The lease may have been revoked or purged since: the position stays
    /// valid.
    pub fn after_lease(lease: &dynsec_core::Lease) -> Self {
        Self::new(CursorKey::Leases {
            created_at: lease.created_at.timestamp_millis(),
            id: lease.id.clone(),
        })
    }
}

impl<L: Listing> fmt::Display for PageToken<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl<L: Listing> fmt::Debug for PageToken<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageToken<{}>({})", L::NAME, self.encode())
    }
}

/// The filter of a name listing as both dialects apply it: a substring,
/// matched ignoring ASCII case (SQLite's `lower` folds ASCII only, and
/// PostgreSQL's does the same under the "C" collation the name columns use,
/// so both stores match alike). Empty matches everything.
pub(crate) fn name_filter(filter: &str) -> String {
    filter.to_ascii_lowercase()
}

/// The smallest string greater than every string starting with `prefix`
/// (byte order), for `name >= prefix AND name < bound` index ranges.
pub(crate) fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value, skipping the surrogate gap.
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Empty (or all U+10FFFF): above every stored name, which starts with '/'.
    char::MAX.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use listing::{DynamicSecrets, Targets};

    #[test]
    fn a_token_round_trips_and_belongs_to_its_listing() {
        let token = PageToken::<Targets>::new(CursorKey::Targets {
            name: "/aws/é".into(),
        });
        let raw = token.encode();
        assert!(raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(PageToken::<Targets>::parse("t", &raw).unwrap(), token);
        let other = PageToken::<DynamicSecrets>::parse("pagination-token", &raw).unwrap_err();
        assert_eq!(other.field, "pagination-token");
    }

    #[test]
    fn garbage_is_refused_naming_the_field() {
        for raw in [
            "",
            "!!",
            "e30",
            &URL_SAFE_NO_PAD.encode(br#"{"v":2,"k":{"l":"targets","name":"/a"}}"#),
        ] {
            let err = PageToken::<Targets>::parse("pagination-token", raw).unwrap_err();
            assert_eq!(err.field, "pagination-token", "{raw:?}");
        }
    }

    #[test]
    fn prefix_ends_bound_every_extension() {
        assert_eq!(prefix_end("/prod/"), "/prod0");
        assert_eq!(prefix_end("/a\u{D7FF}"), "/a\u{E000}");
        assert_eq!(prefix_end("/a\u{10FFFF}"), "/b");
        assert_eq!(prefix_end(""), "\u{10FFFF}");
        for name in ["/prod/", "/prod/x", "/prod/\u{10FFFF}"] {
            assert!(name >= "/prod/" && name < prefix_end("/prod/").as_str());
        }
        assert!("/prod0" >= prefix_end("/prod/").as_str());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0), 1);
        assert_eq!(page_size(50), 50);
        assert_eq!(page_size(u32::MAX), MAX_PAGE_SIZE);
    }
}
