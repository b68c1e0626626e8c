//! A local KVS server for tests, and a consumer [`Config`] that points at it.

use std::time::Duration;

use bytes::Bytes;
use kvs_consumer::{Config, Error, Fragment, FragmentNumber, FragmentStream, RetryPolicy, StaticCredentials};
use kvs_local::LocalKvs;

/// A server whose live responses end after `idle` with nothing new, with the per-stream
/// limits lifted so that fast retries are not throttled (throttling is tested apart).
pub async fn server(idle: Duration) -> LocalKvs {
    let config = kvs_local::Config {
        idle_timeout: idle,
        get_media_tps: 100_000,
        get_media_connections: 100,
        ..Default::default()
    };
    LocalKvs::start(config).await.expect("local server starts")
}

/// A consumer configuration for `kvs`: region, endpoint, dummy credentials, fast retries.
pub fn config(kvs: &LocalKvs) -> Config {
    let mut config = Config::default();
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(kvs.endpoint_url());
    config.credentials = Some(StaticCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    });
    config.retry = RetryPolicy::new(Duration::from_millis(2), Duration::from_millis(20), 50);
    config.min_request_interval = Duration::from_millis(1);
    config
}

/// A stream named `name` holding `n` small synthetic fragments; returns their numbers.
pub fn stream_with(kvs: &LocalKvs, name: &str, n: u64) -> Vec<FragmentNumber> {
    kvs.create_stream(name).unwrap();
    let numbers = kvs.ingest_mkv(name, kvs_mkv::testing::stream_of(n)).unwrap();
    assert_eq!(numbers.len() as u64, n);
    numbers
}

/// Every item of a stream until it ends (bounded: a hang fails instead of blocking CI).
pub async fn drain(mut stream: FragmentStream) -> Vec<Result<Fragment, Error>> {
    let mut items = Vec::new();
    let all = async {
        while let Some(item) = stream.next().await {
            items.push(item);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("the stream ends");
    items
}

/// The first `n` items of a stream, then stops it.
pub async fn take(stream: &mut FragmentStream, n: usize) -> Vec<Result<Fragment, Error>> {
    let mut items = Vec::new();
    let some = async {
        while items.len() < n {
            match stream.next().await {
                Some(item) => items.push(item),
                None => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), some).await.expect("items arrive");
    items
}

/// The fragments of `items`, panicking on any error.
pub fn fragments(items: Vec<Result<Fragment, Error>>) -> Vec<Fragment> {
    items.into_iter().map(|i| i.expect("a fragment, not an error")).collect()
}

/// Fragment numbers of fragments.
pub fn numbers(fragments: &[Fragment]) -> Vec<FragmentNumber> {
    fragments.iter().map(|f| f.kvs().fragment_number.clone().expect("a fragment number")).collect()
}

/// Bytes of fragments.
pub fn bytes(fragments: &[Fragment]) -> Vec<Bytes> {
    fragments.iter().map(|f| f.bytes().clone()).collect()
}

/// Bytes of fragments up to their trailing Tags, which hold MILLIS_BEHIND_NOW: the only
/// part that differs from one read of a live stream to the next.
pub fn media_bytes(fragments: &[Fragment]) -> Vec<Bytes> {
    fragments
        .iter()
        .map(|f| {
            let tree = f.tree();
            let tags = tree.find_all("Tags");
            let trailing = tags.last().expect("trailing tags");
            let cluster = tree.find("Cluster").expect("a Cluster");
            assert!(trailing.offset() > cluster.offset(), "the last Tags follow the Cluster");
            f.bytes().slice(..trailing.offset() as usize)
        })
        .collect()
}

/// Asserts that two sequences are equal, reporting lengths and the first difference only
/// (whole fragments make unreadable panics).
pub fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at {i} of {}/{}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            got[i],
            want[i]
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
}
