//! Video: picks a fragment's video track, turns its frames into access units the codec
//! takes, decides frame by frame what must be decoded and what must be converted, and
//! hands the selected pictures out. The codec calls live in the backends (`openh264_backend`,
//! `ffmpeg_backend`), colour conversion in `colour`, writing files in `image`.
//!
//! Cost model, the reason for this module's shape:
//! - a frame that is not selected is still decoded when other pictures may refer to it,
//!   but is never converted to RGB nor copied;
//! - a frame that is not selected and that no picture refers to (H.264 `nal_ref_idc` 0)
//!   is not even decoded;
//! - [`Selection::Keyframes`] feeds the decoder the IDR pictures only.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::Arc;

use bytes::Bytes;
use kvs_mkv::{Fragment, FragmentNumber, Timestamp, Track, TrackKind};
use ndarray::Array3;

use crate::Error;
use crate::colour::{Colour, YuvPlanes};
use crate::nal::{self, Codec, CodecConfig, Signalling};

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

/// Decoder state for one stream: the codec configuration and the backend, kept across
/// fragments as long as the track stays the same.
struct Active {
    track: u64,
    codec_id: String,
    codec_private: Option<Bytes>,
    codec: Option<Codec>,
    config: Option<CodecConfig>,
    signalling: Signalling,
    backend: Box<dyn Backend>,
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

/// One frame of the track, prepared for the codec.
struct Prepared {
    /// Position among the track's frames in stored (decode) order.
    decode: usize,
    /// Position in presentation order.
    display: usize,
    keyframe: bool,
    timestamp_ns: i64,
    /// Access unit (Annex B for H.264/H.265, the payload otherwise), or why it is unusable.
    unit: Result<Vec<u8>, Error>,
    idr: bool,
    non_reference: bool,
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
    /// this build cannot decode, bad CodecPrivate); problems with single frames are listed
    /// in [`DecodedFragment::errors`].
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
    pub fn decode_with(
        &mut self,
        fragment: &Fragment,
        mut sink: impl FnMut(Picture<'_>),
    ) -> Result<Vec<FrameError>, Error> {
        self.activate(fragment)?;
        let Some(active) = self.active.as_mut() else { return Err(Error::NoVideoTrack(self.options.track)) };
        let mut errors = Vec::new();

        let (all, mkv_error) = fragment.frames_lossy();
        if let Some(error) = mkv_error {
            tracing::warn!(%error, "fragment {} has a malformed block: frames after it are lost", fragment.index());
            errors.push(FrameError { index: None, timestamp_ns: None, error: error.into() });
        }
        let frames: Vec<_> = all.into_iter().filter(|f| f.track == active.track).collect();
        let mut order: Vec<usize> = (0..frames.len()).collect();
        order.sort_by_key(|&i| (frames[i].timestamp_ns, i));
        let mut display = vec![0; frames.len()];
        for (rank, &i) in order.iter().enumerate() {
            display[i] = rank;
        }

        let kvs = fragment.kvs();
        let info = |p: &Prepared| FrameInfo {
            track: active.track,
            index: p.display,
            keyframe: p.keyframe,
            timestamp_ns: p.timestamp_ns,
            fragment_index: fragment.index(),
            fragment_number: kvs.fragment_number.clone(),
            producer_timestamp: kvs.producer_timestamp.clone(),
            server_timestamp: kvs.server_timestamp.clone(),
        };

        let prepared: Vec<Prepared> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                prepare(active.codec, active.config.as_ref(), &mut active.signalling, i, display[i], f)
            })
            .collect();
        self.stats.frames += prepared.len() as u64;

        let selected: Vec<bool> = prepared
            .iter()
            .map(|p| match &self.options.selection {
                Selection::All => true,
                Selection::EveryNth(n) => p.display % n.get() == 0,
                Selection::Keyframes => p.idr,
                Selection::Predicate(f) => f(&info(p)),
            })
            .collect();

