//! [`Stats`]: counters shared between the driver and whoever watches it (the CLI's
//! progress line, tracing, tests). Atomics only; nothing here waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one read. Cheap to clone; [`snapshot`](Self::snapshot) reads them.
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) fragments: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) peak_in_flight: AtomicU64,
    /// `u64::MAX` until a fragment tells.
    pub(crate) millis_behind_now: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) cut: AtomicU64,
    pub(crate) skipped_bytes: AtomicU64,
    pub(crate) peak_buffered_bytes: AtomicU64,
}

/// The counters of a read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// Fragments handed to the queue (delivered or about to be).
    pub fragments: u64,
    /// Bytes received from the network or reader.
    pub bytes: u64,
    /// Media requests made (GetMedia, GetMediaForFragmentList).
    pub requests: u64,
    /// Retries after a failure (throttling, 5xx, a dropped connection).
    pub retries: u64,
    /// Items parsed and not yet taken by the application.
    pub in_flight: u64,
    /// The most items ever in flight: bounded by the queue capacity plus two (one waiting
    /// to enter the queue, one being handed over).
    pub peak_in_flight: u64,
    /// `MILLIS_BEHIND_NOW` of the latest fragment that carried it.
    pub millis_behind_now: Option<u64>,
    /// Fragments dropped because they had been delivered already.
    pub duplicates: u64,
    /// Fragments dropped because a connection cut them (they came again).
    pub cut: u64,
    /// Bytes skipped because they were not part of a fragment.
    pub skipped_bytes: u64,
    /// The most bytes the parser ever held while waiting for the rest of a fragment.
    pub peak_buffered_bytes: u64,
}

impl Stats {
    pub(crate) fn new() -> Self {
        let stats = Self::default();
        stats.0.millis_behind_now.store(u64::MAX, Relaxed);
        stats
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.0
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.0;
        let lag = c.millis_behind_now.load(Relaxed);
        Snapshot {
            fragments: c.fragments.load(Relaxed),
            bytes: c.bytes.load(Relaxed),
            requests: c.requests.load(Relaxed),
            retries: c.retries.load(Relaxed),
            in_flight: c.in_flight.load(Relaxed),
            peak_in_flight: c.peak_in_flight.load(Relaxed),
            millis_behind_now: (lag != u64::MAX).then_some(lag),
            duplicates: c.duplicates.load(Relaxed),
            cut: c.cut.load(Relaxed),
            skipped_bytes: c.skipped_bytes.load(Relaxed),
            peak_buffered_bytes: c.peak_buffered_bytes.load(Relaxed),
        }
    }
}

impl Counters {
    /// One more item is on its way to the application.
    pub(crate) fn enqueued(&self) {
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Relaxed);
    }

    /// The application took an item.
    pub(crate) fn dequeued(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }
}
