//! `kvs demo`: the product in one command, with no AWS account, no files and no system
//! packages. It starts the embedded KVS server (`kvs-local`) with a synthetic camera at
//! real time, consumes the stream live through `kvs-consumer` for a few seconds, saves each
//! fragment as a playable .mkv (and every 5th frame, or those `--every`/`--keyframes`
//! choose, as a JPEG or PNG in `<out>/frames` through [`ImageSaver`]), prints a row per
//! fragment as it arrives, then a summary.
//!
//! Serving, consuming and decoding belong to those crates; this module only wires them
//! together and prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use kvs_consumer::{Config, Consumer, Fragment, FragmentExt, Source, StartSelector, StaticCredentials};
use kvs_local::{CameraConfig, LocalKvs};
use kvs_media::Selection;

use crate::display::{clock, human_bytes};
use crate::images::{ImageArgs, ImageSaver};

/// The stream the demo camera films into.
const STREAM: &str = "kvs-demo";

/// Arguments of `kvs demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to consume, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Directory for the saved fragments, and for images in its `frames` subdirectory
    /// (created if needed).
    #[arg(long, default_value = "kvs-demo-out")]
    out: PathBuf,
    /// Picture size of the synthetic camera, WIDTHxHEIGHT.
    #[arg(long, default_value = "320x240")]
    size: String,
    /// Frames per second of the camera (fragments are one second long).
    #[arg(long, default_value_t = 15)]
    fps: u32,
    /// Which frames become images, in which format (default: every 5th frame as JPEG).
    #[command(flatten)]
    images: ImageArgs,
    /// Save no images, only the fragments (by default every 5th frame of each fragment
    /// is saved as a JPEG in `<out>/frames`).
    #[arg(long, conflicts_with_all = ["every", "keyframes"])]
    no_frames: bool,
}

/// The frames the demo saves when no flag chooses.
const DEFAULT_EVERY: std::num::NonZeroUsize = std::num::NonZeroUsize::new(5).expect("5 is not zero");

/// The arguments, checked.
#[derive(Debug)]
struct Plan {
    duration: Duration,
    out: PathBuf,
    camera: CameraConfig,
    /// `None` with `--no-frames`.
    images: Option<ImageArgs>,
}

impl Plan {
    fn new(args: Args) -> anyhow::Result<Self> {
        anyhow::ensure!(
            args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0,
            "--seconds must be more than 0 and at most 3600"
        );
        let (width, height) = args
            .size
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .with_context(|| format!("--size {:?} is not WIDTHxHEIGHT", args.size))?;
        anyhow::ensure!((1..=120).contains(&args.fps), "--fps must be 1 to 120");
        let camera = CameraConfig {
            width,
            height,
            fps: args.fps,
            frames_per_fragment: args.fps,
            frames: None,
            realtime: true,
        };
        Ok(Self {
            duration: Duration::from_secs_f64(args.seconds),
            out: args.out,
            camera,
            images: (!args.no_frames).then_some(args.images),
        })
    }
}

/// Runs `kvs demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::new(args)?;
    std::fs::create_dir_all(&plan.out).with_context(|| format!("cannot create {}", plan.out.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(demo(plan))
}

/// What the demo saw.
#[derive(Debug, Default)]
struct Summary {
    fragments: u64,
    frames: usize,
    bytes: u64,
    images: u64,
    latencies_ms: Vec<i64>,
}

async fn demo(plan: Plan) -> anyhow::Result<()> {
    let kvs =
        LocalKvs::start(kvs_local::Config::default()).await.context("cannot start the local KVS server")?;
    let camera = kvs.spawn_camera(STREAM, plan.camera.clone());
    println!(
        "local KVS at {} (AWS_ENDPOINT_URL), camera {}x{} @ {} fps into stream {STREAM:?}; consuming for {:.0} s",
        kvs.endpoint_url(),
        plan.camera.width,
        plan.camera.height,
        plan.camera.fps,
        plan.duration.as_secs_f64()
    );
    let mut config = Config::default();
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(kvs.endpoint_url());
    // The local server accepts any signature; nothing here is a real credential.
    config.credentials = Some(StaticCredentials {
        access_key_id: "kvs-demo".into(),
        secret_access_key: "kvs-demo".into(),
        session_token: None,
    });
    let mut stream = Consumer::with_config(Source::live(STREAM, StartSelector::Earliest), config).stream()?;
    let stats = stream.stats();
    let mut saver = plan
        .images
        .as_ref()
        .map(|args| ImageSaver::new(args, Selection::EveryNth(DEFAULT_EVERY), plan.out.join("frames")))
        .transpose()?;
    println!(
        "{:>4}  {:<48}  {:>12}  {:>6}  {:>9}  {:>10}  {:>6}",
        "#", "fragment number", "producer", "frames", "bytes", "latency ms", "images"
    );
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + plan.duration;
    let mut summary = Summary::default();
    let mut failure = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let item = tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            _ = &mut ctrl_c => break,
            item = stream.next() => item,
        };
        match item {
            Some(Ok(fragment)) => on_fragment(&fragment, &plan.out, saver.as_mut(), &mut summary)?,
            Some(Err(error)) if !error.ends_stream() => tracing::warn!(%error, "in-band error"),
            Some(Err(error)) => {
                failure = Some(error);
                break;
            }
            None => break,
        }
    }
    stream.stop();
    drop(stream);
    let camera_fragments = camera.stop().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "camera stopped with an error");
        0
    });
    kvs.shutdown().await;
    if let Some(error) = failure {
        return Err(error).context("the demo stream failed");
    }
    print_summary(&summary, &stats.snapshot(), camera_fragments, started.elapsed(), &plan.out);
    anyhow::ensure!(summary.fragments > 0, "no fragment arrived in {:.1} s", plan.duration.as_secs_f64());
    Ok(())
}

