//! The read's Prometheus metrics, through the `metrics` facade: per stream fragments,
//! bytes, lag (MILLIS_BEHIND_NOW and wall clock), reconnects and errors.
//!
//! No exporter here: a binary installs one (`kvs consume --metrics`); without one every
//! update is a no-op. Handles are registered once per read, so the hot path only bumps
//! atomics. Names are a contract with dashboards: add, never rename.

use std::time::{SystemTime, UNIX_EPOCH};

use ::metrics::{Counter, Gauge, counter, gauge};
use kvs_mkv::Fragment;

/// Fragments delivered (`counter`, label `stream`).
pub const FRAGMENTS: &str = "kvs_fragments_total";
/// Media bytes received (`counter`, label `stream`).
pub const BYTES: &str = "kvs_bytes_total";
/// `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW` of the latest fragment (`gauge`, ms).
pub const MILLIS_BEHIND_NOW: &str = "kvs_millis_behind_now";
/// Wall-clock time from the latest fragment's server timestamp to its delivery (`gauge`, s).
pub const WALL_LAG: &str = "kvs_wall_lag_seconds";
/// Media requests after the first: resumes after a cut, an idle end or a failure (`counter`).
pub const RECONNECTS: &str = "kvs_reconnects_total";
/// Failures (`counter`, labels `stream` and `kind`: `retry`, `in_band`, `fatal`).
pub const ERRORS: &str = "kvs_errors_total";

/// The metric handles of one read.
#[derive(Debug, Clone)]
pub(crate) struct ReadMetrics {
    fragments: Counter,
    bytes: Counter,
    millis_behind_now: Gauge,
    wall_lag: Gauge,
    reconnects: Counter,
    retries: Counter,
    in_band: Counter,
    fatal: Counter,
}

impl ReadMetrics {
    pub(crate) fn new(stream: &str) -> Self {
        let stream = stream.to_owned();
        let errors = |kind: &'static str| counter!(ERRORS, "stream" => stream.clone(), "kind" => kind);
        Self {
            fragments: counter!(FRAGMENTS, "stream" => stream.clone()),
            bytes: counter!(BYTES, "stream" => stream.clone()),
            millis_behind_now: gauge!(MILLIS_BEHIND_NOW, "stream" => stream.clone()),
            wall_lag: gauge!(WALL_LAG, "stream" => stream.clone()),
            reconnects: counter!(RECONNECTS, "stream" => stream.clone()),
            retries: errors("retry"),
            in_band: errors("in_band"),
            fatal: errors("fatal"),
        }
    }

    pub(crate) fn bytes(&self, n: usize) {
        self.bytes.increment(n as u64);
    }

    pub(crate) fn fragment(&self, fragment: &Fragment) {
        self.fragments.increment(1);
        let kvs = fragment.kvs();
        if let Some(lag) = kvs.millis_behind_now {
            self.millis_behind_now.set(lag as f64);
        }
        if let Some(server) = &kvs.server_timestamp {
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            self.wall_lag.set((now_ms - server.unix_millis()) as f64 / 1000.0);
        }
    }

    pub(crate) fn reconnect(&self) {
        self.reconnects.increment(1);
    }

    pub(crate) fn retry(&self) {
        self.retries.increment(1);
    }

    pub(crate) fn in_band(&self) {
        self.in_band.increment(1);
    }

    pub(crate) fn fatal(&self) {
        self.fatal.increment(1);
    }
}
