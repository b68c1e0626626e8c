//! Progressive MP4 (GetClip): `ftyp`, `moov` with full sample tables, then one `mdat`
//! holding the frames of a run of fragments, bounded like AWS bounds GetClip.
//!
//! The `moov` comes first (fast start) so a browser can play the clip while it loads.
//! Each (fragment, track) run is one chunk, which interleaves audio and video by fragment.

use std::collections::HashMap;

use bytes::Bytes;
use kvs_mkv::{Fragment, Frame};
use mp4_atom::{
    Co64, Ctts, CttsEntry, Edts, Elst, ElstEntry, Encode, FourCC, Ftyp, Header, Moov, Stco, Stsc, StscEntry,
    Stss, Stsz, StszSamples, Stts, SttsEntry,
};

use crate::moov::{MOVIE_TIMESCALE, empty_stbl, mvhd, trak};
use crate::timeline::{self, DecodeTimes, Sample};
use crate::{Error, Remuxer};

/// How much of a run of fragments one clip takes. AWS GetClip stops at the first 200
/// fragments or 100 MB of media, whichever comes first ([`ClipLimits::AWS`], the
/// default); a clip never splits a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipLimits {
    /// At most this many fragments.
    pub max_fragments: usize,
    /// At most this many bytes of frames (the `mdat` payload).
    pub max_bytes: u64,
}

impl ClipLimits {
    /// GetClip's limits: 200 fragments, 100 MB (100 x 2^20 bytes).
    pub const AWS: ClipLimits = ClipLimits { max_fragments: 200, max_bytes: 100 << 20 };
    /// No limit: every fragment given.
    pub const NONE: ClipLimits = ClipLimits { max_fragments: usize::MAX, max_bytes: u64::MAX };
}

impl Default for ClipLimits {
    fn default() -> Self {
        Self::AWS
    }
}

/// A progressive MP4 and what went into it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Clip {
    /// The MP4 file.
    pub bytes: Bytes,
    /// Fragments taken.
    pub fragments: usize,
    /// Frames (samples) written, all tracks.
    pub frames: usize,
    /// True when a limit left out fragments that were given.
    pub truncated: bool,
}

/// The frames of one fragment, by track.
type FragmentFrames = Vec<Frame>;

