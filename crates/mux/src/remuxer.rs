//! [`Remuxer`]: the tracks of a stream, checked once, and the time origin that every
//! output (fMP4, MP4, MPEG-TS) counts from.

use kvs_mkv::{Fragment, Track};

use crate::Error;
use crate::codec::TrackConfig;
use crate::timeline::{self, DecodeTimes, Sample};

/// Remuxes MKV fragments of one stream whose tracks are known.
///
/// Build it from the tracks (usually the first fragment's), then ask for the output:
/// [`init_segment`](Self::init_segment) and [`media_segment`](Self::media_segment) for
/// fragmented MP4, [`clip`](Self::clip) for a progressive MP4, [`ts_muxer`](Self::ts_muxer)
/// for MPEG-TS. It holds no state between calls, so a server can answer each request
/// for one segment on its own.
///
/// ```
/// use kvs_mux::Remuxer;
///
/// let fragment = kvs_mux::testing::h264_fragment(0, 3);
/// let remuxer = Remuxer::for_fragment(&fragment)?.with_origin_ns(0);
/// let init = remuxer.init_segment()?;
/// let segment = remuxer.media_segment(1, &fragment, None)?;
/// assert_eq!(&init[4..8], b"ftyp");
/// assert_eq!(&segment[4..8], b"moof");
/// # Ok::<(), kvs_mux::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Remuxer {
    pub(crate) tracks: Vec<TrackConfig>,
    pub(crate) origin_ns: i64,
    pub(crate) styp: bool,
    /// Frames of tracks not in `tracks` are left out rather than refused (see
    /// [`with_only_track`](Remuxer::with_only_track)).
    pub(crate) skip_other_tracks: bool,
}

impl Remuxer {
    /// A remuxer for these tracks, every one of which must be H.264, H.265 or AAC
    /// ([`Error::UnsupportedCodec`] names the first that is not).
    ///
    /// Times count from 0 ns (the Unix epoch for KVS producer timestamps) until
    /// [`with_origin_ns`](Self::with_origin_ns) says otherwise.
    pub fn new(tracks: &[Track]) -> Result<Self, Error> {
        if tracks.is_empty() {
            return Err(Error::NoTracks);
        }
        let tracks = tracks.iter().map(TrackConfig::new).collect::<Result<Vec<_>, _>>()?;
        Ok(Remuxer { tracks, origin_ns: 0, styp: false, skip_other_tracks: false })
    }

    /// A remuxer for the tracks that `fragment` describes.
    pub fn for_fragment(fragment: &Fragment) -> Result<Self, Error> {
        Self::new(&fragment.tracks()?)
    }

    /// Counts fragmented-MP4 and MPEG-TS times from `origin_ns` (time 0 of the output is
    /// this MKV time). Segments of one playlist must share the origin; frames before it
    /// cannot go into fragmented MP4 ([`Error::BeforeOrigin`]).
    pub fn with_origin_ns(mut self, origin_ns: i64) -> Self {
        self.origin_ns = origin_ns;
        self
    }

    /// Starts each media segment with an `styp` box (`msdh`), as DASH segments do.
    pub fn with_styp(mut self, styp: bool) -> Self {
        self.styp = styp;
        self
    }

    /// Keeps only track `number`: its init segment describes that track alone and its
    /// segments and clips carry that track's frames, the others' left out. HLS fMP4 and
    /// DASH serve one track per playlist or adaptation set (`TrackNumber=`).
    /// [`Error::UnknownTrack`] when the remuxer has no such track.
    ///
    /// ```
    /// use kvs_mux::Remuxer;
    ///
    /// let fragment = kvs_mux::testing::fragment(0, 30, 47); // video 1, audio 2
    /// let audio = Remuxer::for_fragment(&fragment)?.with_only_track(2)?;
    /// assert_eq!(audio.track_numbers(), [2]);
    /// assert!(Remuxer::for_fragment(&fragment)?.with_only_track(3).is_err());
    /// # Ok::<(), kvs_mux::Error>(())
    /// ```
    pub fn with_only_track(mut self, number: u64) -> Result<Self, Error> {
        self.tracks.retain(|t| t.number == number);
        if self.tracks.is_empty() {
            return Err(Error::UnknownTrack { track: number });
        }
        self.skip_other_tracks = true;
        Ok(self)
    }

    /// The origin set by [`with_origin_ns`](Self::with_origin_ns).
    pub fn origin_ns(&self) -> i64 {
        self.origin_ns
    }

    /// The MKV track numbers, in output order (the MP4 track IDs are the same numbers).
    pub fn track_numbers(&self) -> Vec<u64> {
        self.tracks.iter().map(|t| t.number).collect()
    }

    /// The samples of `fragment` for each track (empty where a track has no frame), the
    /// last one's duration taken from `next` when given.
    pub(crate) fn fragment_samples(
        &self,
        fragment: &Fragment,
        next: Option<&Fragment>,
        how: DecodeTimes,
    ) -> Result<Vec<Vec<Sample>>, Error> {
        let frames = fragment.frames()?;
        let by_track = timeline::frames_by_track(&self.tracks, &frames, self.skip_other_tracks)?;
        let next_frames = match next {
            Some(next) => next.frames()?,
            None => Vec::new(),
        };
        let next_by_track = timeline::frames_by_track(&self.tracks, &next_frames, self.skip_other_tracks)?;
        let mut out = Vec::with_capacity(self.tracks.len());
        for ((track, frames), next) in self.tracks.iter().zip(&by_track).zip(&next_by_track) {
            let next_dts = timeline::first_dts_ns(next, how);
            out.push(timeline::samples(track, frames, self.origin_ns, how, next_dts)?);
        }
        if out.iter().all(Vec::is_empty) {
            return Err(Error::NoFrames);
        }
        Ok(out)
    }
}
