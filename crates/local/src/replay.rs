//! Replay: many live streams fed at real time from one pre-encoded producer MKV (a
//! recording or a GetMedia capture), looped forever, with no encoding and no thread per
//! stream, so that hundreds of live streams run on a small machine.
//!
//! The capture is cut once into fragments, one per Cluster, exactly as PutMedia cuts it.
//! Each becomes a [`Template`]: the producer header and the Cluster body after its
//! Timecode are [`Bytes`] that every stream and every loop share; only the Cluster's first
//! bytes (id, size, Timecode, and whatever preceded the Timecode) are written anew for
//! each fragment appended, a few dozen bytes. One feeder thread runs every stream from a
//! [`Schedule`], a binary heap of (due time, stream): a wake-up costs O(log N) and one
//! `Store::append`.
//!
//! Timing, per stream: fragment k is due one slot (its duration) after fragment k - 1,
//! and the last loops back to the first. Stream i of N starts i/N of the first slot late,
//! so that N streams ingest evenly spread over time rather than in bursts of N. A
//! fragment is stamped with the time it is due: that wall-clock time is its producer
//! timestamp, and its Cluster Timecode is rewritten so that its first frame falls at that
//! time (in the producer's TimecodeScale), so timecodes keep increasing across loops. The
//! server timestamp is the store's, taken at append, as for any ingest.
//!
//! Not here: numbering, server timestamps and retention (the store: a long replay of many
//! streams wants a short [`Config::retention_age`](crate::Config::retention_age)); cutting
//! MKV into fragments (the ingester); HTTP.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, Element, ElementTree, ids, vint};

use crate::Error;
use crate::api::Shared;
use crate::camera::{self, CameraHandle};
use crate::clock::now_ms;
use crate::error::ReplayProblem;
use crate::ingest::NewFragment;
use crate::store::{Stream, valid_stream_name};

/// The most streams one replay feeds.
pub const MAX_REPLAY_STREAMS: usize = 10_000;

/// Stream indices are zero-padded to at least this many digits (`cam000`).
const MIN_INDEX_DIGITS: usize = 3;

/// The longest slot a fragment gets: KVS fragments last at most 10 s.
const MAX_SLOT_MS: u64 = 10_000;

/// The slot of a fragment whose length nothing tells (one frame, alone in the file).
const FALLBACK_SLOT_MS: u64 = 1_000;

/// A stream later than this (the machine was suspended, say) starts again from now
/// rather than appending every fragment it missed in one burst.
const MAX_LAG_US: u64 = 5_000_000;

/// TimecodeScale when Info does not give one: 1 ms per tick.
const DEFAULT_TIMECODE_SCALE_NS: u64 = 1_000_000;

/// The names of a replay's streams: `prefix` and the stream's index, zero-padded to 3
/// digits (more when `count` exceeds 1000): `cam000`, `cam001`, ...
///
/// ```
/// let names = kvs_local::replay_stream_names("cam", 12).unwrap();
/// assert_eq!((names[0].as_str(), names[11].as_str()), ("cam000", "cam011"));
/// assert_eq!(kvs_local::replay_stream_names("cam", 1001).unwrap()[1000], "cam1000");
/// assert!(kvs_local::replay_stream_names("a/b", 1).is_err());
/// ```
pub fn replay_stream_names(prefix: &str, count: usize) -> Result<Vec<String>, Error> {
    if !(1..=MAX_REPLAY_STREAMS).contains(&count) {
        return Err(Error::ReplayCount(count));
    }
    let width = (count - 1).to_string().len().max(MIN_INDEX_DIGITS);
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i:0width$}")).collect();
    // Every name has the prefix and the same length: checking one checks them all.
    match names.last() {
        Some(name) if !valid_stream_name(name) => Err(Error::InvalidStreamName(name.clone())),
        _ => Ok(names),
    }
}

