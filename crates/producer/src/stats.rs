//! [`Stats`]: counters a put updates as it goes, read from another thread for progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one put; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    built: AtomicU64,
    sent: AtomicU64,
    resent: AtomicU64,
    persisted: AtomicU64,
    dropped: AtomicU64,
    bytes_sent: AtomicU64,
    reconnects: AtomicU64,
    /// Latency of the last PERSISTED ack, ms, plus one (0: none yet).
    ack_latency: AtomicU64,
    buffered: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// Fragments cut from the input.
    pub fragments_built: u64,
    /// Fragments written to a connection (resends included).
    pub fragments_sent: u64,
    /// Of those, resends after a drop.
    pub fragments_resent: u64,
    /// Fragments KVS acknowledged as persisted.
    pub fragments_persisted: u64,
    /// Fragments dropped from a full buffer (`realtime`).
    pub fragments_dropped: u64,
    /// Fragment bytes written (headers included).
    pub bytes_sent: u64,
    /// Connections dropped and made again.
    pub reconnects: u64,
    /// From sending to PERSISTED, for the last fragment persisted.
    pub ack_latency_ms: Option<u64>,
    /// Bytes held waiting for PERSISTED.
    pub buffered_bytes: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            fragments_built: get(&c.built),
            fragments_sent: get(&c.sent),
            fragments_resent: get(&c.resent),
            fragments_persisted: get(&c.persisted),
            fragments_dropped: get(&c.dropped),
            bytes_sent: get(&c.bytes_sent),
            reconnects: get(&c.reconnects),
            ack_latency_ms: get(&c.ack_latency).checked_sub(1),
            buffered_bytes: get(&c.buffered),
        }
    }

    pub(crate) fn built(&self) {
        self.0.built.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, bytes: usize, resend: bool) {
        self.0.sent.fetch_add(1, Ordering::Relaxed);
        self.0.resent.fetch_add(u64::from(resend), Ordering::Relaxed);
        self.add_bytes(bytes);
    }

    pub(crate) fn add_bytes(&self, bytes: usize) {
        self.0.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn persisted(&self, latency_ms: Option<u64>) {
        self.0.persisted.fetch_add(1, Ordering::Relaxed);
        if let Some(ms) = latency_ms {
            self.0.ack_latency.store(ms.saturating_add(1), Ordering::Relaxed);
        }
    }

    pub(crate) fn dropped(&self) {
        self.0.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reconnected(&self) {
        self.0.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn buffered(&self, bytes: usize) {
        self.0.buffered.store(bytes as u64, Ordering::Relaxed);
    }
}
