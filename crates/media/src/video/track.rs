//! The video track of a fragment and the decoder it needs: which track, which codec (from
//! the one table in `codec`), its configuration record, its colour signalling, and the
//! backend, kept across fragments while the track stays the same. Also where H.264
//! profiles openh264 cannot decode are caught, once, before any frame reaches it.

use bytes::Bytes;
use kvs_mkv::{Fragment, Track, TrackKind};

use super::plan::Plan;
use super::{Backend, BackendKind};
use crate::Error;
use crate::codec::Codec;
use crate::nal::{self, CodecConfig, Signalling};

/// The track to decode: number `wanted`, or the first video track. `None` when the
/// fragment describes no such track.
pub(super) fn video_track(fragment: &Fragment, wanted: Option<u64>) -> Result<Option<Track>, Error> {
    Ok(fragment.tracks()?.into_iter().find(|t| match wanted {
        Some(n) => t.number == n,
        None => t.kind == TrackKind::Video,
    }))
}

/// `profile_idc` values whose streams openh264 refuses (more than 8 bits, or chroma other
/// than 4:2:0): High 10, High 4:2:2, High 4:4:4 Predictive, CAVLC 4:4:4 Intra. It would
/// fail every frame with a bare "Native:16".
fn openh264_cannot_decode(profile_idc: u8) -> bool {
    matches!(profile_idc, 110 | 122 | 244 | 44)
}

/// The `profile_idc` of an H.264 SPS NAL unit (header byte included): its first RBSP
/// byte, which no emulation prevention byte can precede.
pub(super) fn sps_profile(sps: &[u8]) -> Option<u8> {
    sps.get(1).copied()
}

/// Decoder state for one stream: the codec configuration and the backend, kept across
/// fragments as long as the track stays the same.
pub(super) struct Active {
    pub track: u64,
    codec_id: String,
    codec_private: Option<Bytes>,
    /// The NAL layout, for H.264 and H.265.
    pub nal_codec: Option<nal::Codec>,
    pub config: Option<CodecConfig>,
    pub signalling: Signalling,
    pub backend: Box<dyn Backend>,
    /// openh264 runs it (and profiles it cannot decode must be caught).
    openh264: bool,
    /// The decoder holds the references of the end of the last fragment: a fragment that
    /// does not start at a keyframe may go on from there.
    pub continuable: bool,
}

impl Active {
    /// Whether this state decodes `track` as it is described now.
    pub fn describes(&self, track: &Track) -> bool {
        self.track == track.number
            && self.codec_id == track.codec_id
            && self.codec_private == track.codec_private
    }

    /// Opens the decoder for `track`.
    pub fn open(track: Track, backend: BackendKind) -> Result<Self, Error> {
        let codec = Codec::from_codec_id(&track.codec_id);
        let nal_codec = nal_codec(codec);
        let config = codec_config(nal_codec, track.codec_private.as_deref())?;
        let sps = config.as_ref().and_then(|c| {
            let is_sps = |ps: &&Vec<u8>| nal::nal_type(nal::Codec::H264, ps) == 7;
            c.parameter_sets.iter().find(is_sps).filter(|_| nal_codec == Some(nal::Codec::H264))
        });
        let signalling = sps.map(|sps| nal::h264_sps_signalling(sps)).unwrap_or_default();
        let unsupported_profile =
            sps.and_then(|sps| sps_profile(sps)).filter(|&idc| openh264_cannot_decode(idc));
        let (backend, openh264) = match (codec, backend) {
            (Some(Codec::H264), BackendKind::OpenH264) => match unsupported_profile {
                None => (Box::new(crate::openh264_backend::OpenH264::new()?) as Box<dyn Backend>, true),
                Some(profile_idc) => (fallback(track.number, &track.codec_id, profile_idc)?, false),
            },
            #[cfg(feature = "ffmpeg")]
            _ => (ffmpeg(track.number, &track.codec_id)?, false),
            #[cfg(not(feature = "ffmpeg"))]
            _ => return Err(unsupported(track.number, &track.codec_id)),
        };
        tracing::debug!(track = track.number, codec = %track.codec_id, "video decoder opened");
        Ok(Self {
            track: track.number,
            codec_id: track.codec_id,
            codec_private: track.codec_private,
            nal_codec,
            config,
            signalling,
            backend,
            openh264,
            continuable: false,
        })
    }

