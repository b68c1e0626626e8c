//! Video: picks a fragment's video track, turns its frames into access units the codec
//! takes, decides frame by frame what must be decoded and what must be converted, and
//! hands the selected pictures out. Its steps live in submodules: `track` opens the
//! decoder a track needs, `plan` prepares a fragment's frames, `feed` gives them to the
//! codec and matches the pictures that come out to frames. The codec calls live in the
//! backends (`openh264_backend`, `ffmpeg_backend`), colour conversion in `colour`, writing
//! files in `image`, decoding on several threads in `export`.
//!
//! Cost model, the reason for this module's shape:
//! - a frame that is not selected is still decoded when other pictures may refer to it,
//!   but is never converted to RGB nor copied;
//! - a frame that is not selected and that no picture refers to (H.264 `nal_ref_idc` 0)
//!   is not even decoded;
//! - [`Selection::Keyframes`] feeds the decoder the IDR pictures only;
//! - the decoder is flushed at the end of a fragment only when it still holds pictures:
//!   otherwise its references carry over, so that a fragment that does not start at a
//!   keyframe (a plain file's Cluster in the middle of a GOP) goes on from the last one.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::Arc;

use kvs_mkv::{Fragment, FragmentNumber, Timestamp};
use ndarray::Array3;

use crate::Error;
use crate::colour::{Colour, YuvPlanes};
use crate::image::{ImageFormat, encode_yuv};
use crate::nal::Signalling;

mod feed;
mod plan;
mod track;

use feed::Feeder;
use plan::Plan;
use track::Active;
pub(crate) use track::starts_at_idr;

/// What a backend hands out for one picture.
pub(crate) struct Output<'a> {
    /// The picture, borrowed from the decoder.
    pub planes: YuvPlanes<'a>,
    /// The tag of the access unit it came from, when the backend carries tags through.
    /// Without one, pictures are matched to frames in presentation order.
    pub tag: Option<usize>,
    /// Colour signalling the backend read from the stream itself.
    pub signalling: Option<Signalling>,
}

/// One decoder implementation.
pub(crate) trait Backend {
    /// Decodes one access unit; each picture that comes out goes to `out`.
    fn decode(
        &mut self,
        access_unit: &[u8],
        tag: usize,
        out: &mut dyn FnMut(Output<'_>),
    ) -> Result<(), Error>;
    /// Hands out every picture still held for reordering; the decoder stays usable.
    fn flush(&mut self, out: &mut dyn FnMut(Output<'_>)) -> Result<(), Error>;
}

/// Which decoder to use for H.264 (other codecs always go through FFmpeg).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// openh264, built from source: H.264 only, no system packages.
    #[default]
    OpenH264,
    /// FFmpeg's libavcodec (feature `ffmpeg`).
    #[cfg(feature = "ffmpeg")]
    Ffmpeg,
}

/// Which frames to hand out.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Selection {
    /// Every frame.
    #[default]
    All,
    /// Frames whose index in the fragment is a multiple of N: 0, N, 2N... (the Python
    /// sample's `one_in_frames_ratio`).
    EveryNth(NonZeroUsize),
    /// IDR (instantaneous decoder refresh) frames only; nothing else is decoded.
    Keyframes,
    /// Frames for which the function returns true. It sees the frame's metadata before
    /// anything is decoded.
    Predicate(Arc<dyn Fn(&FrameInfo) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("All"),
            Self::EveryNth(n) => write!(f, "EveryNth({n})"),
            Self::Keyframes => f.write_str("Keyframes"),
            Self::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

/// Settings of a [`FrameDecoder`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VideoOptions {
    /// Which frames to hand out.
    pub selection: Selection,
    /// Which decoder runs H.264.
    pub backend: BackendKind,
    /// The track to decode; by default the first video track.
    pub track: Option<u64>,
    /// Force a colour matrix and range instead of what the stream signals.
    pub colour: Option<Colour>,
}

impl VideoOptions {
    /// Options with the given selection, everything else default.
    pub fn with_selection(selection: Selection) -> Self {
        Self { selection, ..Self::default() }
    }
}

/// Where a frame comes from and when it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameInfo {
    /// Track number.
    pub track: u64,
    /// Position in the fragment among the track's frames, in presentation order, from 0.
    pub index: usize,
    /// The block's keyframe flag.
    pub keyframe: bool,
    /// Presentation time in nanoseconds (cluster timecode + block offset, scaled).
    pub timestamp_ns: i64,
    /// The fragment's position in the stream it was split from (0 for the first).
    pub fragment_index: u64,
    /// `AWS_KINESISVIDEO_FRAGMENT_NUMBER`, validated.
    pub fragment_number: Option<FragmentNumber>,
    /// `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP` of the fragment.
    pub producer_timestamp: Option<Timestamp>,
    /// `AWS_KINESISVIDEO_SERVER_TIMESTAMP` of the fragment.
    pub server_timestamp: Option<Timestamp>,
}

/// A selected picture, still in the decoder's buffers: convert it or copy what you need
/// before the callback returns.
#[derive(Debug)]
pub struct Picture<'a> {
    info: FrameInfo,
    planes: YuvPlanes<'a>,
    colour: Colour,
    converted: &'a Cell<u64>,
}

