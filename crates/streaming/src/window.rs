//! Which fragments a session shows, per playback mode, and the numbering players see:
//! sequence numbers (HLS `EXT-X-MEDIA-SEQUENCE`, DASH `$Number$`), discontinuities and
//! a gap-free media timeline.
//!
//! - LIVE: the newest `max_results` fragments by ingest order, a sliding window; a
//!   fragment older than the newest one shown is never added (as AWS: gaps stay).
//!   This is the only stateful mode ([`LiveWindow`]), because sequence numbers must stay
//!   put while the stream's fragments come and go.
//! - LIVE_REPLAY: the fragments from the start time on, released at playback pace:
//!   the first `max_results` at once, then one more each time the duration of a shown
//!   fragment has elapsed on the caller's clock, shown as a sliding window.
//! - ON_DEMAND: the first `max_results` fragments of the range, once, complete.
//!
//! With PRODUCER_TIMESTAMP, fragments sharing a start timestamp are deduplicated to the
//! one with the largest fragment number (AWS's rule). Nothing here renders a playlist.

use std::collections::VecDeque;

use crate::fragment::{FragmentInfo, TimestampSource, UnixMillis, cmp_fragment_numbers};
use crate::request::{DiscontinuityMode, TimestampRange};

/// A gap or overlap above this between consecutive fragments is a discontinuity in
/// `ON_DISCONTINUITY` mode (AWS: 50 ms).
pub const DISCONTINUITY_THRESHOLD_MS: u64 = 50;

/// LIVE keeps this many fragments behind the window, so a player that fetched a playlist
/// just before it slid can still fetch what it listed.
const LIVE_RETAINED_BEHIND: usize = 32;

/// One fragment as a session shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowEntry {
    /// Its number in the session: 0 for the first fragment the session ever showed.
    pub sequence: u64,
    /// The fragment.
    pub fragment: FragmentInfo,
    /// Preceded by a discontinuity (HLS `#EXT-X-DISCONTINUITY`).
    pub discontinuity: bool,
    /// Its start on the session's gap-free media timeline: the sum of the durations of
    /// the fragments before it. DASH's `S@t`; a media segment served for this entry must
    /// start at this decode time (timescale 1000) for DASH players.
    pub media_time_ms: u64,
}

/// The fragments a playlist or manifest shows now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Window {
    /// Sequence number of the first entry (`EXT-X-MEDIA-SEQUENCE`, DASH `startNumber`).
    pub media_sequence: u64,
    /// Discontinuities before the first entry (`EXT-X-DISCONTINUITY-SEQUENCE`).
    pub discontinuity_sequence: u64,
    /// The fragments, oldest first.
    pub entries: Vec<WindowEntry>,
    /// No fragment will be added: ON_DEMAND, or a LIVE_REPLAY whose range is all shown
    /// (HLS `#EXT-X-ENDLIST`, DASH `type="static"`).
    pub complete: bool,
    /// The wall-clock time of media time 0, so that each shown fragment is available
    /// when its end has passed (DASH `availabilityStartTime`).
    pub origin: UnixMillis,
}

fn is_gap(previous: &FragmentInfo, next: &FragmentInfo, source: TimestampSource) -> bool {
    let expected = previous.timestamp(source).0.saturating_add(previous.duration_ms);
    next.timestamp(source).0.abs_diff(expected) > DISCONTINUITY_THRESHOLD_MS
}

fn discontinuity(
    mode: DiscontinuityMode,
    previous: Option<&FragmentInfo>,
    next: &FragmentInfo,
    source: TimestampSource,
) -> bool {
    match mode {
        DiscontinuityMode::Always => true,
        DiscontinuityMode::Never => false,
        DiscontinuityMode::OnDiscontinuity => previous.is_some_and(|p| is_gap(p, next, source)),
    }
}

/// The fragments of `range` by `source` timestamp, oldest first, deduplicated.
pub(crate) fn in_range(
    fragments: &[FragmentInfo],
    source: TimestampSource,
    range: TimestampRange,
) -> Vec<FragmentInfo> {
    let mut list: Vec<FragmentInfo> = fragments
        .iter()
        .filter(|f| {
            let ts = f.timestamp(source);
            ts >= range.start && range.end.is_none_or(|end| ts <= end)
        })
        .cloned()
        .collect();
    list.sort_by(|a, b| {
        a.timestamp(source)
            .cmp(&b.timestamp(source))
            .then_with(|| cmp_fragment_numbers(&a.fragment_number, &b.fragment_number))
    });
    if source == TimestampSource::Producer {
        // Sorted ascending, so of equal timestamps the last has the largest number.
        let mut deduped: Vec<FragmentInfo> = Vec::with_capacity(list.len());
        for f in list {
            match deduped.last_mut() {
                Some(last) if last.producer == f.producer => *last = f,
                _ => deduped.push(f),
            }
        }
        list = deduped;
    }
    list
}