impl Remuxer {
    /// A progressive MP4 of `fragments`, in order, within `limits`.
    ///
    /// Time 0 of the clip is its earliest decode time (the origin set by
    /// [`with_origin_ns`](Self::with_origin_ns) does not apply); a track that starts later
    /// starts later through an edit list.
    ///
    /// ```
    /// use kvs_mux::{ClipLimits, Remuxer};
    ///
    /// let fragments: Vec<_> = (0..3).map(|i| kvs_mux::testing::fragment(i, 10, 20)).collect();
    /// let remuxer = Remuxer::for_fragment(&fragments[0])?;
    /// let clip = remuxer.clip(&fragments, ClipLimits { max_fragments: 2, ..ClipLimits::AWS })?;
    /// assert_eq!((clip.fragments, clip.frames, clip.truncated), (2, 60, true));
    /// # Ok::<(), kvs_mux::Error>(())
    /// ```
    pub fn clip<'a>(
        &self,
        fragments: impl IntoIterator<Item = &'a Fragment>,
        limits: ClipLimits,
    ) -> Result<Clip, Error> {
        let (mut taken, truncated) = take_fragments(fragments, limits)?;
        play_in_order(&mut taken);
        // Runs of frames by fragment, then by track; and each track's frames in order.
        let mut runs: Vec<Vec<usize>> = Vec::with_capacity(taken.len());
        let mut by_track: Vec<Vec<&Frame>> = vec![Vec::new(); self.tracks.len()];
        for frames in &taken {
            let grouped = timeline::frames_by_track(&self.tracks, frames, self.skip_other_tracks)?;
            runs.push(grouped.iter().map(Vec::len).collect());
            for (all, some) in by_track.iter_mut().zip(grouped) {
                all.extend(some);
            }
        }
        let origin = by_track
            .iter()
            .filter_map(|f| timeline::first_dts_ns(f, DecodeTimes::Shifted))
            .min()
            .ok_or(Error::NoFrames)?;
        let samples = self
            .tracks
            .iter()
            .zip(&by_track)
            .map(|(track, frames)| timeline::samples(track, frames, origin, DecodeTimes::Shifted, None))
            .collect::<Result<Vec<_>, _>>()?;
        let frames = samples.iter().map(Vec::len).sum();
        let bytes = self.write_clip(&samples, &runs)?;
        Ok(Clip { bytes, fragments: taken.len(), frames, truncated })
    }

    /// Lays out `ftyp`, `moov` and `mdat` for these samples, chunked by `runs`.
    fn write_clip(&self, samples: &[Vec<Sample>], runs: &[Vec<usize>]) -> Result<Bytes, Error> {
        let ftyp = Ftyp {
            major_brand: FourCC::new(b"isom"),
            minor_version: 0x200,
            compatible_brands: [b"isom", b"iso2", b"avc1", b"mp41"].map(FourCC::new).to_vec(),
        };
        // Chunk offsets from the start of the mdat payload, per track.
        let mut chunks: Vec<Vec<(u64, u32)>> = vec![Vec::new(); self.tracks.len()];
        let mut cursor = vec![0usize; self.tracks.len()];
        let mut data_len = 0u64;
        for run in runs {
            for (t, &count) in run.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let size: u64 =
                    samples[t][cursor[t]..cursor[t] + count].iter().map(|s| s.data.len() as u64).sum();
                chunks[t].push((data_len, count as u32));
                cursor[t] += count;
                data_len += size;
            }
        }
        let mdat_head = Header { kind: FourCC::new(b"mdat"), size: Some(data_len as usize) };
        let mut head = Vec::new();
        ftyp.encode(&mut head)?;
        let mut mdat_bytes = Vec::new();
        mdat_head.encode(&mut mdat_bytes)?;
        // Offsets do not change the moov's size, only the choice of stco or co64 does.
        let fixed = (head.len() + mdat_bytes.len()) as u64;
        let mut wide = false;
        let mut moov_len = self.moov(samples, &chunks, 0, wide)?.len() as u64;
        if fixed + moov_len + data_len > u64::from(u32::MAX) {
            wide = true;
            moov_len = self.moov(samples, &chunks, 0, wide)?.len() as u64;
        }
        let moov = self.moov(samples, &chunks, fixed + moov_len, wide)?;
        let mut out = Vec::with_capacity((fixed + moov_len + data_len) as usize);
        out.extend_from_slice(&head);
        out.extend_from_slice(&moov);
        out.extend_from_slice(&mdat_bytes);
        for run in runs.iter().scan(vec![0usize; self.tracks.len()], |cur, run| {
            let spans: Vec<(usize, usize)> = run.iter().enumerate().map(|(t, &n)| (cur[t], n)).collect();
            for (t, &n) in run.iter().enumerate() {
                cur[t] += n;
            }
            Some(spans)
        }) {
            for (t, (start, n)) in run.into_iter().enumerate() {
                for sample in &samples[t][start..start + n] {
                    out.extend_from_slice(&sample.data);
                }
            }
        }
        Ok(out.into())
    }

    /// The encoded `moov`, chunk offsets moved by `base`.
    fn moov(
        &self,
        samples: &[Vec<Sample>],
        chunks: &[Vec<(u64, u32)>],
        base: u64,
        wide: bool,
    ) -> Result<Vec<u8>, Error> {
        // Movie time 0 is when the clip's first frame, of any track, is shown.
        let shown_origin_ns = samples.iter().flatten().map(|s| s.pts_ns).min().unwrap_or(0);
        let mut traks = Vec::new();
        let mut movie_duration = 0u64;
        for ((track, samples), chunks) in self.tracks.iter().zip(samples).zip(chunks) {
            let Some(first) = samples.first() else { continue };
            let media_duration: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
            let to_movie = |ticks: u64| ticks * u64::from(MOVIE_TIMESCALE) / u64::from(track.timescale);
            // Shown from its first presentation time, placed on the movie's time line
            // where that time falls after the clip's first.
            let shown_from = samples.iter().map(|s| s.dts + i64::from(s.cts)).min().unwrap_or(0) - first.dts;
            let first_shown_ns = samples.iter().map(|s| s.pts_ns).min().unwrap_or(shown_origin_ns);
            let start = timeline::ticks(first_shown_ns - shown_origin_ns, MOVIE_TIMESCALE).max(0) as u64;
            let duration = to_movie(media_duration);
            movie_duration = movie_duration.max(start + duration);
            let mut stbl = empty_stbl(track);
            stbl.stts = Stts {
                entries: run_lengths(samples.iter().map(|s| s.duration))
                    .map(|(n, d)| SttsEntry { sample_count: n, sample_delta: d })
                    .collect(),
            };
            if samples.iter().any(|s| s.cts != 0) {
                stbl.ctts = Some(Ctts {
                    entries: run_lengths(samples.iter().map(|s| s.cts))
                        .map(|(n, c)| CttsEntry { sample_count: n, sample_offset: i64::from(c) })
                        .collect(),
                });
            }
            if samples.iter().any(|s| !s.sync) {
                stbl.stss = Some(Stss {
                    entries: samples
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.sync)
                        .map(|(i, _)| i as u32 + 1)
                        .collect(),
                });
            }
            stbl.stsz = Stsz {
                samples: StszSamples::Different {
                    sizes: samples.iter().map(|s| s.data.len() as u32).collect(),
                },
            };
            stbl.stsc = Stsc {
                entries: stsc(chunks.iter().map(|c| c.1))
                    .map(|(first_chunk, n)| StscEntry {
                        first_chunk,
                        samples_per_chunk: n,
                        sample_description_index: 1,
                    })
                    .collect(),
            };
            let offsets = chunks.iter().map(|c| c.0 + base);
            if wide {
                stbl.co64 = Some(Co64 { entries: offsets.collect() });
            } else {
                stbl.stco = Some(Stco { entries: offsets.map(|o| o as u32).collect() });
            }
            let edts = edit_list(start, duration, shown_from);
            traks.push(trak(track, stbl, duration, media_duration, edts));
        }
        let moov = Moov {
            mvhd: mvhd(&self.tracks, movie_duration),
            mvex: None,
            trak: traks,
            meta: None,
            udta: None,
            ainf: None,
        };
        let mut out = Vec::new();
        moov.encode(&mut out)?;
        Ok(out)
    }
}

