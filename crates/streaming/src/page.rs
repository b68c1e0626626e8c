//! The contract between the web page on `kvs serve` and the server: the path of the
//! stream list the page polls ([`STREAMS_PATH`]) and its JSON ([`StreamList`]).
//!
//! The page also calls AWS's own operations on the same origin (`/getHLSStreamingSessionURL`,
//! `/listFragments`, `/getImages`), whose shapes are AWS's. It computes nothing: the
//! server fills these from its store.

use serde::Serialize;

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
