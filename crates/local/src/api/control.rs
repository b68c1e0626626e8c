//! The control plane: CreateStream, DescribeStream, ListStreams, DeleteStream and
//! GetDataEndpoint. No media flows here.

use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{ApiError, ErrorType};
use super::{ApiResult, Shared, StreamRef, faults, json_response, seconds};
use crate::Config;
use crate::store::{Refusal, Stream};

/// The `APIName`s GetDataEndpoint knows.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ApiName {
    PutMedia,
    GetMedia,
    ListFragments,
    GetMediaForFragmentList,
    #[serde(rename = "GET_HLS_STREAMING_SESSION_URL")]
    GetHlsStreamingSessionUrl,
    #[serde(rename = "GET_DASH_STREAMING_SESSION_URL")]
    GetDashStreamingSessionUrl,
    GetClip,
    GetImages,
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

pub(super) fn create_stream(shared: &Shared, request: StreamRef) -> ApiResult {
    let name = request.stream_name.ok_or_else(|| ApiError::invalid("StreamName is required"))?;
    match shared.store.create(&name) {
        Ok(Some(stream)) => json_response(json!({ "StreamARN": stream.info.arn })),
        Ok(None) => {
            Err(ApiError::new(ErrorType::ResourceInUse, format!("The stream {name} already exists.")))
        }
        Err(crate::Error::InvalidStreamName(_)) => {
            Err(ApiError::invalid("StreamName must be 1-256 of a-zA-Z0-9_.-"))
        }
        Err(e) => Err(ApiError::new(ErrorType::InternalFailure, e.to_string())),
    }
}

pub(super) async fn describe_stream(shared: &Shared, request: StreamRef) -> ApiResult {
    let stream = request.resolve(&shared.store)?;
    faults(&stream, Refusal::Control).await?;
    json_response(json!({ "StreamInfo": stream_info(&stream, &shared.config) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ListStreamsRequest {
    max_results: Option<usize>,
    next_token: Option<String>,
    stream_name_condition: Option<NameCondition>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NameCondition {
    comparison_value: Option<String>,
}

pub(super) fn list_streams(shared: &Shared, request: ListStreamsRequest) -> ApiResult {
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

pub(super) async fn delete_stream(shared: &Shared, request: StreamRef) -> ApiResult {
    let stream = request.resolve(&shared.store)?;
    faults(&stream, Refusal::Control).await?;
    match shared.store.delete(&stream.info.name) {
        Ok(_) => json_response(json!({})),
        // Deleted by another call since it was resolved.
        Err(crate::Error::StreamNotFound(_)) => Err(ApiError::not_found()),
        Err(e) => {
            tracing::error!(error = %e, "DeleteStream failed");
            Err(ApiError::new(ErrorType::InternalFailure, e.to_string()))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct DataEndpointRequest {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "APIName")]
    api_name: Option<serde_json::Value>,
}

pub(super) async fn get_data_endpoint(shared: &Shared, request: DataEndpointRequest) -> ApiResult {
    let api = request.api_name.ok_or_else(|| ApiError::invalid("APIName is required"))?;
    if serde_json::from_value::<ApiName>(api.clone()).is_err() {
        return Err(ApiError::invalid(format!("APIName {api} is not valid")));
    }
    let stream = request.stream.resolve(&shared.store)?;
    faults(&stream, Refusal::Control).await?;
    json_response(json!({ "DataEndpoint": shared.endpoint }))
}