fn on_fragment(
    fragment: &Fragment,
    out: &Path,
    saver: Option<&mut ImageSaver>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let received_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let kvs = fragment.kvs();
    let latency = kvs.server_timestamp.as_ref().map(|t| received_ms - t.unix_millis());
    fragment.save_mkv_in(out)?;
    let frames = fragment.frames_lossy().0.len();
    let images = match saver {
        Some(saver) => saver.save(fragment)?,
        None => 0,
    };
    summary.fragments += 1;
    summary.frames += frames;
    summary.bytes += fragment.bytes().len() as u64;
    summary.images += images;
    summary.latencies_ms.extend(latency);
    let number = kvs.fragment_number.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string);
    let producer = kvs.producer_timestamp.as_ref().map_or_else(|| "-".to_owned(), |t| clock(t.unix_millis()));
    let latency = latency.map_or_else(|| "-".to_owned(), |l| l.to_string());
    println!(
        "{:>4}  {number:<48}  {producer:>12}  {frames:>6}  {:>9}  {latency:>10}  {images:>6}",
        summary.fragments,
        fragment.bytes().len()
    );
    Ok(())
}

fn print_summary(s: &Summary, stats: &kvs_consumer::Snapshot, filmed: u64, elapsed: Duration, out: &Path) {
    println!();
    println!(
        "{} fragments ({} filmed), {} frames, {} in {:.1} s; {} GetMedia requests, {} retries",
        s.fragments,
        filmed,
        s.frames,
        human_bytes(s.bytes as f64),
        elapsed.as_secs_f64(),
        stats.requests,
        stats.retries
    );
    if let (Some(max), false) = (s.latencies_ms.iter().max(), s.latencies_ms.is_empty()) {
        let mean = s.latencies_ms.iter().sum::<i64>() as f64 / s.latencies_ms.len() as f64;
        println!("latency from ingest to handler: mean {mean:.1} ms, max {max} ms");
    }
    println!("saved {} playable .mkv files and {} images in {}", s.fragments, s.images, out.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        Plan::new(crate::cmd::parse_args(args)?)
    }

    #[test]
    fn defaults_make_a_ten_second_realtime_demo() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.duration, Duration::from_secs(10));
        assert_eq!(p.out, PathBuf::from("kvs-demo-out"));
        assert_eq!((p.camera.width, p.camera.height, p.camera.fps, p.camera.realtime), (320, 240, 15, true));
        let images = p.images.unwrap();
        assert!(
            matches!(images.selection(Selection::EveryNth(DEFAULT_EVERY)), Selection::EveryNth(n) if n.get() == 5)
        );
        assert_eq!(images.image_format(), kvs_media::ImageFormat::Jpeg { quality: 85 });
        assert!(plan(&["--no-frames"]).unwrap().images.is_none());
        let images = plan(&["--keyframes", "--format", "png"]).unwrap().images.unwrap();
        assert!(matches!(images.selection(Selection::EveryNth(DEFAULT_EVERY)), Selection::Keyframes));
        assert_eq!(images.image_format(), kvs_media::ImageFormat::Png);
    }

    #[test]
    fn bad_arguments_are_refused() {
        for args in [
            &["--seconds", "0"][..],
            &["--seconds", "nan"],
            &["--size", "320"],
            &["--size", "ax2"],
            &["--fps", "0"],
            &["--every", "0"],
            &["--every", "2", "--keyframes"],
            &["--no-frames", "--every", "2"],
            &["--quality", "101"],
        ] {
            assert!(plan(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn a_short_demo_saves_playable_fragments_and_jpegs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let args = [
            "--seconds",
            "3",
            "--out",
            out.to_str().unwrap(),
            "--size",
            "64x48",
            "--fps",
            "10",
            "--every",
            "5",
        ];
        run(crate::cmd::parse_args(&args).unwrap()).unwrap();
        let mut mkvs = Vec::new();
        for entry in std::fs::read_dir(&out).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "mkv") {
                let fragment = Fragment::from_bytes(std::fs::read(&path).unwrap().into()).unwrap();
                let number = fragment.kvs().fragment_number.clone().unwrap();
                assert_eq!(path.file_stem().unwrap().to_str().unwrap(), number.as_str());
                assert_eq!(fragment.frames().unwrap().len(), 10);
                mkvs.push(number);
            }
        }
        assert!(!mkvs.is_empty());
        let jpegs = std::fs::read_dir(out.join("frames")).unwrap().count();
        assert_eq!(jpegs, mkvs.len() * 2);
    }
}
