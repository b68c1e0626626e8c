//! Sample timing: from MKV frames (presentation times in nanoseconds, stored in decode
//! order) to MP4 samples (decode time, duration and composition offset in track ticks).
//!
//! Owns the rules every output format shares; does not write any box or packet.
//!
//! - MKV block timecodes are presentation times (PTS). Frames are stored in decode order,
//!   so the decode times (DTS) are the PTS sorted. Without B-frames the PTS are already
//!   sorted and DTS = PTS.
//! - MPEG-TS and progressive MP4 need every DTS at or before its PTS: there the sorted
//!   PTS move back by the smallest amount that does it ([`DecodeTimes::Shifted`]).
//!   MPEG-TS clocks wrap, and progressive MP4 starts at its first DTS with an edit list,
//!   so times before the origin are fine.
//! - Fragmented MP4 keeps the sorted PTS ([`DecodeTimes::Sorted`]) and gives B-frames
//!   negative composition offsets (signed `trun` version 1). A segment then never starts
//!   before its first frame is shown, whatever its GOP, so segments made one by one (a
//!   server answering each request alone) follow each other without gap or overlap, and
//!   a stream that starts at the origin with B-frames needs no time before it
//!   (`baseMediaDecodeTime` is unsigned). A frame shown before the origin is an error.
//! - Times become ticks by rounding `(t - origin)` once, and durations are differences of
//!   rounded times, so rounding never accumulates: durations sum to the span exactly.
//! - The last sample of a run lasts until the next run's first decode time when that is
//!   known (the next fragment), else as long as the sample before it, else the track's
//!   fallback duration.

use bytes::Bytes;
use kvs_mkv::Frame;

use crate::Error;
use crate::codec::TrackConfig;

/// One sample of one track, timed in that track's ticks from the remuxer's origin.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Decode time in ticks from the origin.
    pub dts: i64,
    /// Ticks until the next sample's decode time.
    pub duration: u32,
    /// Presentation minus decode time in ticks (negative only for [`DecodeTimes::Sorted`]).
    pub cts: i32,
    /// A keyframe: decoding can start here.
    pub sync: bool,
    /// The frame, as stored in the MKV.
    pub data: Bytes,
    /// Decode time in nanoseconds (absolute).
    pub dts_ns: i64,
    /// Presentation time in nanoseconds (absolute).
    pub pts_ns: i64,
}

/// `ns` nanoseconds in ticks of `timescale`, rounded to the nearest tick.
pub(crate) fn ticks(ns: i64, timescale: u32) -> i64 {
    let scaled = i128::from(ns) * i128::from(timescale) + 500_000_000;
    i64::try_from(scaled.div_euclid(1_000_000_000)).unwrap_or(i64::MAX)
}

/// How decode times follow from presentation times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeTimes {
    /// The presentation times sorted; offsets may be negative (fragmented MP4).
    Sorted,
    /// The sorted times moved back until none is after its presentation time.
    Shifted,
}

/// Decode times (ns) of frames with these presentation times, in stored order.
pub(crate) fn decode_times_ns(pts: &[i64], how: DecodeTimes) -> Vec<i64> {
    let mut sorted = pts.to_vec();
    sorted.sort_unstable();
    let shift = match how {
        DecodeTimes::Sorted => 0,
        DecodeTimes::Shifted => {
            sorted.iter().zip(pts).map(|(s, p)| s.saturating_sub(*p)).max().unwrap_or(0).max(0)
        }
    };
    sorted.into_iter().map(|s| s.saturating_sub(shift)).collect()
}

/// The frames of `frames` for each of `tracks`, in stored order.
pub(crate) fn frames_by_track<'a>(
    tracks: &[TrackConfig],
    frames: &'a [Frame],
    skip_unknown: bool,
) -> Result<Vec<Vec<&'a Frame>>, Error> {
    let mut out = vec![Vec::new(); tracks.len()];
    for frame in frames {
        match tracks.iter().position(|t| t.number == frame.track) {
            Some(index) => out[index].push(frame),
            None if skip_unknown => {}
            None => return Err(Error::UnknownTrack { track: frame.track }),
        }
    }
    Ok(out)
}

