//! [`Faults`]: what a test asks the server to break on one stream, and the AWS errors a
//! refused call answers with ([`RefuseWith`]). The server applies them; this module only
//! describes them.

use std::time::Duration;

use crate::api::errors::{ErrorType, PutMediaErrorId};

/// Faults injected into the calls on one stream, set with
/// [`LocalKvs::set_faults`](crate::LocalKvs::set_faults). `Default` is no fault.
///
/// They apply to calls started after they are set. The media reads are GetMedia and
/// GetMediaForFragmentList; the control calls are DescribeStream, GetDataEndpoint,
/// DeleteStream and ListFragments naming the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// End each media read's body cleanly after exactly this many bytes (mid-fragment,
    /// usually): the reader sees a truncated fragment, then end of body.
    pub cut_after_bytes: Option<u64>,
    /// End each media read's body cleanly after this many whole fragments.
    pub cut_after_fragments: Option<u64>,
    /// Refuse the next `count` media reads with this error (the count goes down by one per
    /// refused call).
    pub refuse_next: Option<(u32, RefuseWith)>,
    /// Wait this long before answering each call on the stream (media reads, PutMedia and
    /// control calls), before each fragment a media read sends, and before each fragment
    /// PutMedia acknowledges.
    pub latency: Option<Duration>,
    /// Refuse the next `count` PutMedia calls with this error.
    pub refuse_next_put_media: Option<(u32, RefuseWith)>,
    /// Answer PutMedia's fragment after this many stored ones with an ERROR
    /// acknowledgement of this code (nothing more is stored), and end the upload, as AWS
    /// does after any error.
    pub put_media_error_after: Option<(u64, PutMediaErrorId)>,
    /// Refuse the next `count` control calls with this error.
    pub refuse_next_control: Option<(u32, RefuseWith)>,
}

/// An error answer of the KVS API, with AWS's HTTP status and error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefuseWith {
    /// `ClientLimitExceededException`, HTTP 400.
    ClientLimitExceeded,
    /// `ConnectionLimitExceededException`, HTTP 400.
    ConnectionLimitExceeded,
    /// `ResourceNotFoundException`, HTTP 404.
    ResourceNotFound,
    /// `NotAuthorizedException`, HTTP 401.
    NotAuthorized,
    /// `InvalidArgumentException`, HTTP 400.
    InvalidArgument,
    /// `InvalidEndpointException`, HTTP 400.
    InvalidEndpoint,
    /// `ResourceInUseException`, HTTP 400.
    ResourceInUse,
    /// A generic server failure, HTTP 500 (`InternalFailure`).
    InternalError,
    /// `ServiceUnavailableException`, HTTP 503.
    ServiceUnavailable,
}

impl RefuseWith {
    pub(crate) fn error(self) -> ErrorType {
        match self {
            Self::ClientLimitExceeded => ErrorType::ClientLimitExceeded,
            Self::ConnectionLimitExceeded => ErrorType::ConnectionLimitExceeded,
            Self::ResourceNotFound => ErrorType::ResourceNotFound,
            Self::NotAuthorized => ErrorType::NotAuthorized,
            Self::InvalidArgument => ErrorType::InvalidArgument,
            Self::InvalidEndpoint => ErrorType::InvalidEndpoint,
            Self::ResourceInUse => ErrorType::ResourceInUse,
            Self::InternalError => ErrorType::InternalFailure,
            Self::ServiceUnavailable => ErrorType::ServiceUnavailable,
        }
    }

    /// The HTTP status code AWS answers with.
    pub fn status(self) -> u16 {
        self.error().status()
    }

    /// The error type name sent in `x-amzn-ErrorType`.
    pub fn error_type(self) -> &'static str {
        self.error().name()
    }
}
