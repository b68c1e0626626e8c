//! `kvs put` into `kvs serve`, read back with `kvs consume --json`: every frame, in
//! fragments that start at keyframes; bad inputs fail with a clear message and store
//! nothing; an ffmpeg pipe when ffmpeg is installed.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::util::{Served, kvs_bin, run_with_stdin};

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
    let missing = put(&server, "cam", &["--input", "/nonexistent/clip.mkv"], b"");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open /nonexistent/clip.mkv"));
}

#[test]
fn an_ffmpeg_pipe_is_put_whole() {
    let ffmpeg = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !ffmpeg.is_ok_and(|s| s.success()) {
        eprintln!("skipping: ffmpeg is not on PATH");
        return;
    }
    let encoded = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "6"])
        .args(["-c:v", "libx264", "-g", "25", "-f", "matroska", "-"])
        .output()
        .unwrap();
    if !encoded.status.success() {
        eprintln!("skipping: this ffmpeg cannot encode H.264: {}", String::from_utf8_lossy(&encoded.stderr));
        return;
    }
    let server = Served::start(&["--idle-timeout", "0.5"]);
    let out = put(&server, "ffmpeg", &["--create", "--input", "-"], &encoded.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records = consume(&server, "ffmpeg");
    // 150 frames, a keyframe each second: three 2 s fragments.
    assert_eq!(records.iter().map(video).collect::<Vec<_>>(), [(50, 2), (50, 2), (50, 2)]);
}
