//! [`Faults`]: what a test asks the server to break on one stream, and the AWS errors a
//! refused call answers with ([`RefuseWith`]). The server applies them; this module only
//! describes them.

use std::time::Duration;

/// Faults injected into the media calls of one stream, set with
/// [`LocalKvs::set_faults`](crate::LocalKvs::set_faults). `Default` is no fault.
///
/// They apply to GetMedia and GetMediaForFragmentList responses started after they are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// End each response body cleanly after exactly this many bytes (mid-fragment,
    /// usually): the reader sees a truncated fragment, then end of body.
    pub cut_after_bytes: Option<u64>,
    /// End each response body cleanly after this many whole fragments.
    pub cut_after_fragments: Option<u64>,
    /// Refuse the next `count` media calls with this error (the count goes down by one per
    /// refused call).
    pub refuse_next: Option<(u32, RefuseWith)>,
    /// Wait this long before answering each media call, and before each fragment sent.
    pub latency: Option<Duration>,
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
    /// The HTTP status code AWS answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::ResourceNotFound => 404,
            Self::NotAuthorized => 401,
            Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// The error type name sent in `x-amzn-ErrorType`.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::ClientLimitExceeded => "ClientLimitExceededException",
            Self::ConnectionLimitExceeded => "ConnectionLimitExceededException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::NotAuthorized => "NotAuthorizedException",
            Self::InvalidArgument => "InvalidArgumentException",
            Self::InvalidEndpoint => "InvalidEndpointException",
            Self::ResourceInUse => "ResourceInUseException",
            Self::InternalError => "InternalFailure",
            Self::ServiceUnavailable => "ServiceUnavailableException",
        }
    }
}
