//! Listings page by page ([`Behaviour::Listing`]): unless `--pagination-token` asks for one
//! page, the CLI follows the gateway's `next_page` and prints every page as one answer, its
//! lists (`items`, `folders`, `targets`, ...) concatenated in order, without the paging
//! fields (`next_page`, `has_next`): the shape of an unpaged answer.
//!
//! [`Behaviour::Listing`]: super::spec::Behaviour::Listing

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use super::client::Gateway;

/// Pages fetched at most for one command: far beyond any real listing (1000 pages of the
/// default 100 entries), a guard against a gateway that never stops answering `next_page`.
const MAX_PAGES: usize = 1000;

/// The whole listing `op`, walking `next_page` from the first page.
pub async fn all_pages(gateway: &Gateway, op: &str, body: Map<String, Value>) -> Result<Value> {
    let mut request = body;
    let mut merged = Map::new();
    for _ in 0..MAX_PAGES {
        let answer = gateway.call(op, &Value::Object(request.clone())).await?;
        let Value::Object(mut page) = answer else {
            // Not a paged answer: print it as it came.
            return Ok(answer);
        };
        page.remove("has_next");
        let next = page
            .remove("next_page")
            .and_then(|next| next.as_str().map(str::to_owned))
            .filter(|next| !next.is_empty());
        for (key, value) in page {
            match (merged.get_mut(&key), value) {
                (Some(Value::Array(all)), Value::Array(more)) => all.extend(more),
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
        match next {
            Some(token) => {
                request.insert("pagination-token".to_owned(), Value::String(token));
            }
            None => return Ok(Value::Object(merged)),
        }
    }
    bail!("the gateway answered more than {MAX_PAGES} pages of {op}; list a narrower path or filter, or page with --pagination-token")
}
