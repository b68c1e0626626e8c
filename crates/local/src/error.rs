//! The one error type of this crate, and [`MediaError`]: producer media that KVS refuses,
//! each kind with the PutMedia `ErrorId` it is acknowledged with.

use std::path::PathBuf;

use crate::api::errors::PutMediaErrorId;

/// What went wrong in the local server or one of its helpers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket or file operation failed (binding the listener, the directory store).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
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
    /// Media that cannot be replayed (a fragment that is not one whole Cluster with a
    /// Timecode).
    #[error("rejected producer media: {0}")]
    Rejected(String),
    /// A fragment over the 50 MB KVS accepts.
    #[error("fragment of {0} bytes exceeds the 50 MB limit")]
    TooLarge(usize),
    /// The directory store holds something it cannot read back.
    #[error("directory store: {0}")]
    Store(String),
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
    Camera(String),
    /// The H.264 encoder failed.
    #[error("H.264 encoder: {0}")]
    Encoder(String),
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
            Error::Mkv(_) | Error::Rejected(_) => PutMediaErrorId::InvalidMkvData,
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