        let first_key = prepared.iter().position(|p| p.idr);
        let start = first_key.unwrap_or(prepared.len());
        if start > 0 {
            self.stats.fragments_without_leading_keyframe += 1;
            self.stats.skipped_before_keyframe += start as u64;
            tracing::warn!(
                fragment = fragment.index(),
                skipped = start,
                "fragment does not start at a keyframe: skipping to the first one"
            );
        }

        // Fed frames not yet handed out, as (display, decode) positions.
        let mut pending: Vec<(usize, usize)> = Vec::new();
        let stats = &mut self.stats;
        let forced = self.options.colour;
        let converted = &self.converted;
        let signalling = active.signalling;
        let mut deliver = |output: Output<'_>, pending: &mut Vec<(usize, usize)>| {
            stats.pictures += 1;
            let slot = match output.tag {
                Some(tag) => pending.iter().position(|&(_, d)| d == tag),
                None => pending.iter().enumerate().min_by_key(|(_, p)| **p).map(|(i, _)| i),
            };
            let Some(slot) = slot else {
                tracing::warn!("the decoder handed out a picture no frame accounts for");
                return;
            };
            let (_, decode) = pending.swap_remove(slot);
            if !selected[decode] {
                return;
            }
            let s = output.signalling.unwrap_or(signalling);
            let colour = forced
                .unwrap_or_else(|| Colour::from_signalling(s.matrix, s.full_range, output.planes.height));
            sink(Picture { info: info(&prepared[decode]), planes: output.planes, colour, converted });
        };

        for p in &prepared[start..] {
            let wanted = selected[p.decode];
            let skip = match self.options.selection {
                Selection::Keyframes => !p.idr,
                _ => !wanted && p.non_reference,
            };
            if skip {
                match self.options.selection {
                    Selection::Keyframes => stats.skipped_non_keyframes += 1,
                    _ => stats.skipped_non_reference += 1,
                }
                continue;
            }
            let unit = match &p.unit {
                Ok(unit) => unit,
                Err(e) => {
                    stats.errors += 1;
                    errors.push(FrameError {
                        index: Some(p.display),
                        timestamp_ns: Some(p.timestamp_ns),
                        error: Error::CorruptFrame(e.to_string()),
                    });
                    continue;
                }
            };
            stats.decoded += 1;
            pending.push((p.display, p.decode));
            let result = active.backend.decode(unit, p.decode, &mut |o| deliver(o, &mut pending));
            if let Err(error) = result {
                // A picture that failed never comes out: forget it so the next ones match.
                if let Some(i) = pending.iter().position(|&(_, d)| d == p.decode) {
                    pending.swap_remove(i);
                }
                stats.errors += 1;
                tracing::debug!(%error, index = p.display, "frame failed to decode");
                errors.push(FrameError { index: Some(p.display), timestamp_ns: Some(p.timestamp_ns), error });
            }
        }
        if let Err(error) = active.backend.flush(&mut |o| deliver(o, &mut pending)) {
            errors.push(FrameError { index: None, timestamp_ns: None, error });
        }
        for (display, decode) in pending {
            if selected[decode] {
                stats.errors += 1;
                let error = Error::CorruptFrame("the decoder produced no picture for this frame".into());
                errors.push(FrameError {
                    index: Some(display),
                    timestamp_ns: Some(prepared[decode].timestamp_ns),
                    error,
                });
            }
        }
        Ok(errors)
    }

    /// Makes `self.active` describe the fragment's video track, creating a decoder when
    /// the track or its codec configuration changed.
    fn activate(&mut self, fragment: &Fragment) -> Result<(), Error> {
        let tracks = fragment.tracks()?;
        let no_tracks = tracks.is_empty();
        let wanted = self.options.track;
        let track = tracks.into_iter().find(|t| match wanted {
            Some(n) => t.number == n,
            None => t.kind == TrackKind::Video,
        });
        let Some(track) = track else {
            // A fragment without Tracks continues the stream's track.
            return if no_tracks && self.active.is_some() {
                Ok(())
            } else {
                Err(Error::NoVideoTrack(wanted))
            };
        };
        if let Some(active) = &self.active
            && active.track == track.number
            && active.codec_id == track.codec_id
            && active.codec_private == track.codec_private
        {
            return Ok(());
        }
        self.active = None;
        self.active = Some(self.open(track)?);
        Ok(())
    }

    fn open(&self, track: Track) -> Result<Active, Error> {
        let unsupported =
            || Error::UnsupportedCodec { track: track.number, codec_id: track.codec_id.clone() };
        let codec = match track.codec_id.as_str() {
            "V_MPEG4/ISO/AVC" => Some(Codec::H264),
            "V_MPEGH/ISO/HEVC" => Some(Codec::H265),
            _ => None,
        };
        let config = match (codec, &track.codec_private) {
            (Some(Codec::H264), Some(record)) => Some(CodecConfig::from_avcc(record)?),
            (Some(Codec::H265), Some(record)) => Some(CodecConfig::from_hvcc(record)?),
            _ => None,
        };
        let mut signalling = Signalling::default();
        if let (Some(Codec::H264), Some(config)) = (codec, &config)
            && let Some(sps) = config.parameter_sets.iter().find(|ps| nal::nal_type(Codec::H264, ps) == 7)
        {
            signalling = nal::h264_sps_signalling(sps);
        }
        let backend: Box<dyn Backend> = match (codec, self.options.backend) {
            (Some(Codec::H264), BackendKind::OpenH264) => Box::new(crate::openh264_backend::OpenH264::new()?),
            #[cfg(feature = "ffmpeg")]
            (_, _) => {
                Box::new(crate::ffmpeg_backend::FfmpegVideo::new(&track.codec_id).ok_or_else(unsupported)??)
            }
            #[cfg(not(feature = "ffmpeg"))]
            _ => return Err(unsupported()),
        };
        tracing::debug!(track = track.number, codec = %track.codec_id, "video decoder opened");
        Ok(Active {
            track: track.number,
            codec_id: track.codec_id,
            codec_private: track.codec_private,
            codec,
            config,
            signalling,
            backend,
        })
    }
}

