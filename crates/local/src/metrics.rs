//! The server's Prometheus metrics, through the `metrics` facade (`kvs serve --metrics`
//! installs the exporter; without one every update is a no-op): per stream, fragments and
//! bytes ingested and GetMedia readers connected. Names are a contract: add, never rename.

use metrics::{Counter, Gauge, counter, gauge};

/// Fragments ingested (`counter`, label `stream`).
pub const INGESTED_FRAGMENTS: &str = "kvs_server_ingested_fragments_total";
/// Media bytes ingested (`counter`, label `stream`).
pub const INGESTED_BYTES: &str = "kvs_server_ingested_bytes_total";
/// GetMedia responses open (`gauge`, label `stream`).
pub const GET_MEDIA_READERS: &str = "kvs_server_get_media_readers";

/// The metric handles of one stream, registered once when the stream is made.
#[derive(Debug)]
pub(crate) struct StreamMetrics {
    pub fragments: Counter,
    pub bytes: Counter,
    pub readers: Gauge,
}

impl StreamMetrics {
    pub(crate) fn new(stream: &str) -> Self {
        let label = stream.to_owned();
        Self {
            fragments: counter!(INGESTED_FRAGMENTS, "stream" => label.clone()),
            bytes: counter!(INGESTED_BYTES, "stream" => label.clone()),
            readers: gauge!(GET_MEDIA_READERS, "stream" => label),
        }
    }
}