/// A replay feeding its streams. Dropping the handle stops it.
#[derive(Debug)]
pub struct ReplayHandle {
    feed: CameraHandle,
    streams: Vec<String>,
    fragments_per_loop: usize,
    loop_duration: Duration,
}

impl ReplayHandle {
    /// The streams fed, in index order.
    pub fn streams(&self) -> &[String] {
        &self.streams
    }

    /// Fragments in one pass over the input (its whole Clusters).
    pub fn fragments_per_loop(&self) -> usize {
        self.fragments_per_loop
    }

    /// How long one pass over the input takes at real time.
    pub fn loop_duration(&self) -> Duration {
        self.loop_duration
    }

    /// Fragments appended so far, all streams together.
    pub fn fragments(&self) -> u64 {
        self.feed.fragments()
    }

    /// Whether the feeder has stopped: stopped, failed (a directory store that cannot
    /// write), or every stream deleted.
    pub fn is_finished(&self) -> bool {
        self.feed.is_finished()
    }

    /// Stops the replay; returns the fragments appended, or why it had stopped.
    pub fn stop(self) -> Result<u64, Error> {
        self.feed.stop()
    }
}

/// Creates the streams (keeping any that exist) and starts the feeder; see the module doc.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    prefix: &str,
    count: usize,
    producer_mkv: Bytes,
) -> Result<ReplayHandle, Error> {
    let names = replay_stream_names(prefix, count)?;
    let templates = templates(producer_mkv)?;
    let first_slot_ms = templates.first().ok_or(Error::EmptyReplay)?.slot_ms;
    let mut streams: Vec<Arc<Stream>> = Vec::with_capacity(count);
    for name in &names {
        let stream = match shared.store.create(name)? {
            Some(created) => created,
            None => shared.store.get(name).ok_or_else(|| Error::StreamNotFound(name.clone()))?,
        };
        streams.push(stream);
    }
    let loop_duration = Duration::from_millis(templates.iter().map(|t| t.slot_ms).sum());
    let fragments_per_loop = templates.len();
    let mut schedule = Schedule::new(count, first_slot_ms * 1000);
    // The wall clock is read first so that a producer timestamp (start_ms + due) is never
    // after the server timestamp the store takes when the fragment is appended.
    let start_ms = now_ms();
    let start = Instant::now();
    let feed = CameraHandle::spawn(move |stop| {
        loop {
            let Some(due_us) = schedule.next_due_us() else {
                tracing::info!("every replayed stream was deleted: the replay ends");
                return Ok(false);
            };
            let wait = Duration::from_micros(due_us).saturating_sub(start.elapsed());
            if !wait.is_zero() && !camera::sleep_unless_stopped(wait, stop) {
                return Ok(false);
            }
            let now_us = micros(start.elapsed());
            let Some(turn) = schedule.pop(now_us) else { continue };
            let (Some(stream), Some(template)) = (streams.get(turn.stream), templates.get(turn.fragment))
            else {
                continue;
            };
            // A client deleted it: feeding the orphan would only waste memory.
            if stream.is_deleted() {
                tracing::warn!(stream = %stream.info.name, "deleted while replayed: no longer fed");
                continue;
            }
            let producer_ms = start_ms.saturating_add((turn.due_us / 1000) as i64);
            shared.store.append(stream, template.restamp(producer_ms))?;
            schedule.reschedule(turn, template.slot_ms * 1000, templates.len(), now_us);
            return Ok(true);
        }
    });
    Ok(ReplayHandle { feed, streams: names, fragments_per_loop, loop_duration })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Cuts the input into the fragments of the loop.
fn templates(producer_mkv: Bytes) -> Result<Vec<Template>, Error> {
    let fragments = crate::cut(producer_mkv)?;
    if fragments.is_empty() {
        return Err(Error::EmptyReplay);
    }
    let mut out: Vec<Template> = Vec::with_capacity(fragments.len());
    for (k, fragment) in fragments.iter().enumerate() {
        let gap = fragments.get(k + 1).map(|next| next.timecode_ms.saturating_sub(fragment.timecode_ms));
        let slot_ms = slot_ms(fragment.duration_ms, gap, out.last().map(|t| t.slot_ms));
        out.push(Template::new(fragment, slot_ms)?);
    }
    Ok(out)
}

/// How long a fragment occupies its stream: its duration; for a one-frame fragment (no
/// duration), the gap to the next one, else the previous fragment's slot. At most 10 s.
fn slot_ms(duration_ms: u64, gap_to_next_ms: Option<i64>, previous_ms: Option<u64>) -> u64 {
    let slot = match (duration_ms, gap_to_next_ms, previous_ms) {
        (d, _, _) if d > 0 => d,
        (_, Some(gap), _) if gap > 0 => gap as u64,
        (_, _, Some(previous)) => previous,
        _ => FALLBACK_SLOT_MS,
    };
    slot.clamp(1, MAX_SLOT_MS)
}

/// One fragment of the loop, ready to be re-stamped.
#[derive(Debug)]
struct Template {
    /// EBML header, Segment header, producer header elements: shared.
    head: Bytes,
    /// The Cluster's children before its Timecode (rarely any), CRC-32 dropped.
    before_timecode: Bytes,
    /// The Cluster's children after its Timecode, the blocks: shared.
    after_timecode: Bytes,
    /// Nanoseconds per tick.
    timecode_scale_ns: u64,
    /// Ticks from the Cluster Timecode to the first frame (non-zero when the first block
    /// has an offset).
    lead_ticks: i64,
    duration_ms: u64,
    slot_ms: u64,
}

impl Template {
    fn new(f: &NewFragment, slot_ms: u64) -> Result<Self, Error> {
        let no_timecode = || Error::Unreplayable(ReplayProblem::ClusterWithoutTimecode);
        let not_whole = || Error::Unreplayable(ReplayProblem::NotOneWholeCluster);
        let tree = ElementTree::parse(f.cluster.clone());
        if let Some(e) = tree.error() {
            return Err(Error::Mkv(e.clone()));
        }
        let cluster = match tree.roots() {
            [cluster] if cluster.id() == ids::CLUSTER && !cluster.is_truncated() => cluster,
            _ => return Err(not_whole()),
        };
        let body_end = cluster.header_len() + cluster.data().len();
        let mut before = EbmlWriter::new();
        let mut timecode = None;
        for child in cluster.children() {
            let start = child.offset() as usize;
            let end = start + child.header_len() + child.data().len();
            match child.id() {
                ids::TIMECODE => {
                    timecode = Some((child.as_uint().ok_or_else(no_timecode)?, end));
                    break;
                }
                // A CRC-32 covers the Cluster as it was: it would be wrong after the rewrite.
                ids::CRC32 => {}
                _ => {
                    before.raw(f.cluster.get(start..end).ok_or_else(not_whole)?);
                }
            }
        }
        let (timecode, rest) = timecode.ok_or_else(no_timecode)?;
        if rest > body_end || body_end > f.cluster.len() {
            return Err(not_whole());
        }
        let timecode_scale_ns = timecode_scale(&f.head);
        let first_frame_ticks = i128::from(f.timecode_ms) * 1_000_000 / i128::from(timecode_scale_ns);
        let lead_ticks = i64::try_from(first_frame_ticks - i128::from(timecode)).unwrap_or(0);
        Ok(Self {
            head: f.head.clone(),
            before_timecode: before.into_bytes(),
            after_timecode: f.cluster.slice(rest..body_end),
            timecode_scale_ns,
            lead_ticks,
            duration_ms: f.duration_ms,
            slot_ms,
        })
    }

    /// This fragment with its first frame at `producer_ms`: a new Cluster start (id,
    /// known size, Timecode) before the shared blocks.
    fn restamp(&self, producer_ms: i64) -> NewFragment {
        let ticks = i128::from(producer_ms) * 1_000_000 / i128::from(self.timecode_scale_ns)
            - i128::from(self.lead_ticks);
        let ticks = u64::try_from(ticks.max(0)).unwrap_or(u64::MAX);
        let mut body_start = EbmlWriter::new();
        body_start.raw(&self.before_timecode).uint(ids::TIMECODE, ticks);
        let body_len = body_start.len() + self.after_timecode.len();
        let mut start = Vec::with_capacity(12 + body_start.len());
        vint::write_id(&mut start, ids::CLUSTER);
        vint::write_size(&mut start, body_len as u64);
        start.extend_from_slice(body_start.as_slice());
        NewFragment {
            head: self.head.clone(),
            cluster_start: Bytes::from(start),
            cluster: self.after_timecode.clone(),
            producer_ms,
            duration_ms: self.duration_ms,
            timecode_ms: producer_ms,
        }
    }
}

/// TimecodeScale of a fragment's producer header (default 1 ms; 0 is not a scale).
fn timecode_scale(head: &Bytes) -> u64 {
    ElementTree::parse(head.clone())
        .path("Segment/Info/TimecodeScale")
        .and_then(Element::as_uint)
        .filter(|&scale| scale > 0)
        .unwrap_or(DEFAULT_TIMECODE_SCALE_NS)
}

/// When each stream is next due, in microseconds since the replay started, and which
/// fragment of the loop it appends then. No clock: the feeder passes the time in.
///
/// Call order: [`next_due_us`](Self::next_due_us) to know how long to sleep,
/// [`pop`](Self::pop) the stream that is due, append, then
/// [`reschedule`](Self::reschedule) it (or drop the turn to retire the stream).
#[derive(Debug)]
struct Schedule {
    due: BinaryHeap<Reverse<(u64, usize)>>,
    next_fragment: Vec<usize>,
}

/// One stream's turn: append fragment `fragment` of the loop to stream `stream`, stamped
/// with `due_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Turn {
    stream: usize,
    fragment: usize,
    due_us: u64,
}

