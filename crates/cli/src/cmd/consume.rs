//! `kvs consume`: reads a stream (live, archived, or a local capture) fragment by fragment
//! through `kvs-consumer`, prints a row (or a JSON Lines record) per fragment, optionally
//! saves each as a playable .mkv and its video frames as images (through
//! [`ImageSaver`], with the options of `kvs frames`), and shows a progress line with
//! fragments, bytes and lag.
//!
//! Argument checking, printing and the progress line live here; reading, resuming and
//! retrying belong to `kvs-consumer`, decoding to `kvs-media`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kvs_consumer::{
    Config, Consumer, Error, Fragment, FragmentExt, Snapshot, Source, StartSelector, TimeRange, TimestampKind,
};

use crate::display::{clock, human_bytes};
use crate::images::{ImageArgs, ImageSaver};
use crate::record::{ErrorRecord, FragmentRecord};

/// Arguments of `kvs consume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stream name, or ARN (`arn:...`).
    #[arg(long, required_unless_present = "input")]
    stream: Option<String>,
    /// Read a GetMedia capture or MKV file instead of a stream (`-` for standard input).
    #[arg(long, conflicts_with_all = ["stream", "start", "from", "until_caught_up"])]
    input: Option<PathBuf>,
    /// AWS region (default: AWS_REGION, then the profile).
    #[arg(long)]
    region: Option<String>,
    /// Endpoint URL of the control plane, e.g. a `kvs serve` address (default:
    /// AWS_ENDPOINT_URL, then AWS).
    #[arg(long)]
    endpoint: Option<String>,
    /// Trust the certificates of this PEM file besides the system's, e.g. the cert.pem of
    /// `kvs serve --tls` (default: AWS_CA_BUNDLE, else SSL_CERT_FILE, when set).
    #[arg(long, value_name = "PEM", conflicts_with = "input")]
    ca_file: Option<PathBuf>,
    /// Where a live read starts: now, earliest, after:FRAGMENT, server:RFC3339,
    /// producer:RFC3339 or token:TOKEN.
    #[arg(long, conflicts_with = "from")]
    start: Option<String>,
    /// Archive mode: first time of the range (RFC 3339).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Archive mode: last time of the range (RFC 3339).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Archive mode: select by producer timestamps instead of server timestamps.
    #[arg(long, requires = "from")]
    producer_time: bool,
    /// Stop at the live edge instead of following the stream.
    #[arg(long)]
    until_caught_up: bool,
    /// Save each fragment as a playable .mkv in this directory.
    #[arg(long, value_name = "DIR")]
    save_mkv: Option<PathBuf>,
    /// Print JSON Lines (the contract of `kvs inspect --json`) instead of a table.
    #[arg(long)]
    json: bool,
    /// Stop after this many fragments.
    #[arg(long, value_name = "N")]
    max_fragments: Option<u64>,
    /// Save video frames as images `<fragment number>-<frame index>.<ext>` in this
    /// directory (every frame unless `--every` or `--keyframes` says otherwise).
    #[arg(long, value_name = "DIR")]
    frames_out: Option<PathBuf>,
    /// Which frames `--frames-out` saves, in which format.
    #[command(flatten)]
    images: ImageArgs,
    /// Serve Prometheus metrics (fragments, bytes, lag, reconnects, errors) at
    /// http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

/// The arguments, checked: what to read and how to show it.
struct Plan {
    source: Source,
    config: Config,
    save_mkv: Option<PathBuf>,
    /// `--frames-out` and the options for it.
    frames: Option<(PathBuf, ImageArgs)>,
    json: bool,
    max_fragments: Option<u64>,
    metrics: Option<std::net::SocketAddr>,
}

