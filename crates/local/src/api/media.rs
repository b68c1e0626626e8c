//! What the media-serving operations (GetClip, HLS/DASH, GetImages) share: a stored
//! fragment as a readable [`Fragment`], the store's fragments as `kvs-streaming`'s
//! [`FragmentInfo`], the fragments of a timestamp range, and the AWS error each remuxing
//! failure is answered with.
//!
//! It remuxes and decodes nothing itself (that is `kvs-mux` and `kvs-media`) and routes
//! no request.

use std::sync::Arc;

use bytes::Bytes;
use kvs_mkv::Fragment;
use kvs_streaming::{FragmentInfo, UnixMillis};
use serde::Deserialize;

use super::errors::{ApiError, ErrorType};
use super::millis;
use crate::store::{StoredFragment, Stream};

/// A stored fragment as one standalone MKV (producer header, then its Cluster).
pub(super) fn fragment_of(stored: &StoredFragment) -> Result<Fragment, ApiError> {
    let mut bytes = Vec::with_capacity(stored.size() as usize);
    bytes.extend_from_slice(&stored.head);
    bytes.extend_from_slice(&stored.cluster_start);
    bytes.extend_from_slice(&stored.cluster);
    Fragment::from_bytes(Bytes::from(bytes)).map_err(|e| {
        ApiError::new(
            ErrorType::InternalFailure,
            format!("stored fragment {} unreadable: {e}", stored.number),
        )
    })
}

/// Epoch milliseconds of the store as the unsigned milliseconds of `kvs-streaming`.
fn unix(ms: i64) -> UnixMillis {
    UnixMillis(u64::try_from(ms).unwrap_or(0))
}

/// How a session sees a stored fragment.
pub(super) fn info_of(stored: &StoredFragment) -> FragmentInfo {
    FragmentInfo {
        fragment_number: stored.number.as_str().to_owned(),
        producer: unix(stored.producer_ms),
        server: unix(stored.server_ms),
        duration_ms: stored.duration_ms,
    }
}

/// `FragmentSelectorType` / `ImageSelectorType`: which clock a range is on.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum Clock {
    ProducerTimestamp,
    ServerTimestamp,
}

impl Clock {
    /// A stored fragment's start on this clock, epoch ms.
    pub(super) fn start_of(self, f: &StoredFragment) -> i64 {
        match self {
            Self::ProducerTimestamp => f.producer_ms,
            Self::ServerTimestamp => f.server_ms,
        }
    }
}

/// A validated range in epoch ms, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MsRange {
    pub start: i64,
    pub end: i64,
}

impl MsRange {
    /// The range of two SDK timestamps (epoch seconds), refused when `start > end`.
    pub(super) fn new(start: Option<f64>, end: Option<f64>) -> Result<Self, ApiError> {
        let start = millis(start.ok_or_else(|| ApiError::invalid("StartTimestamp is required"))?)?;
        let end = millis(end.ok_or_else(|| ApiError::invalid("EndTimestamp is required"))?)?;
        if start > end {
            return Err(ApiError::invalid("StartTimestamp must not be after EndTimestamp"));
        }
        Ok(Self { start, end })
    }
}

/// The fragments of `stream` that start within `range` on `clock`, oldest first; with
/// producer timestamps, of fragments that share a start the one with the largest number
/// (AWS's rule, as `kvs-streaming` applies it to sessions).
pub(super) fn fragments_in(stream: &Stream, clock: Clock, range: MsRange) -> Vec<Arc<StoredFragment>> {
    let mut list: Vec<Arc<StoredFragment>> = stream
        .fragments()
        .into_iter()
        .filter(|f| (range.start..=range.end).contains(&clock.start_of(f)))
        .collect();
    list.sort_by(|a, b| clock.start_of(a).cmp(&clock.start_of(b)).then_with(|| a.number.cmp(&b.number)));
    if clock == Clock::ProducerTimestamp {
        list.dedup_by(|later, earlier| {
            let same = later.producer_ms == earlier.producer_ms;
            if same {
                // dedup_by keeps `earlier`: make it the later (larger-numbered) one.
                std::mem::swap(later, earlier);
            }
            same
        });
    }
    list
}

/// The AWS error a remuxing failure is answered with (GetClip's and the streaming
/// operations' modelled errors where one fits).
pub(super) fn mux_error(e: kvs_mux::Error) -> ApiError {
    use kvs_mux::Error as E;
    let kind = match &e {
        E::UnsupportedCodec { .. } | E::NoTracks => ErrorType::UnsupportedStreamMediaType,
        E::BadCodecPrivate { reason, .. } if reason.contains("missing") => ErrorType::MissingCodecPrivateData,
        E::BadCodecPrivate { .. } => ErrorType::InvalidCodecPrivateData,
        E::FragmentTooLarge { .. } => ErrorType::InvalidArgument,
        _ => ErrorType::InternalFailure,
    };
    ApiError::new(kind, e.to_string())
}

/// A remuxer for `fragment`'s tracks, refusing as AWS does a track without
/// `CodecPrivate` (`MissingCodecPrivateDataException`) or of a codec that cannot be
/// served (`UnsupportedStreamMediaTypeException`).
pub(super) fn remuxer_for(fragment: &Fragment) -> Result<kvs_mux::Remuxer, ApiError> {
    let tracks = fragment
        .tracks()
        .map_err(|e| ApiError::new(ErrorType::InternalFailure, format!("reading the tracks: {e}")))?;
    if let Some(t) = tracks.iter().find(|t| t.codec_private.as_ref().is_none_or(|p| p.is_empty())) {
        // H.264 and H.265 cannot play without their configuration record (AAC's can be
        // rebuilt from the track); other codecs are refused below as unsupported.
        if matches!(t.codec_id.as_str(), "V_MPEG4/ISO/AVC" | "V_MPEGH/ISO/HEVC") {
            return Err(ApiError::new(
                ErrorType::MissingCodecPrivateData,
                format!("track {} has no codec private data", t.number),
            ));
        }
    }
    kvs_mux::Remuxer::new(&tracks).map_err(mux_error)
}

/// Runs CPU-bound work (remuxing, decoding) off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(ErrorType::InternalFailure, format!("worker failed: {e}")))?
}
