//! A local KVS server, producer and consumer configurations pointing at it, and reading
//! back what a stream holds.

use std::time::Duration;

use bytes::Bytes;
use kvs_consumer::{Consumer, Fragment, Source, StartSelector, StaticCredentials};
use kvs_local::LocalKvs;
use kvs_producer::{Config, RetryPolicy};

/// A server whose live GetMedia responses end soon after the last fragment.
pub async fn server() -> LocalKvs {
    server_with(kvs_local::Config::default()).await
}

/// A server from `config`, with a short idle end.
pub async fn server_with(config: kvs_local::Config) -> LocalKvs {
    let config = kvs_local::Config { idle_timeout: Duration::from_millis(300), ..config };
    LocalKvs::start(config).await.expect("local server starts")
}

fn credentials() -> StaticCredentials {
    StaticCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    }
}

/// A producer configuration for `kvs`: fast retries (that still outlast PutMedia's 5 calls
/// a second), no pacing, a fixed start time.
pub fn config(endpoint: &str) -> Config {
    let mut config = Config::default();
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(endpoint.to_owned());
    config.credentials = Some(credentials());
    config.retry = RetryPolicy::new(Duration::from_millis(10), Duration::from_millis(250), 30);
    config.min_fragment_interval = Duration::ZERO;
    config.producer_start = Some(std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000));
    config
}

/// Every fragment of `stream`, GetMedia EARLIEST up to the live edge.
pub async fn read_back(endpoint: &str, stream: &str) -> Vec<Fragment> {
    let mut config = kvs_consumer::Config::default();
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(endpoint.to_owned());
    config.credentials = Some(credentials());
    config.until_caught_up = true;
    let mut fragments = Consumer::with_config(Source::live(stream, StartSelector::Earliest), config)
        .stream()
        .expect("the read starts");
    let mut out = Vec::new();
    let all = async {
        while let Some(item) = fragments.next().await {
            out.push(item.expect("a fragment"));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("the read ends");
    out
}

/// (track, keyframe, payload) of every frame of `fragments`, in order.
pub fn frames(fragments: &[Fragment]) -> Vec<(u64, bool, Bytes)> {
    fragments
        .iter()
        .flat_map(|f| f.frames().expect("whole frames"))
        .map(|f| (f.track, f.keyframe, f.payload))
        .collect()
}

/// The frames of an MKV file or stream held whole, read with kvs-mkv's splitter.
pub fn frames_of(mkv: &Bytes) -> Vec<(u64, bool, Bytes)> {
    let mut splitter = kvs_mkv::FragmentSplitter::new();
    splitter.feed(mkv.clone());
    splitter.finish();
    let mut out = Vec::new();
    while let Some(event) = splitter.poll() {
        if let kvs_mkv::Event::Fragment(f) = event {
            out.extend(
                f.frames().expect("whole frames").into_iter().map(|f| (f.track, f.keyframe, f.payload)),
            );
        }
    }
    out
}

/// A sample capture from kvs-samples, or `None` (with a note) where they are absent.
pub fn sample(name: &str) -> Option<Bytes> {
    let dir = kvs_samples::samples_dir()?;
    Some(Bytes::from(std::fs::read(dir.join(name)).expect("sample readable")))
}