impl Picture<'_> {
    /// The frame's metadata.
    pub fn info(&self) -> &FrameInfo {
        &self.info
    }

    /// The decoded YUV 4:2:0 planes.
    pub fn yuv(&self) -> YuvPlanes<'_> {
        self.planes
    }

    /// The colour matrix and range used for conversion.
    pub fn colour(&self) -> Colour {
        self.colour
    }

    /// Converts to an RGB array of shape `(height, width, 3)`.
    pub fn to_rgb(&self) -> Result<Array3<u8>, Error> {
        self.converted.set(self.converted.get() + 1);
        self.planes.to_rgb(self.colour)
    }

    /// Converts to RGB and keeps the metadata.
    pub fn to_frame(&self) -> Result<VideoFrame, Error> {
        Ok(VideoFrame { info: self.info.clone(), rgb: self.to_rgb()? })
    }

    /// Encodes as JPEG or PNG bytes; a BT.601 picture becomes a JPEG without going through
    /// RGB (see [`encode_yuv`](crate::encode_yuv)).
    pub fn encode(&self, format: ImageFormat) -> Result<Vec<u8>, Error> {
        encode_yuv(&self.planes, self.colour, format)
    }
}

/// A decoded frame: RGB pixels and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoFrame {
    /// Metadata.
    pub info: FrameInfo,
    /// Pixels, `(height, width, 3)`, RGB.
    pub rgb: Array3<u8>,
}

/// A frame that could not be decoded; decoding went on with the next one.
#[derive(Debug)]
#[non_exhaustive]
pub struct FrameError {
    /// Index of the frame in the fragment (presentation order), when the error concerns
    /// one frame.
    pub index: Option<usize>,
    /// Its presentation time.
    pub timestamp_ns: Option<i64>,
    /// What went wrong.
    pub error: Error,
}

/// The frames of one fragment and the problems met on the way.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DecodedFragment {
    /// Selected frames, in presentation order.
    pub frames: Vec<VideoFrame>,
    /// Frames that failed.
    pub errors: Vec<FrameError>,
}

/// Running counts of what a [`FrameDecoder`] did, across all fragments so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Frames of the video track seen.
    pub frames: u64,
    /// Access units given to the codec.
    pub decoded: u64,
    /// Pictures that came out of the codec.
    pub pictures: u64,
    /// Pictures converted to RGB.
    pub converted: u64,
    /// Unselected frames no picture refers to, never decoded.
    pub skipped_non_reference: u64,
    /// Non-IDR frames left out in keyframes-only mode.
    pub skipped_non_keyframes: u64,
    /// Frames dropped because their fragment did not start at a keyframe.
    pub skipped_before_keyframe: u64,
    /// Fragments that did not start at a keyframe.
    pub fragments_without_leading_keyframe: u64,
    /// Frames that failed to decode.
    pub errors: u64,
}

/// Decodes the video frames of the fragments of one stream, in order.
///
/// ```
/// # fn main() -> Result<(), kvs_media::Error> {
/// use kvs_media::{FrameDecoder, Selection, VideoOptions};
///
/// // A fragment with a track whose codec cannot be decoded: a typed error, no panic.
/// let mut w = kvs_mkv::EbmlWriter::new();
/// w.ebml_header("matroska");
/// w.unknown_size_master(kvs_mkv::ids::SEGMENT);
/// w.master(kvs_mkv::ids::TRACKS, |t| {
///     t.master(kvs_mkv::ids::TRACK_ENTRY, |e| {
///         e.uint(kvs_mkv::ids::TRACK_NUMBER, 1);
///         e.uint(kvs_mkv::ids::TRACK_TYPE, 1);
///         e.string(kvs_mkv::ids::CODEC_ID, "V_MS/VFW/FOURCC");
///     });
/// });
/// let fragment = kvs_mkv::Fragment::from_bytes(w.into_bytes())?;
/// let mut decoder = FrameDecoder::new(VideoOptions::with_selection(Selection::Keyframes));
/// let error = decoder.decode(&fragment).unwrap_err();
/// assert!(matches!(error, kvs_media::Error::UnsupportedCodec { track: 1, .. }));
/// # Ok(()) }
/// ```
pub struct FrameDecoder {
    options: VideoOptions,
    active: Option<Active>,
    stats: Stats,
    converted: Cell<u64>,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder").field("options", &self.options).field("stats", &self.stats()).finish()
    }
}

