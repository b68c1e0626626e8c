//! What the binary's tests share: running `kvs` to its end with an input piped in, `kvs`
//! processes that are killed when dropped, a `kvs serve` found through the endpoint it
//! prints, and unsigned JSON calls to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The path of the binary under test.
pub fn kvs_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kvs")
}

/// Runs `kvs ARGS` to its end with `stdin` piped in and its output captured.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(kvs_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kvs runs");
    let mut pipe = child.stdin.take().unwrap();
    // A command that fails before it reads its input may close it first: what it says
    // and how it exits is what the test checks.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// A child process, killed when dropped (a failed assertion must not leak it).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `kvs serve` and the address it listens on.
pub struct Served {
    /// The server process (killed when this is dropped).
    _process: Process,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its standard error, for the lines it prints at start.
    pub stderr: ChildStderr,
}

impl Served {
    /// `kvs serve ARGS`, once it printed its endpoint.
    pub fn start(args: &[&str]) -> Served {
        let mut child = Command::new(kvs_bin())
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kvs runs");
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let process = Process(child);
        let endpoint = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("export AWS_ENDPOINT_URL=").map(str::to_owned))
            .expect("the endpoint on standard output");
        let addr = endpoint.strip_prefix("http://").unwrap().to_owned();
        Served { _process: process, addr, stderr }
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every fragment ListFragments reports for `stream`, as (number, server timestamp in
    /// seconds), all pages.
    pub fn list_fragments(&self, stream: &str) -> Vec<(String, f64)> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "StreamName": stream, "MaxResults": 1000 });
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let page = post(&self.addr, "listFragments", &body);
            for f in page["Fragments"].as_array().unwrap() {
                all.push((
                    f["FragmentNumber"].as_str().unwrap().to_owned(),
                    f["ServerTimestamp"].as_f64().unwrap(),
                ));
            }
            match page["NextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        all
    }
}

/// An unsigned JSON call (the server checks no signature unless given credentials).
pub fn post(addr: &str, operation: &str, body: &Value) -> Value {
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

/// A producer MKV of `fragments` fragments of `frames` frames 33 ms apart (synthetic
/// payloads: nothing decodes them), for `kvs serve --replay`.
pub fn write_replay_input(path: &Path, fragments: u64, frames: u16) {
    let mut bytes = Vec::new();
    for i in 0..fragments {
        bytes.extend_from_slice(&kvs_mkv::testing::fragment(i, frames, 64));
    }
    std::fs::write(path, bytes).unwrap();
}

/// A free port on loopback (closed again: a race with other processes is possible but
/// harmless in tests).
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// The body of `GET http://addr/path`, retried for up to 10 s while nothing listens.
pub fn get(addr: &str, path: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut tcp = loop {
        match TcpStream::connect(addr) {
            Ok(tcp) => break tcp,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "nothing listens on {addr}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    body.to_owned()
}

/// The names of the files in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// `ffmpeg ARGS` with its Matroska output on a pipe (`-f matroska -` is added), started;
/// `None`, after a note, where ffmpeg is not installed.
pub fn ffmpeg_pipe(args: &[&str]) -> Option<Child> {
    let present = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !present.is_ok_and(|s| s.success()) {
        eprintln!("skipping: ffmpeg is not on PATH (CI installs it: .ci/tools.sh)");
        return None;
    }
    let child = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-nostdin"])
        .args(args)
        .args(["-f", "matroska", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    Some(child)
}

/// `ffmpeg ARGS`' whole Matroska output; `None` where ffmpeg is not installed.
pub fn ffmpeg_output(args: &[&str]) -> Option<Vec<u8>> {
    let out = ffmpeg_pipe(args)?.wait_with_output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?} failed");
    Some(out.stdout)
}
