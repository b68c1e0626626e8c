//! The archived media API: ListFragments and GetMediaForFragmentList.

use std::sync::Arc;

use kvs_mkv::FragmentNumber;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::errors::{ApiError, InBandErrorId};
use super::get_media::{Budget, admit};
use super::{
    ApiResult, BODY_CHANNEL, Shared, StreamRef, faults, json_response, millis, seconds, streamed_response,
};
use crate::layout;
use crate::store::{DataApi, Refusal, StoredFragment};

/// Most fragments in one GetMediaForFragmentList or ListFragments page (AWS: 1000).
const MAX_LIST: usize = 1000;
/// Default ListFragments page size.
const DEFAULT_LIST_FRAGMENTS: usize = 100;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ListFragmentsRequest {
    #[serde(flatten)]
    stream: StreamRef,
    max_results: Option<usize>,
    next_token: Option<String>,
    fragment_selector: Option<Value>,
}

/// Which clock a ListFragments range is on.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum FragmentSelectorType {
    ProducerTimestamp,
    ServerTimestamp,
}

/// The `FragmentSelector` of ListFragments: a range of one clock, both ends included.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct FragmentSelector {
    fragment_selector_type: FragmentSelectorType,
    timestamp_range: TimestampRange,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct TimestampRange {
    start_timestamp: f64,
    end_timestamp: f64,
}

/// A selector made ready to filter: the clock and the range in ms.
struct Range {
    producer: bool,
    start: i64,
    end: i64,
}

impl Range {
    fn of(selector: FragmentSelector) -> Result<Self, ApiError> {
        let (start, end) = (
            millis(selector.timestamp_range.start_timestamp)?,
            millis(selector.timestamp_range.end_timestamp)?,
        );
        if start > end {
            return Err(ApiError::invalid("StartTimestamp is after EndTimestamp"));
        }
        let producer = selector.fragment_selector_type == FragmentSelectorType::ProducerTimestamp;
        Ok(Self { producer, start, end })
    }

    fn holds(&self, f: &StoredFragment) -> bool {
        let t = if self.producer { f.producer_ms } else { f.server_ms };
        (self.start..=self.end).contains(&t)
    }
}

pub(super) async fn list_fragments(shared: &Shared, request: ListFragmentsRequest) -> ApiResult {
    let stream = request.stream.resolve(&shared.store)?;
    let max = request.max_results.unwrap_or(DEFAULT_LIST_FRAGMENTS);
    if !(1..=MAX_LIST).contains(&max) {
        return Err(ApiError::invalid("MaxResults must be 1 to 1000"));
    }
    let from: Option<FragmentNumber> = match request.next_token {
        Some(token) => Some(token.parse().map_err(|_| ApiError::invalid("NextToken is not valid"))?),
        None => None,
    };
    let range = match request.fragment_selector {
        None => None,
        Some(selector) => Some(Range::of(
            serde_json::from_value(selector)
                .map_err(|e| ApiError::invalid(format!("FragmentSelector is not valid: {e}")))?,
        )?),
    };
    faults(&stream, Refusal::Control).await?;
    let mut matching = stream.fragments().into_iter().filter(|f| {
        from.as_ref().is_none_or(|from| f.number >= *from) && range.as_ref().is_none_or(|r| r.holds(f))
    });
    let mut page: Vec<Arc<StoredFragment>> = matching.by_ref().take(max).collect();
    let next = matching.next();
    // Like AWS, the page is not sorted: it is handed out newest first.
    page.reverse();
    let fragments: Vec<Value> = page
        .iter()
        .map(|f| {
            json!({
                "FragmentNumber": f.number.as_str(),
                "FragmentSizeInBytes": f.size(),
                "ProducerTimestamp": seconds(f.producer_ms),
                "ServerTimestamp": seconds(f.server_ms),
                "FragmentLengthInMilliseconds": f.duration_ms,
            })
        })
        .collect();
    let mut out = json!({ "Fragments": fragments });
    if let Some(next) = next {
        out["NextToken"] = json!(next.number.as_str());
    }
    json_response(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct FragmentListRequest {
    #[serde(flatten)]
    stream: StreamRef,
    fragments: Option<Vec<String>>,
}

pub(super) async fn get_media_for_fragment_list(
    shared: Arc<Shared>,
    request: FragmentListRequest,
) -> ApiResult {
    let stream = request.stream.resolve(&shared.store)?;
    let numbers = request.fragments.ok_or_else(|| ApiError::invalid("Fragments is required"))?;
    if numbers.is_empty() || numbers.len() > MAX_LIST {
        return Err(ApiError::invalid("Fragments must hold 1 to 1000 fragment numbers"));
    }
    let numbers = numbers
        .iter()
        .map(|n| {
            n.parse::<FragmentNumber>()
                .map_err(|_| ApiError::invalid(format!("{n:?} is not a fragment number")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    faults(&stream, Refusal::MediaRead).await?;
    let slot = admit(&shared, &stream, DataApi::GetMediaForFragmentList)?;
    let (tx, rx) = mpsc::channel(BODY_CHANNEL);
    tokio::spawn(async move {
        let _slot = slot;
        let mut budget = Budget::new(&shared, &stream);
        if budget.is_empty() {
            return;
        }
        for number in numbers {
            budget.before_fragment().await;
            let sent = match stream.find(&number) {
                Some(f) => budget.send(&layout::archived_parts(&f), &tx).await && budget.fragment_sent(),
                None => {
                    let error =
                        layout::archive_error(&number, InBandErrorId::FragmentNotFound, "Fragment not found");
                    budget.send(&[error], &tx).await
                }
            };
            if !sent {
                return;
            }
        }
    });
    Ok(streamed_response(rx, "video/webm"))
}
