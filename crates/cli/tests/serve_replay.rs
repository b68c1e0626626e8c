//! `kvs serve --replay` as a user runs it: the binary feeding 30 replayed streams, found
//! through the endpoint it prints and checked over plain HTTP (ListStreams,
//! ListFragments), then killed. Bad `--replay` values must fail before anything starts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The server process, killed when dropped (a failed assertion must not leak it).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An unsigned JSON call (the server checks no signature unless given credentials).
fn post(addr: &str, operation: &str, body: &Value) -> Value {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.to_string();
    write!(
        tcp,
        "POST /{operation} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{operation}: {head}\n{body}");
    serde_json::from_str(body).unwrap()
}

/// The real capture if present, else a synthetic stream written to a temporary file.
fn input(dir: &tempfile::TempDir) -> PathBuf {
    if let Some(samples) = kvs_mkv::testing::samples_dir() {
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvs"))
        .args(["serve", "--replay", &format!("30:cam={}", file.display())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kvs runs");
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let _server = Server(child);
    let (lines, stderr_lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let endpoint = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("export AWS_ENDPOINT_URL=").map(str::to_owned))
        .expect("the endpoint on standard output");
    let addr = endpoint.strip_prefix("http://").unwrap().to_owned();

    // The replay line comes before the endpoint.
    let replay_line = stderr_lines
        .iter()
        .find(|l| l.starts_with("replay:"))
        .expect("a replay line on standard error");
    let expected = format!("replay: 30 streams cam000..cam029 from {} (", file.display());
    assert!(replay_line.starts_with(&expected), "{replay_line}");
    assert!(replay_line.contains(" fragments, loop of ") && replay_line.ends_with(" s)"), "{replay_line}");

    let listed = post(&addr, "listStreams", &json!({}));
    let names: Vec<&str> =
        listed["StreamInfoList"].as_array().unwrap().iter().map(|s| s["StreamName"].as_str().unwrap()).collect();
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
        let out = Command::new(env!("CARGO_BIN_EXE_kvs"))
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
