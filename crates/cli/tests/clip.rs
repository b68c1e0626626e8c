//! `kvs clip --input` as a user runs it: real captures remuxed into MP4 files that
//! ffprobe (where installed) counts frame for frame, from a file and from standard input.

use std::path::Path;
use std::process::Command;

use kvs_samples::samples_dir;

use crate::util::run_with_stdin;

/// Runs `kvs ARGS` with `stdin` piped in: (success, stdout bytes, stderr).
fn kvs(args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>, String) {
    let out = run_with_stdin(args, stdin);
    (out.status.success(), out.stdout, String::from_utf8(out.stderr).unwrap())
}

/// `ffprobe -count_frames` of the first stream of `kind` ("v", "a"); `None` without ffprobe.
fn ffprobe_frames(path: &Path, kind: &str) -> Option<u64> {
    let Ok(out) = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
    else {
        eprintln!("skipping the ffprobe check: ffprobe is not on PATH");
        return None;
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap().trim().parse().unwrap())
}

#[test]
fn clip_of_a_capture_holds_every_frame() {
    let Some(dir) = samples_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clip.mp4");
    let input = dir.join("output_get_media.mkv");
    let (ok, _, stderr) =
        kvs(&["clip", "--input", input.to_str().unwrap(), "-o", out.to_str().unwrap()], b"");
    assert!(ok, "{stderr}");
    assert!(stderr.contains(": 5 fragments, 300 frames, "), "{stderr}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(ffprobe_frames(&out, "v").unwrap_or(300), 300);
}

#[test]
fn clip_from_standard_input_with_audio() {
    let Some(dir) = samples_dir() else { return };
    let capture = std::fs::read(dir.join("vogels_330.mkv")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("vogels.mp4");
    let (ok, stdout, stderr) = kvs(&["clip", "--input", "-", "-o", "-"], &capture);
    assert!(ok, "{stderr}");
    assert!(stderr.contains(" 2334 frames, "), "{stderr}");
    std::fs::write(&out, &stdout).unwrap();
    assert_eq!(ffprobe_frames(&out, "v").unwrap_or(909), 909);
    assert_eq!(ffprobe_frames(&out, "a").unwrap_or(1425), 1425);
}

#[test]
fn clip_of_an_unsupported_codec_fails_naming_it() {
    let Some(dir) = samples_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clip.mp4");
    let input = dir.join("test_mixed_tags.mkv");
    let (ok, _, stderr) =
        kvs(&["clip", "--input", input.to_str().unwrap(), "-o", out.to_str().unwrap()], b"");
    assert!(!ok);
    assert!(stderr.contains("unsupported codec \"V_MS/VFW/FOURCC\""), "{stderr}");
    assert!(!out.exists());
}
