//! The HTTP face of the server: the router, the dispatch of `POST /<operation>` to its
//! handler, authentication, and what the handlers share (the stream a request names,
//! JSON in and out, the streamed response bodies, faults).
//!
//! Each family of operations has its module: [`control`] (streams and endpoints),
//! [`get_media`], [`archive`] (ListFragments, GetMediaForFragmentList), [`put_media`],
//! [`clip`] (GetClip), [`streaming`] (HLS/DASH session URLs and the player paths they
//! lead to, GETs authorised by their SessionToken), [`images`] (GetImages) and [`page`]
//! (the web page's files and stream list, plain GETs); [`media`] is what the media
//! operations share, and [`errors`] holds every error code. Storage lives in `store`,
//! cutting producer MKV in `ingest`, the served byte layout in `layout`, signatures in
//! `auth`, connections in `server`.

mod archive;
mod clip;
mod control;
pub(crate) mod errors;
mod get_media;
mod images;
mod media;
mod page;
mod put_media;
pub(crate) mod rate;
mod streaming;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use kvs_streaming::page::PageToken;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use self::errors::{ApiError, ErrorType};
use crate::Config;
use crate::auth::{self, Payload};
use crate::store::{Refusal, Store, Stream};

/// Largest JSON request body read.
const MAX_JSON_BODY: usize = 1 << 20;
/// Chunks buffered between a body writer and the connection.
const BODY_CHANNEL: usize = 8;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub store: Store,
    pub endpoint: String,
    pub shutdown: watch::Receiver<bool>,
    /// With [`Config::credentials`], what the web page sends in place of a signature.
    pub page_token: Option<PageToken>,
}

/// The router's state: what every handler shares, and what the archived-media
/// operations keep between requests (streaming sessions).
#[derive(Debug, Clone)]
struct Api {
    shared: Arc<Shared>,
    sessions: Arc<streaming::Sessions>,
}

/// The router: every operation on its path, the player paths of streaming sessions,
/// anything else `UnknownOperationException`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(Api { shared, sessions: Arc::default() })
}

type ApiResult = Result<Response, ApiError>;

/// The operations, by the path the SDKs post them to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    CreateStream,
    DescribeStream,
    ListStreams,
    DeleteStream,
    GetDataEndpoint,
    GetMedia,
    ListFragments,
    GetMediaForFragmentList,
    PutMedia,
    GetClip,
    GetHlsStreamingSessionUrl,
    GetDashStreamingSessionUrl,
    GetImages,
}

impl Operation {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/createStream" => Self::CreateStream,
            "/describeStream" => Self::DescribeStream,
            "/listStreams" => Self::ListStreams,
            "/deleteStream" => Self::DeleteStream,
            "/getDataEndpoint" => Self::GetDataEndpoint,
            "/getMedia" => Self::GetMedia,
            "/listFragments" => Self::ListFragments,
            "/getMediaForFragmentList" => Self::GetMediaForFragmentList,
            "/putMedia" => Self::PutMedia,
            "/getClip" => Self::GetClip,
            "/getHLSStreamingSessionURL" => Self::GetHlsStreamingSessionUrl,
            "/getDASHStreamingSessionURL" => Self::GetDashStreamingSessionUrl,
            "/getImages" => Self::GetImages,
            _ => return None,
        })
    }
}