/// Numbers, flags and times the first `list.len()` fragments of a ranged session.
pub(crate) fn annotate(
    list: &[FragmentInfo],
    source: TimestampSource,
    mode: DiscontinuityMode,
) -> Vec<WindowEntry> {
    let mut media_time_ms = 0u64;
    let mut previous: Option<&FragmentInfo> = None;
    let mut entries = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        entries.push(WindowEntry {
            sequence: i as u64,
            fragment: f.clone(),
            discontinuity: discontinuity(mode, previous, f, source),
            media_time_ms,
        });
        media_time_ms = media_time_ms.saturating_add(f.duration_ms);
        previous = Some(f);
    }
    entries
}

/// How many fragments of a LIVE_REPLAY list are released `elapsed_ms` after the session
/// began: `max_results` at once, then one per elapsed fragment duration.
pub(crate) fn replay_released(list: &[FragmentInfo], max_results: usize, elapsed_ms: u64) -> usize {
    let mut played_ms = 0u64;
    let mut released = max_results.min(list.len());
    for f in list {
        played_ms = played_ms.saturating_add(f.duration_ms);
        if played_ms > elapsed_ms || released == list.len() {
            break;
        }
        released += 1;
    }
    released
}

/// The last `max_results` of `entries` as a window.
pub(crate) fn tail(
    mut entries: Vec<WindowEntry>,
    max_results: usize,
    complete: bool,
    origin: UnixMillis,
) -> Window {
    let skip = entries.len().saturating_sub(max_results);
    let discontinuity_sequence = entries[..skip].iter().filter(|e| e.discontinuity).count() as u64;
    let entries = entries.split_off(skip);
    Window { media_sequence: skip as u64, discontinuity_sequence, entries, complete, origin }
}

/// The sliding window of a LIVE session: what it has shown, so numbering holds across
/// playlist requests while the stream grows.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveWindow {
    next_sequence: u64,
    next_media_time_ms: u64,
    /// Kept for the gap test and the "never older than the newest" rule.
    newest: Option<FragmentInfo>,
    recent: VecDeque<WindowEntry>,
    discontinuities_dropped: u64,
    /// Ingest time of the first fragment shown: media time 0.
    origin: Option<UnixMillis>,
}

fn ingest_order(a: &FragmentInfo, b: &FragmentInfo) -> std::cmp::Ordering {
    a.server.cmp(&b.server).then_with(|| cmp_fragment_numbers(&a.fragment_number, &b.fragment_number))
}

impl LiveWindow {
    /// Adds the fragments ingested after the newest one shown (on the first call, only
    /// the last `max_results`).
    pub(crate) fn admit(
        &mut self,
        fragments: &[FragmentInfo],
        source: TimestampSource,
        mode: DiscontinuityMode,
        max_results: usize,
    ) {
        let mut fresh: Vec<&FragmentInfo> = fragments
            .iter()
            .filter(|f| self.newest.as_ref().is_none_or(|n| ingest_order(f, n).is_gt()))
            .collect();
        fresh.sort_by(|a, b| ingest_order(a, b));
        if self.newest.is_none() {
            fresh.drain(..fresh.len().saturating_sub(max_results));
        }
        for f in fresh {
            if source == TimestampSource::Producer
                && self.recent.iter().any(|e| e.fragment.producer == f.producer)
            {
                continue;
            }
            let entry = WindowEntry {
                sequence: self.next_sequence,
                fragment: f.clone(),
                discontinuity: discontinuity(mode, self.newest.as_ref(), f, source),
                media_time_ms: self.next_media_time_ms,
            };
            self.next_sequence += 1;
            self.next_media_time_ms = self.next_media_time_ms.saturating_add(f.duration_ms);
            self.origin.get_or_insert(f.server);
            self.newest = Some(f.clone());
            self.recent.push_back(entry);
        }
        while self.recent.len() > max_results + LIVE_RETAINED_BEHIND {
            if let Some(dropped) = self.recent.pop_front() {
                self.discontinuities_dropped += u64::from(dropped.discontinuity);
            }
        }
    }

    /// The newest `max_results` fragments shown.
    pub(crate) fn window(&self, max_results: usize) -> Window {
        let skip = self.recent.len().saturating_sub(max_results);
        let hidden = self.recent.iter().take(skip).filter(|e| e.discontinuity).count() as u64;
        let entries: Vec<WindowEntry> = self.recent.iter().skip(skip).cloned().collect();
        Window {
            media_sequence: entries.first().map_or(self.next_sequence, |e| e.sequence),
            discontinuity_sequence: self.discontinuities_dropped + hidden,
            entries,
            complete: false,
            origin: self.origin.unwrap_or_default(),
        }
    }

    /// A fragment this session showed and still retains.
    pub(crate) fn find(&self, matches: impl Fn(&WindowEntry) -> bool) -> Option<&WindowEntry> {
        self.recent.iter().find(|e| matches(e))
    }
}

/// Whether a LIVE session may start: AWS refuses one whose stream has no fragment in
/// the last 30 s.
pub(crate) const LIVE_RECENT_MS: u64 = 30_000;

pub(crate) fn has_recent(fragments: &[FragmentInfo], now: UnixMillis) -> bool {
    let since = now.minus(LIVE_RECENT_MS);
    fragments.iter().any(|f| f.server >= since)
}
