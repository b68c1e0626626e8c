use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesisvideomedia::types::StartSelectorType;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kvs_local::{Config, Credentials, Faults, LocalKvs, PutMediaErrorId, RefuseWith};
use kvs_mkv::{EbmlWriter, ids};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::util::{
    KEY_ID, SECRET, camera_mkv, config, control, control_as, error_of, frames_of, get_media, media_as,
    producer_frames, selector, split, start, stream_names,
};

/// How a test PutMedia request is signed.
#[derive(Clone, Copy)]
enum Sign<'a> {
    None,
    /// As producers do: `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
    Unsigned(&'a str, &'a str),
    /// With this body's SHA-256 stated in `x-amz-content-sha256`.
    Hashed(&'a str, &'a str, &'a [u8]),
    /// As botocore's `SigV4Auth` does: the body's hash signed, no header.
    NoHeader(&'a str, &'a str, &'a [u8]),
}

fn chunks_of(mkv: &Bytes, chunk: usize) -> Vec<Result<Frame<Bytes>, Infallible>> {
    (0..mkv.len()).step_by(chunk).map(|i| Ok(Frame::data(mkv.slice(i..(i + chunk).min(mkv.len()))))).collect()
}

fn request<B>(kvs: &LocalKvs, stream: &str, start: &str, body: B, sign: Sign<'_>) -> hyper::Request<B> {
    let uri = format!("{}/putMedia", kvs.endpoint_url());
    let mut request = hyper::Request::post(&uri)
        .header("host", kvs.endpoint_url().trim_start_matches("http://"))
        .header("x-amzn-stream-name", stream)
        .header("x-amzn-fragment-timecode-type", "ABSOLUTE")
        .header("x-amzn-producer-start-timestamp", start)
        .body(body)
        .unwrap();
    sign_request(&mut request, sign);
    request
}

/// The acknowledgements of a response body, one JSON object a line.
fn events_of(text: &[u8]) -> Vec<Value> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Sends a PutMedia request with a chunked body (`chunk` bytes at a time); returns the
/// status and the acknowledgement events.
async fn put_media(
    kvs: &LocalKvs,
    stream: &str,
    mkv: Bytes,
    chunk: usize,
    sign: Sign<'_>,
) -> (u16, Vec<Value>) {
    put_media_from(kvs, stream, "1700000000.000", mkv, chunk, sign).await
}

async fn put_media_from(
    kvs: &LocalKvs,
    stream: &str,
    start: &str,
    mkv: Bytes,
    chunk: usize,
    sign: Sign<'_>,
) -> (u16, Vec<Value>) {
    let body = StreamBody::new(futures_util::stream::iter(chunks_of(&mkv, chunk)));
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request(kvs, stream, start, body, sign)).await.unwrap();
    let status = response.status().as_u16();
    // After an ERROR the server closes the connection, maybe before this body is all sent:
    // the acknowledgements that came before are what counts.
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            text.extend_from_slice(&data);
        }
    }
    (status, events_of(&text))
}

/// Signs a request with `aws-sigv4`, as `sign` says.
fn sign_request<B>(request: &mut hyper::Request<B>, how: Sign<'_>) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let (key, secret, body) = match how {
        Sign::None => return,
        Sign::Unsigned(key, secret) => {
            request.headers_mut().insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
            (key, secret, SignableBody::UnsignedPayload)
        }
        Sign::Hashed(key, secret, signed_body) => {
            use sha2::Digest;
            let hash = hex::encode(sha2::Sha256::digest(signed_body));
            request.headers_mut().insert("x-amz-content-sha256", hash.parse().unwrap());
            (key, secret, SignableBody::Bytes(signed_body))
        }
        Sign::NoHeader(key, secret, signed_body) => (key, secret, SignableBody::Bytes(signed_body)),
    };
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
        request.method().as_str(),
        request.uri().to_string(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
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

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["EventType"].as_str().unwrap()).collect()
}

/// The `ErrorId` of the last event, which must be an ERROR.
fn error_id(events: &[Value]) -> u64 {
    let last = events.last().expect("no acknowledgement");
    assert_eq!(last["EventType"], "ERROR", "{events:?}");
    last["ErrorId"].as_u64().unwrap()
}

