//! The web page of `kvs serve`: its files (`kvs-streaming`'s [`asset`] table: the HTML,
//! script, style, and hls.js with its licence, compiled into the binary), the stream
//! list it polls ([`STREAMS_PATH`], [`StreamList`]), filled from the store, and who may
//! call as the page when the server checks signatures ([`authorize`]).
//!
//! The page's other calls are AWS's own operations on the same origin; nothing here
//! plays or decodes media.
//!
//! With credentials, the files are served to anyone (they hold no data) and everything
//! else wants the server's [`PageToken`](kvs_streaming::page::PageToken): the stream
//! list, and the read operations of [`PAGE_OPERATIONS`], which take it in place of a
//! SigV4 signature. The token lets no other operation through.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kvs_streaming::asset;
use kvs_streaming::page::{
    PAGE_OPERATIONS, PAGE_TOKEN_HEADER, PageToken, STREAMS_PATH, StreamList, StreamSummary,
};

use super::Shared;
use super::errors::{ApiError, ErrorType};
use crate::store::now_ms;

/// The window over which ingest rates are averaged.
const RATE_WINDOW_MS: i64 = 10_000;

/// Who a request is, as far as the page is concerned.
#[derive(Debug)]
pub(super) enum Caller {
    /// The page, with the server's token, calling one of [`PAGE_OPERATIONS`]: no
    /// signature needed.
    Page,
    /// A request without a page token (or a server without credentials): its signature
    /// is checked as usual.
    NotThePage,
    /// A page token that is wrong, or right but for an operation the page does not make.
    Refused(ApiError),
}

/// Whether a POST to `path` comes from the page, by its [`PAGE_TOKEN_HEADER`].
pub(super) fn authorize(shared: &Shared, path: &str, headers: &HeaderMap) -> Caller {
    let Some(token) = &shared.page_token else { return Caller::NotThePage };
    if !headers.contains_key(PAGE_TOKEN_HEADER) {
        return Caller::NotThePage;
    }
    if !carries(token, headers) {
        return Caller::Refused(unrecognised_token());
    }
    if !PAGE_OPERATIONS.contains(&path) {
        return Caller::Refused(ApiError::new(
            ErrorType::NotAuthorized,
            format!("the page token allows {} only; sign other calls", PAGE_OPERATIONS.join(", ")),
        ));
    }
    Caller::Page
}

/// Whether `headers` carry `token` in [`PAGE_TOKEN_HEADER`].
fn carries(token: &PageToken, headers: &HeaderMap) -> bool {
    headers.get(PAGE_TOKEN_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|given| token.matches(given))
}

fn unrecognised_token() -> ApiError {
    ApiError::new(
        ErrorType::UnrecognizedClient,
        "this server checks signatures: open the page at the address `kvs serve` printed, \
         which carries its token",
    )
}

/// The answer to a GET of `path` if it is one of the page's, else `None`.
pub(super) fn get(shared: &Shared, path: &str, headers: &HeaderMap) -> Option<Response> {
    if path == STREAMS_PATH {
        if let Some(token) = &shared.page_token
            && !carries(token, headers)
        {
            return Some(unrecognised_token().into_response());
        }
        let body = serde_json::to_string(&streams(shared)).unwrap_or_default();
        return Some(with_type((StatusCode::OK, body).into_response(), "application/json"));
    }
    let asset = asset(path)?;
    let mut response = with_type((StatusCode::OK, asset.bytes).into_response(), asset.content_type);
    // The files change only with the binary; the stream list is never cached.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

fn with_type(mut response: Response, content_type: &'static str) -> Response {
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Every stream, by name: fragments kept, the newest one's times, and what came in over
/// the last [`RATE_WINDOW_MS`].
fn streams(shared: &Shared) -> StreamList {
    let now = now_ms();
    let mut streams: Vec<StreamSummary> = shared
        .store
        .list()
        .iter()
        .map(|stream| {
            let fragments = stream.fragments();
            let newest = fragments.iter().max_by_key(|f| f.server_ms);
            let recent = fragments.iter().filter(|f| f.server_ms > now - RATE_WINDOW_MS);
            let (count, bytes) = recent.fold((0u64, 0u64), |(n, b), f| (n + 1, b + f.size()));
            let window_s = RATE_WINDOW_MS as f64 / 1000.0;
            StreamSummary {
                name: stream.info.name.clone(),
                fragments: fragments.len() as u64,
                last_fragment_ms: newest.map(|f| f.server_ms.max(0) as u64),
                lag_ms: newest.map(|f| now.saturating_sub(f.producer_ms).max(0) as u64),
                ingest_bytes_per_second: bytes as f64 / window_s,
                fragments_per_second: count as f64 / window_s,
            }
        })
        .collect();
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    StreamList { streams }
}
