//! The checkpoint tracker of one stream: which checkpoint to write and when, and which
//! fragments to flag `redelivered`. Sans-IO, like the consumer's resume tracker: no clock
//! (instants and wall-clock milliseconds are passed in), no store; the stream task does
//! the writes it asks for.
//!
//! The contract, whatever the policy:
//! - a checkpoint names only a fragment whose handler returned;
//! - a fragment is handed out only after a checkpoint that covers it was written: its
//!   number (`in_flight`, policy every fragment) or a server-time horizon that it falls
//!   under (`horizon_ms`, policy every N seconds). After a crash, a fragment delivered again
//!   is one such fragment, and [`CheckpointTracker::is_redelivered`] says so;
//! - the last checkpoint of a clean stop names the last handled fragment and nothing in
//!   flight, so the next owner repeats nothing.
//!
//! Policy every fragment costs one write per fragment: the write made before handing out
//! fragment N+1 also records that N was handled. When nothing follows within
//! [`IDLE_FLUSH`], the handled one is written alone.

use std::time::{Duration, Instant};

use kvs_mkv::{Fragment, FragmentNumber};

use crate::checkpoint::{Checkpoint, Handled};

/// After the handler returned and no fragment followed for this long, the checkpoint is
/// written alone (policy every fragment).
pub const IDLE_FLUSH: Duration = Duration::from_secs(2);

/// Server and worker clocks may disagree by this much: the horizon is widened by it.
const CLOCK_SKEW_MS: i64 = 1_000;

/// When checkpoints are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CheckpointPolicy {
    /// After every fragment (the default): at most the fragment being handled is repeated
    /// after a crash. About 3,600 writes per stream per hour at one fragment a second.
    #[default]
    EveryFragment,
    /// At most once per interval: `3600 / seconds` writes per stream per hour, and after
    /// a crash up to one interval of fragments is repeated (all flagged `redelivered`;
    /// some fragments of that interval that were never seen may carry the flag too).
    Every(Duration),
}

/// The checkpoint bookkeeping of one stream.
#[derive(Debug)]
pub(crate) struct CheckpointTracker {
    policy: CheckpointPolicy,
    /// What was stored when this owner started: decides `redelivered`.
    recovered: Checkpoint,
    /// The last fragment whose handler returned.
    handled: Option<Handled>,
    /// The last checkpoint written (or recovered).
    written: Checkpoint,
    last_write: Option<Instant>,
    /// When the last handler returned, if no write has covered it since.
    unwritten_since: Option<Instant>,
    /// A fragment the application gave back unhandled: it comes again, flagged, and the
    /// last checkpoint keeps it in flight.
    abandoned: Option<FragmentNumber>,
}

impl CheckpointTracker {
    pub(crate) fn new(policy: CheckpointPolicy, recovered: Option<Checkpoint>) -> Self {
        let recovered = recovered.unwrap_or_default();
        Self {
            policy,
            handled: recovered.handled.clone(),
            written: recovered.clone(),
            recovered,
            last_write: None,
            unwritten_since: None,
            abandoned: None,
        }
    }

    /// The last handled fragment: a read resumes right after it.
    pub(crate) fn handled(&self) -> Option<&Handled> {
        self.handled.as_ref()
    }

    /// Whether `fragment` may have been handed out before: before this owner started, or
    /// by this owner and given back unhandled.
    pub(crate) fn is_redelivered(&self, fragment: &Fragment) -> bool {
        let kvs = fragment.kvs();
        let Some(number) = &kvs.fragment_number else { return false };
        self.abandoned.as_ref().is_some_and(|a| number <= a)
            || self
                .recovered
                .may_have_delivered(number, kvs.server_timestamp.as_ref().map(|t| t.unix_millis()))
    }

    /// The application gave `fragment` back unhandled.
    pub(crate) fn abandoned_fragment(&mut self, fragment: &Fragment) {
        self.abandoned = fragment.kvs().fragment_number.clone();
    }

    /// The checkpoint to write before `fragment` is handed out, if one is needed.
    pub(crate) fn before_hand_out(
        &mut self,
        fragment: &Fragment,
        now: Instant,
        now_ms: i64,
    ) -> Option<Checkpoint> {
        let number = fragment.kvs().fragment_number.clone();
        let next = match self.policy {
            CheckpointPolicy::EveryFragment => {
                Checkpoint { handled: self.handled.clone(), in_flight: number, horizon_ms: None }
            }
            CheckpointPolicy::Every(interval) => {
                let server_ms = fragment.kvs().server_timestamp.as_ref().map(|t| t.unix_millis());
                let covered = matches!((self.written.horizon_ms, server_ms), (Some(h), Some(t)) if t <= h)
                    && self.last_write.is_some_and(|at| now < at + interval);
                if covered {
                    return None;
                }
                let horizon = now_ms.saturating_add(interval.as_millis() as i64 + CLOCK_SKEW_MS);
                // A fragment stamped later than the horizon (clock skew beyond the margin)
                // is covered by its number instead.
                let in_flight = match server_ms {
                    Some(t) if t <= horizon => None,
                    _ => number,
                };
                Checkpoint { handled: self.handled.clone(), in_flight, horizon_ms: Some(horizon) }
            }
        };
        Some(self.wrote(next, now))
    }

