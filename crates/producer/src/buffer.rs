//! [`UploadBuffer`]: the fragments not yet PERSISTED, in order, bounded in bytes; which
//! one to send next on the current connection; what each acknowledgement settles; and
//! where to resend from after a drop.
//!
//! The contract: a fragment leaves the buffer only once KVS has acknowledged it as
//! PERSISTED (or, with `realtime`, when the buffer is full and it is the oldest: it is
//! then handed back so the caller can say so). After [`reconnect`](UploadBuffer::reconnect)
//! every fragment still held is sent again, in order: a fragment is sent twice only when
//! KVS had not acknowledged it as persisted. Acks are matched to fragments by their
//! `FragmentTimecode`.
//!
//! Sans-IO: no clock (the caller passes `now`), no sockets.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::{Ack, AckEvent, OutFragment};

/// One fragment held.
#[derive(Debug)]
struct Entry {
    fragment: OutFragment,
    sent_at: Option<Instant>,
    sent_before: bool,
    persisted: bool,
}

/// What an acknowledgement settled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckOutcome {
    /// BUFFERING, RECEIVED or IDLE: nothing to do.
    Progress,
    /// A fragment held was persisted and left the buffer (unless older ones wait).
    Persisted {
        /// Its timecode.
        timecode: i64,
        /// From its sending to this ack.
        latency: Option<Duration>,
    },
    /// An ERROR: the connection is to be dropped, and the put retried or ended.
    Failed(Ack),
    /// An ack for no fragment held (one already persisted, or dropped).
    Unmatched,
}

/// The fragments not yet persisted. Call order: [`push`](Self::push) each new fragment;
/// while [`next_to_send`](Self::next_to_send) gives one, send it and
/// [`mark_sent`](Self::mark_sent); feed each ack to [`on_ack`](Self::on_ack); after a
/// dropped connection, [`reconnect`](Self::reconnect) before sending on the new one.
///
/// ```
/// use std::time::Instant;
/// use kvs_producer::{AckOutcome, UploadBuffer, parse_acks};
///
/// let mut buffer = UploadBuffer::new(1 << 20, false);
/// let mut r = kvs_producer::Refragmenter::new(Default::default());
/// r.feed(kvs_mkv::testing::stream_of(2));
/// r.finish();
/// while let Some(f) = r.poll() {
///     buffer.push(f.unwrap());
/// }
/// let now = Instant::now();
/// let first = buffer.next_to_send().unwrap().timecode_ms;
/// buffer.mark_sent(now);
/// let ack = format!("{{\"EventType\":\"PERSISTED\",\"FragmentTimecode\":{first}}}");
/// let ack = parse_acks(&ack.into()).remove(0).unwrap();
/// assert!(matches!(buffer.on_ack(&ack, now), AckOutcome::Persisted { .. }));
/// assert_eq!(buffer.len(), 1);
/// ```
#[derive(Debug)]
pub struct UploadBuffer {
    limit: usize,
    realtime: bool,
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Index of the next entry to send on the current connection.
    cursor: usize,
}

impl UploadBuffer {
    /// A buffer holding up to `limit_bytes` of fragments; with `realtime`, the oldest are
    /// dropped past it, else the caller stops reading input while it
    /// [`is_full`](Self::is_full).
    pub fn new(limit_bytes: usize, realtime: bool) -> Self {
        Self { limit: limit_bytes.max(1), realtime, entries: VecDeque::new(), bytes: 0, cursor: 0 }
    }

    /// Adds a fragment; returns those dropped to make room (realtime only), oldest first.
    pub fn push(&mut self, fragment: OutFragment) -> Vec<OutFragment> {
        self.bytes += fragment.len();
        self.entries.push_back(Entry { fragment, sent_at: None, sent_before: false, persisted: false });
        let mut dropped = Vec::new();
        while self.realtime && self.bytes > self.limit && self.entries.len() > 1 {
            if let Some(old) = self.pop_front() {
                dropped.push(old);
            }
        }
        dropped
    }

    /// Whether the bytes held reached the limit.
    pub fn is_full(&self) -> bool {
        self.bytes >= self.limit
    }

    /// Fragments held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether every fragment pushed has been persisted (or dropped).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The next fragment to send on the current connection.
    pub fn next_to_send(&self) -> Option<&OutFragment> {
        self.entries.iter().skip(self.cursor).find(|e| !e.persisted).map(|e| &e.fragment)
    }

    /// The fragment [`next_to_send`](Self::next_to_send) gave has been written; returns
    /// whether it had been sent before (on a connection since dropped).
    pub fn mark_sent(&mut self, now: Instant) -> bool {
        while let Some(entry) = self.entries.get_mut(self.cursor) {
            self.cursor += 1;
            if !entry.persisted {
                entry.sent_at = Some(now);
                return std::mem::replace(&mut entry.sent_before, true);
            }
        }
        false
    }

    /// Fragments sent on the current connection and not yet persisted.
    pub fn in_flight(&self) -> usize {
        self.entries.iter().take(self.cursor).filter(|e| !e.persisted).count()
    }

