//! Remuxing throughput: the fragments of a real capture (output_get_media.mkv: 5
//! fragments, 300 H.264 frames, 2.5 MB; synthetic fragments where it is absent) into
//! fragmented MP4 segments, a progressive MP4 and MPEG-TS segments, against a memcpy of
//! the same fragment bytes in the same run (the floor: every output copies each frame
//! once).
//!
//! Run: `cargo bench -p kvs-mux --bench mux -- --quick`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvs_mkv::{Event, Fragment, FragmentSplitter};
use kvs_mux::{ClipLimits, Remuxer};

fn fragments() -> Vec<Fragment> {
    if let Some(bytes) = kvs_samples::sample("output_get_media.mkv") {
        let mut splitter = FragmentSplitter::new();
        splitter.feed(bytes);
        splitter.finish();
        return std::iter::from_fn(|| splitter.poll())
            .filter_map(|e| match e {
                Event::Fragment(f) => Some(f),
                _ => None,
            })
            .collect();
    }
    eprintln!("benchmarking synthetic fragments");
    (0..5).map(|i| Fragment::from_bytes(kvs_mux::testing::fragment_bytes(i, 60, 94, 8000)).unwrap()).collect()
}

fn bench(c: &mut Criterion) {
    let fragments = fragments();
    let remuxer = Remuxer::for_fragment(&fragments[0]).expect("H.264 tracks");
    let total: usize = fragments.iter().map(|f| f.bytes().len()).sum();
    let mut group = c.benchmark_group("mux");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            for f in &fragments {
                black_box(f.bytes().to_vec());
            }
        })
    });
    group.bench_function("fmp4", |b| {
        b.iter(|| {
            for (i, f) in fragments.iter().enumerate() {
                black_box(remuxer.media_segment(i as u32 + 1, f, fragments.get(i + 1)).unwrap());
            }
        })
    });
    group
        .bench_function("clip", |b| b.iter(|| black_box(remuxer.clip(&fragments, ClipLimits::AWS).unwrap())));
    group.bench_function("ts", |b| {
        b.iter(|| {
            let mut ts = remuxer.ts_muxer();
            for f in &fragments {
                black_box(ts.segment(f).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
