//! GetClip: a progressive MP4 of the fragments of a timestamp range, as AWS answers it
//! (`Content-Type: video/mp4`, at most the first 200 fragments or 100 MB of media).
//!
//! The MP4 is `kvs-mux`'s [`Remuxer::clip`](kvs_mux::Remuxer::clip) within
//! [`ClipLimits::AWS`]; this module only picks the fragments and maps failures to AWS
//! errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use kvs_mux::ClipLimits;
use serde::Deserialize;

use super::errors::{ApiError, ErrorType};
use super::media::{Clock, MsRange, blocking, fragment_of, fragments_in, remuxer_for};
use super::{ApiResult, Shared, StreamRef, faults};
use crate::store::Refusal;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GetClipRequest {
    #[serde(flatten)]
    stream: StreamRef,
    clip_fragment_selector: Option<ClipFragmentSelector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClipFragmentSelector {
    fragment_selector_type: Clock,
    timestamp_range: RangeBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RangeBody {
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
}

pub(super) async fn get_clip(shared: &Shared, request: GetClipRequest) -> ApiResult {
    let selector = request
        .clip_fragment_selector
        .ok_or_else(|| ApiError::invalid("ClipFragmentSelector is required"))?;
    let range =
        MsRange::new(selector.timestamp_range.start_timestamp, selector.timestamp_range.end_timestamp)?;
    let stream = request.stream.resolve(&shared.store)?;
    faults(&stream, Refusal::MediaRead).await?;
    let stored = fragments_in(&stream, selector.fragment_selector_type, range);
    if stored.is_empty() {
        return Err(ApiError::new(ErrorType::ResourceNotFound, "No fragments found in the requested range."));
    }
    let clip = blocking(move || {
        // Only what the limits can take is read (a fragment count bound; the byte bound
        // is the remuxer's).
        let fragments = stored
            .iter()
            .take(ClipLimits::AWS.max_fragments)
            .map(|f| fragment_of(f))
            .collect::<Result<Vec<_>, _>>()?;
        let remuxer = remuxer_for(&fragments[0])?;
        remuxer.clip(&fragments, ClipLimits::AWS).map_err(super::media::mux_error)
    })
    .await?;
    tracing::debug!(stream = %stream.info.name, fragments = clip.fragments, frames = clip.frames, "GetClip");
    let mut response = (StatusCode::OK, clip.bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    Ok(response)
}
