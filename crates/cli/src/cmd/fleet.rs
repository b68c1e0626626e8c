//! `kvs fleet`: many streams in one process, and many processes sharing them through
//! DynamoDB leases, with checkpoints that survive a restart (`kvs-fleet`).
//!
//! Each fragment is handled on the blocking pool, one at a time per stream and many
//! streams at once, so a slow `--frames-out` on one stream holds only that stream. SIGTERM
//! and Ctrl-C stop cleanly: every stream finishes its fragment, writes its last checkpoint
//! and releases its lease, so another worker (or the next run) goes on with nothing lost
//! and nothing repeated.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use kvs_consumer::{FragmentExt, StartSelector};
use kvs_fleet::{
    CheckpointPolicy, Delivery, Event, Fleet, FleetConfig, SqliteStore, StreamSelection, positive_seconds,
};
use serde::Serialize;

use crate::images::{ImageArgs, ImageSaver};
use crate::record::{ErrorRecord, FragmentRecord};

/// Arguments of `kvs fleet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read these streams (comma-separated names).
    #[arg(long, value_delimiter = ',', required_unless_present_any = ["prefix", "all"], conflicts_with_all = ["prefix", "all"])]
    streams: Vec<String>,
    /// Read every stream whose name starts with this (ListStreams, again every minute).
    #[arg(long, conflicts_with = "all")]
    prefix: Option<String>,
    /// Read every stream of the account and region, or of the endpoint.
    #[arg(long)]
    all: bool,
    /// Endpoint URL of the control plane, e.g. a `kvs serve` address (default:
    /// AWS_ENDPOINT_URL, then AWS).
    #[arg(long)]
    endpoint: Option<String>,
    /// Trust the certificates of this PEM file besides the system's, e.g. the cert.pem of
    /// `kvs serve --tls` (default: AWS_CA_BUNDLE, else SSL_CERT_FILE, when set).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// AWS region (default: AWS_REGION, then the profile).
    #[arg(long)]
    region: Option<String>,
    /// Where checkpoints live: `sqlite:PATH` (one machine) or `dynamodb:TABLE` (leases
    /// shared by many workers; the table is created if missing).
    #[arg(long, default_value = "sqlite:kvs-checkpoints.sqlite", value_name = "sqlite:PATH|dynamodb:TABLE")]
    checkpoints: String,
    /// This worker's id, in the lease table and the JSON Lines (default: host name and
    /// process id).
    #[arg(long, value_name = "ID")]
    worker_id: Option<String>,
    /// Seconds without renewal after which a worker's lease may be taken (DynamoDB).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    failover: f64,
    /// Write checkpoints at most every SECONDS instead of after every fragment (fewer
    /// writes; after a crash up to that much is delivered again, flagged).
    #[arg(long, value_name = "SECONDS")]
    checkpoint_every: Option<f64>,
    /// Where a stream with no checkpoint starts: now or earliest.
    #[arg(long, default_value = "now")]
    start: String,
    /// Seconds between two ListStreams calls.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    discovery_interval: f64,
    /// Save each fragment as a playable .mkv in DIR/<stream>/.
    #[arg(long, value_name = "DIR")]
    save_mkv: Option<PathBuf>,
    /// Save video frames as images in DIR/<stream>/.
    #[arg(long, value_name = "DIR")]
    frames_out: Option<PathBuf>,
    /// Which frames `--frames-out` saves, in which format.
    #[command(flatten)]
    images: ImageArgs,
    /// Print JSON Lines: fragments (the `kvs inspect --json` object plus `stream`, `worker`
    /// and `redelivered`), lease events and errors.
    #[arg(long)]
    json: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
}

/// Where checkpoints live.
#[derive(Debug, Clone, PartialEq)]
enum Checkpoints {
    Sqlite(PathBuf),
    DynamoDb { table: String, failover: Duration },
}

/// The checked arguments.
struct Plan {
    config: FleetConfig,
    checkpoints: Checkpoints,
    output: Output,
    metrics: Option<SocketAddr>,
}

