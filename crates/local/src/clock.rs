//! The wall clock of the server: the one place that reads [`SystemTime`] for the store,
//! ingestion, the camera and replay, in the millisecond epoch times KVS speaks (server
//! and producer timestamps, `MillisBehindNow`).
//!
//! Not here: monotonic time ([`Instant`](std::time::Instant)) for pacing, rate limits
//! and timeouts, which never becomes a timestamp; and the signature check's clock skew
//! (`auth`), which compares `SystemTime`s as SigV4 does.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