    /// The handler returned for `fragment`.
    pub(crate) fn handled_fragment(&mut self, fragment: &Fragment, now: Instant) {
        let kvs = fragment.kvs();
        let Some(number) = kvs.fragment_number.clone() else { return };
        if self.abandoned.as_ref().is_some_and(|a| *a <= number) {
            self.abandoned = None;
        }
        let token = kvs.continuation_token.clone().unwrap_or_else(|| number.as_str().to_owned());
        self.handled = Some(Handled {
            fragment_number: number,
            continuation_token: token,
            producer_timestamp_ms: kvs.producer_timestamp.as_ref().map(|t| t.unix_millis()),
            server_timestamp_ms: kvs.server_timestamp.as_ref().map(|t| t.unix_millis()),
        });
        self.unwritten_since = Some(now);
    }

    /// When [`poll_idle`](Self::poll_idle) has something to write.
    pub(crate) fn idle_deadline(&self) -> Option<Instant> {
        let since = self.unwritten_since?;
        Some(match self.policy {
            CheckpointPolicy::EveryFragment => since + IDLE_FLUSH,
            CheckpointPolicy::Every(interval) => self.last_write.map_or(since, |at| at + interval).max(since),
        })
    }

    /// The checkpoint to write when nothing has been handed out for a while.
    pub(crate) fn poll_idle(&mut self, now: Instant) -> Option<Checkpoint> {
        if self.idle_deadline().is_none_or(|due| now < due) {
            return None;
        }
        // Nothing is handed out while the task idles, so nothing is in flight; the
        // horizon stays: fragments under it may still have been handed out before.
        let next = Checkpoint {
            handled: self.handled.clone(),
            in_flight: None,
            horizon_ms: self.written.horizon_ms,
        };
        Some(self.wrote(next, now))
    }

    /// The checkpoint of a clean stop, if it differs from the last one written: the last
    /// handled fragment, nothing in flight but a fragment given back unhandled.
    pub(crate) fn final_checkpoint(&mut self, now: Instant) -> Option<Checkpoint> {
        let last =
            Checkpoint { handled: self.handled.clone(), in_flight: self.abandoned.clone(), horizon_ms: None };
        (last != self.written).then(|| self.wrote(last, now))
    }

    /// Age of the last checkpoint written, for the metrics.
    pub(crate) fn age(&self, now: Instant) -> Option<Duration> {
        self.last_write.map(|at| now.saturating_duration_since(at))
    }

    fn wrote(&mut self, checkpoint: Checkpoint, now: Instant) -> Checkpoint {
        self.written = checkpoint.clone();
        self.last_write = Some(now);
        if checkpoint.handled == self.handled {
            self.unwritten_since = None;
        }
        checkpoint
    }