impl Plan {
    fn new(args: Args) -> anyhow::Result<Self> {
        let mut config = Config::default();
        config.region = args.region;
        config.endpoint_url = args.endpoint;
        if args.input.is_none() {
            config.ca_pem = kvs_consumer::tls::ca_pem_from(args.ca_file.as_deref())?;
        }
        config.until_caught_up = args.until_caught_up;
        let source = match (args.input, args.stream) {
            (Some(path), _) if path.as_os_str() == "-" => Source::reader(tokio::io::stdin()),
            (Some(path), _) => {
                Source::file(&path).with_context(|| format!("cannot open {}", path.display()))?
            }
            (None, Some(stream)) => match (args.from, args.to) {
                (Some(from), Some(to)) => {
                    let from = kvs_consumer::parse_rfc3339(&from)?;
                    let to = kvs_consumer::parse_rfc3339(&to)?;
                    anyhow::ensure!(from <= to, "--from must not be after --to");
                    let mut range = TimeRange::server(from, to);
                    if args.producer_time {
                        range.kind = TimestampKind::Producer;
                    }
                    Source::archive(stream, range)
                }
                _ => {
                    let start: StartSelector = args.start.as_deref().unwrap_or("now").parse()?;
                    Source::live(stream, start)
                }
            },
            (None, None) => anyhow::bail!("give --stream NAME or --input FILE"),
        };
        if args.max_fragments == Some(0) {
            anyhow::bail!("--max-fragments must be at least 1");
        }
        let images = &args.images;
        if args.frames_out.is_none() && (images.every.is_some() || images.keyframes || images.track.is_some())
        {
            anyhow::bail!("--every, --keyframes and --track choose frames for --frames-out DIR: give it too");
        }
        Ok(Self {
            source,
            config,
            save_mkv: args.save_mkv,
            frames: args.frames_out.map(|dir| (dir, args.images)),
            json: args.json,
            max_fragments: args.max_fragments,
            metrics: args.metrics,
        })
    }
}

