//! The fleet under load: one process reading N live streams of `kvs serve --replay` (a
//! separate process) at one fragment a second each (320x240, 15 fps, H.264 from the
//! synthetic camera), no decoding. Reports this process's CPU (share of one core), its
//! memory (RSS now and at peak), the delivery latency from server ingest to the handler
//! (p50, p99, max), and the checkpoint writes per stream per hour (= DynamoDB writes at
//! the default policy: renewals ride on checkpoints).
//!
//! Against it, in the same run, the baseline: the first release's way, one `Consumer`
//! per stream each loading its own SDK configuration and connection pool.
//!
//! Not a criterion benchmark: one long measurement, not a loop of small ones. `--quick`
//! (what CI passes) runs 50 streams for 8 s; the full run is 500 streams for 30 s
//! (`KVS_FLEET_STREAMS`, `KVS_FLEET_SECONDS` override both).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kvs_consumer::{Config, Consumer, Source, StartSelector};
use kvs_fleet::{Checkpoint, CheckpointStore, Event, Fleet, FleetConfig, SqliteStore, StreamSelection};
use kvs_local::camera::{CameraConfig, encode_at};

/// The server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An SQLite store that counts its writes.
#[derive(Clone)]
struct Counting(SqliteStore, Arc<AtomicU64>);

impl CheckpointStore for Counting {
    async fn load(&self, stream: &str) -> Result<Option<Checkpoint>, kvs_fleet::Error> {
        self.0.load(stream).await
    }

    async fn save(&self, stream: &str, checkpoint: &Checkpoint) -> Result<(), kvs_fleet::Error> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.save(stream, checkpoint).await
    }
}

/// CPU seconds used by process `pid` so far (user + system).
fn cpu_seconds(pid: &str, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / ticks_per_second
}

/// `VmRSS` and `VmHWM` of this process, in MB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What one measured run saw.
struct Run {
    fragments: u64,
    cpu_share: f64,
    latencies: Vec<i64>,
    rss: (f64, f64),
    writes: u64,
    streams_seen: usize,
}

