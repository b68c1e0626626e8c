//! Files that FFmpeg encodes on the spot, for what the captures lack: H.265 with AAC,
//! and H.264 with B-frames at a frame rate that MKV's milliseconds cannot hold exactly.
//! Skipped (with a note) where ffmpeg or its encoders are not installed.

use std::path::Path;
use std::process::Command;

use kvs_mux::Remuxer;

use crate::samples::check_outputs;
use crate::util::{fmp4_samples, fragments_of};

/// Encodes 2 s of test pattern (and a tone) to `out` with these codec arguments; false
/// where ffmpeg cannot.
fn encode(out: &Path, codec_args: &[&str]) -> bool {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ])
        .args(["-t", "2"])
        .args(codec_args)
        .arg(out)
        .status();
    match status {
        Ok(s) if s.success() => true,
        _ => {
            eprintln!("skipping: ffmpeg cannot encode {codec_args:?}");
            false
        }
    }
}

#[test]
fn h265_and_aac_in_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hevc.mkv");
    if !encode(&path, &["-c:v", "libx265", "-x265-params", "keyint=30:log-level=error", "-c:a", "aac"]) {
        return;
    }
    let fragments = fragments_of(&path);
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    assert_eq!(remuxer.track_numbers(), [1, 2]);
    check_outputs("hevc", &fragments, true);
}

#[test]
fn h264_b_frames_in_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bframes.mkv");
    if !encode(&path, &["-c:v", "libx264", "-bf", "2", "-g", "30", "-an"]) {
        return;
    }
    let fragments = fragments_of(&path);
    check_outputs("bframes", &fragments, false);
    // The B-frames show after the frames decoded after them: composition offsets.
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    let segment = remuxer.media_segment(1, &fragments[0], None).unwrap();
    let (_, tracks) = fmp4_samples(&segment);
    assert!(tracks[0].1.iter().any(|s| s.cts > 0));
}
