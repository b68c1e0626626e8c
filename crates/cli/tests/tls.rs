//! HTTPS end to end, as the path to real AWS is: `kvs serve --tls` with SigV4
//! credentials, `kvs put`, `kvs consume` and `kvs fleet` trusting its certificate with
//! `--ca-file` (or `SSL_CERT_FILE`), and refusing it without; and `kvs serve --data-dir`
//! killed in the middle of a real-time put and restarted on the same port, after which
//! every frame is there exactly once.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvs_mkv::Fragment;
use serde_json::Value;

use crate::util::{Process, ffmpeg_pipe, kvs_bin, names_in, write_replay_input};

const KEY_ID: &str = "AKIDTLSTEST";
const SECRET: &str = "tls-test-secret";

/// A running `kvs serve --tls`, with what its exports say.
struct Secure {
    process: Process,
    /// `https://127.0.0.1:PORT`.
    endpoint: String,
    /// The certificate's PEM file (`AWS_CA_BUNDLE`).
    ca_file: PathBuf,
}

impl Secure {
    /// `kvs serve --tls --credentials ... ARGS`, once it printed its exports.
    fn start(args: &[&str]) -> Secure {
        let credentials = format!("{KEY_ID}:{SECRET}");
        let mut child = Command::new(kvs_bin())
            .args(["serve", "--tls", "--credentials", &credentials, "--idle-timeout", "0.5"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kvs runs");
        let stdout = child.stdout.take().unwrap();
        let process = Process(child);
        let (mut endpoint, mut ca_file) = (None, None);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("export AWS_ENDPOINT_URL=") {
                endpoint = Some(url.to_owned());
            }
            if let Some(path) = line.strip_prefix("export AWS_CA_BUNDLE=") {
                ca_file = Some(PathBuf::from(path));
                break;
            }
        }
        let endpoint = endpoint.expect("the endpoint on standard output");
        assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
        let ca_file = ca_file.expect("the certificate's path on standard output");
        let pem = std::fs::read_to_string(&ca_file).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        Secure { process, endpoint, ca_file }
    }

    /// `127.0.0.1:PORT`.
    fn addr(&self) -> &str {
        self.endpoint.trim_start_matches("https://")
    }

    fn kill9(mut self) {
        self.process.0.kill().unwrap();
        self.process.0.wait().unwrap();
    }
}

impl Drop for Secure {
    /// Ctrl-C, as a user stops it (the temporary certificate file goes with it); killed
    /// after 10 s if it did not stop.
    fn drop(&mut self) {
        if !matches!(self.process.0.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill").args(["-INT", &self.process.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.process.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `kvs ARGS` as a client of `server`: its credentials and region, and no CA from the
/// environment (the machine's may name a system bundle).
fn client(server: &Secure, args: &[&str]) -> Command {
    let mut command = Command::new(kvs_bin());
    command
        .args(args)
        .args(["--endpoint", &server.endpoint])
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null());
    command
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `kvs consume` of `stream` from the earliest fragment to the live edge, each fragment
/// saved in `dir`; returns the JSON records. `extra` gives the CA.
fn consume(server: &Secure, stream: &str, dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Vec<Value> {
    let save = dir.to_str().unwrap();
    let out = client(server, &["consume", "--stream", stream])
        .args(["--start", "earliest", "--until-caught-up", "--json", "--save-mkv", save])
        .args(extra)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .unwrap();
    assert_ok(&out);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The video frames (track 1) of the fragments saved in `dir`, in fragment-number order,
/// as (timestamp in ns, keyframe), one list per fragment.
fn saved_frames(dir: &Path) -> Vec<Vec<(i64, bool)>> {
    names_in(dir)
        .iter()
        .filter(|name| name.ends_with(".mkv"))
        .map(|name| {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let fragment = Fragment::from_bytes(Bytes::from(bytes)).unwrap();
            fragment
                .frames()
                .unwrap()
                .iter()
                .filter(|f| f.track == 1)
                .map(|f| (f.timestamp_ns, f.keyframe))
                .collect()
        })
        .collect()
}

/// Every fragment starts at a keyframe, and timestamps only increase across all of them
/// (so none is there twice); returns how many frames there are.
fn assert_in_order_from_keyframes(fragments: &[Vec<(i64, bool)>]) -> usize {
    for (i, frames) in fragments.iter().enumerate() {
        assert!(frames.first().is_some_and(|f| f.1), "fragment {i} does not start at a keyframe: {frames:?}");
    }
    let all: Vec<i64> = fragments.iter().flatten().map(|f| f.0).collect();
    if let Some(w) = all.windows(2).find(|w| w[1] <= w[0]) {
        panic!("timestamps not increasing: {} then {}", w[0], w[1]);
    }
    all.len()
}

#[test]
fn put_and_consume_over_https_with_sigv4() {
    let server = Secure::start(&[]);
    let ca = server.ca_file.to_str().unwrap();
    let put = client(&server, &["put", "--stream", "cam", "--create", "--camera", "64x48@10"])
        .args(["--frames", "60", "--ca-file", ca])
        .output()
        .unwrap();
    assert_ok(&put);
    let stderr = String::from_utf8_lossy(&put.stderr);
    assert!(stderr.contains("3 fragments sent, 3 persisted"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let records = consume(&server, "cam", dir.path(), &["--ca-file", ca], &[]);
    let video: Vec<(u64, u64)> = records
        .iter()
        .map(|r| (r["frames"]["1"].as_u64().unwrap_or(0), r["keyframes"]["1"].as_u64().unwrap_or(0)))
        .collect();
    // 6 s in the default 2 s fragments, each of two 1 s GOPs.
    assert_eq!(video, [(20, 2), (20, 2), (20, 2)]);
    let fragments = saved_frames(dir.path());
    assert_eq!(fragments.len(), 3);
    assert_eq!(assert_in_order_from_keyframes(&fragments), 60);

    // SSL_CERT_FILE names it as well as --ca-file does.
    let by_env = tempfile::tempdir().unwrap();
    let records = consume(&server, "cam", by_env.path(), &[], &[("SSL_CERT_FILE", &server.ca_file)]);
    assert_eq!(records.len(), 3);

    // Without it, the certificate is refused at once, and said to be.
    for args in [
        &["consume", "--stream", "cam", "--start", "earliest", "--until-caught-up"][..],
        &["put", "--stream", "cam", "--camera", "64x48@10", "--frames", "10"][..],
    ] {
        let out = client(&server, args).output().unwrap();
        assert!(!out.status.success(), "{args:?} trusted an unknown certificate");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("certificate is not trusted") && stderr.contains("--ca-file"), "{stderr}");
    }
    // A CA file that holds no certificate is a usage error, before any connection.
    let out = client(&server, &["consume", "--stream", "cam", "--ca-file", "/dev/null"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CA file /dev/null") && stderr.contains("no PEM certificate"), "{stderr}");

    // In memory, the PEM was in a temporary file, removed when the server stops.
    let ca_file = server.ca_file.clone();
    assert!(ca_file.starts_with(std::env::temp_dir()), "{}", ca_file.display());
    drop(server);
    assert!(!ca_file.exists(), "{} left behind", ca_file.display());
}

#[test]
fn an_ffmpeg_pipe_put_over_https_is_read_back_whole() {
    let testsrc =
        ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "6", "-c:v", "libx264", "-g", "25"];
    let Some(mut ffmpeg) = ffmpeg_pipe(&testsrc) else { return };
    let server = Secure::start(&[]);
    let ca = server.ca_file.to_str().unwrap();
    let put = client(&server, &["put", "--stream", "pipe", "--create", "--input", "-", "--ca-file", ca])
        .stdin(Stdio::from(ffmpeg.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(ffmpeg.wait().unwrap().success());
    assert_ok(&put);
    let dir = tempfile::tempdir().unwrap();
    consume(&server, "pipe", dir.path(), &["--ca-file", ca], &[]);
    let fragments = saved_frames(dir.path());
    // 150 frames, a keyframe each second: three 2 s fragments of 50.
    assert_eq!(fragments.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 50]);
    // x264 makes B-frames, so times are in order across fragments, not frame by frame:
    // each fragment starts at a keyframe and is shown after the one before, each frame once.
    let mut shown_until = i64::MIN;
    for frames in &fragments {
        assert!(frames[0].1, "a fragment starts at a keyframe");
        let mut times: Vec<i64> = frames.iter().map(|f| f.0).collect();
        times.sort_unstable();
        times.dedup();
        assert_eq!(times.len(), frames.len(), "a frame time twice");
        assert!(times[0] > shown_until, "fragments overlap");
        shown_until = *times.last().unwrap();
    }
}

#[test]
fn fleet_reads_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("four.mkv");
    write_replay_input(&input, 4, 5);
    let ingest = format!("door={}", input.display());
    let server = Secure::start(&["--ingest", &ingest]);
    let checkpoints = format!("sqlite:{}", dir.path().join("checkpoints.sqlite").display());
    let mut child = client(&server, &["fleet", "--streams", "door", "--json", "--start", "earliest"])
        .args(["--checkpoints", &checkpoints, "--ca-file", server.ca_file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut fleet = Process(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line).expect("JSON Lines");
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    let mut fragments = Vec::new();
    while fragments.len() < 4 {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(15)) else {
            let _ = fleet.0.kill();
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            panic!("{} fragments of 4 read; stderr: {text}", fragments.len());
        };
        match line["type"].as_str() {
            Some("fragment") => fragments.push(line),
            Some("error") => panic!("{line}"),
            _ => {}
        }
    }
    // SIGTERM: a clean stop, and every line it printed is read.
    let pid = fleet.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(fleet.0.wait().unwrap().success());
    fragments.extend(rx.iter().filter(|l| l["type"] == "fragment"));
    assert_eq!(fragments.len(), 4, "{fragments:?}");
    for (i, f) in fragments.iter().enumerate() {
        assert_eq!(
            (f["stream"].as_str(), f["frames"]["1"].as_u64()),
            (Some("door"), Some(5)),
            "fragment {i}"
        );
    }
}

#[test]
fn a_server_killed_mid_put_and_restarted_gets_every_frame_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let server = Secure::start(&["--data-dir", &data_arg]);
    assert_eq!(server.ca_file, data.join("cert.pem"));
    let first_pem = std::fs::read(&server.ca_file).unwrap();
    let addr = server.addr().to_owned();
    // 50 frames at 10 fps filmed in real time: five 1 s fragments over 5 s.
    let mut put = client(&server, &["put", "--stream", "cam", "--create", "--camera", "64x48@10"])
        .args(["--frames", "50", "--realtime", "--fragment-duration", "1"])
        .args(["--ca-file", server.ca_file.to_str().unwrap()])
        .env("RUST_LOG", "kvs_producer=debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = put.stderr.take().unwrap();
    let mut put = Process(put);
    let (tx, rx) = mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("fragment persisted") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    // Killed once two fragments are acknowledged as persisted: the third is on its way.
    for _ in 0..2 {
        rx.recv_timeout(Duration::from_secs(15)).expect("a fragment persisted");
    }
    server.kill9();
    let restarted = Secure::start(&["--data-dir", &data_arg, "--addr", &addr]);
    assert_eq!(restarted.endpoint, format!("https://{addr}"));
    assert_eq!(std::fs::read(&restarted.ca_file).unwrap(), first_pem, "the kept certificate is served again");

    let status = put.0.wait().unwrap();
    let lines = log.join().unwrap();
    assert!(status.success(), "{}", lines.join("\n"));
    let log = lines.join("\n");
    // Fragments are sent whole: the kill found none in flight, or one to send again.
    assert!(
        log.contains("PutMedia closed with nothing in flight") || log.contains("reconnecting"),
        "the put went on through a new connection: {log}"
    );
    assert!(log.contains(" 5 persisted,"), "{log}");

    let saved = tempfile::tempdir().unwrap();
    let ca = restarted.ca_file.to_str().unwrap().to_owned();
    let records = consume(&restarted, "cam", saved.path(), &["--ca-file", &ca], &[]);
    let fragments = saved_frames(saved.path());
    assert_eq!(records.len(), fragments.len());
    assert_eq!(fragments.iter().map(Vec::len).collect::<Vec<_>>(), [10; 5], "{fragments:?}");
    assert_eq!(assert_in_order_from_keyframes(&fragments), 50, "every frame exactly once");
}
