//! Paged listings as the engine answers them: one answer is filled from the
//! store's keyset pages ([`dynsec_store::paging`]), filtered by what the
//! caller may `list`, and continued by an opaque `next_page` token.
//!
//! Authorization filters rows out of a store page, so an answer is filled
//! by asking for the next store page — but only for as many rows as are
//! still missing (so the answer never overflows and the store's own token
//! of the last row read is always a correct continuation), and at most
//! [`STORE_READS_PER_ANSWER`] times (so an answer costs O(page) even when
//! the caller may list almost nothing). An answer may therefore be short,
//! even empty, while `next_page` is set: clients follow `next_page` until it
//! is absent, and every row is then seen exactly once.

use crate::{Engine, EngineError};
use dynsec_store::paging::Listing;
use dynsec_store::{Page, PageToken, StoreError, MAX_PAGE_SIZE};
use std::future::Future;
use std::pin::Pin;

/// Page size of a listing when the gateway is not told otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Store pages read at most to fill one answer.
pub(crate) const STORE_READS_PER_ANSWER: u32 = 5;

/// The request field a page token comes in.
pub const PAGE_TOKEN_FIELD: &str = "pagination-token";

/// A store page being read (boxed: the listings' futures must stay `Send`
/// for the request tasks that await them).
pub(crate) type StorePage<'a, T, L> =
    Pin<Box<dyn Future<Output = Result<Page<T, L>, StoreError>> + Send + 'a>>;

/// One answer of a paged listing.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Where the listing continues; `None` when this was the last answer.
    pub next_page: Option<String>,
}

/// A client's page token for listing `L`: blank means "from the start"; a
/// token of another listing or a malformed one is the client's error,
/// naming `pagination-token`.
pub(crate) fn parse_token<L: Listing>(
    raw: Option<&str>,
) -> Result<Option<PageToken<L>>, EngineError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => Ok(Some(PageToken::parse(PAGE_TOKEN_FIELD, raw)?)),
    }
}

/// Fills one answer of at most `size` rows from store pages starting after
/// `start`: `keep` maps each row read to what the answer shows (`None`:
/// the caller may not see it). See the module docs for the bounds.
pub(crate) async fn fill<'a, T, U, L: Listing>(
    start: Option<PageToken<L>>,
    size: u32,
    mut fetch: impl FnMut(Option<PageToken<L>>, u32) -> StorePage<'a, T, L>,
    mut keep: impl FnMut(T) -> Option<U>,
) -> Result<Paged<U>, EngineError> {
    let size = size.clamp(1, MAX_PAGE_SIZE);
    let mut cursor = start;
    let mut items: Vec<U> = Vec::new();
    for _ in 0..STORE_READS_PER_ANSWER {
        let missing = size.saturating_sub(u32::try_from(items.len()).unwrap_or(u32::MAX));
        if missing == 0 {
            break;
        }
        let page = fetch(cursor.take(), missing).await?;
        items.extend(page.items.into_iter().filter_map(&mut keep));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(Paged {
        items,
        next_page: cursor.map(|token| token.encode()),
    })
}

impl Engine {
    /// The page size of a listing answer: the gateway's `list_page_size`
    /// unless the request asks for another (cut to 1..=[`MAX_PAGE_SIZE`]).
    pub(crate) fn page_size(&self, requested: Option<u32>) -> u32 {
        requested
            .unwrap_or(self.config().list_page_size)
            .clamp(1, MAX_PAGE_SIZE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use dynsec_store::paging::listing::Targets;

    #[test]
    fn blank_tokens_start_over_and_foreign_ones_are_refused() {
        assert!(parse_token::<Targets>(None).unwrap().is_none());
        assert!(parse_token::<Targets>(Some("  ")).unwrap().is_none());
        match parse_token::<Targets>(Some("nonsense")) {
            Err(EngineError::Invalid(err)) => assert_eq!(err.field, PAGE_TOKEN_FIELD),
            other => panic!("{other:?}"),
        }
    }
}