    /// Settles an acknowledgement.
    pub fn on_ack(&mut self, ack: &Ack, now: Instant) -> AckOutcome {
        match ack.event {
            AckEvent::Error => return AckOutcome::Failed(ack.clone()),
            AckEvent::Persisted => {}
            _ => return AckOutcome::Progress,
        }
        let Some(timecode) = ack.timecode else { return AckOutcome::Unmatched };
        let Some(entry) = self.entries.iter_mut().find(|e| {
            !e.persisted && (e.fragment.timecode_ms == timecode || e.fragment.earliest_ms == timecode)
        }) else {
            return AckOutcome::Unmatched;
        };
        entry.persisted = true;
        let latency = entry.sent_at.map(|at| now.saturating_duration_since(at));
        let timecode = entry.fragment.timecode_ms;
        while self.entries.front().is_some_and(|e| e.persisted) {
            self.pop_front();
        }
        AckOutcome::Persisted { timecode, latency }
    }

    /// The connection is gone: everything held is to be sent again, from the oldest.
    /// Returns how many fragments that is.
    pub fn reconnect(&mut self) -> usize {
        self.cursor = 0;
        for entry in &mut self.entries {
            entry.sent_at = None;
        }
        self.entries.iter().filter(|e| !e.persisted).count()
    }

    fn pop_front(&mut self) -> Option<OutFragment> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.fragment.len();
        self.cursor = self.cursor.saturating_sub(1);
        Some(entry.fragment)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn fragment(timecode_ms: i64, len: usize) -> OutFragment {
        OutFragment {
            header: Bytes::from_static(b"header"),
            body: Bytes::from(vec![0u8; len]),
            timecode_ms,
            earliest_ms: timecode_ms,
            frames: 1,
            span_ms: 0,
        }
    }

    fn ack(event: &str, timecode: i64) -> Ack {
        let line = format!("{{\"EventType\":\"{event}\",\"FragmentTimecode\":{timecode},\"ErrorId\":5000}}");
        crate::parse_acks(&Bytes::from(line)).remove(0).unwrap()
    }

    /// Sends everything sendable; returns the timecodes sent.
    fn send_all(b: &mut UploadBuffer, now: Instant) -> Vec<i64> {
        let mut sent = Vec::new();
        while let Some(f) = b.next_to_send() {
            sent.push(f.timecode_ms);
            b.mark_sent(now);
        }
        sent
    }

    #[test]
    fn a_drop_resends_from_the_first_fragment_not_persisted() {
        let now = Instant::now();
        let mut b = UploadBuffer::new(1 << 20, false);
        for t in [1000, 3000, 5000, 7000] {
            b.push(fragment(t, 10));
        }
        assert_eq!(send_all(&mut b, now), [1000, 3000, 5000, 7000]);
        assert_eq!(b.on_ack(&ack("RECEIVED", 1000), now), AckOutcome::Progress);
        assert!(matches!(
            b.on_ack(&ack("PERSISTED", 1000), now),
            AckOutcome::Persisted { timecode: 1000, .. }
        ));
        // 5000 persisted out of order: 3000 still holds the front.
        assert!(matches!(b.on_ack(&ack("PERSISTED", 5000), now), AckOutcome::Persisted { .. }));
        assert_eq!((b.len(), b.in_flight()), (3, 2));
        assert_eq!(b.reconnect(), 2);
        assert_eq!(send_all(&mut b, now), [3000, 7000]);
        assert_eq!(b.on_ack(&ack("PERSISTED", 1000), now), AckOutcome::Unmatched);
        b.on_ack(&ack("PERSISTED", 3000), now);
        b.on_ack(&ack("PERSISTED", 7000), now);
        assert!(b.is_empty());
        assert_eq!(b.bytes(), 0);
    }

    #[test]
    fn errors_are_handed_back() {
        let now = Instant::now();
        let mut b = UploadBuffer::new(100, false);
        b.push(fragment(1, 10));
        send_all(&mut b, now);
        assert!(matches!(b.on_ack(&ack("ERROR", 1), now), AckOutcome::Failed(a) if a.error_id == Some(5000)));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn full_buffers_push_back_or_drop_the_oldest_in_realtime() {
        let now = Instant::now();
        let mut b = UploadBuffer::new(25, false);
        for t in 0..4 {
            assert!(b.push(fragment(t, 10)).is_empty());
        }
        assert!(b.is_full());
        assert_eq!(b.len(), 4);
        let mut rt = UploadBuffer::new(25, true);
        rt.push(fragment(0, 10));
        rt.push(fragment(1, 10));
        send_all(&mut rt, now);
        let dropped = rt.push(fragment(2, 10));
        assert_eq!(dropped.iter().map(|f| f.timecode_ms).collect::<Vec<_>>(), [0]);
        assert_eq!(send_all(&mut rt, now), [2]);
        assert_eq!(rt.push(fragment(3, 100)).len(), 2);
        assert_eq!(rt.len(), 1);
    }
}
