//! The FFmpeg backend (feature `ffmpeg`): openh264 and FFmpeg give the same YUV for the
//! same H.264, B-frames included, and for the renderer capture with its frame_num gap; H.265 decodes to exactly what the ffmpeg tool decodes;
//! AAC becomes PCM. Clips are made in the test with Debian's ffmpeg (libx264, libx265).

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use kvs_media::{BackendKind, FrameDecoder, VideoOptions, WavWriter, audio_tracks};
use kvs_mkv::Fragment;

use crate::util::{camera, fragments_of, samples_dir};

/// Every handed-out picture of each fragment as (index, timestamp, packed YUV).
fn yuv_of(backend: BackendKind, fragments: &[Fragment]) -> Vec<(usize, i64, Vec<u8>)> {
    let mut options = VideoOptions::default();
    options.backend = backend;
    let mut decoder = FrameDecoder::new(options);
    let mut out = Vec::new();
    for f in fragments {
        let errors = decoder
            .decode_with(f, |p| out.push((p.info().index, p.info().timestamp_ns, p.yuv().to_packed())))
            .unwrap();
        assert!(errors.is_empty(), "{backend:?}: {errors:?}");
    }
    out
}

/// Runs Debian's ffmpeg tool (installed by .ci/ffmpeg.sh).
fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("the ffmpeg tool (apt-get install ffmpeg; see .ci/ffmpeg.sh)");
    assert!(status.success(), "ffmpeg {args:?}");
}

fn one_fragment(path: &Path) -> Fragment {
    Fragment::from_bytes(Bytes::from(std::fs::read(path).unwrap())).unwrap()
}

#[test]
fn openh264_and_ffmpeg_give_identical_yuv_for_the_camera() {
    let cam = camera(320, 240, 15, 30);
    let fragments = cam.fragments(15);
    let a = yuv_of(BackendKind::OpenH264, &fragments);
    let b = yuv_of(BackendKind::Ffmpeg, &fragments);
    assert_eq!(a.len(), 30);
    assert!(a == b, "the two decoders differ");
}

#[test]
fn b_frames_come_out_in_presentation_order_from_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("b.mkv");
    let clip_str = clip.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25",
        "-frames:v",
        "40",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "20",
        "-pix_fmt",
        "yuv420p",
        "-x264-params",
        "log-level=error",
        clip_str,
    ]);
    let fragment = one_fragment(&clip);
    let frames = fragment.frames().unwrap();
    assert!(
        frames.windows(2).any(|w| w[1].timestamp_ns < w[0].timestamp_ns),
        "the clip has reordered frames"
    );
    let a = yuv_of(BackendKind::OpenH264, std::slice::from_ref(&fragment));
    let b = yuv_of(BackendKind::Ffmpeg, std::slice::from_ref(&fragment));
    assert_eq!(a.len(), 40);
    assert!(a.windows(2).all(|w| w[0].1 < w[1].1 && w[0].0 + 1 == w[1].0), "presentation order");
    assert!(a == b, "the two decoders differ");
}

#[test]
fn h265_decodes_to_what_the_ffmpeg_tool_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("hevc.mkv");
    let raw = dir.path().join("hevc.yuv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=192x128:rate=25",
        "-frames:v",
        "20",
        "-c:v",
        "libx265",
        "-pix_fmt",
        "yuv420p",
        "-x265-params",
        "log-level=error:keyint=10",
        clip.to_str().unwrap(),
    ]);
    ffmpeg(&["-i", clip.to_str().unwrap(), "-f", "rawvideo", "-pix_fmt", "yuv420p", raw.to_str().unwrap()]);
    let fragment = one_fragment(&clip);
    assert_eq!(fragment.tracks().unwrap()[0].codec_id, "V_MPEGH/ISO/HEVC");
    let ours: Vec<u8> =
        yuv_of(BackendKind::Ffmpeg, &[fragment]).into_iter().flat_map(|(_, _, yuv)| yuv).collect();
    let expected = std::fs::read(&raw).unwrap();
    assert_eq!(expected.len(), 20 * 192 * 128 * 3 / 2);
    assert!(ours == expected, "H.265 pictures differ from the ffmpeg tool's");
}

/// The renderer capture skips frame_num 1 after each IDR although its SPS forbids gaps.
/// FFmpeg conceals the gap with a copy of the previous reference picture; openh264, given
/// an SPS rewritten to allow gaps, infers nothing and keeps the IDR as the reference. Both
/// predict from the same pixels, so every frame comes out the same.
#[test]
fn openh264_and_ffmpeg_give_identical_yuv_for_the_renderer_capture() {
    let Some(dir) = samples_dir() else { return };
    let bytes = std::fs::read(dir.join("kinesis_video_renderer_example_output.mkv")).unwrap();
    let fragments = fragments_of(Bytes::from(bytes));
    let a = yuv_of(BackendKind::OpenH264, &fragments);
    let b = yuv_of(BackendKind::Ffmpeg, &fragments);
    assert_eq!(a.len(), 444);
    assert_eq!(a[0].2.len(), 640 * 480 * 3 / 2);
    let differing: Vec<usize> =
        a.iter().zip(&b).enumerate().filter(|(_, (x, y))| x != y).map(|(i, _)| i).collect();
    assert_eq!((b.len(), differing), (444, vec![]), "frames where the two decoders differ");
}

#[test]
fn ffmpeg_conceals_the_frame_num_gap_of_clusters_mkv() {
    let Some(dir) = samples_dir() else { return };
    let fragments = fragments_of(Bytes::from(std::fs::read(dir.join("clusters.mkv")).unwrap()));
    assert_eq!(yuv_of(BackendKind::Ffmpeg, &fragments).len(), 444);
}

#[test]
fn aac_audio_of_vogels_becomes_pcm() {
    let Some(dir) = samples_dir() else { return };
    let fragment = one_fragment(&dir.join("vogels_330.mkv"));
    let tracks = audio_tracks(&fragment).unwrap();
    assert_eq!(tracks.len(), 1);
    let track = &tracks[0];
    assert_eq!((track.track.codec_id.as_str(), track.frames.len()), ("A_AAC", 1425));
    let out = tempfile::tempdir().unwrap();
    let mut w = WavWriter::create(&out.path().join("a.wav"), &track.track).unwrap();
    for frame in &track.frames {
        w.write_frame(&frame.payload).unwrap();
    }
    assert_eq!(w.samples(), 1425 * 1024);
    let path = w.finish().unwrap();
    let reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (48_000, 2, 16));
    assert_eq!(reader.len(), 1425 * 1024 * 2);
}

/// openh264 cannot decode H.264 High 4:4:4 (tests/data/high444.mkv): with the feature,
/// FFmpeg takes the track over by itself, and every frame decodes (to 4:2:0).
#[test]
fn high_444_goes_to_ffmpeg_by_itself() {
    let fragments = crate::util::fixture_fragments("high444.mkv");
    let out = yuv_of(BackendKind::OpenH264, &fragments);
    assert_eq!(out.iter().map(|(index, _, _)| *index).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(out.iter().all(|(_, _, yuv)| yuv.len() == 64 * 48 * 3 / 2));
}