/// Turns one frame into an access unit: AVCC to Annex B, parameter sets put in front of
/// each IDR picture, in-band SPS colour signalling noted.
fn prepare(
    codec: Option<Codec>,
    config: Option<&CodecConfig>,
    signalling: &mut Signalling,
    decode: usize,
    display: usize,
    frame: &kvs_mkv::Frame,
) -> Prepared {
    let mut p = Prepared {
        decode,
        display,
        keyframe: frame.keyframe,
        timestamp_ns: frame.timestamp_ns,
        unit: Ok(Vec::new()),
        idr: frame.keyframe,
        non_reference: false,
    };
    let Some(codec) = codec else {
        p.unit = Ok(frame.payload.to_vec());
        return p;
    };
    let length_size = config.map_or(4, |c| c.length_size);
    let nals = match nal::split_nals(&frame.payload, length_size) {
        Ok(nals) => nals,
        Err(e) => {
            p.unit = Err(e);
            p.idr = false;
            return p;
        }
    };
    p.idr = nals.iter().any(|n| nal::is_idr(codec, n));
    p.non_reference = nal::is_non_reference(codec, &nals);
    let mut unit = Vec::with_capacity(frame.payload.len() + 64);
    let has_parameter_sets = nals.iter().any(|n| match codec {
        Codec::H264 => nal::nal_type(codec, n) == 7,
        Codec::H265 => nal::nal_type(codec, n) == 33,
    });
    if codec == Codec::H264
        && let Some(sps) = nals.iter().find(|n| nal::nal_type(codec, n) == 7)
    {
        *signalling = nal::h264_sps_signalling(sps);
    }
    if p.idr
        && !has_parameter_sets
        && let Some(config) = config
    {
        unit.extend_from_slice(&config.annex_b());
    }
    nal::append_annex_b(&mut unit, &nals);
    p.unit = Ok(unit);
    p
}
