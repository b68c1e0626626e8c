//! [`Error`]: every way remuxing can fail. Bad input is always one of these, never a panic.

/// Why a fragment (or its tracks) could not be remuxed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A track's codec has no mapping to MP4/MPEG-TS here (only H.264, H.265 and AAC do).
    #[error(
        "track {track}: unsupported codec {codec_id:?} (only V_MPEG4/ISO/AVC, V_MPEGH/ISO/HEVC and A_AAC)"
    )]
    UnsupportedCodec {
        /// The MKV track number.
        track: u64,
        /// The track's `CodecID`, as written in the MKV.
        codec_id: String,
    },
    /// A track's `CodecPrivate` is missing or cannot be read as the record its codec needs
    /// (AVCDecoderConfigurationRecord, HEVCDecoderConfigurationRecord, AudioSpecificConfig).
    #[error("track {track}: bad CodecPrivate for {codec_id}: {reason}")]
    BadCodecPrivate {
        /// The MKV track number.
        track: u64,
        /// The track's `CodecID`.
        codec_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A track number that MP4 cannot use as a track ID (0, or above `u32::MAX`).
    #[error("track number {track} cannot be an MP4 track ID")]
    BadTrackNumber {
        /// The MKV track number.
        track: u64,
    },
    /// The fragment has no track descriptions (no `Tracks` element), so nothing says how
    /// to read its frames.
    #[error("the fragment has no tracks")]
    NoTracks,
    /// A frame belongs to a track that the remuxer was not built with, or
    /// [`Remuxer::with_only_track`](crate::Remuxer::with_only_track) named a track it has not.
    #[error("track {track} is not among the remuxer's tracks")]
    UnknownTrack {
        /// The frame's track number.
        track: u64,
    },
    /// The fragment holds no frame of any known track: there is nothing to put in a segment.
    #[error("the fragment holds no frames")]
    NoFrames,
    /// A frame is shown before the remuxer's origin, where fragmented MP4 has no time
    /// (`baseMediaDecodeTime` is unsigned).
    #[error("track {track}: a frame at {timestamp_ns} ns is before the origin {origin_ns} ns")]
    BeforeOrigin {
        /// The MKV track number.
        track: u64,
        /// The earliest such frame's presentation time in nanoseconds.
        timestamp_ns: i64,
        /// The remuxer's origin in nanoseconds.
        origin_ns: i64,
    },
    /// A frame cannot be converted for MPEG-TS: a NAL length runs past the frame, or an
    /// audio frame is too large for one PES packet.
    #[error("track {track}: bad frame at {timestamp_ns} ns: {reason}")]
    BadFrame {
        /// The MKV track number.
        track: u64,
        /// The frame's presentation time in nanoseconds.
        timestamp_ns: i64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The first fragment of a clip alone is above the clip's byte limit.
    #[error("fragment of {bytes} bytes of media is above the clip limit of {limit} bytes")]
    FragmentTooLarge {
        /// Media bytes of the fragment.
        bytes: u64,
        /// [`ClipLimits::max_bytes`](crate::ClipLimits::max_bytes).
        limit: u64,
    },
    /// The fragment's MKV could not be read.
    #[error("reading the fragment: {0}")]
    Mkv(#[from] kvs_mkv::Error),
    /// The box or packet writer refused a value (a field out of its range).
    #[error("writing {format}: {reason}")]
    Encode {
        /// `"MP4"` or `"MPEG-TS"`.
        format: &'static str,
        /// The writer's message.
        reason: String,
    },
}

impl From<mp4_atom::Error> for Error {
    fn from(e: mp4_atom::Error) -> Self {
        Error::Encode { format: "MP4", reason: e.to_string() }
    }
}

impl From<mpeg2ts::Error> for Error {
    fn from(e: mpeg2ts::Error) -> Self {
        Error::Encode { format: "MPEG-TS", reason: e.to_string() }
    }
}