fn measure_fleet(endpoint: &str, streams: usize, seconds: u64, ticks: f64, dir: &std::path::Path) -> Run {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let writes = Arc::new(AtomicU64::new(0));
    let store = Counting(SqliteStore::open(dir.join("fleet.sqlite")).unwrap(), writes.clone());
    let mut config = FleetConfig::new(StreamSelection::Prefix("cam".into()));
    config.consumer.endpoint_url = Some(endpoint.to_owned());
    let mut fleet = runtime.block_on(Fleet::start(config, store)).unwrap();
    runtime.block_on(async {
        // Warm up: every stream delivers once (connections open, buffers sized).
        let mut seen = std::collections::HashSet::new();
        let warm_until = Instant::now() + Duration::from_secs(30);
        while seen.len() < streams && Instant::now() < warm_until {
            if let Ok(Some(Event::Fragment(d))) =
                tokio::time::timeout(Duration::from_secs(1), fleet.next()).await
            {
                seen.insert(d.stream().to_owned());
            }
        }
        let (cpu0, writes0, start) =
            (cpu_seconds("self", ticks), writes.load(Ordering::Relaxed), Instant::now());
        let mut latencies = Vec::new();
        let mut fragments = 0;
        let mut streams_seen = std::collections::HashSet::new();
        let end = start + Duration::from_secs(seconds);
        while let Ok(Some(event)) =
            tokio::time::timeout(end.saturating_duration_since(Instant::now()), fleet.next()).await
        {
            if let Event::Fragment(d) = event {
                fragments += 1;
                streams_seen.insert(d.stream().to_owned());
                if let Some(server) = &d.fragment().kvs().server_timestamp {
                    latencies.push(now_ms() - server.unix_millis());
                }
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu_share = (cpu_seconds("self", ticks) - cpu0) / elapsed;
        let rss = rss_mb();
        latencies.sort_unstable();
        let writes = writes.load(Ordering::Relaxed) - writes0;
        fleet.shutdown().await;
        Run { fragments, cpu_share, latencies, rss, writes, streams_seen: streams_seen.len() }
    })
}

/// The first release's shape: a `Consumer` per stream, each with its own SDK
/// configuration and connection pool, all in this process.
fn measure_separate_consumers(endpoint: &str, streams: usize, seconds: u64, ticks: f64) -> (u64, f64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let mut reads = Vec::new();
        for i in 0..streams {
            let mut config = Config::default();
            config.endpoint_url = Some(endpoint.to_owned());
            let mut read =
                Consumer::with_config(Source::live(format!("cam{i:03}"), StartSelector::Now), config)
                    .stream()
                    .unwrap();
            let tx = tx.clone();
            reads.push(tokio::spawn(async move {
                while let Some(Ok(_fragment)) = read.next().await {
                    if tx.send(()).await.is_err() {
                        break;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        while rx.try_recv().is_ok() {}
        let (cpu0, start) = (cpu_seconds("self", ticks), Instant::now());
        let mut fragments = 0;
        let end = start + Duration::from_secs(seconds);
        while let Ok(Some(())) =
            tokio::time::timeout(end.saturating_duration_since(Instant::now()), rx.recv()).await
        {
            fragments += 1;
        }
        let cpu_share = (cpu_seconds("self", ticks) - cpu0) / start.elapsed().as_secs_f64();
        for read in reads {
            read.abort();
        }
        (fragments, cpu_share)
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let env =
        |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let streams = env("KVS_FLEET_STREAMS", if quick { 50 } else { 500 }) as usize;
    let seconds = env("KVS_FLEET_SECONDS", if quick { 8 } else { 30 });
    let ticks = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("camera.mkv");
    let camera =
        CameraConfig { width: 320, height: 240, fps: 15, frames_per_fragment: 15, ..Default::default() };
    let mkv = encode_at(&camera, 15 * 10, 1_700_000_000_000).unwrap();
    std::fs::write(&input, &mkv).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_kvs"))
        .args(["serve", "--replay", &format!("{streams}:cam={}", input.display())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kvs serve runs");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let server_pid = server.0.id().to_string();
    let endpoint = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("export AWS_ENDPOINT_URL=").map(str::to_owned))
        .expect("kvs serve prints its endpoint");

    let server_cpu0 = (cpu_seconds(&server_pid, ticks), Instant::now());
    let run = measure_fleet(&endpoint, streams, seconds, ticks, dir.path());
    let server_share =
        (cpu_seconds(&server_pid, ticks) - server_cpu0.0) / server_cpu0.1.elapsed().as_secs_f64();
    let (base_fragments, base_share) = measure_separate_consumers(&endpoint, streams, seconds, ticks);

    let per_hour = run.writes as f64 / streams as f64 / seconds as f64 * 3600.0;
    println!(
        "fleet/{streams} streams for {seconds} s ({} kB replayed per loop of 10 fragments)",
        mkv.len() / 1000
    );
    println!(
        "  fleet:    {} fragments ({:.0}/s) from {} streams; CPU {:.1}% of one core; RSS {:.0} MB (peak {:.0} MB)",
        run.fragments,
        run.fragments as f64 / seconds as f64,
        run.streams_seen,
        run.cpu_share * 100.0,
        run.rss.0,
        run.rss.1
    );
    println!(
        "  latency ingest -> handler: p50 {} ms, p99 {} ms, max {} ms",
        percentile(&run.latencies, 0.5),
        percentile(&run.latencies, 0.99),
        run.latencies.last().copied().unwrap_or(-1)
    );
    println!("  checkpoint writes: {} ({per_hour:.0} per stream per hour)", run.writes);
    println!(
        "  baseline, a Consumer per stream: {base_fragments} fragments; CPU {:.1}% of one core (fleet/baseline CPU per fragment {:.2})",
        base_share * 100.0,
        (run.cpu_share / run.fragments.max(1) as f64) / (base_share / base_fragments.max(1) as f64)
    );
    println!(
        "  server (kvs serve --replay, other process): CPU {:.1}% of one core during the fleet run",
        server_share * 100.0
    );
}
