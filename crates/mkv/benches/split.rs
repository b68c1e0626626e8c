//! Splitting throughput: a >= 200 MB stream fed in 1 KiB and 64 KiB chunks, against a
//! memcpy of the same bytes in the same run (the floor no parser can beat).
//!
//! The stream is the real captures concatenated (synthetic fragments where they are
//! absent). `KVS_BENCH_MB` changes its size (CI's quick mode uses a smaller one).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kvs_mkv::{Event, FragmentSplitter};

fn stream() -> Bytes {
    let target_mb: usize = std::env::var("KVS_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut unit = Vec::new();
    for name in ["output_get_media.mkv", "kinesis_video_renderer_example_output.mkv", "test_mixed_tags.mkv"] {
        if let Some(bytes) = kvs_samples::sample(name) {
            unit.extend_from_slice(&bytes);
        }
    }
    if unit.is_empty() {
        eprintln!("no captures: benchmarking synthetic fragments");
        for i in 0..8 {
            unit.extend_from_slice(&kvs_mkv::testing::fragment(i, 60, 8000));
        }
    }
    let mut out = Vec::with_capacity(target_mb << 20);
    while out.len() < target_mb << 20 {
        out.extend_from_slice(&unit);
    }
    Bytes::from(out)
}

fn split(stream: &Bytes, chunk: usize) -> usize {
    let mut splitter = FragmentSplitter::new();
    let mut fragments = 0;
    for start in (0..stream.len()).step_by(chunk) {
        splitter.feed(stream.slice(start..(start + chunk).min(stream.len())));
        while let Some(event) = splitter.poll() {
            fragments += usize::from(matches!(event, Event::Fragment(_)));
        }
    }
    splitter.finish();
    while let Some(event) = splitter.poll() {
        fragments += usize::from(matches!(event, Event::Fragment(_)));
    }
    fragments
}

fn bench(c: &mut Criterion) {
    let stream = stream();
    let mut group = c.benchmark_group("split");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(10);
    group.bench_function("memcpy", |b| {
        let mut dst = vec![0u8; stream.len()];
        b.iter(|| {
            dst.copy_from_slice(&stream);
            black_box(&dst);
        })
    });
    for chunk in [1 << 10, 64 << 10] {
        // The copy the splitter makes when fragments span chunks, alone: the same bytes,
        // the same chunks, into a fragment-sized buffer. Small copies cost more per byte.
        group.bench_with_input(BenchmarkId::new("memcpy_chunks", chunk), &chunk, |b, &chunk| {
            let mut dst = Vec::with_capacity(1 << 20);
            b.iter(|| {
                for piece in stream.chunks(chunk) {
                    if dst.len() + piece.len() > dst.capacity() {
                        black_box(&dst);
                        dst.clear();
                    }
                    dst.extend_from_slice(piece);
                }
                black_box(&dst);
            })
        });
        group.bench_with_input(BenchmarkId::new("chunks", chunk), &chunk, |b, &chunk| {
            b.iter(|| black_box(split(&stream, chunk)))
        });
    }
    group.bench_function("whole", |b| b.iter(|| black_box(split(&stream, stream.len()))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