/// Makes the fragments' times go forward, in the order given: a fragment where a track's
/// frames start at or before that track's last frame so far (a producer that restarted its
/// timecodes, as in a cut recording) moves, with all after it, so that each track starts
/// one frame after its end. A clip is one time line; without this, frames of the later
/// fragment would sort in among the earlier. Tracks move together, so they stay in sync.
fn play_in_order(fragments: &mut [FragmentFrames]) {
    let mut shift: i64 = 0;
    // Per track: the last frame time so far, and one frame after it.
    let mut previous: HashMap<u64, (i64, i64)> = HashMap::new();
    for frames in fragments.iter_mut() {
        let spans = track_spans(frames);
        let back = spans.iter().any(|(track, first, _, _)| {
            previous.get(track).is_some_and(|&(last, _)| first.saturating_add(shift) <= last)
        });
        if back {
            shift = spans
                .iter()
                .filter_map(|(track, first, _, _)| {
                    previous.get(track).map(|&(_, end)| end.saturating_sub(*first))
                })
                .max()
                .unwrap_or(shift);
        }
        for frame in frames.iter_mut() {
            frame.timestamp_ns = frame.timestamp_ns.saturating_add(shift);
        }
        for (track, _, last, interval) in spans {
            let last = last.saturating_add(shift);
            previous.insert(track, (last, last.saturating_add(interval)));
        }
    }
}

