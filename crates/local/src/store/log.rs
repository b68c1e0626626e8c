//! The per-stream log: fragments and in-band errors in order, each with a sequence
//! number that readers hold as their place, and retention that drops the oldest.
//!
//! A [`Log`] is plain data: the stream that owns it locks it and wakes readers when it
//! grows. Not here: numbering fragments (`numbering`), writing them to disk (`disk`),
//! and deciding what a reader sends (the GetMedia handler).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvs_mkv::FragmentNumber;

/// One fragment as stored.
#[derive(Debug)]
pub(crate) struct StoredFragment {
    pub number: FragmentNumber,
    pub producer_ms: i64,
    pub server_ms: i64,
    pub duration_ms: u64,
    pub head: Bytes,
    /// The Cluster's first bytes when the server rebuilt them (a replay re-stamps the
    /// Timecode), else empty: the Cluster is `cluster_start` followed by `cluster`.
    pub cluster_start: Bytes,
    /// The Cluster, or its rest after `cluster_start` (shared with the other fragments
    /// of a replay).
    pub cluster: Bytes,
}

impl StoredFragment {
    /// Bytes of media (producer header and Cluster).
    pub fn size(&self) -> u64 {
        (self.head.len() + self.cluster_start.len() + self.cluster.len()) as u64
    }
}

/// What a stream's log holds, in order.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A fragment.
    Fragment(Arc<StoredFragment>),
    /// An in-band error, sent to readers that pass it.
    Error { code: String, id: String },
}

/// Where a reader stands in a stream's log.
#[derive(Debug)]
pub(crate) enum Next {
    /// The entry at this sequence number.
    Entry(u64, Entry),
    /// Nothing yet: wait for the log to grow past this sequence number.
    Wait,
}

/// The entries of one stream, oldest first, numbered from 0 in the order appended.
#[derive(Debug, Default)]
pub(super) struct Log {
    entries: VecDeque<(u64, Entry)>,
    next_seq: u64,
    /// Bytes of the fragments kept, for retention.
    bytes: u64,
}

impl Log {
    /// The first entry at or after `seq`.
    pub(super) fn next(&self, seq: u64) -> Next {
        let first = self.earliest_seq();
        let seq = seq.max(first);
        match self.entries.get((seq - first) as usize) {
            Some((s, entry)) => Next::Entry(*s, entry.clone()),
            None => Next::Wait,
        }
    }

    /// Sequence number of the oldest entry kept.
    pub(super) fn earliest_seq(&self) -> u64 {
        self.entries.front().map_or(self.next_seq, |(s, _)| *s)
    }

    /// Sequence number the next entry will get: the live edge.
    pub(super) fn live_seq(&self) -> u64 {
        self.next_seq
    }

    /// The first fragment whose number is `>= number` (`inclusive`) or `> number`;
    /// in-band errors before it are skipped. The live edge if there is none.
    pub(super) fn seq_from_number(&self, number: &FragmentNumber, inclusive: bool) -> u64 {
        self.entries
            .iter()
            .find_map(|(seq, e)| match e {
                Entry::Fragment(f) if f.number > *number || (inclusive && f.number == *number) => Some(*seq),
                _ => None,
            })
            .unwrap_or(self.next_seq)
    }

    /// The first fragment that holds or follows the time `ms` (producer or server clock).
    pub(super) fn seq_from_time(&self, ms: i64, producer: bool) -> u64 {
        self.entries
            .iter()
            .find_map(|(seq, e)| match e {
                Entry::Fragment(f) => {
                    let start = if producer { f.producer_ms } else { f.server_ms };
                    (start.saturating_add(f.duration_ms as i64) > ms).then_some(*seq)
                }
                Entry::Error { .. } => None,
            })
            .unwrap_or(self.next_seq)
    }

    /// Every fragment kept, oldest first.
    pub(super) fn fragments(&self) -> Vec<Arc<StoredFragment>> {
        self.entries
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Fragment(f) => Some(f.clone()),
                Entry::Error { .. } => None,
            })
            .collect()
    }

    /// The fragment with this number, if kept.
    pub(super) fn find(&self, number: &FragmentNumber) -> Option<Arc<StoredFragment>> {
        self.entries.iter().find_map(|(_, e)| match e {
            Entry::Fragment(f) if f.number == *number => Some(f.clone()),
            _ => None,
        })
    }

    /// Appends an entry of `bytes` bytes of media; returns the new live edge.
    pub(super) fn push(&mut self, entry: Entry, bytes: u64) -> u64 {
        let seq = self.next_seq;
        self.entries.push_back((seq, entry));
        self.next_seq += 1;
        self.bytes += bytes;
        self.next_seq
    }

    /// Drops the oldest fragments beyond the retention limits (`max_bytes` kept, none
    /// older than `max_age` before `now`, in ms); returns those dropped.
    pub(super) fn apply_retention(
        &mut self,
        max_bytes: u64,
        max_age: Duration,
        now: i64,
    ) -> Vec<Arc<StoredFragment>> {
        let mut dropped = Vec::new();
        let oldest_ms = now.saturating_sub(max_age.as_millis() as i64);
        // The newest entry always stays, so a live reader never misses it.
        while self.entries.len() > 1 {
            let too_much = self.bytes > max_bytes;
            let size = match self.entries.front() {
                Some((_, Entry::Fragment(f))) if too_much || f.server_ms < oldest_ms => {
                    dropped.push(f.clone());
                    f.size()
                }
                // An error at the front goes with the fragments dropped before it.
                Some((_, Entry::Error { .. })) if too_much || !dropped.is_empty() => 0,
                _ => break,
            };
            self.bytes -= size;
            self.entries.pop_front();
        }
        dropped
    }
}
