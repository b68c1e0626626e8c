//! The HTTP face of the server: the KVS REST+JSON operations, their request and response
//! shapes, AWS error answers, and the streaming bodies of GetMedia,
//! GetMediaForFragmentList and PutMedia.
//!
//! Storage and numbering live in `store`, cutting producer MKV in `ingest`, the served byte
//! layout in `layout`, signatures in `auth`. Every operation is `POST /<operation>` with a
//! JSON body, as the SDKs send them.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use kvs_mkv::FragmentNumber;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::faults::RefuseWith;
use crate::ingest::{Ingester, NewFragment, TimecodeType};
use crate::layout;
use crate::store::{ConnectionSlot, Entry, Next, Store, StoredFragment, Stream, now_ms};
use crate::{Config, auth};

/// Largest JSON request body read.
const MAX_JSON_BODY: usize = 1 << 20;
/// Most fragments in one GetMediaForFragmentList or ListFragments page (AWS: 1000).
const MAX_LIST: usize = 1000;
/// Default ListFragments page size.
const DEFAULT_LIST_FRAGMENTS: usize = 100;
/// Chunks buffered between a body writer and the connection.
const BODY_CHANNEL: usize = 8;
/// Operations GetDataEndpoint knows.
const API_NAMES: &[&str] = &[
    "PUT_MEDIA",
    "GET_MEDIA",
    "LIST_FRAGMENTS",
    "GET_MEDIA_FOR_FRAGMENT_LIST",
    "GET_HLS_STREAMING_SESSION_URL",
    "GET_DASH_STREAMING_SESSION_URL",
    "GET_CLIP",
    "GET_IMAGES",
];

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub store: Store,
    pub endpoint: String,
    pub shutdown: watch::Receiver<bool>,
}

/// The router: every operation on its path, anything else `UnknownOperationException`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

/// An AWS error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error_type,
            message: message.into(),
        }
    }

    fn refused(with: RefuseWith, message: impl Into<String>) -> Self {
        Self::new(with.status(), with.error_type(), message)
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::refused(RefuseWith::InvalidArgument, message)
    }

    fn not_found() -> Self {
        Self::refused(RefuseWith::ResourceNotFound, "The requested stream is not found or not active.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = format!(
            "{}:http://internal.amazon.com/coral/com.amazonaws.kinesis.video.v20170930/",
            self.error_type
        );
        let body = json!({ "Message": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&kind) {
            headers.insert("x-amzn-errortype", value);
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_owned();
    let result = if method != Method::POST {
        Err(ApiError::new(404, "UnknownOperationException", format!("no operation {method} {path}")))
    } else if path == "/putMedia" {
        match authenticate(&shared, &method, &uri, &headers, None) {
            Ok(()) => put_media(shared, headers, body).await,
            Err(e) => Err(e),
        }
    } else {
        match axum::body::to_bytes(body, MAX_JSON_BODY).await {
            Err(_) => Err(ApiError::invalid("request body unreadable or over 1 MiB")),
            Ok(bytes) => match authenticate(&shared, &method, &uri, &headers, Some(&bytes)) {
                Err(e) => Err(e),
                Ok(()) => json_operation(shared, &path, &bytes).await,
            },
        }
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(path, error_type = error.error_type, message = %error.message, "refused");
            error.into_response()
        }
    }
}

fn authenticate(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<(), ApiError> {
    let Some(credentials) = &shared.config.credentials else { return Ok(()) };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    auth::verify(credentials, &shared.config.region, method.as_str(), path, headers, body)
        .map_err(|e| ApiError::new(403, e.error_type, e.message))
}

async fn json_operation(shared: Arc<Shared>, path: &str, body: &[u8]) -> ApiResult {
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::new(400, "SerializationException", e.to_string()))?
    };
    match path {
        "/createStream" => create_stream(&shared, request),
        "/describeStream" => describe_stream(&shared, request),
        "/listStreams" => list_streams(&shared, request),
        "/deleteStream" => delete_stream(&shared, request),
        "/getDataEndpoint" => get_data_endpoint(&shared, request),
        "/getMedia" => get_media(shared, request).await,
        "/listFragments" => list_fragments(&shared, request),
        "/getMediaForFragmentList" => get_media_for_fragment_list(shared, request).await,
        _ => Err(ApiError::new(404, "UnknownOperationException", format!("no operation {path}"))),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::new(400, "SerializationException", e.to_string()))
}