    /// The fragment number of the last handled fragment, if any.
    #[cfg(test)]
    fn handled_number(&self) -> Option<&FragmentNumber> {
        self.handled.as_ref().map(|h| &h.fragment_number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fragment numbered `n`, stamped by the server at `server_ms`.
    fn fragment(n: u64, server_ms: i64) -> Fragment {
        use kvs_mkv::{EbmlWriter, ids, names};
        let number = kvs_mkv::testing::fragment_number(n);
        let ts = kvs_mkv::Timestamp::from_unix_millis(server_ms);
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska");
        w.unknown_size_master(ids::SEGMENT);
        w.simple_tags(&[(names::FRAGMENT_NUMBER, &number), (names::SERVER_TIMESTAMP, ts.as_str())]);
        w.simple_tags(&[(names::CONTINUATION_TOKEN, &number)]);
        Fragment::from_bytes(w.into_bytes()).unwrap()
    }

    fn num(n: u64) -> FragmentNumber {
        kvs_mkv::testing::fragment_number(n).parse().unwrap()
    }

    /// One owner handles fragments 1..=3 and crashes while handling 4; the next owner
    /// starts from what was written.
    #[test]
    fn every_fragment_flags_exactly_the_fragment_in_flight() {
        let t0 = Instant::now();
        let mut first = CheckpointTracker::new(CheckpointPolicy::EveryFragment, None);
        let mut store = None;
        for n in 1..=4u64 {
            let f = fragment(n, 1000 * n as i64);
            assert!(!first.is_redelivered(&f));
            store = first.before_hand_out(&f, t0, 0);
            let written = store.as_ref().unwrap();
            assert_eq!(written.in_flight, Some(num(n)));
            assert_eq!(
                written.handled.as_ref().map(|h| h.fragment_number.clone()),
                (n > 1).then(|| num(n - 1))
            );
            if n < 4 {
                first.handled_fragment(&f, t0);
            }
        }
        let second = CheckpointTracker::new(CheckpointPolicy::EveryFragment, store);
        assert_eq!(second.handled_number(), Some(&num(3)));
        assert!(second.is_redelivered(&fragment(4, 4000)), "4 was handed out and not handled");
        assert!(!second.is_redelivered(&fragment(5, 5000)), "5 was never handed out");
    }

    #[test]
    fn an_idle_stream_writes_its_last_handled_fragment_after_the_flush_delay() {
        let t0 = Instant::now();
        let mut t = CheckpointTracker::new(CheckpointPolicy::EveryFragment, None);
        let f = fragment(7, 7000);
        t.before_hand_out(&f, t0, 0).unwrap();
        t.handled_fragment(&f, t0);
        assert_eq!(t.idle_deadline(), Some(t0 + IDLE_FLUSH));
        assert!(t.poll_idle(t0 + IDLE_FLUSH / 2).is_none());
        let idle = t.poll_idle(t0 + IDLE_FLUSH).unwrap();
        assert_eq!((idle.handled.unwrap().fragment_number, idle.in_flight), (num(7), None));
        assert!(t.poll_idle(t0 + IDLE_FLUSH * 3).is_none(), "written once");
        assert!(t.final_checkpoint(t0 + IDLE_FLUSH * 3).is_none(), "nothing new to write at the stop");
    }

    #[test]
    fn a_fragment_given_back_comes_again_flagged_and_stays_in_flight_at_a_stop() {
        let t0 = Instant::now();
        let mut t = CheckpointTracker::new(CheckpointPolicy::EveryFragment, None);
        let (one, two) = (fragment(1, 1000), fragment(2, 2000));
        t.before_hand_out(&one, t0, 0).unwrap();
        t.handled_fragment(&one, t0);
        let written = t.before_hand_out(&two, t0, 0).unwrap();
        t.abandoned_fragment(&two);
        assert!(t.is_redelivered(&two) && !t.is_redelivered(&fragment(3, 3000)));
        // A stop now writes nothing: what was written before handing 2 out still holds.
        assert_eq!(t.final_checkpoint(t0), None);
        assert_eq!(
            (written.handled.clone().unwrap().fragment_number, written.in_flight.clone()),
            (num(1), Some(num(2)))
        );
        let next_run = CheckpointTracker::new(CheckpointPolicy::EveryFragment, Some(written));
        assert!(next_run.is_redelivered(&two));
        t.before_hand_out(&two, t0, 0).unwrap();
        t.handled_fragment(&two, t0);
        assert!(!t.is_redelivered(&two), "handled at last");
    }

    #[test]
    fn a_clean_stop_leaves_nothing_in_flight() {
        let t0 = Instant::now();
        let mut t = CheckpointTracker::new(CheckpointPolicy::EveryFragment, None);
        let f = fragment(2, 2000);
        t.before_hand_out(&f, t0, 0).unwrap();
        t.handled_fragment(&f, t0);
        let last = t.final_checkpoint(t0).unwrap();
        let next = CheckpointTracker::new(CheckpointPolicy::EveryFragment, Some(last));
        assert!(!next.is_redelivered(&fragment(3, 3000)));
        assert_eq!(next.handled().unwrap().continuation_token, num(2).as_str());
    }

    /// Policy every 10 s: one write covers the fragments of the next 10 s; after a crash
    /// every fragment handed out since is flagged.
    #[test]
    fn every_interval_writes_once_per_interval_and_flags_everything_after_it() {
        let t0 = Instant::now();
        let interval = Duration::from_secs(10);
        let mut t = CheckpointTracker::new(CheckpointPolicy::Every(interval), None);
        let start_ms = 1_000_000;
        let mut writes = Vec::new();
        for n in 0..25u64 {
            let at = t0 + Duration::from_secs(n);
            let now_ms = start_ms + 1000 * n as i64;
            let f = fragment(n + 1, now_ms - 50);
            writes.extend(t.before_hand_out(&f, at, now_ms));
            t.handled_fragment(&f, at);
        }
        assert_eq!(writes.len(), 3, "at 0 s, 10 s and 20 s");
        let last = writes.last().unwrap().clone();
        assert_eq!(last.handled.as_ref().unwrap().fragment_number, num(20));
        let next = CheckpointTracker::new(CheckpointPolicy::Every(interval), Some(last));
        for n in 21..=25u64 {
            let f = fragment(n, start_ms + 1000 * (n as i64 - 1) - 50);
            assert!(next.is_redelivered(&f), "{n} was handed out after the last write");
        }
    }
}
