use std::time::Duration;

use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesisvideomedia::primitives::ByteStream;
use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use bytes::Bytes;
use kvs_local::camera::{CameraConfig, encode_at};
use kvs_local::{Config, LocalKvs};
use kvs_mkv::{AwsError, Event, Fragment, FragmentSplitter};

pub const KEY_ID: &str = "AKIDLOCALTEST";
pub const SECRET: &str = "local-secret";

/// A config for tests: short idle time, generous limits.
pub fn config() -> Config {
    Config {
        idle_timeout: Duration::from_millis(300),
        get_media_tps: 1000,
        get_media_connections: 100,
        put_media_tps: 1000,
        ..Config::default()
    }
}

pub async fn start() -> LocalKvs {
    LocalKvs::start(config()).await.unwrap()
}

fn http() -> aws_sdk_kinesisvideo::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

fn credentials(key: &str, secret: &str) -> Credentials {
    Credentials::new(key, secret, None, None, "tests")
}

pub fn control(kvs: &LocalKvs) -> aws_sdk_kinesisvideo::Client {
    control_as(kvs, KEY_ID, SECRET)
}

pub fn control_as(kvs: &LocalKvs, key: &str, secret: &str) -> aws_sdk_kinesisvideo::Client {
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials(key, secret))
        .endpoint_url(kvs.endpoint_url())
        .http_client(http())
        .retry_config(aws_sdk_kinesisvideo::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}

pub fn media(kvs: &LocalKvs) -> aws_sdk_kinesisvideomedia::Client {
    media_as(kvs, KEY_ID, SECRET)
}

pub fn media_as(kvs: &LocalKvs, key: &str, secret: &str) -> aws_sdk_kinesisvideomedia::Client {
    let config = aws_sdk_kinesisvideomedia::Config::builder()
        .behavior_version(aws_sdk_kinesisvideomedia::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideomedia::config::Region::new("us-east-1"))
        .credentials_provider(credentials(key, secret))
        .endpoint_url(kvs.endpoint_url())
        .http_client(http())
        .retry_config(aws_sdk_kinesisvideomedia::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideomedia::Client::from_conf(config)
}

pub fn archive(kvs: &LocalKvs) -> aws_sdk_kinesisvideoarchivedmedia::Client {
    let config = aws_sdk_kinesisvideoarchivedmedia::Config::builder()
        .behavior_version(aws_sdk_kinesisvideoarchivedmedia::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideoarchivedmedia::config::Region::new("us-east-1"))
        .credentials_provider(credentials(KEY_ID, SECRET))
        .endpoint_url(kvs.endpoint_url())
        .http_client(http())
        .retry_config(aws_sdk_kinesisvideoarchivedmedia::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(config)
}

pub fn selector(kind: StartSelectorType) -> StartSelector {
    StartSelector::builder().start_selector_type(kind).build().unwrap()
}

/// Reads a whole body.
pub async fn read_all(mut body: ByteStream) -> Bytes {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    Bytes::from(out)
}

/// A GetMedia call read to its end.
pub async fn get_media(kvs: &LocalKvs, stream: &str, selector: StartSelector) -> Bytes {
    read_all(open_get_media(kvs, stream, selector).await.payload).await
}

/// Opens a GetMedia response without reading its body (a live reader, for instance).
pub async fn open_get_media(
    kvs: &LocalKvs,
    stream: &str,
    selector: StartSelector,
) -> aws_sdk_kinesisvideomedia::operation::get_media::GetMediaOutput {
    let out = media(kvs).get_media().stream_name(stream).start_selector(selector).send().await.unwrap();
    assert_eq!(out.content_type(), Some("video/webm"));
    out
}

/// What a response body splits into.
#[derive(Debug, Default)]
pub struct Split {
    pub fragments: Vec<Fragment>,
    pub errors: Vec<AwsError>,
    /// Events in order: `Ok(fragment index)` or `Err(error index)`.
    pub order: Vec<Result<usize, usize>>,
}

impl Split {
    pub fn numbers(&self) -> Vec<String> {
        self.fragments.iter().map(|f| f.kvs().fragment_number.as_ref().unwrap().to_string()).collect()
    }
}

pub fn split(body: Bytes) -> Split {
    let mut splitter = FragmentSplitter::new();
    splitter.feed(body);
    splitter.finish();
    let mut out = Split::default();
    while let Some(event) = splitter.poll() {
        match event {
            Event::Fragment(f) => {
                out.order.push(Ok(out.fragments.len()));
                out.fragments.push(f);
            }
            Event::AwsError(e) => {
                out.order.push(Err(out.errors.len()));
                out.errors.push(e);
            }
            Event::Skipped(s) => panic!("skipped {} bytes: {}", s.len, s.reason),
            _ => {}
        }
    }
    out
}

/// A small camera stream: `fragments` fragments of 3 frames, 64x64.
pub fn camera_mkv(fragments: u64) -> Bytes {
    camera_mkv_at(fragments, 1_700_000_000_000)
}

/// As [`camera_mkv`], frame 0 at `start_ms`.
pub fn camera_mkv_at(fragments: u64, start_ms: i64) -> Bytes {
    let config =
        CameraConfig { width: 64, height: 64, fps: 30, frames_per_fragment: 3, ..Default::default() };
    encode_at(&config, fragments * 3, start_ms).unwrap()
}

/// The frame payloads of a producer stream, per Cluster.
pub fn producer_frames(mkv: &Bytes) -> Vec<Vec<Bytes>> {
    let mut reader = kvs_mkv::SegmentReader::new();
    reader.feed(mkv.clone());
    reader.finish();
    let mut header = Vec::new();
    let mut out = Vec::new();
    while let Some(item) = reader.poll() {
        match item.unwrap() {
            kvs_mkv::SegmentItem::EbmlHeader(e) => header = e.bytes.to_vec(),
            kvs_mkv::SegmentItem::Child(e) if e.id == kvs_mkv::ids::CLUSTER => {
                let mut w = kvs_mkv::EbmlWriter::new();
                w.raw(&header).unknown_size_master(kvs_mkv::ids::SEGMENT).raw(&e.bytes);
                let f = Fragment::from_bytes(w.into_bytes()).unwrap();
                out.push(f.frames().unwrap().into_iter().map(|fr| fr.payload).collect());
            }
            _ => {}
        }
    }
    out
}

pub fn frames_of(f: &Fragment) -> Vec<Bytes> {
    f.frames().unwrap().into_iter().map(|fr| fr.payload).collect()
}

/// The error code of an SDK error, and the HTTP status.
pub fn error_of<E, R>(e: &aws_sdk_kinesisvideo::error::SdkError<E, R>) -> (String, u16)
where
    E: aws_sdk_kinesisvideo::error::ProvideErrorMetadata,
    R: HasStatus,
{
    use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
    let code = e.code().unwrap_or("<none>").to_owned();
    let status = e.raw_response().map_or(0, HasStatus::status);
    (code, status)
}

pub trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_kinesisvideo::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Where the real captures are, if present.
pub use kvs_samples::samples_dir;

/// The names of the streams `client` lists (one page: the tests make fewer than 10,000).
pub async fn stream_names(client: &aws_sdk_kinesisvideo::Client) -> Vec<String> {
    client
        .list_streams()
        .send()
        .await
        .unwrap()
        .stream_info_list()
        .iter()
        .filter_map(|s| s.stream_name().map(str::to_owned))
        .collect()
}

/// Reads until the server closes the connection (end of stream or reset); panics if it
/// stays open a minute.
pub async fn closed_by_server(tcp: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let read_to_end = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read_to_end)
        .await
        .expect("the server closed the connection");
}
