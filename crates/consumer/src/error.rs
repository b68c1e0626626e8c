//! The one error type of this crate: what ends a stream, and what reaches the error
//! callback without ending it (an in-band KVS error).

use kvs_mkv::AwsError;

/// What went wrong while consuming a stream.
///
/// [`Error::InBand`] is the only variant that a stream can report and then go on (a missing
/// fragment in an archive read, for instance); every other variant is the last item of the
/// stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// KVS sent an error inside the media body (tags `AWS_KINESISVIDEO_ERROR_CODE` or
    /// `..._EXCEPTION_ERROR_CODE`) instead of a fragment.
    #[error("in-band {0}")]
    InBand(AwsError),
    /// The stream does not exist or was deleted (`ResourceNotFoundException`, or in-band
    /// code 3002).
    #[error("stream not found: {message}")]
    StreamNotFound {
        /// What the service said.
        message: String,
    },
    /// The credentials may not read this stream (`NotAuthorizedException`, HTTP 401/403).
    #[error("not authorized: {message}")]
    NotAuthorized {
        /// What the service said.
        message: String,
    },
    /// The request was refused as invalid (`InvalidArgumentException`,
    /// `InvalidEndpointException`): retrying cannot help.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What the service said.
        message: String,
    },
    /// The service answered with an error this crate does not know how to recover from.
    #[error("{operation} failed: {code}: {message}")]
    Service {
        /// The API call (`GetMedia`, `ListFragments`...).
        operation: &'static str,
        /// The error code (`x-amzn-ErrorType` name) or HTTP status.
        code: String,
        /// What the service said.
        message: String,
    },
    /// Retryable failures (throttling, 5xx, connection resets) went on past the retry policy.
    #[error("gave up after {attempts} failed attempts in a row; last: {last}")]
    RetriesExhausted {
        /// Failed attempts in a row.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A one-off call (ListStreams) failed in a way worth trying again later (throttling,
    /// 5xx, the network); reads retry such failures themselves.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The configuration cannot work (no region, an unreadable start selector...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Reading a local source or writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A fragment could not be rewritten (for [`save_mkv`](crate::FragmentExt::save_mkv)).
    #[error(transparent)]
    Mkv(#[from] kvs_mkv::Error),
}

impl Error {
    /// Whether this error ends the stream it came from (every variant but
    /// [`Error::InBand`] with a recoverable code).
    pub fn ends_stream(&self) -> bool {
        match self {
            Error::InBand(e) => in_band_is_fatal(e),
            _ => true,
        }
    }
}

/// In-band errors after which reading cannot go on: stream deleted (3002), KMS and
/// permission problems (4500-4506). KVS puts the number in the error id or in the code (the
/// code may also be a name, such as `STREAM_DELETED`).
///
/// 4000 ("requested fragment is not found", as GetMediaForFragmentList reports a fragment
/// that retention removed between ListFragments and the read) is not fatal: the fragments
/// after it are still there, so the read goes on and the caller gets the error in order.
pub(crate) fn in_band_is_fatal(error: &AwsError) -> bool {
    let fatal = |n: &str| {
        matches!(n, "3002" | "STREAM_DELETED") || n.parse::<u32>().is_ok_and(|c| (4500..=4506).contains(&c))
    };
    fatal(&error.code) || error.id.as_deref().is_some_and(fatal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_band(code: &str, id: Option<&str>) -> AwsError {
        let tag = |name: &str, value: &str| kvs_mkv::SimpleTag {
            name: name.into(),
            value: Some(value.into()),
            binary: None,
        };
        let mut tags = vec![tag(kvs_mkv::names::ERROR_CODE, code)];
        tags.extend(id.map(|id| tag(kvs_mkv::names::ERROR_ID, id)));
        AwsError::from_tags(0, &tags).unwrap()
    }

    #[test]
    fn fatal_in_band_codes() {
        for (code, id) in
            [("3002", None), ("STREAM_DELETED", Some("3002")), ("X", Some("4500")), ("4506", None)]
        {
            assert!(in_band_is_fatal(&in_band(code, id)), "{code} {id:?}");
        }
        for (code, id) in
            [("4000", None), ("5000", None), ("FRAGMENT_NOT_FOUND", Some("3000")), ("4507", None), ("", None)]
        {
            assert!(!in_band_is_fatal(&in_band(code, id)), "{code} {id:?}");
        }
    }
}
