//! Every error code of KVS the server speaks, in one place: the HTTP error types of the
//! REST API ([`ErrorType`], answered by [`ApiError`]), the `ErrorId`s of PutMedia's ERROR
//! acknowledgements ([`PutMediaErrorId`]) and the codes of the in-band errors of GetMedia
//! and GetMediaForFragmentList ([`InBandErrorId`]). Nothing else names a code: handlers,
//! the store and the layout take them from here.
//!
//! The numeric codes are those of AWS's PutMedia and GetMedia references; their names are
//! the ones AWS's producer SDKs give them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Defines an enum of error types with their name and HTTP status.
macro_rules! error_types {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $status:literal;)*) => {
        /// An error type of the KVS REST API: what `x-amzn-ErrorType` names, with its status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum ErrorType {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorType {
            /// The name sent in `x-amzn-ErrorType`, e.g. `ResourceNotFoundException`.
            pub(crate) fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The HTTP status AWS answers with.
            pub(crate) fn status(self) -> u16 {
                match self { $(Self::$variant => $status,)* }
            }
        }
    };
}

error_types! {
    /// Too many calls (per second, per stream).
    ClientLimitExceeded = "ClientLimitExceededException", 400;
    /// Too many open connections (per stream).
    ConnectionLimitExceeded = "ConnectionLimitExceededException", 400;
    /// No such stream.
    ResourceNotFound = "ResourceNotFoundException", 404;
    /// The stream exists already.
    ResourceInUse = "ResourceInUseException", 400;
    /// A parameter out of its bounds.
    InvalidArgument = "InvalidArgumentException", 400;
    /// The wrong data endpoint.
    InvalidEndpoint = "InvalidEndpointException", 400;
    /// The caller may not do this.
    NotAuthorized = "NotAuthorizedException", 401;
    /// A server failure.
    InternalFailure = "InternalFailure", 500;
    /// The server cannot take the call now.
    ServiceUnavailable = "ServiceUnavailableException", 503;
    /// No operation at that path.
    UnknownOperation = "UnknownOperationException", 404;
    /// A body that is not the JSON the operation takes.
    Serialization = "SerializationException", 400;
    /// A request without a signature.
    MissingAuthenticationToken = "MissingAuthenticationTokenException", 403;
    /// A signature missing a part.
    IncompleteSignature = "IncompleteSignatureException", 403;
    /// A signature that does not match, or expired.
    InvalidSignature = "InvalidSignatureException", 403;
    /// An access key the server does not know.
    UnrecognizedClient = "UnrecognizedClientException", 403;
    /// A request that breaks a rule of the operation's input (GetImages: a width without
    /// a height).
    Validation = "ValidationException", 400;
    /// A video track without its codec private data (the decoder configuration record).
    MissingCodecPrivateData = "MissingCodecPrivateDataException", 400;
    /// Codec private data that cannot be read.
    InvalidCodecPrivateData = "InvalidCodecPrivateDataException", 400;
    /// A codec the archived-media operations cannot serve (only H.264, H.265 and AAC).
    UnsupportedStreamMediaType = "UnsupportedStreamMediaTypeException", 400;
}

/// An AWS error answer: status, `x-amzn-ErrorType` and `{"Message": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) error_type: ErrorType,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self { error_type, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InvalidArgument, message)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(ErrorType::ResourceNotFound, "The requested stream is not found or not active.")
    }

    pub(crate) fn serialization(e: impl std::fmt::Display) -> Self {
        Self::new(ErrorType::Serialization, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = format!(
            "{}:http://internal.amazon.com/coral/com.amazonaws.kinesis.video.v20170930/",
            self.error_type.name()
        );
        let status = StatusCode::from_u16(self.error_type.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({ "Message": self.message }).to_string();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&kind) {
            headers.insert("x-amzn-errortype", value);
        }
        response
    }
}

