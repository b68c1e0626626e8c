//! The one error type of this crate. Each variant is one kind of failure with the values
//! that describe it; the messages of the codec libraries stay attached as sources.

use std::path::PathBuf;

/// An error of a library underneath (openh264, FFmpeg, the image encoders), kept as the
/// source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong while decoding, converting or saving media.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The fragment's bytes could not be read as MKV.
    #[error("reading the fragment: {0}")]
    Mkv(#[from] kvs_mkv::Error),
    /// The track's codec is not one this build can decode (H.264 always; H.265, AAC and
    /// others only with the `ffmpeg` feature).
    #[error("unsupported codec {codec_id:?} on track {track}")]
    UnsupportedCodec {
        /// Track number.
        track: u64,
        /// Matroska `CodecID`, e.g. `V_MS/VFW/FOURCC`.
        codec_id: String,
    },
    /// An H.264 profile openh264 cannot decode (High 10, High 4:2:2, High 4:4:4: more than
    /// 8 bits or more chroma than 4:2:0). Reported once per fragment, before any frame is
    /// given to the decoder.
    #[error(
        "H.264 {} profile (profile_idc {profile_idc}) on track {track}: openh264 decodes 8-bit 4:2:0 only; \
         the `ffmpeg` feature decodes it",
        profile_name(*.profile_idc)
    )]
    UnsupportedProfile {
        /// Track number.
        track: u64,
        /// The SPS's `profile_idc` (110, 122, 244 or 44).
        profile_idc: u8,
    },
    /// The fragment has no video track (or not the one asked for), and no earlier fragment
    /// of the stream described one.
    #[error("no video track{}", .0.map(|t| format!(" numbered {t}")).unwrap_or_default())]
    NoVideoTrack(Option<u64>),
    /// CodecPrivate (AVCDecoderConfigurationRecord, HEVC record) is malformed.
    #[error("bad codec private data: {0}")]
    BadCodecPrivate(&'static str),
    /// A coded frame's NAL unit framing is malformed: its lengths overrun the payload.
    #[error("corrupt frame: {0}")]
    CorruptFrame(String),
    /// The codec refused a frame.
    #[error("{backend} could not decode the frame: {source}")]
    FrameRejected {
        /// `openh264` or `FFmpeg`.
        backend: &'static str,
        /// The codec's error.
        source: BoxError,
    },
    /// The codec took a frame and never handed out its picture, not even when flushed.
    #[error("the decoder produced no picture for this frame")]
    NoPicture,
    /// The decoder itself failed: it could not be created, flushed or reset.
    #[error("{backend} decoder: {source}")]
    Decoder {
        /// `openh264`, `FFmpeg` or `swscale`.
        backend: &'static str,
        /// The library's error.
        source: BoxError,
    },
    /// A picture's planes do not hold the rows its size promises (or it is empty).
    #[error("the planes of a {width}x{height} picture are too small")]
    BadPlanes {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// The buffer given for an RGB picture is not `width * height * 3` bytes.
    #[error("{got} bytes for an RGB picture of {expected}")]
    RgbBufferSize {
        /// `width * height * 3`.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
    /// An RGB array is not `(height, width, 3)`.
    #[error("an RGB picture has shape (height, width, 3), not {shape:?}")]
    NotRgb {
        /// The array's shape.
        shape: (usize, usize, usize),
    },
    /// A picture is larger than its file format (JPEG: 65535 pixels a side) or the
    /// converter can take.
    #[error("a {width}x{height} picture is too large for {format}")]
    TooLarge {
        /// `jpeg`, `png` or `rgb`.
        format: &'static str,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// The colour converter failed.
    #[error("colour conversion: {0}")]
    Conversion(#[source] BoxError),
    /// An audio track's settings cannot be written as WAV or decoded.
    #[error("audio track {track}: {problem}")]
    AudioFormat {
        /// Track number.
        track: u64,
        /// What is wrong with it.
        problem: AudioProblem,
    },
    /// A PCM frame is not a whole number of sample frames (one sample of each channel).
    #[error("{bytes} bytes of PCM is not a whole number of {block_align}-byte sample frames")]
    PartialSamples {
        /// The frame's size.
        bytes: usize,
        /// Bytes per sample frame.
        block_align: usize,
    },
    /// An AAC frame too long for the ADTS header it is decoded through (8 KiB).
    #[error("{bytes}-byte AAC frame is too long for ADTS")]
    AacFrameTooLong {
        /// The frame's size.
        bytes: usize,
    },
    /// Encoding a JPEG, PNG or WAV failed.
    #[error("encoding {format}: {source}")]
    Encode {
        /// `jpeg`, `png` or `wav`.
        format: &'static str,
        /// The encoder's error.
        source: BoxError,
    },
    /// Writing an output file failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Why an audio track cannot be written or decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AudioProblem {
    /// The track has no Audio element.
    #[error("no Audio settings")]
    NoAudioSettings,
    /// A sampling frequency that is not a whole number of Hz from 1 to 768 kHz.
    #[error("sampling frequency {0} Hz")]
    SamplingFrequency(f64),
    /// No channels, or more than 32.
    #[error("{0} channels")]
    Channels(u64),
    /// A PCM track without BitDepth.
    #[error("no BitDepth")]
    NoBitDepth,
    /// A bit depth WAV cannot hold for this sample format.
    #[error("bit depth {0}")]
    BitDepth(u64),
    /// An AAC track without (or with too short an) AudioSpecificConfig.
    #[error("AAC track without a whole AudioSpecificConfig")]
    NoAudioSpecificConfig,
    /// An AAC object type or sampling rate that ADTS cannot carry.
    #[error("AAC profile {object_type} or rate index {rate_index} that ADTS cannot carry")]
    NotAdts {
        /// AudioSpecificConfig's audioObjectType.
        object_type: u8,
        /// Its samplingFrequencyIndex.
        rate_index: u8,
    },
    /// The decoder handed out a sample format this crate does not convert.
    #[error("decoded sample format {0}")]
    SampleFormat(String),
}

/// The name of an H.264 `profile_idc` (Annex A).
pub(crate) fn profile_name(profile_idc: u8) -> &'static str {
    match profile_idc {
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4 Predictive",
        44 => "CAVLC 4:4:4 Intra",
        _ => "unknown",
    }
}