/// Decode time (ns) of the first frame of a run, as [`samples`] would give it.
pub(crate) fn first_dts_ns(frames: &[&Frame], how: DecodeTimes) -> Option<i64> {
    let pts: Vec<i64> = frames.iter().map(|f| f.timestamp_ns).collect();
    decode_times_ns(&pts, how).first().copied()
}

/// The samples of one track's run of frames. `next_dts_ns` is the decode time of the
/// frame that follows the run (computed the same way), when known.
pub(crate) fn samples(
    track: &TrackConfig,
    frames: &[&Frame],
    origin_ns: i64,
    how: DecodeTimes,
    next_dts_ns: Option<i64>,
) -> Result<Vec<Sample>, Error> {
    let pts: Vec<i64> = frames.iter().map(|f| f.timestamp_ns).collect();
    if how == DecodeTimes::Sorted
        && let Some(early) = pts.iter().copied().filter(|&t| t < origin_ns).min()
    {
        return Err(Error::BeforeOrigin { track: track.number, timestamp_ns: early, origin_ns });
    }
    let dts_ns = decode_times_ns(&pts, how);
    let scale = track.timescale;
    let at = |ns: i64| ticks(ns.saturating_sub(origin_ns), scale);
    let dts: Vec<i64> = dts_ns.iter().map(|&d| at(d)).collect();
    let next = next_dts_ns.map(at);
    let mut out = Vec::with_capacity(frames.len());
    let mut previous = None;
    for (i, frame) in frames.iter().enumerate() {
        let following = dts.get(i + 1).copied().or(next.filter(|&n| n >= dts[i]));
        let duration = match (following, previous) {
            (Some(n), _) => n - dts[i],
            (None, Some(p)) => p,
            (None, None) => ticks(i64::try_from(track.fallback_duration_ns()).unwrap_or(i64::MAX), scale),
        };
        previous = Some(duration);
        let cts = at(frame.timestamp_ns) - dts[i];
        out.push(Sample {
            dts: dts[i],
            duration: u32::try_from(duration.max(0)).unwrap_or(u32::MAX),
            cts: i32::try_from(cts).unwrap_or(if cts < 0 { i32::MIN } else { i32::MAX }),
            sync: frame.keyframe || !track.is_video(),
            data: frame.payload.clone(),
            dts_ns: dts_ns[i],
            pts_ns: frame.timestamp_ns,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DecodeTimes::{Shifted, Sorted};

    #[test]
    fn without_reordering_dts_is_pts() {
        assert_eq!(decode_times_ns(&[0, 33, 66, 100], Shifted), [0, 33, 66, 100]);
        assert_eq!(decode_times_ns(&[0, 33, 66, 100], Sorted), [0, 33, 66, 100]);
    }

    #[test]
    fn b_frames_move_decode_times_back_by_one_frame_or_not_at_all() {
        // I P B B in decode order, shown as I B B P.
        let pts = [0, 30, 10, 20];
        let dts = decode_times_ns(&pts, Shifted);
        assert_eq!(dts, [-10, 0, 10, 20]);
        assert!(dts.iter().zip(pts).all(|(d, p)| *d <= p));
        assert_eq!(decode_times_ns(&pts, Sorted), [0, 10, 20, 30]);
    }

    #[test]
    fn rounding_does_not_accumulate() {
        // 1/3 ms steps at 90 kHz: 30 ticks each, exactly; then 1 ms = 90 ticks.
        assert_eq!(ticks(333_333, 90_000), 30);
        assert_eq!(ticks(1_000_000, 90_000), 90);
        assert_eq!(ticks(21_333_333, 48_000), 1024);
        assert_eq!(ticks(-1_000_000, 90_000), -90);
    }
}
