//! `kvs frames` on a capture that concatenates streams of several codecs: fragments this
//! build cannot decode are skipped with one warning naming the codec, the others are
//! saved; a capture with nothing decodable fails, saying why. `kvs consume --frames-out`
//! counts the fragments it skipped so.

use std::path::Path;
use std::process::Command;

use kvs_mkv::{EbmlWriter, ids};

use crate::util::names_in;

/// The codec of the fragments nothing decodes (a Video for Windows FourCC in MKV).
const UNDECODABLE: &str = "V_MS/VFW/FOURCC";

/// A fragment whose one video track has codec [`UNDECODABLE`], with three frames.
fn undecodable_fragment(i: u64) -> Vec<u8> {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska");
    w.unknown_size_master(ids::SEGMENT);
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1).uint(ids::TRACK_TYPE, 1).string(ids::CODEC_ID, UNDECODABLE);
            e.master(ids::VIDEO, |v| {
                v.uint(ids::PIXEL_WIDTH, 64).uint(ids::PIXEL_HEIGHT, 48);
            });
        });
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, i * 1000);
        for j in 0..3u8 {
            c.simple_block(1, i16::from(j) * 33, j == 0, &[j; 32]);
        }
    });
    w.as_slice().to_vec()
}

/// A fragment of `frames` H.264 frames from the synthetic camera.
fn camera_fragment(frames: u32) -> Vec<u8> {
    let config =
        kvs_local::CameraConfig { width: 64, height: 48, frames_per_fragment: frames, ..Default::default() };
    kvs_local::camera::encode_at(&config, u64::from(frames), 1_700_000_000_000).unwrap().to_vec()
}

/// `kvs frames INPUT --out OUT`: success, standard output, standard error.
fn frames(input: &Path, out: &Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kvs"))
        .args(["frames", input.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .expect("kvs runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn frames_skips_fragments_of_an_undecodable_codec_and_saves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.mkv");
    let capture =
        [undecodable_fragment(0), undecodable_fragment(1), camera_fragment(5), camera_fragment(4)].concat();
    std::fs::write(&input, capture).unwrap();
    let out = dir.path().join("frames");
    let (ok, stdout, stderr) = frames(&input, &out);
    assert!(ok, "{stderr}");
    // The camera's fragments have no fragment number: they are named by position, 2 and 3.
    let expected: Vec<String> = [(2, 0..5), (3, 0..4)]
        .into_iter()
        .flat_map(|(f, frames)| frames.map(move |i| format!("{f}-{i}.jpg")))
        .collect();
    assert_eq!(names_in(&out), expected);
    let warning = format!("unsupported codec \"{UNDECODABLE}\" on track 1");
    assert_eq!(stderr.matches(&warning).count(), 1, "one warning for both fragments: {stderr}");
    assert!(stdout.starts_with("9 images in "), "{stdout}");
    assert!(stdout.contains(" from 4 fragments ") && stdout.contains("2 fragments undecodable"), "{stdout}");
}

#[test]
fn frames_of_only_undecodable_fragments_fail_naming_the_codec() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vfw.mkv");
    std::fs::write(&input, [undecodable_fragment(0), undecodable_fragment(1)].concat()).unwrap();
    let out = dir.path().join("frames");
    let (ok, _, stderr) = frames(&input, &out);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "kvs: no image written: 2 of 2 fragments cannot be decoded: unsupported codec \"{UNDECODABLE}\" on track 1 (2 fragments)"
        )),
        "{stderr}"
    );
    assert!(names_in(&out).is_empty());
}

#[test]
fn consume_frames_out_counts_the_fragments_it_could_not_decode() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.mkv");
    std::fs::write(&input, [undecodable_fragment(0), undecodable_fragment(1), camera_fragment(5)].concat())
        .unwrap();
    let out = dir.path().join("frames");
    let output = Command::new(env!("CARGO_BIN_EXE_kvs"))
        .args(["consume", "--input", input.to_str().unwrap(), "--frames-out", out.to_str().unwrap()])
        .output()
        .expect("kvs runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(names_in(&out), (0..5).map(|i| format!("2-{i}.jpg")).collect::<Vec<_>>());
    let summary = format!("5 images in {} (0 frames failed, 2 fragments undecodable)", out.display());
    assert!(stderr.lines().any(|line| line == summary), "{stderr}");
}
