//! The one error type of this crate, and the typed details some of its variants carry:
//! [`MediaError`] (producer media that KVS refuses, each kind with the PutMedia `ErrorId`
//! it is acknowledged with), [`FragmentFileProblem`] (a damaged file of the directory
//! store), [`ReplayProblem`] and [`CameraConfigError`].
//!
//! Not here: the error codes KVS answers with (`api::errors`), which
//! [`Error::put_media_error`] picks from, and the HTTP errors of the REST API.

use std::path::PathBuf;

use crate::api::errors::PutMediaErrorId;

/// What went wrong in the local server or one of its helpers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket or file operation failed (binding the listener, the directory store).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The self-signed HTTPS certificate could not be made ([`Config::tls`](crate::Config::tls)).
    #[error("TLS: cannot make the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A kept certificate or key is not PEM that rustls reads.
    #[error("TLS: cannot read the certificate or key: {0}")]
    CertificatePem(#[from] rustls_pki_types::pem::Error),
    /// rustls refused the certificate and key.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The web page's token could not be drawn from the operating system's random source
    /// ([`Config::credentials`](crate::Config::credentials)).
    #[error("cannot make the web page's token: {0}")]
    PageToken(kvs_streaming::Error),
    /// No stream of that name exists.
    #[error("stream {0:?} not found")]
    StreamNotFound(String),
    /// A stream name that KVS would refuse (1-256 of `a-zA-Z0-9_.-`).
    #[error("invalid stream name {0:?}: 1 to 256 characters of a-z A-Z 0-9 _ . -")]
    InvalidStreamName(String),
    /// Producer MKV that could not be turned into fragments.
    #[error("invalid producer MKV: {0}")]
    Mkv(#[from] kvs_mkv::Error),
    /// A producer stream that is valid MKV but not acceptable to KVS.
    #[error("rejected producer media: {0}")]
    Media(#[from] MediaError),
    /// Media that cannot be replayed: a fragment that is not one whole Cluster with a
    /// Timecode.
    #[error("rejected producer media: {0}")]
    Unreplayable(ReplayProblem),
    /// A fragment over the 50 MB KVS accepts.
    #[error("fragment of {0} bytes exceeds the 50 MB limit")]
    TooLarge(usize),
    /// A fragment file of the directory store that cannot be read back (at recovery,
    /// where it is removed).
    #[error("directory store: fragment file {}: {problem}", path.display())]
    FragmentFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: FragmentFileProblem,
    },
    /// A stream's `stream.json` that cannot be written or read back.
    #[error("directory store: {}: {source}", path.display())]
    StreamJson {
        /// The file.
        path: PathBuf,
        /// Why serde_json could not write or read it.
        source: serde_json::Error,
    },
    /// A stream's directory could not be renamed to its tombstone, so the stream was not
    /// deleted: it stays, whole, in memory and on disk.
    #[error("stream {stream:?} not deleted: cannot rename {} to {}: {source}", dir.display(), tombstone.display())]
    DeleteFailed {
        /// Name of the stream.
        stream: String,
        /// The stream's directory.
        dir: PathBuf,
        /// The tombstone name it was to be renamed to.
        tombstone: PathBuf,
        /// Why the rename failed.
        source: std::io::Error,
    },
    /// Two directories of the store hold a stream of the same name: the server refuses to
    /// start rather than pick one.
    #[error("directory store: stream {name:?} is in both {} and {}", first.display(), second.display())]
    DuplicateStream {
        /// The stream name both `stream.json` files give.
        name: String,
        /// One directory holding it.
        first: PathBuf,
        /// The other directory holding it.
        second: PathBuf,
    },
    /// A camera configuration that cannot be encoded.
    #[error("invalid camera configuration: {0}")]
    Camera(#[from] CameraConfigError),
    /// The thread of a camera or a paced file panicked.
    #[error("the camera thread panicked")]
    CameraThreadPanicked,
    /// The thread of a camera or a paced file could not be started.
    #[error("the camera thread did not start: {0}")]
    CameraThreadNotStarted(#[source] std::io::Error),
    /// openh264 refused the camera's encoder configuration or a frame.
    #[error("H.264 encoder: {0}")]
    Encoder(#[source] openh264::Error),
    /// The camera's encoder wrote something that is not an Annex B byte stream.
    #[error("H.264 encoder: output that is not Annex B: {0}")]
    EncoderOutput(#[source] kvs_h264::Error),
    /// The camera's first keyframe carries no SPS or no PPS, so there is no decoder
    /// configuration to put in Tracks.
    #[error("H.264 encoder: the first keyframe carries no SPS/PPS")]
    NoParameterSets,
    /// The camera encoder's SPS and PPS make no AVCDecoderConfigurationRecord.
    #[error("H.264 encoder: its SPS/PPS make no configuration record: {0}")]
    ConfigurationRecord(#[source] kvs_h264::Error),
    /// A replay asked for no streams, or for more than
    /// [`MAX_REPLAY_STREAMS`](crate::MAX_REPLAY_STREAMS).
    #[error("a replay feeds 1 to {max} streams, not {0}", max = crate::MAX_REPLAY_STREAMS)]
    ReplayCount(usize),
    /// The MKV given to a replay holds no whole Cluster: there is nothing to loop.
    #[error("nothing to replay: the MKV holds no whole Cluster")]
    EmptyReplay,
}

impl Error {
    /// The PutMedia `ErrorId` an upload that failed with this error is acknowledged with.
    pub fn put_media_error(&self) -> PutMediaErrorId {
        match self {
            Error::TooLarge(_) => PutMediaErrorId::MaxFragmentSizeReached,
            Error::Mkv(kvs_mkv::Error::ElementTooLarge { id: kvs_mkv::ids::CLUSTER, .. }) => {
                PutMediaErrorId::MaxFragmentSizeReached
            }
            Error::Mkv(_) | Error::Unreplayable(_) => PutMediaErrorId::InvalidMkvData,
            Error::Media(e) => e.put_media_error(),
            Error::StreamNotFound(_) => PutMediaErrorId::StreamNotActive,
            _ => PutMediaErrorId::InternalError,
        }
    }
}

/// Producer media that is valid MKV but that KVS refuses, as PutMedia checks it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// A Cluster came before any EBML header (4006).
    #[error("a Cluster before any EBML header")]
    ClusterBeforeEbmlHeader,
    /// A Cluster came before any Tracks element (4006).
    #[error("a Cluster before any Tracks element")]
    ClusterBeforeTracks,
    /// A Cluster without a Timecode (4006).
    #[error("a Cluster without a Timecode")]
    ClusterWithoutTimecode,
    /// A Cluster without frames (4011).
    #[error("a Cluster without frames")]
    ClusterWithoutFrames,
    /// A frame of a track the Tracks element does not declare (4010).
    #[error("a frame of track {track}, which Tracks does not declare")]
    UndeclaredTrack {
        /// The track number the block gives.
        track: u64,
    },
    /// A fragment that starts before the last frame of the previous one (4004).
    #[error("a fragment starting at {start_ns} ns, before the previous one's last frame at {previous_ns} ns")]
    TimecodeBackwards {
        /// The new fragment's first frame, in ns.
        start_ns: i64,
        /// The previous fragment's last frame, in ns.
        previous_ns: i64,
    },
    /// A Cluster Timecode too large to be a time, or a frame or producer start timestamp
    /// before 1970 (4007).
    #[error("invalid producer timestamp: {0}")]
    InvalidProducerTimestamp(&'static str),
    /// The bytes a PutMedia connection holds went over
    /// [`Config::put_media_buffer`](crate::Config::put_media_buffer): 4001 while a Cluster
    /// is being received, else 4009 (header elements or Tags piling up).
    #[error("{held} bytes held waiting for a Cluster, over the limit of {limit}")]
    BufferFull {
        /// Bytes held.
        held: usize,
        /// The limit.
        limit: usize,
        /// Whether the element being received is a Cluster.
        in_cluster: bool,
    },
}

impl MediaError {
    /// The PutMedia `ErrorId` this is acknowledged with.
    pub fn put_media_error(&self) -> PutMediaErrorId {
        match self {
            Self::ClusterBeforeEbmlHeader | Self::ClusterBeforeTracks | Self::ClusterWithoutTimecode => {
                PutMediaErrorId::InvalidMkvData
            }
            Self::ClusterWithoutFrames => PutMediaErrorId::FramesMissingForTrack,
            Self::UndeclaredTrack { .. } => PutMediaErrorId::TrackNumberMismatch,
            Self::TimecodeBackwards { .. } => PutMediaErrorId::FragmentTimecodeLesserThanPrevious,
            Self::InvalidProducerTimestamp(_) => PutMediaErrorId::InvalidProducerTimestamp,
            Self::BufferFull { in_cluster: true, .. } => PutMediaErrorId::MaxFragmentSizeReached,
            Self::BufferFull { in_cluster: false, .. } => PutMediaErrorId::FragmentMetadataLimitReached,
        }
    }
}

/// What is wrong with a fragment file of the directory store: each is a torn write, a
/// damaged disk or a file that is not the store's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragmentFileProblem {
    /// The file does not start with the store's magic `KVSFRAG1`.
    #[error("not a fragment file (no KVSFRAG1 magic)")]
    BadMagic,
    /// The file is shorter than a header and a checksum (56 bytes).
    #[error("{len} bytes, shorter than a fragment file's header and checksum")]
    Truncated {
        /// The file's size.
        len: u64,
    },
    /// The header's head and Cluster lengths add up past any file size.
    #[error("header lengths {head_len} and {cluster_len} overflow")]
    LengthsOverflow {
        /// The producer header's length the header gives.
        head_len: u64,
        /// The Cluster's length the header gives.
        cluster_len: u64,
    },
    /// The header's lengths do not add up to the file's size.
    #[error("the header's lengths make {expected} bytes, the file has {len}")]
    SizeMismatch {
        /// The size the header's lengths make, with header and checksum.
        expected: u64,
        /// The file's size.
        len: u64,
    },
    /// The checksum at the end of the file does not match its bytes.
    #[error("checksum {stored:#018x} stored, {computed:#018x} computed")]
    Checksum {
        /// The checksum the file ends with.
        stored: u64,
        /// The checksum of the file's bytes.
        computed: u64,
    },
}

/// Why a fragment cannot be replayed: replay rewrites the Timecode of one whole Cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayProblem {
    /// The Cluster has no Timecode (or one that is not an unsigned integer) to re-stamp.
    #[error("a Cluster without a Timecode cannot be re-stamped")]
    ClusterWithoutTimecode,
    /// The fragment is not one Cluster, or its Cluster is cut short.
    #[error("a fragment that is not one whole Cluster")]
    NotOneWholeCluster,
}

/// A [`CameraConfig`](crate::CameraConfig) that the camera cannot encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CameraConfigError {
    /// A picture size that is odd, or outside openh264's 32x32 to 3840x2160.
    #[error("{width}x{height}: width and height must be even, 32x32 to 3840x2160")]
    Size {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
    },
    /// A frame rate outside 1 to 120 fps.
    #[error("{fps} fps: fps must be 1 to 120")]
    Fps {
        /// The frame rate asked for.
        fps: u32,
    },
    /// No frames per fragment, or a fragment over the 10 s KVS accepts.
    #[error(
        "{frames_per_fragment} frames per fragment at {fps} fps: at least 1, and a fragment at most 10 s"
    )]
    FragmentLength {
        /// The frames per fragment asked for.
        frames_per_fragment: u32,
        /// The frame rate asked for.
        fps: u32,
    },
}
