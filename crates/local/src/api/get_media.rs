//! GetMedia: where a StartSelector starts, and the live body that writes each fragment
//! from there on, waits at the live edge, and ends as AWS's does. Also [`Budget`], the
//! injected cuts and the rate limit shared with GetMediaForFragmentList's body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvs_mkv::FragmentNumber;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::errors::ApiError;
use super::rate::RateLimit;
use super::{ApiResult, BODY_CHANNEL, Shared, StreamRef, faults, millis, stopped, streamed_response};
use crate::layout;
use crate::store::{ConnectionSlot, DataApi, Entry, Next, Refusal, Stream, now_ms};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GetMediaRequest {
    #[serde(flatten)]
    stream: StreamRef,
    start_selector: Option<serde_json::Value>,
}

/// A fragment number as a request gives it (a string of digits).
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(try_from = "String")]
struct Number(FragmentNumber);

impl TryFrom<String> for Number {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse().map(Number).map_err(|_| format!("{text:?} is not a fragment number"))
    }
}

/// Where GetMedia starts, as the `StartSelector` of the request says.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "StartSelectorType", rename_all = "SCREAMING_SNAKE_CASE")]
enum StartSelector {
    /// The live edge.
    Now,
    /// The oldest fragment kept.
    Earliest,
    /// At this fragment.
    #[serde(rename_all = "PascalCase")]
    FragmentNumber { after_fragment_number: Number },
    /// The first fragment still running at this server time (epoch seconds).
    #[serde(rename_all = "PascalCase")]
    ServerTimestamp { start_timestamp: f64 },
    /// The first fragment still running at this producer time (epoch seconds).
    #[serde(rename_all = "PascalCase")]
    ProducerTimestamp { start_timestamp: f64 },
    /// Right after this fragment.
    #[serde(rename_all = "PascalCase")]
    ContinuationToken { continuation_token: Number },
}

impl StartSelector {
    /// The sequence number in `stream`'s log where the body starts.
    fn start_seq(&self, stream: &Stream) -> Result<u64, ApiError> {
        Ok(match self {
            Self::Now => stream.live_seq(),
            Self::Earliest => stream.earliest_seq(),
            Self::FragmentNumber { after_fragment_number: Number(n) } => stream.seq_from_number(n, true),
            Self::ContinuationToken { continuation_token: Number(n) } => stream.seq_from_number(n, false),
            Self::ServerTimestamp { start_timestamp } => {
                stream.seq_from_time(millis(*start_timestamp)?, false)
            }
            Self::ProducerTimestamp { start_timestamp } => {
                stream.seq_from_time(millis(*start_timestamp)?, true)
            }
        })
    }
}

pub(super) async fn get_media(shared: Arc<Shared>, request: GetMediaRequest) -> ApiResult {
    let stream = request.stream.resolve(&shared.store)?;
    let selector = request.start_selector.ok_or_else(|| ApiError::invalid("StartSelector is required"))?;
    let selector: StartSelector = serde_json::from_value(selector)
        .map_err(|e| ApiError::invalid(format!("StartSelector is not valid: {e}")))?;
    let seq = selector.start_seq(&stream)?;
    faults(&stream, Refusal::MediaRead).await?;
    let slot = admit(&shared, &stream, DataApi::GetMedia)?;
    let (tx, rx) = mpsc::channel(BODY_CHANNEL);
    tokio::spawn(live_body(shared, stream, slot, seq, tx));
    Ok(streamed_response(rx, "video/webm"))
}

/// Admits a media read under the stream's limits of its API.
pub(super) fn admit(shared: &Shared, stream: &Arc<Stream>, api: DataApi) -> Result<ConnectionSlot, ApiError> {
    let config = &shared.config;
    stream.admit(api, config.get_media_tps, config.get_media_connections).map_err(|with| {
        ApiError::new(with.error(), format!("{} for stream {}", with.error_type(), stream.info.name))
    })
}

/// Resolves when the log has entries at `seq` or beyond (true), or can never grow (false).
async fn grew_past(end: &mut watch::Receiver<u64>, seq: u64) -> bool {
    end.wait_for(|&end| end > seq).await.is_ok()
}

/// What a media read's body may still carry under the injected cuts, and the pace it may
/// carry it at.
pub(super) struct Budget {
    pub(super) bytes_left: Option<u64>,
    fragments_left: Option<u64>,
    rate: Option<RateLimit>,
    latency: Option<Duration>,
}

