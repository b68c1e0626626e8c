//! The contract between the web page on `kvs serve` and the server: the path of the
//! stream list the page polls ([`STREAMS_PATH`]) and its JSON ([`StreamList`]), and the
//! [`PageToken`] that stands in for a signature when the server checks them.
//!
//! The page also calls AWS's own operations on the same origin (`/getHLSStreamingSessionURL`,
//! `/listFragments`, `/getImages`), whose shapes are AWS's. It computes nothing: the
//! server fills these from its store.
//!
//! A browser cannot sign with SigV4 without holding the secret key, so a server that
//! checks signatures makes a [`PageToken`] at start and prints the page's URL with it, as
//! Jupyter does. The page takes the token from its address ([`PAGE_TOKEN_PARAM`]) and
//! sends it on each call ([`PAGE_TOKEN_HEADER`]); the server accepts it in place of a
//! signature for the calls the page makes ([`PAGE_OPERATIONS`]) and for nothing else.

use serde::Serialize;

use crate::error::Error;
use crate::session::random_hex;

/// Query parameter of the page's address that carries the [`PageToken`]: `/?token=…`.
pub const PAGE_TOKEN_PARAM: &str = "token";

/// Request header in which the page sends its [`PageToken`].
pub const PAGE_TOKEN_HEADER: &str = "x-kvs-page-token";

/// The paths of the operations a [`PageToken`] may call: the ones the page makes, all
/// of them reads.
pub const PAGE_OPERATIONS: [&str; 4] =
    ["/listFragments", "/getHLSStreamingSessionURL", "/getDASHStreamingSessionURL", "/getImages"];

/// The secret that lets the page of a server that checks signatures call it: 192 random
/// bits, hex-encoded. Compared in constant time.
///
/// ```
/// use kvs_streaming::page::PageToken;
/// let token = PageToken::random()?;
/// assert_eq!(token.as_str().len(), 48);
/// assert!(token.matches(token.as_str()));
/// assert!(!token.matches(&"0".repeat(48)));
/// assert!(!token.matches(""));
/// # Ok::<(), kvs_streaming::Error>(())
/// ```
#[derive(Clone)]
pub struct PageToken(String);

impl PageToken {
    /// A fresh token from the operating system's random source.
    pub fn random() -> Result<Self, Error> {
        random_hex().map(Self)
    }

    /// The token as it goes in the page's URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token. Its time depends on the lengths only, so that
    /// timing a guess tells nothing of how much of it was right.
    pub fn matches(&self, given: &str) -> bool {
        let (ours, theirs) = (self.0.as_bytes(), given.as_bytes());
        ours.len() == theirs.len() && ours.iter().zip(theirs).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

/// Never prints the token: it is a credential.
impl std::fmt::Debug for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageToken(..)")
    }
}

/// `GET` path of the stream list.
pub const STREAMS_PATH: &str = "/api/streams";

/// The answer of [`STREAMS_PATH`]: `{"streams": [...]}`.
///
/// ```
/// use kvs_streaming::page::{StreamList, StreamSummary};
/// let list = StreamList {
///     streams: vec![StreamSummary {
///         name: "cam".into(),
///         fragments: 42,
///         last_fragment_ms: Some(1_700_000_000_000),
///         lag_ms: Some(1_200),
///         ingest_bytes_per_second: 250_000.0,
///         fragments_per_second: 0.5,
///     }],
/// };
/// assert_eq!(
///     serde_json::to_string(&list).unwrap(),
///     r#"{"streams":[{"name":"cam","fragments":42,"last_fragment_ms":1700000000000,"lag_ms":1200,"ingest_bytes_per_second":250000.0,"fragments_per_second":0.5}]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamList {
    /// Every stream, by name.
    pub streams: Vec<StreamSummary>,
}

/// One row of the page's stream table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamSummary {
    /// Stream name.
    pub name: String,
    /// Fragments stored.
    pub fragments: u64,
    /// Server timestamp of the newest fragment, ms since the epoch (null when empty).
    pub last_fragment_ms: Option<u64>,
    /// Now minus the newest fragment's producer timestamp, ms (null when empty).
    pub lag_ms: Option<u64>,
    /// Ingested bytes per second over the server's recent window.
    pub ingest_bytes_per_second: f64,
    /// Ingested fragments per second over the same window.
    pub fragments_per_second: f64,
}