impl Plan {
    fn new(args: Args) -> anyhow::Result<Self> {
        let streams = match (args.streams, args.prefix, args.all) {
            (names, None, false) if !names.is_empty() => {
                if let Some(bad) = names.iter().find(|n| !safe_stream_name(n)) {
                    bail!("--streams: {bad:?} is not a stream name");
                }
                StreamSelection::Names(names)
            }
            (_, Some(prefix), false) => StreamSelection::Prefix(prefix),
            (_, None, true) => StreamSelection::All,
            _ => bail!("give --streams, --prefix or --all"),
        };
        let mut config = FleetConfig::new(streams);
        config.consumer.region = args.region;
        config.consumer.endpoint_url = args.endpoint;
        config.consumer.ca_pem = kvs_consumer::tls::ca_pem_from(args.ca_file.as_deref())?;
        config.initial = match args.start.parse()? {
            s @ (StartSelector::Now | StartSelector::Earliest) => s,
            _ => bail!("--start is now or earliest (a checkpoint decides the rest)"),
        };
        config.discovery_interval = positive_seconds("--discovery-interval", args.discovery_interval)?;
        if let Some(every) = args.checkpoint_every {
            config.checkpoint = CheckpointPolicy::Every(positive_seconds("--checkpoint-every", every)?);
        }
        let failover = positive_seconds("--failover", args.failover)?;
        let checkpoints = match args.checkpoints.split_once(':') {
            Some(("sqlite", path)) if !path.is_empty() => Checkpoints::Sqlite(path.into()),
            Some(("dynamodb", table)) if !table.is_empty() => {
                Checkpoints::DynamoDb { table: table.to_owned(), failover }
            }
            _ => bail!("--checkpoints takes sqlite:PATH or dynamodb:TABLE"),
        };
        if args.frames_out.is_none() && (args.images.every.is_some() || args.images.keyframes) {
            bail!("--every and --keyframes choose frames for --frames-out DIR: give it too");
        }
        config.worker_id = args.worker_id.unwrap_or_else(kvs_fleet::default_worker_id);
        let output = Output {
            json: args.json,
            save_mkv: args.save_mkv,
            frames: args.frames_out.map(|dir| (dir, args.images)),
            stdout: Mutex::new(()),
            worker: config.worker_id.clone(),
        };
        Ok(Self { config, checkpoints, output, metrics: args.metrics })
    }
}

/// Stream names become directory names: only what KVS allows, and never `.` or `..`.
fn safe_stream_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name != "."
        && name != ".."
}

/// Runs `kvs fleet`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::new(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(fleet(plan))
}