impl FrameDecoder {
    /// A decoder with these options.
    pub fn new(options: VideoOptions) -> Self {
        Self { options, active: None, stats: Stats::default(), converted: Cell::new(0) }
    }

    /// What it did so far.
    pub fn stats(&self) -> Stats {
        Stats { converted: self.converted.get(), ..self.stats }
    }

    /// Decodes one fragment and converts the selected frames to RGB.
    ///
    /// Every selected frame is held in memory until the call returns (2.7 MB per 720p
    /// frame); to write frames out as they come, use [`decode_with`](Self::decode_with).
    ///
    /// An error is returned for problems with the whole fragment (no video track, a codec
    /// or H.264 profile this build cannot decode, bad CodecPrivate); problems with single
    /// frames are listed in [`DecodedFragment::errors`].
    pub fn decode(&mut self, fragment: &Fragment) -> Result<DecodedFragment, Error> {
        let mut out = DecodedFragment::default();
        let mut conversion_errors = Vec::new();
        let mut frames = Vec::new();
        let errors = self.decode_with(fragment, |picture| match picture.to_frame() {
            Ok(frame) => frames.push(frame),
            Err(error) => conversion_errors.push(FrameError {
                index: Some(picture.info().index),
                timestamp_ns: Some(picture.info().timestamp_ns),
                error,
            }),
        })?;
        frames.sort_by_key(|f| f.info.index);
        out.frames = frames;
        out.errors = errors;
        out.errors.extend(conversion_errors);
        Ok(out)
    }

    /// Decodes one fragment and calls `sink` with each selected picture, unconverted, in
    /// the order the codec hands them out (presentation order). Returns the per-frame
    /// errors.
    ///
    /// A fragment that does not start at a keyframe goes on from the previous one when the
    /// decoder still holds its references (same track, nothing left to flush); otherwise
    /// its frames before the first keyframe are skipped and counted in [`Stats`].
    pub fn decode_with(
        &mut self,
        fragment: &Fragment,
        sink: impl FnMut(Picture<'_>),
    ) -> Result<Vec<FrameError>, Error> {
        self.activate(fragment)?;
        let Some(active) = self.active.as_mut() else { return Err(Error::NoVideoTrack(self.options.track)) };
        let mut errors = Vec::new();
        let plan = Plan::new(fragment, active, &self.options.selection, &mut errors);
        active.check_in_band_profile(&plan)?;
        self.stats.frames += plan.len() as u64;
        let start = plan.start(active.continuable, &mut self.stats);
        let mut feeder = Feeder::new(&plan, &self.options, active.signalling, &self.converted, sink);
        feeder.feed(active, &plan.frames()[start..], &mut self.stats, &mut errors);
        feeder.finish(active, &mut self.stats, &mut errors);
        Ok(errors)
    }

    /// Makes `self.active` describe the fragment's video track, creating a decoder when
    /// the track or its codec configuration changed.
    fn activate(&mut self, fragment: &Fragment) -> Result<(), Error> {
        let Some(track) = track::video_track(fragment, self.options.track)? else {
            // A fragment without Tracks continues the stream's track.
            return match self.active {
                Some(_) if fragment.tracks()?.is_empty() => Ok(()),
                _ => Err(Error::NoVideoTrack(self.options.track)),
            };
        };
        if self.active.as_ref().is_some_and(|active| active.describes(&track)) {
            return Ok(());
        }
        self.active = None;
        self.active = Some(Active::open(track, self.options.backend)?);
        Ok(())
    }
}

impl Stats {
    /// Adds another decoder's counts (the workers of an export).
    pub(crate) fn add(&mut self, other: &Stats) {
        self.frames += other.frames;
        self.decoded += other.decoded;
        self.pictures += other.pictures;
        self.converted += other.converted;
        self.skipped_non_reference += other.skipped_non_reference;
        self.skipped_non_keyframes += other.skipped_non_keyframes;
        self.skipped_before_keyframe += other.skipped_before_keyframe;
        self.fragments_without_leading_keyframe += other.fragments_without_leading_keyframe;
        self.errors += other.errors;
    }
}