/// A producer stream's start: EBML header, unknown-size Segment, Info, Tracks (track 1).
fn producer_header() -> EbmlWriter {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::INFO, |i| {
        i.uint(ids::TIMECODE_SCALE, 1_000_000);
    });
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1).string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
        });
    });
    w
}

/// A Cluster at `timecode` with one keyframe of `track`.
fn cluster(w: &mut EbmlWriter, timecode: u64, track: u64, payload: &[u8]) {
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, timecode).simple_block(track, 0, true, payload);
    });
}

/// How many fragments the stream holds.
async fn stored(kvs: &LocalKvs, stream: &str) -> usize {
    split(get_media(kvs, stream, selector(StartSelectorType::Earliest)).await).fragments.len()
}

#[tokio::test]
async fn put_media_acknowledges_each_fragment_and_get_media_returns_it() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(4);
    let (status, events) = put_media(&kvs, "cam", mkv.clone(), 777, Sign::None).await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&events), ["BUFFERING", "RECEIVED", "PERSISTED"].repeat(4));
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
    let (status, _) = put_media(&kvs, "nope", camera_mkv(1), 1000, Sign::None).await;
    assert_eq!(status, 404);
    // Good fragments, then bytes that are not MKV: the good ones are kept, then ERROR.
    let mut bad = camera_mkv(2).to_vec();
    bad.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0x00, 0x00]);
    let (status, events) = put_media(&kvs, "cam", Bytes::from(bad), 500, Sign::None).await;
    assert_eq!(status, 200);
    assert_eq!(persisted(&events).len(), 2);
    assert_eq!(error_id(&events), 4006);
    assert_eq!(events.last().unwrap()["ErrorCode"], "INVALID_MKV_DATA");
    kvs.shutdown().await;
}

#[tokio::test]
async fn decreasing_cluster_timecodes_are_refused_with_4004() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let mut w = producer_header();
    for timecode in [1_700_000_001_000, 1_700_000_002_000, 1_700_000_001_500, 1_700_000_003_000] {
        cluster(&mut w, timecode, 1, b"frame");
    }
    let (_, events) = put_media(&kvs, "s", w.into_bytes(), 1000, Sign::None).await;
    assert_eq!(persisted(&events).len(), 2);
    assert_eq!(error_id(&events), 4004);
    assert_eq!(events.last().unwrap()["FragmentTimecode"], 1_700_000_001_500i64);
    assert_eq!(stored(&kvs, "s").await, 2);
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_frame_of_an_undeclared_track_is_refused_with_4010() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let mut w = producer_header();
    cluster(&mut w, 1_700_000_001_000, 1, b"frame");
    cluster(&mut w, 1_700_000_002_000, 2, b"frame of track 2");
    let (_, events) = put_media(&kvs, "s", w.into_bytes(), 1000, Sign::None).await;
    assert_eq!((persisted(&events).len(), error_id(&events)), (1, 4010));
    assert_eq!(stored(&kvs, "s").await, 1);
    kvs.shutdown().await;
}

#[tokio::test]
async fn impossible_timestamps_are_refused_with_4007() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    // A Cluster Timecode of 2^64 - 1 was acknowledged as -1.
    let mut w = producer_header();
    cluster(&mut w, u64::MAX, 1, b"frame");
    let (_, events) = put_media(&kvs, "s", w.into_bytes(), 1000, Sign::None).await;
    assert_eq!(error_id(&events), 4007);
    assert!(events.iter().all(|e| e["FragmentTimecode"].as_i64() != Some(-1)), "{events:?}");
    // A producer start before 1970, with timecodes relative to it.
    let mut w = producer_header();
    cluster(&mut w, 0, 1, b"frame");
    let (_, events) = put_media_from(&kvs, "s", "-5.000", w.into_bytes(), 1000, Sign::None).await;
    assert_eq!(error_id(&events), 4007);
    assert_eq!(stored(&kvs, "s").await, 0);
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_fragment_over_50_mb_is_refused_with_4001() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let mut w = producer_header();
    cluster(&mut w, 1_700_000_001_000, 1, b"frame");
    // A Cluster that says it holds 70 MB: refused from its header, never buffered.
    w.raw(&[0x1F, 0x43, 0xB6, 0x75, 0x01, 0x00, 0x00, 0x00, 0x04, 0x2C, 0x1D, 0x80]);
    w.raw(&vec![0u8; 1 << 20]);
    let (_, events) = put_media(&kvs, "s", w.into_bytes(), 64 << 10, Sign::None).await;
    assert_eq!((persisted(&events).len(), error_id(&events)), (1, 4001));
    assert_eq!(events.last().unwrap()["ErrorCode"], "MAX_FRAGMENT_SIZE_REACHED");
    kvs.shutdown().await;
}