impl Schedule {
    /// Stream i of `streams` first due at i/`streams` of `first_slot_us`.
    fn new(streams: usize, first_slot_us: u64) -> Self {
        let spread = |i: usize| (u128::from(first_slot_us) * i as u128 / streams.max(1) as u128) as u64;
        Self { due: (0..streams).map(|i| Reverse((spread(i), i))).collect(), next_fragment: vec![0; streams] }
    }

    /// When the next stream is due; `None` when every stream is retired.
    fn next_due_us(&self) -> Option<u64> {
        self.due.peek().map(|Reverse((due, _))| *due)
    }

    /// The earliest stream, if it is due by `now_us`. It leaves the schedule until
    /// rescheduled.
    fn pop(&mut self, now_us: u64) -> Option<Turn> {
        let Reverse((due_us, stream)) = *self.due.peek()?;
        if due_us > now_us {
            return None;
        }
        self.due.pop();
        let fragment = self.next_fragment.get(stream).copied().unwrap_or(0);
        Some(Turn { stream, fragment, due_us })
    }

    /// Puts a stream back, due one slot after its turn with the next fragment of a loop of
    /// `fragments`; from `now_us` instead if it has fallen more than 5 s behind.
    fn reschedule(&mut self, turn: Turn, slot_us: u64, fragments: usize, now_us: u64) {
        if let Some(next) = self.next_fragment.get_mut(turn.stream) {
            *next = (turn.fragment + 1) % fragments.max(1);
        }
        let mut due_us = turn.due_us.saturating_add(slot_us);
        if due_us.saturating_add(MAX_LAG_US) < now_us {
            due_us = now_us;
        }
        self.due.push(Reverse((due_us, turn.stream)));
    }
}