async fn fleet(plan: Plan) -> anyhow::Result<()> {
    if let Some(addr) = plan.metrics {
        crate::metrics_endpoint::serve(addr)?;
    }
    let mut fleet = match &plan.checkpoints {
        Checkpoints::Sqlite(path) => {
            let store = SqliteStore::open(path).with_context(|| format!("opening {}", path.display()))?;
            Fleet::start(plan.config, store).await?
        }
        Checkpoints::DynamoDb { table, failover } => {
            Fleet::start_on_dynamodb(plan.config, table, *failover).await?
        }
    };
    let output = Arc::new(plan.output);
    let mut handlers = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    let mut stopping = false;
    let mut failure = None;
    loop {
        let event = tokio::select! {
            event = fleet.next() => event,
            () = &mut stop, if !stopping => {
                eprintln!("kvs fleet: stopping (each stream finishes its fragment and checkpoints)");
                fleet.stop();
                stopping = true;
                continue;
            }
            Some(done) = handlers.join_next(), if !handlers.is_empty() => {
                if let Err(e) = done.map_err(anyhow::Error::from).and_then(|r| r) {
                    failure.get_or_insert(e);
                    fleet.stop();
                    stopping = true;
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        match event {
            Event::Fragment(delivery) => {
                let output = output.clone();
                handlers.spawn_blocking(move || output.fragment(delivery));
            }
            Event::Lease(lease) => output.lease(&lease.stream, lease.kind.as_str())?,
            Event::Error { stream, error } => output.error(&stream, &error)?,
            _ => {}
        }
    }
    while let Some(done) = handlers.join_next().await {
        if let Err(e) = done.map_err(anyhow::Error::from).and_then(|r| r) {
            failure.get_or_insert(e);
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What is done with each event.
struct Output {
    json: bool,
    save_mkv: Option<PathBuf>,
    frames: Option<(PathBuf, ImageArgs)>,
    /// Lines from many handler threads must not interleave.
    stdout: Mutex<()>,
    worker: String,
}

/// `{"type":"fragment", ... ,"stream":S,"worker":W,"redelivered":B}`.
#[derive(Serialize)]
struct FleetFragmentRecord<'a> {
    #[serde(flatten)]
    fragment: FragmentRecord,
    stream: &'a str,
    worker: &'a str,
    redelivered: bool,
}

/// `{"type":"lease","stream":S,"worker":W,"event":"acquired|renewed|lost|released|stolen"}`.
#[derive(Serialize)]
struct LeaseRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    stream: &'a str,
    worker: &'a str,
    event: &'a str,
}

/// `{"type":"error","stream":S,"worker":W,"code":..,"id":..,"message":..}`.
#[derive(Serialize)]
struct StreamErrorRecord<'a> {
    #[serde(flatten)]
    error: ErrorRecord,
    stream: &'a str,
    worker: &'a str,
}

impl Output {
    /// Handles one delivery; dropping it at the end marks it handled.
    fn fragment(&self, delivery: Delivery) -> anyhow::Result<()> {
        let stream = delivery.stream();
        let fragment = delivery.fragment();
        let stream_dir = |root: &Path| -> anyhow::Result<PathBuf> {
            if !safe_stream_name(stream) {
                bail!("stream name {stream:?} cannot be a directory name");
            }
            Ok(root.join(stream))
        };
        if let Some(root) = &self.save_mkv {
            fragment.save_mkv_in(&stream_dir(root)?)?;
        }
        if let Some((root, images)) = &self.frames {
            // A decoder per fragment: a fragment starts at a keyframe, and decoders are
            // not `Send`, so they cannot wait between fragments on the shared pool.
            let mut saver = ImageSaver::new(images, kvs_media::Selection::All, stream_dir(root)?)?;
            if let Err(e) = saver.save(fragment) {
                tracing::warn!(stream, error = %e, "frames not saved");
            }
        }
        if self.json {
            let record = FleetFragmentRecord {
                fragment: FragmentRecord::new(fragment),
                stream,
                worker: &self.worker,
                redelivered: delivery.redelivered(),
            };
            self.line(&record)?;
        } else {
            let number = fragment.kvs().fragment_number.as_ref().map_or("-", |n| n.as_str());
            let flag = if delivery.redelivered() { " (redelivered)" } else { "" };
            let _lock = self.stdout.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            writeln!(io::stdout().lock(), "{stream}  {number}  {} bytes{flag}", fragment.bytes().len())?;
        }
        Ok(())
    }

    fn lease(&self, stream: &str, event: &str) -> anyhow::Result<()> {
        if self.json {
            self.line(&LeaseRecord { kind: "lease", stream, worker: &self.worker, event })
        } else {
            eprintln!("lease {event}: {stream}");
            Ok(())
        }
    }

    fn error(&self, stream: &str, error: &kvs_consumer::Error) -> anyhow::Result<()> {
        if self.json {
            let record = match error {
                kvs_consumer::Error::InBand(aws) => ErrorRecord::new(aws),
                other => ErrorRecord::message(other.to_string()),
            };
            self.line(&StreamErrorRecord { error: record, stream, worker: &self.worker })
        } else {
            eprintln!("kvs fleet: {stream}: {error}");
            Ok(())
        }
    }

    fn line(&self, record: &impl Serialize) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let _lock = self.stdout.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = io::stdout().lock();
        out.write_all(&line)?;
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        Plan::new(crate::cmd::parse_args(args)?)
    }

    #[test]
    fn arguments_become_a_fleet() {
        let p = plan(&["--streams", "a,b,c"]).unwrap();
        assert_eq!(p.config.streams, StreamSelection::Names(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(p.checkpoints, Checkpoints::Sqlite("kvs-checkpoints.sqlite".into()));
        let p = plan(&[
            "--prefix",
            "cam",
            "--checkpoints",
            "dynamodb:leases",
            "--worker-id",
            "w1",
            "--failover",
            "3",
        ])
        .unwrap();
        assert_eq!(p.config.streams, StreamSelection::Prefix("cam".into()));
        assert_eq!(
            p.checkpoints,
            Checkpoints::DynamoDb { table: "leases".into(), failover: Duration::from_secs(3) }
        );
        assert_eq!(p.output.worker, "w1");
        let p = plan(&["--all", "--checkpoint-every", "10", "--start", "earliest"]).unwrap();
        assert_eq!(p.config.checkpoint, CheckpointPolicy::Every(Duration::from_secs(10)));
        assert_eq!(p.config.initial, StartSelector::Earliest);
    }

    #[test]
    fn bad_arguments_are_refused_before_any_work() {
        for args in [
            &[][..],
            &["--streams", "a", "--all"],
            &["--prefix", "a", "--all"],
            &["--streams", "..,a"],
            &["--all", "--checkpoints", "redis:x"],
            &["--all", "--checkpoints", "sqlite:"],
            &["--all", "--failover", "0"],
            &["--all", "--checkpoint-every", "-1"],
            &["--all", "--start", "after:12"],
            &["--all", "--every", "2"],
        ] {
            assert!(plan(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn stream_names_that_could_escape_a_directory_are_refused() {
        assert!(safe_stream_name("cam-01_a.b"));
        for bad in ["", ".", "..", "a/b", "a\\b", "é"] {
            assert!(!safe_stream_name(bad), "{bad}");
        }
    }
}