fn json_response(value: Value) -> ApiResult {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn millis(seconds: f64) -> Result<i64, ApiError> {
    if !seconds.is_finite() || seconds.abs() > 1e13 {
        return Err(ApiError::invalid("timestamp out of range"));
    }
    Ok((seconds * 1000.0).round() as i64)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StreamRef {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl StreamRef {
    fn resolve(&self, store: &Store) -> Result<Arc<Stream>, ApiError> {
        let stream = match (&self.stream_name, &self.stream_arn) {
            (Some(name), _) => store.get(name),
            (None, Some(arn)) => store.get_by_arn(arn),
            (None, None) => return Err(ApiError::invalid("StreamName or StreamARN is required")),
        };
        stream.ok_or_else(ApiError::not_found)
    }
}

fn stream_info(stream: &Stream, config: &Config) -> Value {
    let i = &stream.info;
    json!({
        "StreamName": i.name,
        "StreamARN": i.arn,
        "MediaType": "video/h264",
        "KmsKeyId": format!("arn:aws:kms:{}:000000000000:alias/aws/kinesisvideo", config.region),
        "Version": i.version,
        "Status": "ACTIVE",
        "CreationTime": seconds(i.created_ms),
        "DataRetentionInHours": config.retention_age.as_secs().div_ceil(3600),
    })
}

fn create_stream(shared: &Shared, request: Value) -> ApiResult {
    let StreamRef { stream_name, .. } = parse(request)?;
    let name = stream_name.ok_or_else(|| ApiError::invalid("StreamName is required"))?;
    match shared.store.create(&name) {
        Ok(Some(stream)) => json_response(json!({ "StreamARN": stream.info.arn })),
        Ok(None) => {
            Err(ApiError::refused(RefuseWith::ResourceInUse, format!("The stream {name} already exists.")))
        }
        Err(crate::Error::InvalidStreamName(_)) => {
            Err(ApiError::invalid("StreamName must be 1-256 of a-zA-Z0-9_.-"))
        }
        Err(e) => Err(ApiError::refused(RefuseWith::InternalError, e.to_string())),
    }
}

fn describe_stream(shared: &Shared, request: Value) -> ApiResult {
    let stream = parse::<StreamRef>(request)?.resolve(&shared.store)?;
    json_response(json!({ "StreamInfo": stream_info(&stream, &shared.config) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ListStreamsRequest {
    max_results: Option<usize>,
    next_token: Option<String>,
    stream_name_condition: Option<NameCondition>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NameCondition {
    comparison_value: Option<String>,
}

fn list_streams(shared: &Shared, request: Value) -> ApiResult {
    let request: ListStreamsRequest = parse(request)?;
    let max = request.max_results.unwrap_or(10_000);
    if !(1..=10_000).contains(&max) {
        return Err(ApiError::invalid("MaxResults must be 1 to 10000"));
    }
    let prefix = request.stream_name_condition.and_then(|c| c.comparison_value).unwrap_or_default();
    let after = request.next_token.unwrap_or_default();
    let matching: Vec<_> = shared
        .store
        .list()
        .into_iter()
        .filter(|s| s.info.name.starts_with(&prefix) && s.info.name.as_str() > after.as_str())
        .collect();
    let page: Vec<Value> = matching.iter().take(max).map(|s| stream_info(s, &shared.config)).collect();
    let mut out = json!({ "StreamInfoList": page });
    if matching.len() > max {
        out["NextToken"] = json!(matching[max - 1].info.name);
    }
    json_response(out)
}

fn delete_stream(shared: &Shared, request: Value) -> ApiResult {
    let stream = parse::<StreamRef>(request)?.resolve(&shared.store)?;
    match shared.store.delete(&stream.info.name) {
        Ok(_) => json_response(json!({})),
        // Deleted by another call since it was resolved.
        Err(crate::Error::StreamNotFound(_)) => Err(ApiError::not_found()),
        Err(e) => {
            tracing::error!(error = %e, "DeleteStream failed");
            Err(ApiError::refused(RefuseWith::InternalError, e.to_string()))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DataEndpointRequest {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "APIName")]
    api_name: Option<String>,
}

fn get_data_endpoint(shared: &Shared, request: Value) -> ApiResult {
    let request: DataEndpointRequest = parse(request)?;
    let api = request.api_name.unwrap_or_default();
    if !API_NAMES.contains(&api.as_str()) {
        return Err(ApiError::invalid(format!("APIName {api:?} is not one of {API_NAMES:?}")));
    }
    request.stream.resolve(&shared.store)?;
    json_response(json!({ "DataEndpoint": shared.endpoint }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct GetMediaRequest {
    #[serde(flatten)]
    stream: StreamRef,
    start_selector: Option<StartSelector>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartSelector {
    start_selector_type: Option<String>,
    after_fragment_number: Option<String>,
    start_timestamp: Option<f64>,
    continuation_token: Option<String>,
}

fn fragment_number(text: Option<String>, field: &str) -> Result<FragmentNumber, ApiError> {
    let text =
        text.ok_or_else(|| ApiError::invalid(format!("{field} is required for this StartSelectorType")))?;
    text.parse().map_err(|_| ApiError::invalid(format!("{field} is not a fragment number")))
}

fn start_seq(stream: &Stream, selector: StartSelector) -> Result<u64, ApiError> {
    let kind = selector.start_selector_type.unwrap_or_default();
    Ok(match kind.as_str() {
        "NOW" => stream.live_seq(),
        "EARLIEST" => stream.earliest_seq(),
        "FRAGMENT_NUMBER" => stream
            .seq_from_number(&fragment_number(selector.after_fragment_number, "AfterFragmentNumber")?, true),
        "CONTINUATION_TOKEN" => {
            stream.seq_from_number(&fragment_number(selector.continuation_token, "ContinuationToken")?, false)
        }
        "SERVER_TIMESTAMP" | "PRODUCER_TIMESTAMP" => {
            let ts =
                selector.start_timestamp.ok_or_else(|| ApiError::invalid("StartTimestamp is required"))?;
            stream.seq_from_time(millis(ts)?, kind == "PRODUCER_TIMESTAMP")
        }
        _ => return Err(ApiError::invalid(format!("StartSelectorType {kind:?} is not valid"))),
    })
}

/// Latency and planned refusals, common to the media calls.
async fn media_faults(stream: &Stream) -> Result<(), ApiError> {
    if let Some(latency) = stream.faults().latency {
        tokio::time::sleep(latency).await;
    }
    match stream.take_refusal() {
        Some(with) => Err(ApiError::refused(with, "refused by an injected fault")),
        None => Ok(()),
    }
}

async fn get_media(shared: Arc<Shared>, request: Value) -> ApiResult {
    let request: GetMediaRequest = parse(request)?;
    let stream = request.stream.resolve(&shared.store)?;
    let selector = request.start_selector.ok_or_else(|| ApiError::invalid("StartSelector is required"))?;
    let seq = start_seq(&stream, selector)?;
    media_faults(&stream).await?;
    let slot =
        stream.admit_get_media(shared.config.get_media_tps, shared.config.get_media_connections).map_err(
            |with| ApiError::refused(with, format!("{} for stream {}", with.error_type(), stream.info.name)),
        )?;
    let (tx, rx) = mpsc::channel(BODY_CHANNEL);
    tokio::spawn(live_body(shared, stream, slot, seq, tx));
    Ok(media_response(rx))
}

fn media_response(rx: mpsc::Receiver<Bytes>) -> Response {
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("video/webm"));
    response
}

/// Resolves when the server is stopping.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// Resolves when the log has entries at `seq` or beyond (true), or can never grow (false).
async fn grew_past(end: &mut watch::Receiver<u64>, seq: u64) -> bool {
    end.wait_for(|&end| end > seq).await.is_ok()
}

/// Counts what a body may still carry under the injected cuts.
struct Budget {
    bytes_left: Option<u64>,
    fragments_left: Option<u64>,
}

impl Budget {
    fn new(stream: &Stream) -> Self {
        let faults = stream.faults();
        Self { bytes_left: faults.cut_after_bytes, fragments_left: faults.cut_after_fragments }
    }

    /// Sends the parts of one fragment; false when the body must end.
    async fn send(&mut self, parts: &[Bytes], tx: &mpsc::Sender<Bytes>) -> bool {
        // An empty part (a Cluster in one piece) is not worth a body chunk.
        for part in parts.iter().filter(|p| !p.is_empty()) {
            let mut part = part.clone();
            if let Some(left) = &mut self.bytes_left {
                if (part.len() as u64) >= *left {
                    part.truncate(*left as usize);
                    let _ = tx.send(part).await;
                    return false;
                }
                *left -= part.len() as u64;
            }
            if tx.send(part).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Counts a whole fragment sent; false when the body must end.
    fn fragment_sent(&mut self) -> bool {
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
    let latency = stream.faults().latency;
    let mut budget = Budget::new(&stream);
    if budget.bytes_left == Some(0) || budget.fragments_left == Some(0) {
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
                        if let Some(latency) = latency {
                            tokio::time::sleep(latency).await;
                        }
                        let parts = layout::get_media_parts(&f, now_ms());
                        if !budget.send(&parts, &tx).await || !budget.fragment_sent() {
                            return;
                        }
                    }
                    Entry::Error { code, id } => {
                        if !budget.send(&[layout::error_fragment(&code, &id)], &tx).await
                            || stream.is_deleted()
                        {
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

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ListFragmentsRequest {
    #[serde(flatten)]
    stream: StreamRef,
    max_results: Option<usize>,
    next_token: Option<String>,
    fragment_selector: Option<FragmentSelector>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct FragmentSelector {
    fragment_selector_type: Option<String>,
    timestamp_range: Option<TimestampRange>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TimestampRange {
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
}

fn list_fragments(shared: &Shared, request: Value) -> ApiResult {
    let request: ListFragmentsRequest = parse(request)?;
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
        Some(selector) => {
            let producer = match selector.fragment_selector_type.as_deref() {
                Some("PRODUCER_TIMESTAMP") => true,
                Some("SERVER_TIMESTAMP") => false,
                other => {
                    return Err(ApiError::invalid(format!("FragmentSelectorType {other:?} is not valid")));
                }
            };
            let range =
                selector.timestamp_range.ok_or_else(|| ApiError::invalid("TimestampRange is required"))?;
            let (Some(start), Some(end)) = (range.start_timestamp, range.end_timestamp) else {
                return Err(ApiError::invalid("StartTimestamp and EndTimestamp are required"));
            };
            let (start, end) = (millis(start)?, millis(end)?);
            if start > end {
                return Err(ApiError::invalid("StartTimestamp is after EndTimestamp"));
            }
            Some((producer, start, end))
        }
    };
    let in_range = |f: &StoredFragment| match range {
        None => true,
        Some((producer, start, end)) => {
            let t = if producer { f.producer_ms } else { f.server_ms };
            (start..=end).contains(&t)
        }
    };
    let mut matching = stream
        .fragments()
        .into_iter()
        .filter(|f| from.as_ref().is_none_or(|from| f.number >= *from) && in_range(f));
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
struct FragmentListRequest {
    #[serde(flatten)]
    stream: StreamRef,
    fragments: Option<Vec<String>>,
}

async fn get_media_for_fragment_list(shared: Arc<Shared>, request: Value) -> ApiResult {
    let request: FragmentListRequest = parse(request)?;
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
    media_faults(&stream).await?;
    let (tx, rx) = mpsc::channel(BODY_CHANNEL);
    tokio::spawn(async move {
        let latency = stream.faults().latency;
        let mut budget = Budget::new(&stream);
        for number in numbers {
            if let Some(latency) = latency {
                tokio::time::sleep(latency).await;
            }
            let sent = match stream.find(&number) {
                Some(f) => budget.send(&layout::archived_parts(&f), &tx).await && budget.fragment_sent(),
                None => budget.send(&[layout::error_fragment("FRAGMENT_NOT_FOUND", "3000")], &tx).await,
            };
            if !sent || budget.bytes_left == Some(0) {
                return;
            }
        }
    });
    Ok(media_response(rx))
}

/// One PutMedia acknowledgement line.
fn ack(event: &str, timecode: i64, number: Option<&FragmentNumber>) -> Bytes {
    let mut value = json!({ "EventType": event, "FragmentTimecode": timecode });
    if let Some(number) = number {
        value["FragmentNumber"] = json!(number.as_str());
    }
    Bytes::from(format!("{value}\n"))
}

fn error_ack(timecode: i64, id: u32, code: &str) -> Bytes {
    let value =
        json!({ "EventType": "ERROR", "FragmentTimecode": timecode, "ErrorId": id, "ErrorCode": code });
    Bytes::from(format!("{value}\n"))
}

async fn put_media(shared: Arc<Shared>, headers: HeaderMap, body: Body) -> ApiResult {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reference =
        StreamRef { stream_name: header("x-amzn-stream-name"), stream_arn: header("x-amzn-stream-arn") };
    let stream = reference.resolve(&shared.store)?;
    let timecode_type = match header("x-amzn-fragment-timecode-type").as_deref() {
        None | Some("ABSOLUTE") => TimecodeType::Absolute,
        Some("RELATIVE") => TimecodeType::Relative,
        Some(other) => {
            return Err(ApiError::invalid(format!("x-amzn-fragment-timecode-type {other:?} is not valid")));
        }
    };
    let start_ms = match header("x-amzn-producer-start-timestamp") {
        Some(text) => {
            millis(text.parse::<f64>().map_err(|_| ApiError::invalid("x-amzn-producer-start-timestamp"))?)?
        }
        None => now_ms(),
    };
    let (tx, rx) = mpsc::channel(BODY_CHANNEL);
    tokio::spawn(async move {
        let mut ingester = Ingester::new(timecode_type, start_ms);
        let mut data = body.into_data_stream();
        let mut shutdown = shared.shutdown.clone();
        loop {
            let (results, ended) = tokio::select! {
                chunk = data.next() => match chunk {
                    Some(Ok(chunk)) => (ingester.feed(chunk), false),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "PutMedia body ended with an error");
                        let _ = tx.send(error_ack(0, 4000, "STREAM_READ_ERROR")).await;
                        return;
                    }
                    None => (ingester.finish(), true),
                },
                _ = stopped(&mut shutdown) => return,
            };
            for result in results {
                let (acks, stop) = acknowledge(&shared.store, &stream, result);
                for a in acks {
                    if tx.send(a).await.is_err() {
                        return;
                    }
                }
                if stop {
                    return;
                }
            }
            if ended {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Stores one fragment cut from a PutMedia body; the acknowledgements to send, and
/// whether the upload must stop (after an ERROR).
fn acknowledge(
    store: &Store,
    stream: &Stream,
    result: Result<NewFragment, crate::Error>,
) -> (Vec<Bytes>, bool) {
    match result {
        Ok(new) if stream.is_deleted() => (vec![error_ack(new.timecode_ms, 4008, "STREAM_NOT_ACTIVE")], true),
        Ok(new) => {
            let timecode = new.timecode_ms;
            match store.append(stream, new) {
                Ok(f) => (
                    vec![
                        ack("BUFFERING", timecode, None),
                        ack("RECEIVED", timecode, Some(&f.number)),
                        ack("PERSISTED", timecode, Some(&f.number)),
                    ],
                    false,
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "could not store a fragment");
                    (vec![error_ack(timecode, 5001, "ARCHIVAL_ERROR")], true)
                }
            }
        }
        Err(crate::Error::TooLarge(_)) => (vec![error_ack(0, 4001, "MAX_FRAGMENT_SIZE_REACHED")], true),
        Err(e) => {
            tracing::debug!(error = %e, "PutMedia body is not valid MKV");
            (vec![error_ack(0, 4006, "INVALID_MKV_DATA")], true)
        }
    }
}
