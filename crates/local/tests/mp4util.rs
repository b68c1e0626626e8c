//! Reading MP4 back: the samples of a progressive MP4 from its sample tables, of a media
//! segment from its `moof` (kvs-mux's test reader, `kvs_mux::testing::read`, which its own
//! tests use too); and `ffprobe`'s frame count where it is installed.

use std::path::Path;
use std::process::Command;

pub use kvs_mux::testing::read::{fmp4_samples, moov_of, mp4_samples, top_boxes};

/// Video frames `ffprobe` counts in a file or URL; `None` (with a message) where
/// ffprobe is not installed.
pub fn ffprobe_video_frames(input: &str) -> Option<u64> {
    let out = match Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(input)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("skipping the ffprobe check: ffprobe is not on PATH");
            return None;
        }
    };
    assert!(out.status.success(), "ffprobe {input}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    Some(first.trim().trim_end_matches(',').parse().unwrap_or_else(|_| panic!("ffprobe said {text:?}")))
}

/// Writes `bytes` to a temporary file for ffprobe.
pub fn ffprobe_bytes(bytes: &[u8], name: &str) -> Option<u64> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    ffprobe_video_frames(path_str(&path))
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