#[cfg(test)]
mod tests {
    use kvs_mkv::Fragment;

    use super::*;

    fn whole(f: &NewFragment) -> Fragment {
        let mut bytes = f.head.to_vec();
        bytes.extend_from_slice(&f.cluster_start);
        bytes.extend_from_slice(&f.cluster);
        Fragment::from_bytes(Bytes::from(bytes)).unwrap()
    }

    #[test]
    fn names_are_zero_padded_to_three_digits_or_more() {
        assert_eq!(replay_stream_names("c", 3).unwrap(), ["c000", "c001", "c002"]);
        assert_eq!(replay_stream_names("c", 1000).unwrap()[999], "c999");
        assert_eq!(replay_stream_names("c", 10_000).unwrap()[9_999], "c9999");
        assert!(matches!(replay_stream_names("c", 0), Err(Error::ReplayCount(0))));
        assert!(matches!(replay_stream_names("c", 10_001), Err(Error::ReplayCount(10_001))));
        assert!(matches!(replay_stream_names("a b", 2), Err(Error::InvalidStreamName(_))));
        assert!(replay_stream_names(&"a".repeat(253), 2).is_ok());
        assert!(replay_stream_names(&"a".repeat(254), 2).is_err());
    }

    #[test]
    fn restamping_rewrites_the_timecode_and_shares_the_blocks() {
        let templates = templates(kvs_mkv::testing::stream_of(2)).unwrap();
        assert_eq!(templates.len(), 2);
        // 3 frames 33 ms apart: 99 ms each.
        assert_eq!(templates.iter().map(|t| t.slot_ms).collect::<Vec<_>>(), [99, 99]);
        let restamped = templates[1].restamp(1_800_000_000_123);
        let fragment = whole(&restamped);
        let frames = fragment.frames().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].timestamp_ns, 1_800_000_000_123_000_000);
        assert_eq!(frames[2].timestamp_ns, 1_800_000_000_189_000_000);
        assert_eq!(&frames[0].payload[..4], b"1-0;");
        assert_eq!(restamped.producer_ms, 1_800_000_000_123);
        // The blocks are the template's bytes, not a copy.
        let again = templates[1].restamp(1_800_000_001_000);
        assert_eq!(again.cluster.as_ptr(), restamped.cluster.as_ptr());
        assert_eq!(again.head.as_ptr(), restamped.head.as_ptr());
        assert!(restamped.cluster_start.len() < 20);
    }

    #[test]
    fn a_crc_is_dropped_and_elements_before_the_timecode_kept_in_another_scale() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |i| {
            i.uint(ids::TIMECODE_SCALE, 10_000_000);
        });
        w.master(ids::TRACKS, |t| {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, 1).string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
            });
        });
        w.master(ids::CLUSTER, |c| {
            c.binary(ids::CRC32, &[1, 2, 3, 4]).binary(ids::VOID, &[0; 3]).uint(ids::TIMECODE, 500);
            c.simple_block(1, 2, true, b"a").simple_block(1, 12, false, b"b");
        });
        let templates = templates(w.into_bytes()).unwrap();
        // First frame at (500 + 2) x 10 ms; two frames 100 ms apart: 200 ms.
        assert_eq!((templates[0].lead_ticks, templates[0].slot_ms), (2, 200));
        let restamped = templates[0].restamp(1_800_000_000_000);
        let fragment = whole(&restamped);
        let frames = fragment.frames().unwrap();
        assert_eq!(frames[0].timestamp_ns, 1_800_000_000_000_000_000);
        let tree = fragment.tree();
        assert!(tree.find_id(ids::CRC32).is_empty());
        assert_eq!(tree.find_id(ids::VOID).len(), 1);
        assert_eq!(
            tree.path("Segment/Cluster/Timecode").and_then(Element::as_uint),
            Some(180_000_000_000 - 2)
        );
    }

    /// A fragment of `cluster`, with an empty producer header.
    fn fragment_of(cluster: Bytes) -> NewFragment {
        NewFragment {
            head: Bytes::new(),
            cluster_start: Bytes::new(),
            cluster,
            producer_ms: 0,
            duration_ms: 33,
            timecode_ms: 0,
        }
    }

    #[test]
    fn a_cluster_without_a_timecode_cannot_be_restamped() {
        let mut w = EbmlWriter::new();
        w.master(ids::CLUSTER, |c| {
            c.simple_block(1, 0, true, b"a");
        });
        let refused = Template::new(&fragment_of(w.into_bytes()), 33);
        assert!(matches!(refused, Err(Error::Unreplayable(ReplayProblem::ClusterWithoutTimecode))));
    }

    #[test]
    fn a_fragment_of_two_clusters_or_none_cannot_be_replayed() {
        let mut w = EbmlWriter::new();
        for timecode in [0, 33] {
            w.master(ids::CLUSTER, |c| {
                c.uint(ids::TIMECODE, timecode).simple_block(1, 0, true, b"a");
            });
        }
        let refused = Template::new(&fragment_of(w.into_bytes()), 33);
        assert!(matches!(refused, Err(Error::Unreplayable(ReplayProblem::NotOneWholeCluster))));
        let mut w = EbmlWriter::new();
        w.binary(ids::VOID, &[0; 4]);
        let refused = Template::new(&fragment_of(w.into_bytes()), 33);
        assert!(matches!(refused, Err(Error::Unreplayable(ReplayProblem::NotOneWholeCluster))));
    }

    #[test]
    fn nothing_to_replay_is_an_error() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        assert!(matches!(templates(w.into_bytes()), Err(Error::EmptyReplay)));
        assert!(templates(Bytes::from_static(b"not mkv at all")).is_err());
    }

    #[test]
    fn slots_fall_back_to_the_gap_then_the_previous_slot() {
        assert_eq!(slot_ms(40, Some(1000), None), 40);
        assert_eq!(slot_ms(0, Some(33), None), 33);
        assert_eq!(slot_ms(0, None, Some(33)), 33);
        assert_eq!(slot_ms(0, Some(-5), None), FALLBACK_SLOT_MS);
        assert_eq!(slot_ms(60_000, None, None), MAX_SLOT_MS);
    }

    #[test]
    fn streams_start_spread_over_the_first_slot_and_loop() {
        let mut schedule = Schedule::new(4, 1_000_000);
        let mut turns = Vec::new();
        while let Some(turn) = schedule.pop(999_999) {
            turns.push(turn);
        }
        let starts: Vec<(usize, u64)> = turns.iter().map(|t| (t.stream, t.due_us)).collect();
        assert_eq!(starts, [(0, 0), (1, 250_000), (2, 500_000), (3, 750_000)]);
        // Two fragments of 1 s and 0.5 s: stream 1 appends 0, 1, 0, ... at 0.25, 1.25, 1.75.
        let mut turn = turns[1];
        let mut seen = Vec::new();
        for slot in [1_000_000, 500_000, 1_000_000] {
            schedule.reschedule(turn, slot, 2, turn.due_us);
            seen.push((turn.fragment, turn.due_us));
            turn = std::iter::from_fn(|| schedule.pop(u64::MAX)).find(|t| t.stream == 1).unwrap();
        }
        assert_eq!(seen, [(0, 250_000), (1, 1_250_000), (0, 1_750_000)]);
    }

    #[test]
    fn a_stream_far_behind_starts_again_from_now_and_a_retired_one_is_gone() {
        let mut schedule = Schedule::new(1, 1_000_000);
        let turn = schedule.pop(0).unwrap();
        schedule.reschedule(turn, 1_000_000, 3, 60_000_000);
        assert_eq!(schedule.next_due_us(), Some(60_000_000));
        assert!(schedule.pop(59_999_999).is_none());
        let turn = schedule.pop(60_000_000).unwrap();
        assert_eq!(turn.fragment, 1);
        assert_eq!(schedule.next_due_us(), None);
    }
}