/// A server whose PutMedia holds at most 16 KiB per connection.
async fn small_buffer() -> LocalKvs {
    let kvs = LocalKvs::start(Config { put_media_buffer: 16 << 10, ..config() }).await.unwrap();
    kvs.create_stream("s").unwrap();
    kvs
}

/// 4 MiB of `element`, repeated, after `start`: far more than the buffer.
fn flood(start: EbmlWriter, element: &[u8]) -> Bytes {
    let mut w = start;
    while w.len() < 4 << 20 {
        w.raw(element);
    }
    w.into_bytes()
}

#[tokio::test]
async fn void_elements_before_the_first_cluster_are_bounded() {
    let kvs = small_buffer().await;
    let mut void = EbmlWriter::new();
    void.binary(ids::VOID, &[0; 1024]);
    let (status, events) =
        put_media(&kvs, "s", flood(producer_header(), void.as_slice()), 8192, Sign::None).await;
    assert_eq!((status, kinds(&events)), (200, vec!["ERROR"]));
    assert_eq!(error_id(&events), 4009);
    kvs.shutdown().await;
}

#[tokio::test]
async fn tags_between_clusters_are_bounded() {
    let kvs = small_buffer().await;
    let mut start = producer_header();
    cluster(&mut start, 1_700_000_001_000, 1, b"frame");
    let mut tags = EbmlWriter::new();
    tags.simple_tags(&[("NOTE", &"x".repeat(1000))]);
    let (_, events) = put_media(&kvs, "s", flood(start, tags.as_slice()), 8192, Sign::None).await;
    assert_eq!((persisted(&events).len(), error_id(&events)), (1, 4009));
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_cluster_over_the_buffer_is_refused_with_4001() {
    let kvs = small_buffer().await;
    let mut w = producer_header();
    cluster(&mut w, 1_700_000_001_000, 1, &[7; 64 << 10]);
    let (_, events) = put_media(&kvs, "s", w.into_bytes(), 4096, Sign::None).await;
    assert_eq!(kinds(&events), ["BUFFERING", "ERROR"]);
    assert_eq!(error_id(&events), 4001);
    kvs.shutdown().await;
}

/// A PutMedia whose body the test writes as it goes; the acknowledgements come back line
/// by line.
struct Live {
    body: Option<mpsc::Sender<Result<Frame<Bytes>, Infallible>>>,
    acks: hyper::body::Incoming,
    pending: Vec<u8>,
}

impl Live {
    async fn open(kvs: &LocalKvs, stream: &str) -> Live {
        let (tx, rx) = mpsc::channel(16);
        let body = StreamBody::new(tokio_stream_of(rx));
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response =
            client.request(request(kvs, stream, "1700000000.000", body, Sign::None)).await.unwrap();
        assert_eq!(response.status(), 200);
        Live { body: Some(tx), acks: response.into_body(), pending: Vec::new() }
    }

    async fn send(&self, bytes: Bytes) {
        self.body.as_ref().expect("the body is open").send(Ok(Frame::data(bytes))).await.unwrap();
    }

    /// Ends the request body.
    fn end(&mut self) {
        self.body = None;
    }

    /// The next acknowledgement, or `None` at the end of the response.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let frame = self.acks.frame().await?.unwrap();
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }
}

fn tokio_stream_of<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> std::pin::Pin<Box<dyn futures_util::Stream<Item = T> + Send>> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