/// Each track of one fragment: its first and last frame time and its mean frame interval
/// (0 with one frame).
fn track_spans(frames: &[Frame]) -> Vec<(u64, i64, i64, i64)> {
    let mut spans: Vec<(u64, i64, i64, i64)> = Vec::new();
    let mut counts: HashMap<u64, i64> = HashMap::new();
    for frame in frames {
        let t = frame.timestamp_ns;
        *counts.entry(frame.track).or_default() += 1;
        match spans.iter_mut().find(|s| s.0 == frame.track) {
            Some(span) => {
                span.1 = span.1.min(t);
                span.2 = span.2.max(t);
            }
            None => spans.push((frame.track, t, t, 0)),
        }
    }
    for span in &mut spans {
        let gaps = counts[&span.0] - 1;
        if gaps > 0 {
            span.3 = (span.2 - span.1) / gaps;
        }
    }
    spans
}

/// Fragments within `limits`, their frames read, and whether any were left out.
fn take_fragments<'a>(
    fragments: impl IntoIterator<Item = &'a Fragment>,
    limits: ClipLimits,
) -> Result<(Vec<FragmentFrames>, bool), Error> {
    let mut taken = Vec::new();
    let mut bytes = 0u64;
    for fragment in fragments {
        if taken.len() >= limits.max_fragments {
            return Ok((taken, true));
        }
        let frames = fragment.frames()?;
        let size: u64 = frames.iter().map(|f| f.payload.len() as u64).sum();
        if bytes + size > limits.max_bytes {
            if taken.is_empty() {
                return Err(Error::FragmentTooLarge { bytes: size, limit: limits.max_bytes });
            }
            return Ok((taken, true));
        }
        bytes += size;
        taken.push(frames);
    }
    Ok((taken, false))
}

/// An edit list when the track starts after the clip (an empty edit first) or shows its
/// first frame after its first decode time (B-frames); `None` when neither.
fn edit_list(start: u64, duration: u64, shown_from: i64) -> Option<Edts> {
    if start == 0 && shown_from <= 0 {
        return None;
    }
    let mut entries = Vec::new();
    if start > 0 {
        entries.push(ElstEntry { segment_duration: start, media_time: None, media_rate: 1.into() });
    }
    entries.push(ElstEntry {
        segment_duration: duration,
        media_time: Some(shown_from.max(0) as u64),
        media_rate: 1.into(),
    });
    Some(Edts { elst: Some(Elst { entries }) })
}

/// Runs of equal values: (count, value).
fn run_lengths<T: PartialEq + Copy>(values: impl Iterator<Item = T>) -> impl Iterator<Item = (u32, T)> {
    let mut runs: Vec<(u32, T)> = Vec::new();
    for v in values {
        match runs.last_mut() {
            Some((n, last)) if *last == v => *n += 1,
            _ => runs.push((1, v)),
        }
    }
    runs.into_iter()
}

/// `stsc` entries (first chunk, 1-based; samples per chunk) from each chunk's count.
fn stsc(counts: impl Iterator<Item = u32>) -> impl Iterator<Item = (u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (i, n) in counts.enumerate() {
        if out.last().is_none_or(|&(_, last)| last != n) {
            out.push((i as u32 + 1, n));
        }
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stsc_merges_equal_chunks() {
        assert_eq!(stsc([60, 60, 60, 31].into_iter()).collect::<Vec<_>>(), [(1, 60), (4, 31)]);
        assert_eq!(run_lengths([3, 3, 4].into_iter()).collect::<Vec<_>>(), [(2, 3), (1, 4)]);
    }
}
