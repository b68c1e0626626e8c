//! The one error type of this crate.

use std::path::PathBuf;

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
    /// The fragment has no video track (or not the one asked for), and no earlier fragment
    /// of the stream described one.
    #[error("no video track{}", .0.map(|t| format!(" numbered {t}")).unwrap_or_default())]
    NoVideoTrack(Option<u64>),
    /// CodecPrivate (AVCDecoderConfigurationRecord, HEVC record) is malformed.
    #[error("bad codec private data: {0}")]
    BadCodecPrivate(&'static str),
    /// A coded frame is malformed: NAL lengths overrun the payload, or the codec rejected it.
    #[error("corrupt frame: {0}")]
    CorruptFrame(String),
    /// The decoder itself failed (could not be created, or failed outside one frame).
    #[error("decoder: {0}")]
    Decoder(String),
    /// A picture's size or plane layout is not one that can be converted.
    #[error("cannot convert picture: {0}")]
    Conversion(String),
    /// An audio track's format cannot be written as WAV (bit depth, channels, rate).
    #[error("audio track {track}: {reason}")]
    AudioFormat {
        /// Track number.
        track: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding a JPEG or PNG failed.
    #[error("encoding {format}: {message}")]
    Encode {
        /// `jpeg`, `png` or `wav`.
        format: &'static str,
        /// The encoder's message.
        message: String,
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
