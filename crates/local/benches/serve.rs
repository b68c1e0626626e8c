//! Throughput of the server's hot paths: cutting a producer stream into fragments, the
//! camera's encoder, and a GetMedia response over loopback HTTP.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kvs_local::camera::{CameraConfig, encode_at};
use kvs_local::{Config, LocalKvs};

fn producer_stream() -> Bytes {
    let config = CameraConfig { width: 320, height: 240, frames_per_fragment: 15, ..Default::default() };
    encode_at(&config, 150, 1_700_000_000_000).expect("camera")
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let kvs = runtime.block_on(LocalKvs::start(Config::default())).expect("server");
    let mkv = producer_stream();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Bytes(mkv.len() as u64));
    let mut n = 0u64;
    group.bench_function("ingest_mkv 10 fragments", |b| {
        b.iter(|| {
            n += 1;
            let stream = format!("s{n}");
            kvs.create_stream(&stream).expect("create");
            black_box(kvs.ingest_mkv(&stream, mkv.clone()).expect("ingest"));
            kvs.delete_stream(&stream).expect("delete");
        })
    });
    group.finish();
    runtime.block_on(kvs.shutdown());
}

fn camera(c: &mut Criterion) {
    let mut group = c.benchmark_group("camera");
    group.sample_size(10);
    group.throughput(Throughput::Elements(30));
    let config = CameraConfig { width: 320, height: 240, frames_per_fragment: 15, ..Default::default() };
    group.bench_function("encode 30 frames 320x240", |b| {
        b.iter(|| black_box(encode_at(&config, 30, 0).expect("camera")))
    });
    group.finish();
}

fn get_media(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let kvs = runtime
        .block_on(LocalKvs::start(Config {
            get_media_tps: 1_000_000,
            // The server's own speed, not AWS's 25 MB/s per response.
            get_media_rate: None,
            ..Config::default()
        }))
        .expect("server");
    kvs.create_stream("bench").expect("create");
    kvs.ingest_mkv("bench", producer_stream()).expect("ingest");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let uri = format!("{}/getMedia", kvs.endpoint_url());
    let request = || {
        hyper::Request::post(&uri)
            .body(Full::new(Bytes::from_static(
                br#"{"StreamName":"bench","StartSelector":{"StartSelectorType":"EARLIEST"}}"#,
            )))
            .expect("request")
    };
    // GetMedia waits for the idle time at the end: cut the body after the 10 fragments.
    kvs.set_faults("bench", kvs_local::Faults { cut_after_fragments: Some(10), ..Default::default() });
    let len = runtime.block_on(async {
        let response = client.request(request()).await.expect("response");
        response.into_body().collect().await.expect("body").to_bytes().len()
    });
    let mut group = c.benchmark_group("get_media");
    group.throughput(Throughput::Bytes(len as u64));
    group.bench_function("EARLIEST 10 fragments over HTTP", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = client.request(request()).await.expect("response");
                black_box(response.into_body().collect().await.expect("body").to_bytes())
            })
        })
    });
    group.finish();
    runtime.block_on(kvs.shutdown());
}

criterion_group!(benches, ingest, camera, get_media);
criterion_main!(benches);
