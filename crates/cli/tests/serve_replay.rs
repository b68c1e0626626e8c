//! `kvs serve --replay` as a user runs it: the binary feeding 30 replayed streams, found
//! through the endpoint it prints and checked over plain HTTP (ListStreams,
//! ListFragments), then killed. Bad `--replay` values must fail before anything starts.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{Served, kvs_bin, post};

/// The real capture if present, else a synthetic stream written to a temporary file.
fn input(dir: &tempfile::TempDir) -> PathBuf {
    if let Some(samples) = kvs_samples::samples_dir() {
        return samples.join("clusters.mkv");
    }
    let path = dir.path().join("synthetic.mkv");
    std::fs::write(&path, kvs_mkv::testing::stream_of(3)).unwrap();
    path
}

#[test]
fn serve_replay_feeds_thirty_live_streams() {
    let dir = tempfile::tempdir().unwrap();
    let file = input(&dir);
    let server = Served::start(&["--replay", &format!("30:cam={}", file.display())]);
    let addr = server.addr.clone();
    let (lines, stderr_lines) = mpsc::channel();
    let stderr = server.stderr;
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });

    // The replay line comes before the endpoint.
    let replay_line =
        stderr_lines.iter().find(|l| l.starts_with("replay:")).expect("a replay line on standard error");
    let expected = format!("replay: 30 streams cam000..cam029 from {} (", file.display());
    assert!(replay_line.starts_with(&expected), "{replay_line}");
    assert!(replay_line.contains(" fragments, loop of ") && replay_line.ends_with(" s)"), "{replay_line}");

    let listed = post(&addr, "listStreams", &json!({}));
    let names: Vec<&str> = listed["StreamInfoList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StreamName"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..30).map(|i| format!("cam{i:03}")).collect();
    assert_eq!(names, expected);

    // Stream 29 starts 29/30 of the first fragment (2 s for the capture) after stream 0.
    let deadline = Instant::now() + Duration::from_secs(20);
    for name in ["cam000", "cam015", "cam029"] {
        loop {
            let fragments = post(&addr, "listFragments", &json!({ "StreamName": name }));
            if !fragments["Fragments"].as_array().unwrap().is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "no fragment on {name}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn bad_replay_values_fail_before_the_server_starts() {
    for (spec, says) in [
        ("3:cam=/nonexistent/clip.mkv", "cannot read /nonexistent/clip.mkv"),
        ("0:cam=clip.mkv", "1 to 10000"),
        ("3:cam", "N:PREFIX=FILE"),
        ("3:c/m=clip.mkv", "PREFIX"),
    ] {
        let out = Command::new(kvs_bin())
            .args(["serve", "--replay", spec])
            .stdin(Stdio::null())
            .output()
            .expect("kvs runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{spec}");
        assert!(stderr.contains(says), "{spec}: {stderr}");
        assert!(out.stdout.is_empty(), "{spec}: no endpoint printed");
    }
}