    /// Catches an in-band SPS of a profile openh264 cannot decode (a track whose
    /// CodecPrivate said nothing of it): an error for the fragment, or, with the `ffmpeg`
    /// feature, FFmpeg takes over the track.
    pub fn check_in_band_profile(&mut self, plan: &Plan) -> Result<(), Error> {
        let Some(profile_idc) =
            plan.sps_profile().filter(|&idc| self.openh264 && openh264_cannot_decode(idc))
        else {
            return Ok(());
        };
        self.backend = fallback(self.track, &self.codec_id, profile_idc)?;
        self.openh264 = false;
        self.continuable = false;
        Ok(())
    }
}

/// The NAL layout of a codec, for H.264 and H.265.
fn nal_codec(codec: Option<Codec>) -> Option<nal::Codec> {
    match codec {
        Some(Codec::H264) => Some(nal::Codec::H264),
        Some(Codec::H265) => Some(nal::Codec::H265),
        _ => None,
    }
}

/// The decoder configuration record of an H.264 or H.265 track, when it has one.
fn codec_config(nal_codec: Option<nal::Codec>, record: Option<&[u8]>) -> Result<Option<CodecConfig>, Error> {
    Ok(match (nal_codec, record) {
        (Some(nal::Codec::H264), Some(record)) => Some(CodecConfig::from_avcc(record)?),
        (Some(nal::Codec::H265), Some(record)) => Some(CodecConfig::from_hvcc(record)?),
        _ => None,
    })
}

/// Whether the fragment's video track starts at an IDR picture, so that a decoder that
/// saw none of the fragments before can decode it whole. False when the fragment
/// describes no such track: it goes on from the track of the fragments before.
pub(crate) fn starts_at_idr(fragment: &Fragment, wanted: Option<u64>) -> bool {
    let Ok(Some(track)) = video_track(fragment, wanted) else { return false };
    let (frames, _) = fragment.frames_lossy();
    let Some(first) = frames.iter().find(|f| f.track == track.number) else { return true };
    let Some(nal_codec) = nal_codec(Codec::from_codec_id(&track.codec_id)) else { return first.keyframe };
    let config = codec_config(Some(nal_codec), track.codec_private.as_deref()).ok().flatten();
    let length_size = config.map_or(4, |c| c.length_size);
    nal::split_nals(&first.payload, length_size)
        .is_ok_and(|nals| nals.iter().any(|n| nal::is_idr(nal_codec, n)))
}

fn unsupported(track: u64, codec_id: &str) -> Error {
    Error::UnsupportedCodec { track, codec_id: codec_id.to_owned() }
}

/// The backend for an H.264 track openh264 cannot decode: FFmpeg when built in, else the
/// error that says so.
fn fallback(track: u64, codec_id: &str, profile_idc: u8) -> Result<Box<dyn Backend>, Error> {
    #[cfg(feature = "ffmpeg")]
    {
        tracing::debug!(track, profile_idc, "H.264 profile beyond openh264: FFmpeg decodes it");
        ffmpeg(track, codec_id)
    }
    #[cfg(not(feature = "ffmpeg"))]
    {
        let _ = codec_id;
        Err(Error::UnsupportedProfile { track, profile_idc })
    }
}

#[cfg(feature = "ffmpeg")]
fn ffmpeg(track: u64, codec_id: &str) -> Result<Box<dyn Backend>, Error> {
    let backend =
        crate::ffmpeg_backend::FfmpegVideo::new(codec_id).ok_or_else(|| unsupported(track, codec_id))??;
    Ok(Box::new(backend))
}