#[tokio::test]
async fn buffering_is_acknowledged_when_a_cluster_starts_to_arrive() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let mut w = producer_header();
    let header_len = w.len();
    cluster(&mut w, 1_700_000_001_000, 1, &[1; 4096]);
    let mkv = w.into_bytes();
    let mut live = Live::open(&kvs, "s").await;
    // The header and the Cluster's first 40 bytes: its id, size and Timecode.
    live.send(mkv.slice(..header_len + 40)).await;
    // Before, BUFFERING came only with the whole Cluster: this waited forever.
    let first =
        tokio::time::timeout(Duration::from_secs(30), live.next()).await.expect("BUFFERING came").unwrap();
    assert_eq!(
        (first["EventType"].as_str(), first["FragmentTimecode"].as_i64()),
        (Some("BUFFERING"), Some(1_700_000_001_000))
    );
    live.send(mkv.slice(header_len + 40..)).await;
    live.end();
    let mut rest = Vec::new();
    while let Some(event) = live.next().await {
        rest.push(event);
    }
    assert_eq!(kinds(&rest), ["RECEIVED", "PERSISTED"]);
    kvs.shutdown().await;
}

#[tokio::test]
async fn idle_acknowledgements_come_while_nothing_arrives_then_the_upload_ends() {
    let kvs = LocalKvs::start(Config {
        put_media_idle_ack: Duration::from_millis(50),
        put_media_idle_timeout: Duration::from_millis(400),
        ..config()
    })
    .await
    .unwrap();
    kvs.create_stream("s").unwrap();
    let mut live = Live::open(&kvs, "s").await;
    let mut events = Vec::new();
    // The body stays open and silent: only the server can end this response.
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = live.next().await {
            events.push(event);
        }
    });
    ended.await.expect("the idle upload was ended");
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["EventType"] == "IDLE"), "{events:?}");
    live.end();
    kvs.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_put_media_and_the_control_plane() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    kvs.set_faults(
        "s",
        Faults { refuse_next_put_media: Some((1, RefuseWith::ServiceUnavailable)), ..Faults::default() },
    );
    let (status, _) = put_media(&kvs, "s", camera_mkv(1), 4096, Sign::None).await;
    assert_eq!(status, 503);
    kvs.set_faults(
        "s",
        Faults { put_media_error_after: Some((2, PutMediaErrorId::ArchivalError)), ..Faults::default() },
    );
    let (status, events) = put_media(&kvs, "s", camera_mkv(4), 4096, Sign::None).await;
    assert_eq!((status, persisted(&events).len(), error_id(&events)), (200, 2, 5001));
    assert_eq!(stored(&kvs, "s").await, 2);

    kvs.set_faults(
        "s",
        Faults { refuse_next_control: Some((1, RefuseWith::NotAuthorized)), ..Faults::default() },
    );
    let client = control(&kvs);
    let refused = client.describe_stream().stream_name("s").send().await.unwrap_err();
    assert_eq!(error_of(&refused), ("NotAuthorizedException".into(), 401));
    client.describe_stream().stream_name("s").send().await.unwrap();
    kvs.shutdown().await;
}

#[tokio::test]
async fn more_than_five_put_media_calls_a_second_are_refused() {
    let kvs = LocalKvs::start(Config { put_media_tps: 5, ..config() }).await.unwrap();
    kvs.create_stream("s").unwrap();
    // The sixth call within a second is refused; should the machine stall for a second, a
    // later one is.
    let mut refused = None;
    for i in 0..50 {
        let (status, events) = put_media(&kvs, "s", camera_mkv(1), 4096, Sign::None).await;
        if status != 200 {
            refused = Some((i, status));
            break;
        }
        assert_eq!(persisted(&events).len(), 1);
    }
    let (index, status) = refused.expect("no call was refused");
    assert!(index >= 5, "refused after {index} calls");
    assert_eq!(status, 400);
    kvs.shutdown().await;
}

async fn signed_server() -> LocalKvs {
    LocalKvs::start(Config { credentials: Some(Credentials::new(KEY_ID, SECRET)), ..config() }).await.unwrap()
}