impl Budget {
    pub(super) fn new(shared: &Shared, stream: &Stream) -> Self {
        let faults = stream.faults();
        Self {
            bytes_left: faults.cut_after_bytes,
            fragments_left: faults.cut_after_fragments,
            rate: shared.config.get_media_rate.map(|rate| RateLimit::new(rate, std::time::Instant::now())),
            latency: faults.latency,
        }
    }

    /// Whether the cuts leave nothing to send.
    pub(super) fn is_empty(&self) -> bool {
        self.bytes_left == Some(0) || self.fragments_left == Some(0)
    }

    /// Waits the injected latency before a fragment.
    pub(super) async fn before_fragment(&self) {
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
    }

    /// Sends the parts of one fragment; false when the body must end.
    pub(super) async fn send(&mut self, parts: &[Bytes], tx: &mpsc::Sender<Bytes>) -> bool {
        // An empty part (a Cluster in one piece) is not worth a body chunk.
        for part in parts.iter().filter(|p| !p.is_empty()) {
            let mut part = part.clone();
            let mut last = false;
            if let Some(left) = &mut self.bytes_left {
                if (part.len() as u64) >= *left {
                    part.truncate(*left as usize);
                    last = true;
                }
                *left -= part.len() as u64;
            }
            if let Some(rate) = &mut self.rate {
                let wait = rate.take(part.len() as u64, std::time::Instant::now());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            if tx.send(part).await.is_err() || last {
                return false;
            }
        }
        true
    }

    /// Counts a whole fragment sent; false when the body must end.
    pub(super) fn fragment_sent(&mut self) -> bool {
        match &mut self.fragments_left {
            Some(left) => {
                *left = left.saturating_sub(1);
                *left > 0
            }
            None => true,
        }
    }
}

/// Writes a GetMedia body: each entry from `seq` on, then waits at the live edge until
/// something new comes, the idle time passes, the maximum duration is reached, the client
/// goes away, or the server stops.
async fn live_body(
    shared: Arc<Shared>,
    stream: Arc<Stream>,
    slot: ConnectionSlot,
    mut seq: u64,
    tx: mpsc::Sender<Bytes>,
) {
    let _slot = slot;
    let deadline = Instant::now() + shared.config.max_get_media_duration;
    let mut budget = Budget::new(&shared, &stream);
    if budget.is_empty() {
        return;
    }
    let mut end = stream.subscribe();
    let mut shutdown = shared.shutdown.clone();
    loop {
        if *shutdown.borrow() || Instant::now() >= deadline {
            return;
        }
        match stream.next(seq) {
            Next::Entry(at, entry) => {
                seq = at + 1;
                match entry {
                    Entry::Fragment(f) => {
                        budget.before_fragment().await;
                        let parts = layout::get_media_parts(&f, now_ms());
                        if !budget.send(&parts, &tx).await || !budget.fragment_sent() {
                            return;
                        }
                    }
                    Entry::Error { code, id } => {
                        let error = layout::get_media_error(&code, &id);
                        if !budget.send(&[error], &tx).await || stream.is_deleted() {
                            return;
                        }
                    }
                }
            }
            Next::Wait => {
                let until = deadline.min(Instant::now() + shared.config.idle_timeout);
                tokio::select! {
                    grown = grew_past(&mut end, seq) => if !grown { return },
                    _ = tokio::time::sleep_until(until) => return,
                    _ = tx.closed() => return,
                    _ = stopped(&mut shutdown) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(json: &str) -> Result<StartSelector, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn selectors_parse_into_their_variant_or_fail() {
        let n = "9".repeat(48);
        assert_eq!(selector(r#"{"StartSelectorType":"NOW"}"#).unwrap(), StartSelector::Now);
        assert_eq!(
            selector(&format!(r#"{{"StartSelectorType":"CONTINUATION_TOKEN","ContinuationToken":"{n}"}}"#))
                .unwrap(),
            StartSelector::ContinuationToken { continuation_token: Number(n.parse().unwrap()) }
        );
        assert_eq!(
            selector(r#"{"StartSelectorType":"PRODUCER_TIMESTAMP","StartTimestamp":1.5}"#).unwrap(),
            StartSelector::ProducerTimestamp { start_timestamp: 1.5 }
        );
        for bad in [
            r#"{"StartSelectorType":"SOMETIME"}"#,
            r#"{"StartSelectorType":"FRAGMENT_NUMBER"}"#,
            r#"{"StartSelectorType":"FRAGMENT_NUMBER","AfterFragmentNumber":"12x"}"#,
            r#"{"StartSelectorType":"SERVER_TIMESTAMP"}"#,
            r#"{}"#,
        ] {
            assert!(selector(bad).is_err(), "{bad}");
        }
    }
}
