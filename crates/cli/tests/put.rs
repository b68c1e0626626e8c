//! `kvs put` into `kvs serve`, read back with `kvs consume --json`: every frame, in
//! fragments that start at keyframes; bad inputs fail with a clear message and store
//! nothing; an ffmpeg pipe when ffmpeg is installed.

use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::util::{Served, ffmpeg_output, ffmpeg_pipe, kvs_bin, run_with_stdin};

/// `kvs put ARGS` into `server`'s stream `stream`, with `stdin` piped in.
fn put(server: &Served, stream: &str, args: &[&str], stdin: &[u8]) -> Output {
    let endpoint = server.endpoint();
    let mut all = vec!["put", "--endpoint", &endpoint, "--stream", stream];
    all.extend_from_slice(args);
    run_with_stdin(&all, stdin)
}

/// `kvs consume --json` from the earliest fragment to the live edge: one record each.
fn consume(server: &Served, stream: &str) -> Vec<Value> {
    let out = Command::new(kvs_bin())
        .args(["consume", "--endpoint", &server.endpoint(), "--stream", stream])
        .args(["--start", "earliest", "--until-caught-up", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// (frames, keyframes) of track 1 in a `kvs consume --json` record.
fn video(record: &Value) -> (u64, u64) {
    (record["frames"]["1"].as_u64().unwrap_or(0), record["keyframes"]["1"].as_u64().unwrap_or(0))
}

#[test]
fn put_camera_then_consume_gives_every_frame() {
    let server = Served::start(&["--idle-timeout", "0.5"]);
    let out = put(
        &server,
        "cam",
        &["--create", "--camera", "64x48@10", "--frames", "60", "--tags", "site=door"],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 fragments sent, 3 persisted"), "{stderr}");
    let records = consume(&server, "cam");
    // 6 s in the default 2 s fragments, each of two 1 s GOPs.
    assert_eq!(records.iter().map(video).collect::<Vec<_>>(), [(20, 2), (20, 2), (20, 2)]);
    for r in &records {
        assert!(r["tags"].as_array().unwrap().iter().any(|t| t[0] == "site" && t[1] == "door"), "{r}");
    }
}

#[test]
fn bad_inputs_exit_non_zero_and_store_nothing() {
    let server = Served::start(&["--idle-timeout", "0.5"]);
    let out = put(&server, "text", &["--create", "--input", "-"], b"hello, this is not a video\n");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kvs: the input is not Matroska"), "{stderr}");
    assert!(server.list_fragments("text").is_empty());
    // A pipe whose writer failed before writing: said as such, not as "not Matroska".
    let empty = put(&server, "text", &["--input", "-"], b"");
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("kvs: the input is empty"));
    let missing = put(&server, "cam", &["--input", "/nonexistent/clip.mkv"], b"");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open /nonexistent/clip.mkv"));
}

/// Six seconds of ffmpeg's test pattern in H.264, a keyframe each second (25 frames).
const TESTSRC: &[&str] =
    &["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "6", "-c:v", "libx264", "-g", "25"];

/// `producer`'s standard output piped into `kvs put --stream STREAM --create --input -`, as
/// in a shell pipe; both must succeed. The stream's fragments, read back as `(frames,
/// keyframes)` of the video track.
fn put_pipe(mut producer: Child, stream: &str) -> Vec<(u64, u64)> {
    let server = Served::start(&["--idle-timeout", "0.5"]);
    let out = Command::new(kvs_bin())
        .args(["put", "--endpoint", &server.endpoint(), "--stream", stream, "--create", "--input", "-"])
        .stdin(Stdio::from(producer.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(producer.wait().unwrap().success());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    consume(&server, stream).iter().map(video).collect()
}

#[test]
fn an_ffmpeg_pipe_is_put_whole() {
    let Some(ffmpeg) = ffmpeg_pipe(TESTSRC) else { return };
    // 150 frames, a keyframe each second: three 2 s fragments.
    assert_eq!(put_pipe(ffmpeg, "ffmpeg"), [(50, 2), (50, 2), (50, 2)]);
}

/// GStreamer's `matroskamux streamable=true` writes another layout than ffmpeg: Tags before
/// Info, and Clusters of unknown size.
#[test]
fn a_gstreamer_pipe_is_put_whole() {
    let pipeline = "videotestsrc num-buffers=150 ! video/x-raw,width=160,height=120,framerate=25/1 \
                    ! x264enc key-int-max=25 ! matroskamux streamable=true ! fdsink fd=1";
    let has = |element| {
        Command::new("gst-inspect-1.0").args(["--exists", element]).status().is_ok_and(|s| s.success())
    };
    if !(has("x264enc") && has("matroskamux")) {
        eprintln!(
            "skipping: no gst-launch-1.0 with x264enc and matroskamux (CI installs them: .ci/tools.sh)"
        );
        return;
    }
    let gst = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The same 150 frames and keyframes as ffmpeg's.
    assert_eq!(put_pipe(gst, "gst"), [(50, 2), (50, 2), (50, 2)]);
}

#[test]
fn a_truncated_input_puts_its_whole_fragments_once_then_fails() {
    let Some(encoded) = ffmpeg_output(TESTSRC) else { return };
    let server = Served::start(&["--idle-timeout", "0.5"]);
    // Cut inside the last second: the fragments before it are whole.
    let cut = &encoded[..encoded.len() * 9 / 10];
    let out = put(&server, "cut", &["--create", "--input", "-"], cut);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut short"), "{stderr}");
    let records = consume(&server, "cut");
    let video: Vec<(u64, u64)> = records.iter().map(video).collect();
    assert_eq!(video[..2], [(50, 2), (50, 2)], "{video:?}");
    // What follows the last whole fragment, if sent at all, is there once and starts at
    // a keyframe; nothing is stored twice.
    assert!(video.len() <= 3 && video.iter().all(|&(frames, keys)| frames > 0 && keys > 0), "{video:?}");
    let numbers: std::collections::HashSet<&str> =
        records.iter().map(|r| r["fragment_number"].as_str().unwrap()).collect();
    assert_eq!(numbers.len(), records.len());
}

#[test]
fn no_keyframe_for_a_minute_is_an_error() {
    // 61 s with only the first frame a keyframe: past KVS's 10 s fragment limit.
    let Some(encoded) = ffmpeg_output(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10",
        "-t",
        "61",
        "-c:v",
        "libx264",
        "-g",
        "100000",
        "-x264-params",
        "scenecut=0",
    ]) else {
        return;
    };
    let server = Served::start(&["--idle-timeout", "0.5"]);
    let out = put(&server, "still", &["--create", "--input", "-"], &encoded);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no keyframe for 10000 ms"), "{stderr}");
    // At most the first 10 s, which start at the one keyframe, is stored; once.
    assert!(server.list_fragments("still").len() <= 1);
}
