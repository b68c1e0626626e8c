//! `kvs fleet` as operators run it: worker processes over `kvs serve --replay`, killed
//! with SIGKILL and stopped with SIGTERM, their JSON Lines compared with what ListFragments
//! says the streams hold. Checkpoints in SQLite, and leases on a real DynamoDB API
//! (moto's server, skipped where it is not installed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::util::{Process, Served, kvs_bin, write_replay_input};

/// One JSON line of a worker, and when it was read.
#[derive(Debug, Clone)]
struct Line {
    worker: String,
    at: Instant,
    value: Value,
}

/// A `kvs fleet` process whose JSON Lines are collected as they come.
struct Worker {
    name: String,
    process: Process,
}

impl Worker {
    fn start(name: &str, args: &[&str], env: &[(&str, &str)], lines: &Arc<Mutex<Vec<Line>>>) -> Worker {
        let mut child = Command::new(kvs_bin())
            .arg("fleet")
            .args(args)
            .args(["--worker-id", name, "--json", "--start", "earliest", "--discovery-interval", "1"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kvs runs");
        let stdout = child.stdout.take().unwrap();
        let (lines, worker) = (lines.clone(), name.to_owned());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).expect("JSON Lines");
                let line = Line { worker: worker.clone(), at: Instant::now(), value };
                lines.lock().unwrap().push(line);
            }
        });
        Worker { name: name.to_owned(), process: Process(child) }
    }

    fn kill9(&mut self) {
        self.process.0.kill().unwrap();
        self.process.0.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    fn terminate(&mut self) {
        let pid = self.process.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(Instant::now() < deadline, "{} did not stop on SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// (stream, fragment number) -> every delivery of it: (worker, redelivered).
fn deliveries(lines: &[Line]) -> BTreeMap<(String, String), Vec<(String, bool)>> {
    let mut map: BTreeMap<(String, String), Vec<(String, bool)>> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.value["type"] == "fragment") {
        let v = &line.value;
        assert_eq!(v["worker"].as_str(), Some(line.worker.as_str()));
        let key =
            (v["stream"].as_str().unwrap().to_owned(), v["fragment_number"].as_str().unwrap().to_owned());
        map.entry(key).or_default().push((line.worker.clone(), v["redelivered"].as_bool().unwrap()));
    }
    map
}

/// The fragments ListFragments reports with a server timestamp before `until` (seconds)
/// that no worker delivered, and how many it reports in all.
fn missing(
    server: &Served,
    streams: &[String],
    got: &BTreeMap<(String, String), Vec<(String, bool)>>,
    until: f64,
) -> (Vec<(String, String)>, usize) {
    let mut missing = Vec::new();
    let mut expected = 0;
    for stream in streams {
        for (number, server_ts) in server.list_fragments(stream) {
            if server_ts < until {
                expected += 1;
                if !got.contains_key(&(stream.clone(), number.clone())) {
                    missing.push((stream.clone(), number));
                }
            }
        }
    }
    (missing, expected)
}

/// Every fragment ListFragments reports with a server timestamp before `until` (seconds)
/// was delivered by some worker.
fn assert_nothing_lost(
    server: &Served,
    streams: &[String],
    got: &BTreeMap<(String, String), Vec<(String, bool)>>,
    until: f64,
) {
    let (missing, expected) = missing(server, streams, got, until);
    assert!(missing.is_empty(), "{} of {expected} fragments never delivered: {missing:?}", missing.len());
    assert!(expected >= streams.len() * 3, "too few fragments to tell: {expected}");
}

fn replay_server(dir: &Path, streams: usize) -> (Served, Vec<String>) {
    let input = dir.join("replay.mkv");
    // Fragments of 15 frames, 33 ms apart: two a second per stream.
    write_replay_input(&input, 4, 15);
    let spec = format!("{streams}:cam={}", input.display());
    let server = Served::start(&["--replay", &spec]);
    (server, (0..streams).map(|i| format!("cam{i:03}")).collect())
}

#[test]
fn sqlite_checkpoints_survive_kill_9_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (server, streams) = replay_server(dir.path(), 3);
    let db = dir.path().join("fleet.sqlite");
    let checkpoints = format!("sqlite:{}", db.display());
    let endpoint = server.endpoint();
    let args = ["--prefix", "cam", "--endpoint", &endpoint, "--checkpoints", &checkpoints];
    let lines = Arc::new(Mutex::new(Vec::new()));

    let mut first = Worker::start("first", &args, &[], &lines);
    std::thread::sleep(Duration::from_secs(3));
    first.kill9();
    std::thread::sleep(Duration::from_secs(1));
    let mut second = Worker::start("second", &args, &[], &lines);
    std::thread::sleep(Duration::from_secs(3));
    second.terminate();
    let mut third = Worker::start("third", &args, &[], &lines);
    std::thread::sleep(Duration::from_secs(2));
    third.terminate();
    let end = unix_now();

    let lines = lines.lock().unwrap().clone();
    let got = deliveries(&lines);
    assert_nothing_lost(&server, &streams, &got, end - 1.0);
    for ((stream, number), seen) in &got {
        if seen.len() > 1 {
            // Only the kill -9 may repeat: at most the fragment in flight of each stream,
            // delivered again by the next worker and flagged.
            assert_eq!(seen.len(), 2, "{stream} {number}: {seen:?}");
            assert_eq!(seen[0].0, "first", "{stream} {number}: {seen:?}");
            assert_eq!(seen[1], ("second".to_owned(), true), "{stream} {number}: {seen:?}");
        } else if seen[0].1 {
            // Handed out (checkpointed as in flight) but killed before it was printed:
            // flagged all the same, and only by the worker after the kill.
            assert_eq!(seen[0].0, "second", "{stream} {number}: {seen:?}");
        }
    }
    let flagged: Vec<_> =
        got.iter().filter(|(_, seen)| seen.iter().any(|s| s.1)).map(|(k, _)| &k.0).collect();
    let distinct: BTreeSet<_> = flagged.iter().collect();
    assert_eq!(flagged.len(), distinct.len(), "at most one repeat per stream: {flagged:?}");
}

/// Starts moto's DynamoDB on a free loopback port, or says why not.
fn moto() -> Option<(Process, String)> {
    let bin = std::env::var("MOTO_SERVER").ok().map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH")
            .and_then(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).find(|p| p.is_file()))
    });
    let Some(bin) = bin else {
        eprintln!("skipped: moto_server not found (pip install \"moto[server]\", or set MOTO_SERVER)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server runs");
    let process = Process(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((process, format!("http://127.0.0.1:{port}")))
}

/// The arguments of a worker on the DynamoDB lease table, failover 3 s.
fn leased(endpoint: &str) -> [&str; 8] {
    ["--prefix", "cam", "--endpoint", endpoint, "--checkpoints", "dynamodb:kvs-leases", "--failover", "3"]
}

/// The simulation of the issue: 30 live streams, 3 workers on DynamoDB leases, one killed
/// with SIGKILL after 10 s, one stopped with SIGTERM later, 30 s in all.
#[test]
fn three_workers_on_dynamodb_share_30_streams_through_kill_9_and_sigterm() {
    let Some((_moto, dynamodb)) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (server, streams) = replay_server(dir.path(), 30);
    let endpoint = server.endpoint();
    let failover = 3.0;
    let env = [
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut workers: Vec<Worker> =
        ["w1", "w2", "w3"].iter().map(|w| Worker::start(w, &leased(&endpoint), &env, &lines)).collect();

    std::thread::sleep(Duration::from_secs(10));
    let held_by = |lines: &[Line], worker: &str| -> BTreeSet<String> {
        let mut held = BTreeSet::new();
        for l in lines.iter().filter(|l| l.value["type"] == "lease" && l.worker == worker) {
            let stream = l.value["stream"].as_str().unwrap().to_owned();
            match l.value["event"].as_str().unwrap() {
                "acquired" | "stolen" => {
                    held.insert(stream);
                }
                "lost" | "released" => {
                    held.remove(&stream);
                }
                _ => {}
            }
        }
        held
    };
    let before_kill = lines.lock().unwrap().clone();
    let killed_streams = held_by(&before_kill, "w1");
    assert!(!killed_streams.is_empty(), "w1 holds no lease after 10 s");
    let shares: Vec<usize> = ["w1", "w2", "w3"].iter().map(|w| held_by(&before_kill, w).len()).collect();
    assert_eq!(shares.iter().sum::<usize>(), 30, "every stream is leased by someone");
    // Workers started together see each other's presence: fair shares from the start.
    assert!(shares.iter().all(|n| (9..=11).contains(n)), "shares {shares:?}");
    workers[0].kill9();
    let killed_at = Instant::now();

    std::thread::sleep(Duration::from_secs(12));
    workers[1].terminate();
    std::thread::sleep(Duration::from_secs(8));
    workers[2].terminate();
    let end = unix_now();
    // A fourth worker takes every released lease at once and goes on where w3 stopped:
    // what w3 had not read yet is read now, and nothing it handled comes again.
    let mut last = Worker::start("w4", &leased(&endpoint), &env, &lines);
    // Until it has caught up with where w3 stopped (each fragment waits for its checkpoint
    // write, and moto is slow), at most 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let got = deliveries(&lines.lock().unwrap());
        if missing(&server, &streams, &got, end).0.is_empty() || Instant::now() > deadline {
            break;
        }
    }
    last.terminate();

    let lines = lines.lock().unwrap().clone();
    // The dead worker's streams are owned again within failover + one take interval.
    let limit = Duration::from_secs_f64(failover + failover + 3.0);
    for stream in &killed_streams {
        let taken = lines.iter().find(|l| {
            l.at > killed_at
                && l.value["type"] == "lease"
                && l.value["stream"] == stream.as_str()
                && matches!(l.value["event"].as_str(), Some("acquired" | "stolen"))
        });
        let taken = taken.unwrap_or_else(|| panic!("{stream} was never taken after w1 died"));
        assert!(taken.at - killed_at <= limit, "{stream} taken {:?} after the kill", taken.at - killed_at);
    }
    let got = deliveries(&lines);
    assert_nothing_lost(&server, &streams, &got, end);
    // A worker that lost a lease (to a steal while balancing) may have had one fragment
    // out; the SIGTERM hand-off repeats nothing.
    let lost: BTreeSet<(String, String)> = lines
        .iter()
        .filter(|l| l.value["type"] == "lease" && l.value["event"] == "lost")
        .map(|l| (l.worker.clone(), l.value["stream"].as_str().unwrap().to_owned()))
        .collect();
    let mut repeats = 0;
    for ((stream, number), seen) in &got {
        let gave_up = |worker: &str| {
            (worker == "w1" && killed_streams.contains(stream))
                || lost.contains(&(worker.to_owned(), stream.clone()))
        };
        if seen.len() > 1 {
            repeats += 1;
            assert_eq!(seen.len(), 2, "{stream} {number}: {seen:?}");
            assert!(gave_up(&seen[0].0), "{stream} {number} repeated without a crash or a steal: {seen:?}");
            assert!(seen[1].1, "{stream} {number}: the repeat is not flagged: {seen:?}");
        } else if seen[0].1 {
            // Checkpointed as in flight by a worker that died or lost the lease before
            // printing it.
            assert!(
                killed_streams.contains(stream) || lost.iter().any(|l| &l.1 == stream),
                "{stream} {number}: {seen:?}"
            );
        }
    }
    let flagged: Vec<_> =
        got.iter().filter(|(_, seen)| seen.iter().any(|s| s.1)).map(|(k, _)| &k.0).collect();
    eprintln!(
        "{} fragments delivered, {repeats} repeated (all flagged), {} lease losses, {} streams of the killed worker",
        got.len(),
        lost.len(),
        killed_streams.len()
    );
    assert!(flagged.len() <= killed_streams.len() + lost.len(), "{flagged:?}");
}

/// The value of a Prometheus sample line `name{labels} value` whose labels contain
/// `label`.
fn sample(metrics: &str, name: &str, label: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
}

#[test]
fn fleet_and_serve_export_prometheus_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("replay.mkv");
    write_replay_input(&input, 4, 15);
    let server_metrics = crate::util::free_addr();
    let spec = format!("2:m={}", input.display());
    let server = Served::start(&["--replay", &spec, "--metrics", &server_metrics]);
    let fleet_metrics = crate::util::free_addr();
    let checkpoints = format!("sqlite:{}", dir.path().join("c.sqlite").display());
    let endpoint = server.endpoint();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let args = [
        "--prefix",
        "m",
        "--endpoint",
        &endpoint,
        "--checkpoints",
        &checkpoints,
        "--metrics",
        &fleet_metrics,
    ];
    let mut worker = Worker::start("metrics", &args, &[], &lines);
    std::thread::sleep(Duration::from_secs(4));
    let text = crate::util::get(&fleet_metrics, "/metrics");
    let delivered = lines.lock().unwrap().iter().filter(|l| l.value["type"] == "fragment").count();
    assert!(delivered > 0);
    for stream in ["m000", "m001"] {
        let label = format!("stream=\"{stream}\"");
        assert!(sample(&text, "kvs_fragments_total", &label).is_some_and(|n| n >= 1.0), "{text}");
        assert!(sample(&text, "kvs_bytes_total", &label).is_some_and(|n| n > 1000.0), "{text}");
        assert!(
            sample(&text, "kvs_wall_lag_seconds", &label).is_some_and(|s| (0.0..5.0).contains(&s)),
            "{text}"
        );
        assert!(sample(&text, "kvs_checkpoint_writes_total", &label).is_some_and(|n| n >= 1.0), "{text}");
        assert!(text.contains(&format!("kvs_checkpoint_age_seconds{{{label}}}")), "{text}");
    }
    assert_eq!(sample(&text, "kvs_fleet_streams", "worker=\"metrics\""), Some(2.0), "{text}");
    let served = crate::util::get(&server_metrics, "/metrics");
    assert!(
        sample(&served, "kvs_server_ingested_fragments_total", "stream=\"m001\"").is_some_and(|n| n >= 2.0),
        "{served}"
    );
    assert_eq!(sample(&served, "kvs_server_get_media_readers", "stream=\"m000\""), Some(1.0), "{served}");
    worker.terminate();
}