/// Defines a public enum of numeric KVS codes with their names.
macro_rules! numeric_codes {
    ($(#[$meta:meta])* $vis:vis enum $ty:ident {
        $($(#[$doc:meta])* $variant:ident = $id:literal, $name:literal;)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        $vis enum $ty {
            $($(#[$doc])* $variant,)*
        }

        impl $ty {
            /// The number AWS sends.
            pub fn id(self) -> u32 {
                match self { $(Self::$variant => $id,)* }
            }

            /// The name AWS's SDKs give the code.
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The code with this number, if it is one.
            pub fn from_id(id: u32) -> Option<Self> {
                match id { $($id => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

numeric_codes! {
    /// The `ErrorId` of a PutMedia ERROR acknowledgement, as AWS's PutMedia reference
    /// lists them (`ErrorCode` is [`name`](Self::name)).
    pub enum PutMediaErrorId {
        /// 4000: error reading the data stream.
        StreamReadError = 4000, "STREAM_READ_ERROR";
        /// 4001: a fragment over the 50 MB limit.
        MaxFragmentSizeReached = 4001, "MAX_FRAGMENT_SIZE_REACHED";
        /// 4002: a fragment over the 10 s limit.
        MaxFragmentDurationReached = 4002, "MAX_FRAGMENT_DURATION_REACHED";
        /// 4003: a connection open longer than allowed.
        MaxConnectionDurationReached = 4003, "MAX_CONNECTION_DURATION_REACHED";
        /// 4004: a fragment timecode less than the previous one.
        FragmentTimecodeLesserThanPrevious = 4004, "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS";
        /// 4005: more than one track (deprecated by AWS).
        MoreThanOneTrackFound = 4005, "MORE_THAN_ONE_TRACK_FOUND";
        /// 4006: the input is not valid MKV.
        InvalidMkvData = 4006, "INVALID_MKV_DATA";
        /// 4007: an invalid producer timestamp.
        InvalidProducerTimestamp = 4007, "INVALID_PRODUCER_TIMESTAMP";
        /// 4008: the stream no longer exists.
        StreamNotActive = 4008, "STREAM_NOT_ACTIVE";
        /// 4009: the fragment metadata limit reached.
        FragmentMetadataLimitReached = 4009, "FRAGMENT_METADATA_LIMIT_REACHED";
        /// 4010: a frame's track number is not one of the header's tracks.
        TrackNumberMismatch = 4010, "TRACK_NUMBER_MISMATCH";
        /// 4011: a fragment without frames for one of the header's tracks.
        FramesMissingForTrack = 4011, "FRAMES_MISSING_FOR_TRACK";
        /// 4012: more tracks than allowed.
        MoreThanAllowedTracksFound = 4012, "MORE_THAN_ALLOWED_TRACKS_FOUND";
        /// 4500: access to the stream's KMS key denied.
        KmsKeyAccessDenied = 4500, "KMS_KEY_ACCESS_DENIED";
        /// 4501: the stream's KMS key is disabled.
        KmsKeyDisabled = 4501, "KMS_KEY_DISABLED";
        /// 4502: the stream's KMS key failed validation.
        KmsKeyValidationError = 4502, "KMS_KEY_VALIDATION_ERROR";
        /// 4503: the stream's KMS key is unavailable.
        KmsKeyUnavailable = 4503, "KMS_KEY_UNAVAILABLE";
        /// 4504: invalid use of the stream's KMS key.
        KmsKeyInvalidUsage = 4504, "KMS_KEY_INVALID_USAGE";
        /// 4505: the stream's KMS key is in an invalid state.
        KmsKeyInvalidState = 4505, "KMS_KEY_INVALID_STATE";
        /// 4506: the stream's KMS key is not found.
        KmsKeyNotFound = 4506, "KMS_KEY_NOT_FOUND";
        /// 5000: an internal error.
        InternalError = 5000, "INTERNAL_ERROR";
        /// 5001: the fragment could not be persisted.
        ArchivalError = 5001, "ARCHIVAL_ERROR";
    }
}

numeric_codes! {
    /// The code of an in-band error of GetMedia (`AWS_KINESISVIDEO_ERROR_ID`) and
    /// GetMediaForFragmentList (`AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE`), as AWS's GetMedia
    /// reference lists them.
    pub enum InBandErrorId {
        /// 3002: error writing to the stream (the server sends it when a stream is deleted).
        StreamWriteError = 3002, "STREAM_DELETED";
        /// 4000: the requested fragment is not found.
        FragmentNotFound = 4000, "FRAGMENT_NOT_FOUND";
        /// 4500: access to the stream's KMS key denied.
        KmsKeyAccessDenied = 4500, "KMS_KEY_ACCESS_DENIED";
        /// 4501: the stream's KMS key is disabled.
        KmsKeyDisabled = 4501, "KMS_KEY_DISABLED";
        /// 4502: the stream's KMS key failed validation.
        KmsKeyValidationError = 4502, "KMS_KEY_VALIDATION_ERROR";
        /// 4503: the stream's KMS key is unavailable.
        KmsKeyUnavailable = 4503, "KMS_KEY_UNAVAILABLE";
        /// 4504: invalid use of the stream's KMS key.
        KmsKeyInvalidUsage = 4504, "KMS_KEY_INVALID_USAGE";
        /// 4505: the stream's KMS key is in an invalid state.
        KmsKeyInvalidState = 4505, "KMS_KEY_INVALID_STATE";
        /// 4506: the stream's KMS key is not found.
        KmsKeyNotFound = 4506, "KMS_KEY_NOT_FOUND";
        /// 5000: an internal error.
        InternalError = 5000, "INTERNAL_ERROR";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_their_numbers() {
        for id in (4000..=4012).chain(4500..=4506).chain([5000, 5001]) {
            assert_eq!(PutMediaErrorId::from_id(id).map(PutMediaErrorId::id), Some(id));
        }
        assert_eq!(PutMediaErrorId::from_id(4013), None);
        assert_eq!(PutMediaErrorId::TrackNumberMismatch.name(), "TRACK_NUMBER_MISMATCH");
        assert_eq!(InBandErrorId::FragmentNotFound.id(), 4000);
        assert_eq!(
            (ErrorType::NotAuthorized.name(), ErrorType::NotAuthorized.status()),
            ("NotAuthorizedException", 401)
        );
    }
}
