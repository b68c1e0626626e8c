use std::convert::Infallible;
use std::time::SystemTime;

use aws_sdk_kinesisvideomedia::types::StartSelectorType;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kvs_local::{Config, Credentials, LocalKvs};
use serde_json::Value;

use crate::util::{
    KEY_ID, SECRET, camera_mkv, config, control_as, frames_of, get_media, media_as, producer_frames,
    selector, split, start,
};

/// Sends a PutMedia request with a chunked body (`chunk` bytes at a time); returns the
/// status and the acknowledgement events.
async fn put_media(
    kvs: &LocalKvs,
    stream: &str,
    mkv: Bytes,
    chunk: usize,
    sign: Option<(&str, &str)>,
) -> (u16, Vec<Value>) {
    let chunks: Vec<Result<Frame<Bytes>, Infallible>> = (0..mkv.len())
        .step_by(chunk)
        .map(|i| Ok(Frame::data(mkv.slice(i..(i + chunk).min(mkv.len())))))
        .collect();
    let body = StreamBody::new(futures_util::stream::iter(chunks));
    let uri = format!("{}/putMedia", kvs.endpoint_url());
    let mut request = hyper::Request::post(&uri)
        .header("host", kvs.endpoint_url().trim_start_matches("http://"))
        .header("x-amzn-stream-name", stream)
        .header("x-amzn-fragment-timecode-type", "ABSOLUTE")
        .header("x-amzn-producer-start-timestamp", "1700000000.000")
        .body(body)
        .unwrap();
    if let Some((key, secret)) = sign {
        sign_request(&mut request, key, secret);
    }
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    let events = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    (status, events)
}

/// Signs a streamed request as producers do (UNSIGNED-PAYLOAD).
fn sign_request<B>(request: &mut hyper::Request<B>, key: &str, secret: &str) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    request.headers_mut().insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kinesisvideo")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        request.uri().to_string(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(request);
}

fn persisted(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["EventType"] == "PERSISTED")
        .map(|e| e["FragmentNumber"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn put_media_acknowledges_each_fragment_and_get_media_returns_it() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(4);
    let (status, events) = put_media(&kvs, "cam", mkv.clone(), 777, None).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = events.iter().map(|e| e["EventType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["BUFFERING", "RECEIVED", "PERSISTED"].repeat(4));
    let timecodes: Vec<i64> =
        events.iter().step_by(3).map(|e| e["FragmentTimecode"].as_i64().unwrap()).collect();
    assert_eq!(timecodes, [1_700_000_000_000, 1_700_000_000_100, 1_700_000_000_200, 1_700_000_000_300]);
    let numbers = persisted(&events);
    let served = split(get_media(&kvs, "cam", selector(StartSelectorType::Earliest)).await);
    assert_eq!(served.numbers(), numbers);
    let served_frames: Vec<_> = served.fragments.iter().map(frames_of).collect();
    assert_eq!(served_frames, producer_frames(&mkv));
    kvs.shutdown().await;
}

#[tokio::test]
async fn put_media_errors() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let (status, _) = put_media(&kvs, "nope", camera_mkv(1), 1000, None).await;
    assert_eq!(status, 404);
    // Good fragments, then bytes that are not MKV: the good ones are kept, then ERROR.
    let mut bad = camera_mkv(2).to_vec();
    bad.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0x00, 0x00]);
    let (status, events) = put_media(&kvs, "cam", Bytes::from(bad), 500, None).await;
    assert_eq!(status, 200);
    assert_eq!(persisted(&events).len(), 2);
    let last = events.last().unwrap();
    assert_eq!((last["EventType"].as_str(), last["ErrorId"].as_u64()), (Some("ERROR"), Some(4006)));
    kvs.shutdown().await;
}

#[tokio::test]
async fn with_credentials_only_good_signatures_pass() {
    let kvs = LocalKvs::start(Config { credentials: Some(Credentials::new(KEY_ID, SECRET)), ..config() })
        .await
        .unwrap();
    let good = control_as(&kvs, KEY_ID, SECRET);
    good.create_stream().stream_name("cam").send().await.unwrap();

    let wrong_secret = control_as(&kvs, KEY_ID, "not-the-secret")
        .describe_stream()
        .stream_name("cam")
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::util::error_of(&wrong_secret), ("InvalidSignatureException".into(), 403));
    let wrong_key =
        control_as(&kvs, "AKIDOTHER", SECRET).describe_stream().stream_name("cam").send().await.unwrap_err();
    assert_eq!(crate::util::error_of(&wrong_key), ("UnrecognizedClientException".into(), 403));

    let (status, events) = put_media(&kvs, "cam", camera_mkv(2), 4096, Some((KEY_ID, SECRET))).await;
    let numbers = persisted(&events);
    assert_eq!((status, numbers.len()), (200, 2));
    let (status, _) = put_media(&kvs, "cam", camera_mkv(1), 4096, Some((KEY_ID, "bad"))).await;
    assert_eq!(status, 403);
    let (status, _) = put_media(&kvs, "cam", camera_mkv(1), 4096, None).await;
    assert_eq!(status, 403);

    let out = media_as(&kvs, KEY_ID, SECRET)
        .get_media()
        .stream_name("cam")
        .start_selector(selector(StartSelectorType::Earliest))
        .send()
        .await
        .unwrap();
    let body = split(crate::util::read_all(out.payload).await);
    assert_eq!(body.numbers(), numbers);
    kvs.shutdown().await;
}
