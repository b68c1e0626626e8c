//! End-to-end benchmarks of kvs-consumer against `kvs-local` on loopback.
//!
//! - `throughput/*`: a whole read of 200 fragments (about 8 MB) from the local server
//!   through the SDK clients, the splitter and the queue, live (GetMedia) and archived
//!   (ListFragments + GetMediaForFragmentList). Criterion reports fragments/s and bytes/s.
//! - `latency/last_byte_to_item`: from writing the last byte of a fragment into a local
//!   byte source to the fragment coming out of the stream (the engine alone).
//! - `latency/ingest_to_item`: from a fragment being ingested by the local server to it
//!   coming out of a live stream that follows the server (HTTP included).
//!
//! Small enough for `cargo bench -p kvs-consumer -- --quick`.

use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvs_consumer::{Config, Consumer, FragmentStream, Source, StartSelector, StaticCredentials, TimeRange};
use kvs_local::LocalKvs;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

const FRAGMENTS: u64 = 200;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn config(kvs: &LocalKvs) -> Config {
    let mut config = Config::default();
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(kvs.endpoint_url());
    config.credentials = Some(StaticCredentials {
        access_key_id: "bench".into(),
        secret_access_key: "bench".into(),
        session_token: None,
    });
    config.min_request_interval = Duration::ZERO;
    config
}

async fn server() -> LocalKvs {
    let config = kvs_local::Config {
        idle_timeout: Duration::from_secs(60),
        get_media_tps: 1_000_000,
        get_media_connections: 1000,
        // The consumer's speed, not AWS's 25 MB/s per response.
        get_media_rate: None,
        ..Default::default()
    };
    LocalKvs::start(config).await.expect("local server")
}

/// `n` fragments of 30 frames of 1.3 kB (about 40 kB each), starting at index `first`.
fn fragments(first: u64, n: u64) -> bytes::Bytes {
    let mut out = Vec::new();
    for i in first..first + n {
        out.extend_from_slice(&kvs_mkv::testing::fragment(i, 30, 1300));
    }
    out.into()
}

/// Reads exactly `n` fragments, then stops.
async fn read(mut stream: FragmentStream, n: u64) -> u64 {
    let mut bytes = 0;
    for _ in 0..n {
        let fragment = stream.next().await.expect("a fragment").expect("no error");
        bytes += fragment.bytes().len() as u64;
    }
    bytes
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let kvs = rt.block_on(server());
    kvs.create_stream("bench").expect("stream");
    kvs.ingest_mkv("bench", fragments(0, FRAGMENTS)).expect("ingest");
    let total = rt.block_on(async {
        let source = Source::live("bench", StartSelector::Earliest);
        read(Consumer::with_config(source, config(&kvs)).stream().expect("stream"), FRAGMENTS).await
    });
    let mut group = c.benchmark_group("throughput");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(FRAGMENTS));
    group.bench_function("live_fragments", |b| {
        b.iter(|| {
            rt.block_on(async {
                let source = Source::live("bench", StartSelector::Earliest);
                read(Consumer::with_config(source, config(&kvs)).stream().expect("stream"), FRAGMENTS).await
            })
        })
    });
    group.throughput(Throughput::Bytes(total));
    group.bench_function("live_bytes", |b| {
        b.iter(|| {
            rt.block_on(async {
                let source = Source::live("bench", StartSelector::Earliest);
                read(Consumer::with_config(source, config(&kvs)).stream().expect("stream"), FRAGMENTS).await
            })
        })
    });
    group.throughput(Throughput::Elements(FRAGMENTS));
    group.bench_function("archive_fragments", |b| {
        b.iter(|| {
            rt.block_on(async {
                let now = SystemTime::now();
                let range =
                    TimeRange::server(now - Duration::from_secs(3600), now + Duration::from_secs(3600));
                let source = Source::archive("bench", range);
                read(Consumer::with_config(source, config(&kvs)).stream().expect("stream"), FRAGMENTS).await
            })
        })
    });
    group.finish();
    rt.block_on(kvs.shutdown());
}

fn latency(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("latency");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));

    // The engine alone: a local byte source fed by hand.
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let mut stream = {
        let _entered = rt.enter();
        Consumer::new(Source::reader(reader)).stream().expect("stream")
    };
    let mut next = 0u64;
    group.bench_function("last_byte_to_item", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let fragment = kvs_mkv::testing::fragment(next, 30, 1300);
                    next += 1;
                    let (body, last) = fragment.split_at(fragment.len() - 1);
                    writer.write_all(body).await.expect("write");
                    // Let the engine take in everything but the last byte.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let start = Instant::now();
                    writer.write_all(last).await.expect("write");
                    stream.next().await.expect("a fragment").expect("no error");
                    total += start.elapsed();
                }
                total
            })
        })
    });

    // The whole path: the local server ingests a fragment, a live reader follows it.
    let kvs = rt.block_on(server());
    kvs.create_stream("follow").expect("stream");
    let mut live = {
        let _entered = rt.enter();
        Consumer::with_config(Source::live("follow", StartSelector::Earliest), config(&kvs))
            .stream()
            .expect("stream")
    };
    // Make sure the GetMedia response is open before timing.
    kvs.ingest_mkv("follow", fragments(0, 1)).expect("ingest");
    rt.block_on(live.next()).expect("a fragment").expect("no error");
    let mut next = 1u64;
    group.bench_function("ingest_to_item", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let fragment = fragments(next, 1);
                    next += 1;
                    let start = Instant::now();
                    kvs.ingest_mkv("follow", fragment).expect("ingest");
                    live.next().await.expect("a fragment").expect("no error");
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
    drop(live);
    rt.block_on(kvs.shutdown());
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
