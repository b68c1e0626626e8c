//! [`Error`]: everything that ends a put. Retried failures (a dropped connection, a
//! retryable ERROR ack, throttling) never surface here until the retries are spent.

/// Why a put failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before its first byte: typically the program writing to the pipe
    /// failed before it wrote anything.
    #[error("the input is empty: nothing to put (did the program writing to the pipe fail?)")]
    EmptyInput,
    /// The input does not start with an EBML header: it is not Matroska.
    #[error("the input is not Matroska (it does not start with an EBML header)")]
    NotMatroska,
    /// The input is Matroska that cannot be read.
    #[error("the input is not valid Matroska: {0}")]
    Mkv(#[from] kvs_mkv::Error),
    /// The input ended inside an element: the fragments before the cut were sent.
    #[error("the input ends in the middle of an element (offset {offset}): it was cut short")]
    Truncated {
        /// Stream offset of the element cut short.
        offset: u64,
    },
    /// A Cluster came before any Tracks element.
    #[error("a Cluster comes before any Tracks element")]
    NoTracks,
    /// No keyframe started a fragment within the longest fragment KVS accepts.
    #[error("no keyframe for {waited_ms} ms (a KVS fragment is at most {limit_ms} ms long)")]
    NoKeyframe {
        /// How long the input went without one.
        waited_ms: i64,
        /// The longest fragment KVS accepts.
        limit_ms: i64,
    },
    /// The input held no frame at all.
    #[error("the input holds no frame")]
    NoFrames,
    /// A fragment grew past the 50 MB KVS accepts.
    #[error("a fragment of {size} bytes is over the KVS limit of {limit}")]
    FragmentTooLarge {
        /// Its size so far.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An acknowledgement line that is not the JSON KVS sends.
    #[error("unreadable acknowledgement: {0}")]
    BadAck(String),
    /// KVS refused a fragment for a reason that retrying cannot fix.
    #[error("KVS refused the fragment at timecode {timecode:?}: {code} (error {id})")]
    Refused {
        /// `ErrorId`, e.g. 4006.
        id: u32,
        /// `ErrorCode`, e.g. `INVALID_MKV_DATA`.
        code: String,
        /// `FragmentTimecode` of the refused fragment.
        timecode: Option<i64>,
    },
    /// An AWS call failed for good (stream not found, not authorized, bad argument).
    #[error("{operation}: {code}: {message}")]
    Service {
        /// The call.
        operation: &'static str,
        /// AWS error type, or `HTTP <status>`.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Failures in a row reached the retry policy's limit.
    #[error("gave up after {attempts} failures in a row; last: {last}")]
    RetriesExhausted {
        /// Failures in a row.
        attempts: u32,
        /// The last one.
        last: String,
    },
    /// A setting is wrong (no region, a bad CA file, a bad tag).
    #[error("configuration: {0}")]
    Config(String),
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
    /// The consumer's SDK client (shared configuration loading) failed.
    #[error(transparent)]
    Client(#[from] kvs_consumer::Error),
}
