//! `kvs consume --frames-out` as a user runs it: the binary on a real capture and on a
//! synthetic camera stream, checking that exactly the selected frames are written, named
//! `<fragment number>-<frame index>.<ext>`.

use std::process::Command;

use kvs_mkv::{Event, Fragment, FragmentSplitter, TrackKind};

use crate::util::names_in;

fn kvs(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kvs")).args(args).output().expect("kvs runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn fragments(stream: bytes::Bytes) -> Vec<Fragment> {
    let mut splitter = FragmentSplitter::new();
    splitter.feed(stream);
    splitter.finish();
    std::iter::from_fn(|| splitter.poll())
        .filter_map(|event| match event {
            Event::Fragment(fragment) => Some(fragment),
            _ => None,
        })
        .collect()
}

/// The names `--every n` must produce: frames 0, n, 2n... of each fragment's first video
/// track, under the fragment's number (its position when it has none).
fn expected_names(fragments: &[Fragment], n: usize, ext: &str) -> Vec<String> {
    let mut names = Vec::new();
    for fragment in fragments {
        let tracks = fragment.tracks().unwrap();
        let video = tracks.iter().find(|t| t.kind == TrackKind::Video).unwrap().number;
        let count = fragment.frames().unwrap().iter().filter(|f| f.track == video).count();
        let prefix =
            fragment.kvs().fragment_number.as_ref().map_or(fragment.index().to_string(), |n| n.to_string());
        names.extend((0..count).step_by(n).map(|i| format!("{prefix}-{i}.{ext}")));
    }
    names.sort();
    names
}

#[test]
fn consume_writes_every_nth_frame_of_a_real_capture() {
    let Some(dir) = kvs_samples::samples_dir() else { return };
    let path = dir.join("output_get_media.mkv");
    let Some(stream) = kvs_samples::sample("output_get_media.mkv") else { return };
    let expected = expected_names(&fragments(stream), 20, "jpg");
    assert_eq!(expected.len(), 15);
    assert!(expected.contains(&"91343852333181432392682062607743920146159169392-40.jpg".to_owned()));

    let out = tempfile::tempdir().unwrap();
    let frames = out.path().join("frames");
    let (ok, stderr) = kvs(&[
        "consume",
        "--input",
        path.to_str().unwrap(),
        "--json",
        "--frames-out",
        frames.to_str().unwrap(),
        "--every",
        "20",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(names_in(&frames), expected);
    assert!(stderr.contains("15 images in"), "{stderr}");
    let jpeg = std::fs::read(frames.join(&expected[0])).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
}

#[test]
fn consume_writes_every_nth_frame_of_a_camera_stream_as_png() {
    let config =
        kvs_local::CameraConfig { width: 64, height: 48, frames_per_fragment: 7, ..Default::default() };
    // `encode` films one Segment, one fragment to the splitter: three make three fragments.
    let one = kvs_local::camera::encode(&config, 7);
    let stream = bytes::Bytes::from([&one[..], &one[..], &one[..]].concat());
    let expected = expected_names(&fragments(stream.clone()), 3, "png");
    assert_eq!(expected.len(), 9);
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("camera.mkv");
    std::fs::write(&input, &stream).unwrap();
    let frames = out.path().join("frames");
    let (ok, stderr) = kvs(&[
        "consume",
        "--input",
        input.to_str().unwrap(),
        "--frames-out",
        frames.to_str().unwrap(),
        "--every",
        "3",
        "--format",
        "png",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(names_in(&frames), expected);
    let png = std::fs::read(frames.join(&expected[0])).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
}

#[test]
fn consume_without_frames_out_refuses_frame_options() {
    let (ok, stderr) = kvs(&["consume", "--input", "-", "--keyframes"]);
    assert!(!ok);
    assert!(stderr.contains("--frames-out"), "{stderr}");
}
