//! The one error type of this crate.

use std::path::PathBuf;

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
