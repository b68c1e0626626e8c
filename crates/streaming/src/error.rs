//! The one error type of the crate, and the AWS error type each variant is answered with.
//!
//! Owns the mapping variant -> (`x-amzn-ErrorType` name, HTTP status), taken from
//! botocore's `kinesis-video-archived-media` model; it does not build HTTP responses
//! (the server does, with its own error writer).

/// Everything a streaming session request, or a player request inside a session, can be
/// refused for. [`Error::error_type`] and [`Error::status`] give what AWS answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is missing, malformed, out of its range or not allowed in this
    /// playback mode (`InvalidArgumentException`, 400).
    #[error("{parameter}: {message}")]
    InvalidArgument {
        /// The parameter at fault, spelled as in the API (`Expires`, `SessionToken`...).
        parameter: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The stream has no fragment the session could play: for LIVE none in the last
    /// 30 s, for LIVE_REPLAY and ON_DEMAND none in the range; or a player asked for a
    /// fragment outside its session (`ResourceNotFoundException`, 404).
    #[error("{0}")]
    ResourceNotFound(String),
    /// No session has this token: it was never issued, or was purged
    /// (`NotAuthorizedException`, 401).
    #[error("the SessionToken is not valid")]
    UnknownSession,
    /// The session this token names has expired (`NotAuthorizedException`, 401).
    #[error("the SessionToken has expired")]
    SessionExpired,
    /// The session table holds its maximum of live sessions
    /// (`ClientLimitExceededException`, 400).
    #[error("too many open streaming sessions (limit {limit})")]
    TooManySessions {
        /// The table's limit.
        limit: usize,
    },
    /// The operating system's random source failed while minting a token
    /// (`InternalFailure`, 500).
    #[error("cannot draw a session token: {0}")]
    Random(String),
}

impl Error {
    pub(crate) fn invalid(parameter: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument { parameter, message: message.into() }
    }

    /// The AWS error type name, sent in `x-amzn-ErrorType`.
    ///
    /// ```
    /// assert_eq!(kvs_streaming::Error::SessionExpired.error_type(), "NotAuthorizedException");
    /// ```
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "InvalidArgumentException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::UnknownSession | Self::SessionExpired => "NotAuthorizedException",
            Self::TooManySessions { .. } => "ClientLimitExceededException",
            Self::Random(_) => "InternalFailure",
        }
    }

    /// The HTTP status AWS answers with (botocore's model).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidArgument { .. } | Self::TooManySessions { .. } => 400,
            Self::ResourceNotFound(_) => 404,
            Self::UnknownSession | Self::SessionExpired => 401,
            Self::Random(_) => 500,
        }
    }
}
