//! Decode and export speed on 720p H.264 with a 2 s GOP (the synthetic camera at 15 fps,
//! 30 frames per fragment): every frame, every 10th, keyframes only, through openh264
//! and (feature `ffmpeg`) FFmpeg; RGB conversion (yuvutils-rs against openh264's own);
//! encoding one 720p frame: JPEG from its YUV planes against JPEG through RGB, PNG, and a
//! copy of the planes as the floor; export of every frame against every 10th, and
//! every frame written to files on 1 and 2 threads ([`FrameExporter`]).
//!
//! Run: `cargo bench -p kvs-media [--features ffmpeg] --bench decode -- --quick`. FFmpeg
//! runs single-threaded, like openh264, so the two compare per frame.

use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvs_media::{BackendKind, FrameDecoder, FrameExporter, ImageFormat, Selection, VideoOptions};
use kvs_mkv::Fragment;

const FRAMES: u64 = 60;

fn clip() -> Fragment {
    let config = kvs_local::camera::CameraConfig {
        width: 1280,
        height: 720,
        fps: 15,
        frames_per_fragment: 30,
        ..Default::default()
    };
    let stream = kvs_local::camera::encode_at(&config, FRAMES, 1_700_000_000_000).expect("camera encodes");
    Fragment::from_bytes(stream).expect("camera stream parses")
}

fn selections() -> [(&'static str, Selection); 3] {
    [
        ("every_frame", Selection::All),
        ("every_10th", Selection::EveryNth(NonZeroUsize::new(10).expect("non-zero"))),
        ("keyframes", Selection::Keyframes),
    ]
}

fn backends() -> Vec<(&'static str, BackendKind)> {
    vec![
        ("openh264", BackendKind::OpenH264),
        #[cfg(feature = "ffmpeg")]
        ("ffmpeg", BackendKind::Ffmpeg),
    ]
}

fn decode(c: &mut Criterion) {
    let fragment = clip();
    let mut group = c.benchmark_group("decode_720p");
    group.sample_size(10);
    // Frames of the clip per second of decoding, whatever the selection.
    group.throughput(Throughput::Elements(FRAMES));
    for (backend_name, backend) in backends() {
        for (name, selection) in selections() {
            group.bench_function(format!("{backend_name}/{name}"), |b| {
                b.iter(|| {
                    let mut options = VideoOptions::with_selection(selection.clone());
                    options.backend = backend;
                    let decoded = FrameDecoder::new(options).decode(&fragment).expect("decodes");
                    black_box(decoded.frames.len())
                })
            });
        }
    }
    group.finish();
}

fn export(c: &mut Criterion) {
    let fragment = clip();
    let mut group = c.benchmark_group("jpeg_export_720p");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FRAMES));
    for (name, selection) in selections().into_iter().take(2) {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut bytes = 0;
                FrameDecoder::new(VideoOptions::with_selection(selection.clone()))
                    .decode_with(&fragment, |p| {
                        bytes += p.encode(ImageFormat::Jpeg { quality: 85 }).expect("encodes").len()
                    })
                    .expect("decodes");
                black_box(bytes)
            })
        });
    }
    // Decoding and encoding on worker threads, every frame to a file.
    let dir = tempfile::tempdir().expect("a temporary directory");
    for threads in [1, 2] {
        group.bench_function(format!("files_{threads}_threads"), |b| {
            let threads = NonZeroUsize::new(threads).expect("non-zero");
            let format = ImageFormat::Jpeg { quality: 85 };
            b.iter(|| {
                let mut exporter = FrameExporter::new(VideoOptions::default(), format, dir.path(), threads);
                let mut reports = exporter.submit(fragment.clone());
                reports.extend(exporter.flush());
                black_box(reports.iter().map(|r| r.written).sum::<u64>())
            })
        });
    }
    group.finish();
}

fn still(c: &mut Criterion) {
    let fragment = clip();
    let mut decoder = FrameDecoder::new(VideoOptions::with_selection(Selection::Keyframes));
    let mut first = None;
    decoder
        .decode_with(&fragment, |p| {
            if first.is_none() {
                first = Some((p.yuv().to_packed(), p.colour(), p.to_rgb().expect("converts")));
            }
        })
        .expect("decodes");
    let (yuv, _colour, rgb) = first.expect("one keyframe");
    let (w, h) = (1280usize, 720usize);
    let (y, rest) = yuv.split_at(w * h);
    let (u, v) = rest.split_at(w * h / 4);

    let mut group = c.benchmark_group("frame_720p");
    group.sample_size(20);
    let planes = kvs_media::YuvPlanes { width: w, height: h, y, u, v, strides: (w, w / 2, w / 2) };
    let jpeg = ImageFormat::Jpeg { quality: 85 };
    // The floor: copying the planes, as the exporter does to hand a picture to an encoder.
    group.bench_function("copy_planes", |b| b.iter(|| black_box(planes.to_packed().len())));
    group.bench_function("jpeg_encode_q85", |b| {
        b.iter(|| black_box(kvs_media::encode_image(&rgb, jpeg).expect("encodes").len()))
    });
    for (name, matrix) in [("bt601", kvs_media::Matrix::Bt601), ("bt709", kvs_media::Matrix::Bt709)] {
        let colour = kvs_media::Colour { matrix, full_range: false };
        group.bench_function(format!("jpeg_q85_from_yuv_{name}"), |b| {
            b.iter(|| black_box(kvs_media::encode_yuv(&planes, colour, jpeg).expect("encodes").len()))
        });
        group.bench_function(format!("jpeg_q85_through_rgb_{name}"), |b| {
            b.iter(|| {
                let rgb = planes.to_rgb(colour).expect("converts");
                black_box(kvs_media::encode_image(&rgb, jpeg).expect("encodes").len())
            })
        });
    }
    let colour = kvs_media::Colour { matrix: kvs_media::Matrix::Bt709, full_range: false };
    group.bench_function("png_fast_from_yuv", |b| {
        b.iter(|| black_box(kvs_media::encode_yuv(&planes, colour, ImageFormat::Png).expect("encodes").len()))
    });
    let mut out = vec![0u8; w * h * 3];
    group.bench_function("rgb_yuvutils_bt601", |b| {
        b.iter(|| {
            let planes = kvs_media::YuvPlanes { width: w, height: h, y, u, v, strides: (w, w / 2, w / 2) };
            let colour = kvs_media::Colour { matrix: kvs_media::Matrix::Bt601, full_range: false };
            planes.write_rgb(colour, &mut out).expect("converts");
            black_box(out[0])
        })
    });
    // openh264's own conversion (BT.601 limited only) works on its decoder's output: decode
    // the first frame, which carries SPS and PPS in-band, as Annex B.
    let payload = &fragment.frames().expect("frames")[0].payload;
    let mut annex_b = Vec::new();
    kvs_h264::avcc_to_annex_b(payload, kvs_h264::LengthSize::FOUR, &mut annex_b).expect("AVCC");
    let mut h264 = openh264::decoder::Decoder::new().expect("decoder");
    let picture = h264.decode(&annex_b).expect("decodes").expect("a picture");
    group.bench_function("rgb_openh264_bt601", |b| {
        b.iter(|| {
            picture.write_rgb8(&mut out);
            black_box(out[0])
        })
    });
    group.finish();
}

criterion_group!(benches, decode, export, still);
criterion_main!(benches);