async fn dispatch(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let shared = api.shared.clone();
    let path = uri.path().to_owned();
    if method == Method::GET {
        // Player paths carry their SessionToken instead of a signature.
        match kvs_streaming::PlayerRequest::parse(&path, uri.query().unwrap_or("")) {
            Ok(Some(request)) => {
                return streaming::player(shared, &api.sessions, request)
                    .await
                    .unwrap_or_else(IntoResponse::into_response);
            }
            Err(e) => return streaming::refuse(e),
            Ok(None) => {}
        }
        if let Some(response) = page::get(&shared, &path, &headers) {
            return response;
        }
    }
    let result = match (method == Method::POST, Operation::from_path(&path)) {
        (true, Some(Operation::PutMedia)) => put_media::put_media(shared, &uri, headers, body).await,
        (true, Some(operation)) => match axum::body::to_bytes(body, MAX_JSON_BODY).await {
            Err(_) => Err(ApiError::invalid("request body unreadable or over 1 MiB")),
            Ok(bytes) => {
                let allowed = match page::authorize(&shared, &path, &headers) {
                    page::Caller::Page => Ok(()),
                    page::Caller::Refused(e) => Err(e),
                    page::Caller::NotThePage => {
                        authenticate(&shared, &method, &uri, &headers, Payload::Bytes(&bytes))
                    }
                };
                match allowed {
                    Err(e) => Err(e),
                    Ok(()) => json_operation(&api, operation, &headers, &bytes).await,
                }
            }
        },
        _ => Err(ApiError::new(ErrorType::UnknownOperation, format!("no operation {method} {path}"))),
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(path, error_type = error.error_type.name(), message = %error.message, "refused");
            error.into_response()
        }
    }
}

/// Checks the request's signature when the server has credentials.
fn authenticate(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: Payload<'_>,
) -> Result<(), ApiError> {
    let Some(credentials) = &shared.config.credentials else { return Ok(()) };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    auth::verify(credentials, &shared.config.region, method.as_str(), path, headers, payload)
        .map_err(|e| ApiError::new(e.error_type, e.message))
}

async fn json_operation(api: &Api, operation: Operation, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let shared = api.shared.clone();
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    match operation {
        Operation::CreateStream => control::create_stream(&shared, parse(body)?),
        Operation::DescribeStream => control::describe_stream(&shared, parse(body)?).await,
        Operation::ListStreams => control::list_streams(&shared, parse(body)?),
        Operation::DeleteStream => control::delete_stream(&shared, parse(body)?).await,
        Operation::GetDataEndpoint => control::get_data_endpoint(&shared, parse(body)?).await,
        Operation::GetMedia => get_media::get_media(shared, parse(body)?).await,
        Operation::ListFragments => archive::list_fragments(&shared, parse(body)?).await,
        Operation::GetMediaForFragmentList => {
            archive::get_media_for_fragment_list(shared, parse(body)?).await
        }
        Operation::GetClip => clip::get_clip(&shared, parse(body)?).await,
        Operation::GetImages => images::get_images(&shared, parse(body)?).await,
        Operation::GetHlsStreamingSessionUrl => {
            streaming::hls_session(&shared, &api.sessions, headers, parse(body)?)
        }
        Operation::GetDashStreamingSessionUrl => {
            streaming::dash_session(&shared, &api.sessions, headers, parse(body)?)
        }
        Operation::PutMedia => Err(ApiError::new(ErrorType::UnknownOperation, "PutMedia takes no JSON")),
    }
}

/// A request body as the operation's typed request.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::serialization)
}

fn json_response(value: serde_json::Value) -> ApiResult {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Epoch milliseconds as the SDKs' epoch seconds.
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The SDKs' epoch seconds as milliseconds.
fn millis(seconds: f64) -> Result<i64, ApiError> {
    if !seconds.is_finite() || seconds.abs() > 1e13 {
        return Err(ApiError::invalid("timestamp out of range"));
    }
    Ok((seconds * 1000.0).round() as i64)
}

/// The stream a request names, by `StreamName` or `StreamARN`.
#[derive(Deserialize, Default, Debug)]
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

/// The injected latency and planned refusal of a call on `stream`.
async fn faults(stream: &Stream, kind: Refusal) -> Result<(), ApiError> {
    if let Some(latency) = stream.faults().latency {
        tokio::time::sleep(latency).await;
    }
    match stream.take_refusal(kind) {
        Some(with) => Err(ApiError::new(with.error(), "refused by an injected fault")),
        None => Ok(()),
    }
}

/// A streamed 200 response whose body is what `rx` yields.
fn streamed_response(rx: mpsc::Receiver<Bytes>, content_type: &'static str) -> Response {
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Resolves when the server is stopping.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}