/// Runs `kvs consume`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::new(args)?;
    if let Some(dir) = &plan.save_mkv {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Frames are decoded on this thread (the one `block_on` runs the loop on), so the
    // runtime's workers keep reading the stream meanwhile.
    let saver = match &plan.frames {
        Some((dir, args)) => Some(ImageSaver::new(args, kvs_media::Selection::All, dir.clone())?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(consume(plan, saver))
}

async fn consume(plan: Plan, mut saver: Option<ImageSaver>) -> anyhow::Result<()> {
    if let Some(addr) = plan.metrics {
        crate::metrics_endpoint::serve(addr)?;
    }
    let mut stream = Consumer::with_config(plan.source, plan.config).stream()?;
    let stats = stream.stats();
    let progress = progress_bar();
    let started = Instant::now();
    let mut out = BufWriter::new(io::stdout().lock());
    if !plan.json {
        progress.suspend(|| writeln!(out, "{}", table_header()).and_then(|()| out.flush()))?;
    }
    let mut delivered = 0u64;
    let mut failure = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            _ = &mut ctrl_c => {
                stream.stop();
                break;
            }
        };
        let Some(item) = item else { break };
        match item {
            Ok(fragment) => {
                delivered += 1;
                let saved = match &plan.save_mkv {
                    Some(dir) => Some(fragment.save_mkv_in(dir)?),
                    None => None,
                };
                if let Some(saver) = saver.as_mut() {
                    saver.save(&fragment)?;
                }
                progress.suspend(|| -> io::Result<()> {
                    if plan.json {
                        serde_json::to_writer(&mut out, &FragmentRecord::new(&fragment))?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "{}", table_row(delivered, &fragment, saved.as_deref()))?;
                    }
                    out.flush()
                })?;
                progress.set_message(progress_message(&stats.snapshot(), started.elapsed()));
                if plan.max_fragments.is_some_and(|max| delivered >= max) {
                    stream.stop();
                    break;
                }
            }
            Err(Error::InBand(aws)) => {
                progress.suspend(|| -> io::Result<()> {
                    if plan.json {
                        serde_json::to_writer(&mut out, &ErrorRecord::new(&aws))?;
                        writeln!(out)?;
                        out.flush()?;
                    }
                    Ok(())
                })?;
                let error = Error::InBand(aws);
                if error.ends_stream() {
                    failure = Some(error);
                } else {
                    progress.suspend(|| eprintln!("kvs: {error}"));
                }
            }
            Err(error) => failure = Some(error),
        }
    }
    progress.finish_and_clear();
    let s = stats.snapshot();
    eprintln!("{}", progress_message(&s, started.elapsed()));
    if let Some(saver) = &saver {
        eprintln!("{}", images_summary(saver));
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// `12 images in out (1 frames failed, 2 fragments undecodable)`: the last part, as
/// `kvs frames` says it, only when fragments were skipped for a codec this build lacks.
fn images_summary(saver: &ImageSaver) -> String {
    let undecodable = match saver.undecodable() {
        0 => String::new(),
        n => format!(", {n} fragments undecodable"),
    };
    format!(
        "{} images in {} ({} frames failed{undecodable})",
        saver.written(),
        saver.dir().display(),
        saver.frame_errors()
    )
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message("waiting for the first fragment");
    bar
}

/// `12 fragments, 3.4 MB (1.1 MB/s), lag 850 ms, 2 retries`.
fn progress_message(s: &Snapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut msg = format!(
        "{} fragments, {} ({}/s)",
        s.fragments,
        human_bytes(s.bytes as f64),
        human_bytes(s.bytes as f64 / secs)
    );
    if let Some(lag) = s.millis_behind_now {
        msg.push_str(&format!(", lag {lag} ms"));
    }
    if s.retries > 0 {
        msg.push_str(&format!(", {} retries", s.retries));
    }
    msg
}

fn table_header() -> String {
    format!(
        "{:>5}  {:<48}  {:>12}  {:>12}  {:>6}  {:>9}  {:>7}  {}",
        "#", "fragment number", "producer", "server", "frames", "bytes", "lag ms", "file"
    )
}

fn table_row(n: u64, f: &Fragment, saved: Option<&std::path::Path>) -> String {
    let kvs = f.kvs();
    let number = kvs.fragment_number.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string);
    let time =
        |t: &Option<kvs_mkv::Timestamp>| t.as_ref().map_or_else(|| "-".into(), |t| clock(t.unix_millis()));
    let frames = f.frames_lossy().0.len();
    let lag = kvs.millis_behind_now.map_or_else(|| "-".into(), |l| l.to_string());
    let file =
        saved.and_then(|p| p.file_name()).map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!(
        "{n:>5}  {number:<48}  {:>12}  {:>12}  {frames:>6}  {:>9}  {lag:>7}  {file}",
        time(&kvs.producer_timestamp),
        time(&kvs.server_timestamp),
        f.bytes().len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        Plan::new(crate::cmd::parse_args(args)?)
    }

    #[test]
    fn arguments_become_a_source() {
        let p = plan(&["--stream", "cam", "--start", "earliest", "--until-caught-up"]).unwrap();
        assert!(
            matches!(p.source, Source::Live { ref stream, start: StartSelector::Earliest, .. } if stream == "cam")
        );
        assert!(p.config.until_caught_up);
        let p = plan(&["--stream", "cam", "--from", "2024-01-01T00:00:00Z", "--to", "2024-01-01T01:00:00Z"])
            .unwrap();
        assert!(matches!(p.source, Source::Archive { range, .. } if range.kind == TimestampKind::Server));
        let p = plan(&["--stream", "cam"]).unwrap();
        assert!(matches!(p.source, Source::Live { start: StartSelector::Now, .. }));
        assert!(p.frames.is_none());
        let p = plan(&["--stream", "cam", "--frames-out", "img", "--keyframes", "--format", "png"]).unwrap();
        let (dir, images) = p.frames.unwrap();
        assert_eq!(dir, PathBuf::from("img"));
        assert!(matches!(images.selection(kvs_media::Selection::All), kvs_media::Selection::Keyframes));
        assert_eq!(images.image_format(), kvs_media::ImageFormat::Png);
    }

    #[test]
    fn bad_arguments_are_refused_before_any_work() {
        for args in [
            &["--stream", "cam", "--start", "yesterday"][..],
            &["--stream", "cam", "--from", "2024-01-01T01:00:00Z", "--to", "2024-01-01T00:00:00Z"],
            &["--stream", "cam", "--from", "2024-01-01T00:00:00Z"],
            &[
                "--stream",
                "cam",
                "--start",
                "now",
                "--from",
                "2024-01-01T00:00:00Z",
                "--to",
                "2024-01-01T00:00:00Z",
            ],
            &["--stream", "cam", "--max-fragments", "0"],
            &["--stream", "cam", "--every", "5"],
            &["--stream", "cam", "--frames-out", "x", "--every", "0"],
            &["--stream", "cam", "--frames-out", "x", "--every", "2", "--keyframes"],
            &[],
        ] {
            assert!(plan(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn consume_saves_every_fragment_of_a_local_stream() {
        let server_rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let config = kvs_local::Config { idle_timeout: Duration::from_millis(200), ..Default::default() };
        let kvs = server_rt.block_on(kvs_local::LocalKvs::start(config)).unwrap();
        kvs.create_stream("cli").unwrap();
        let numbers = kvs.ingest_mkv("cli", kvs_mkv::testing::stream_of(5)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let endpoint = kvs.endpoint_url();
        let args = [
            "--stream",
            "cli",
            "--endpoint",
            &endpoint,
            "--start",
            "earliest",
            "--until-caught-up",
            "--json",
            "--save-mkv",
            dir.path().to_str().unwrap(),
        ];
        run(crate::cmd::parse_args(&args).unwrap()).unwrap();
        let mut saved: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        saved.sort();
        let mut expected: Vec<String> = numbers.iter().map(|n| format!("{n}.mkv")).collect();
        expected.sort();
        assert_eq!(saved, expected);
        server_rt.block_on(kvs.shutdown());
    }
}