#[tokio::test]
async fn with_credentials_only_good_signatures_pass() {
    let kvs = signed_server().await;
    let good = control_as(&kvs, KEY_ID, SECRET);
    good.create_stream().stream_name("cam").send().await.unwrap();

    let wrong_secret = control_as(&kvs, KEY_ID, "not-the-secret")
        .describe_stream()
        .stream_name("cam")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&wrong_secret), ("InvalidSignatureException".into(), 403));
    let wrong_key =
        control_as(&kvs, "AKIDOTHER", SECRET).describe_stream().stream_name("cam").send().await.unwrap_err();
    assert_eq!(error_of(&wrong_key), ("UnrecognizedClientException".into(), 403));

    let (status, events) = put_media(&kvs, "cam", camera_mkv(2), 4096, Sign::Unsigned(KEY_ID, SECRET)).await;
    let numbers = persisted(&events);
    assert_eq!((status, numbers.len()), (200, 2));
    let (status, _) = put_media(&kvs, "cam", camera_mkv(1), 4096, Sign::Unsigned(KEY_ID, "bad")).await;
    assert_eq!(status, 403);
    let (status, _) = put_media(&kvs, "cam", camera_mkv(1), 4096, Sign::None).await;
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

#[tokio::test]
async fn a_put_media_body_other_than_the_signed_one_is_refused_and_not_stored() {
    let kvs = signed_server().await;
    kvs.create_stream("cam").unwrap();
    let signed = camera_mkv(2);
    let sent = camera_mkv(3);
    let (status, events) = put_media(&kvs, "cam", sent, 4096, Sign::Hashed(KEY_ID, SECRET, &signed)).await;
    assert_eq!((status, events.len()), (403, 1), "{events:?}");
    assert_eq!(stored(&kvs, "cam").await, 0);
    // The body it was signed for passes.
    let (status, events) =
        put_media(&kvs, "cam", signed.clone(), 4096, Sign::Hashed(KEY_ID, SECRET, &signed)).await;
    assert_eq!((status, persisted(&events).len()), (200, 2));
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_put_media_signed_without_the_hash_header_passes() {
    // botocore's SigV4Auth hashes the body into the signature and sends no
    // x-amz-content-sha256.
    let kvs = signed_server().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(2);
    let (status, events) =
        put_media(&kvs, "cam", mkv.clone(), 4096, Sign::NoHeader(KEY_ID, SECRET, &mkv)).await;
    assert_eq!((status, persisted(&events).len()), (200, 2));
    let (status, _) = put_media(&kvs, "cam", camera_mkv(1), 4096, Sign::NoHeader(KEY_ID, SECRET, &mkv)).await;
    assert_eq!(status, 403);
    kvs.shutdown().await;
}

/// A raw control-plane call, signed as `sign` says; the status and error type.
async fn raw_control(kvs: &LocalKvs, path: &str, body: &'static [u8], sign: Sign<'_>) -> (u16, String) {
    let uri = format!("{}{path}", kvs.endpoint_url());
    let mut request = hyper::Request::post(&uri)
        .header("host", kvs.endpoint_url().trim_start_matches("http://"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(http_body_util::Full::new(Bytes::from_static(body)))
        .unwrap();
    sign_request(&mut request, sign);
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get("x-amzn-errortype").map_or("", |v| v.to_str().unwrap()).to_owned();
    (status, kind.split(':').next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn control_calls_must_sign_their_body_hash() {
    let kvs = signed_server().await;
    kvs.create_stream("a").unwrap();
    kvs.create_stream("b").unwrap();
    let body = br#"{"StreamName":"b"}"#;
    let unsigned = raw_control(&kvs, "/deleteStream", body, Sign::Unsigned(KEY_ID, SECRET)).await;
    assert_eq!(unsigned, (403, "InvalidSignatureException".to_owned()));
    let swapped =
        raw_control(&kvs, "/deleteStream", body, Sign::Hashed(KEY_ID, SECRET, br#"{"StreamName":"a"}"#))
            .await;
    assert_eq!(swapped, (403, "InvalidSignatureException".to_owned()));
    let no_header =
        raw_control(&kvs, "/deleteStream", body, Sign::NoHeader(KEY_ID, SECRET, br#"{"StreamName":"a"}"#))
            .await;
    assert_eq!(no_header, (403, "InvalidSignatureException".to_owned()));
    // Both streams are still there; the body signed is the one that acts.
    assert_eq!(stream_names(&control_as(&kvs, KEY_ID, SECRET)).await, ["a", "b"]);
    assert_eq!(raw_control(&kvs, "/deleteStream", body, Sign::Hashed(KEY_ID, SECRET, body)).await.0, 200);
    kvs.shutdown().await;
}
