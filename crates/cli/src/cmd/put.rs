//! `kvs put`: sends a Matroska file, standard input (a pipe from ffmpeg or GStreamer) or
//! the synthetic camera to a stream through `kvs-producer`, with a progress line
//! (fragments sent and persisted, bitrate, ack latency) on standard error.
//!
//! Argument checking, the camera's feeding and the progress line live here; cutting
//! fragments, PutMedia, acknowledgements and resending belong to `kvs-producer`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use kvs_local::camera::{CameraConfig, encode_at};
use kvs_producer::{Config, Producer, Snapshot};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::sync::watch;

use crate::display::human_bytes;

/// Arguments of `kvs put`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stream name, or ARN (`arn:...`).
    #[arg(long)]
    stream: String,
    /// Endpoint URL of the control plane, e.g. a `kvs serve` address (default:
    /// AWS_ENDPOINT_URL, then AWS).
    #[arg(long)]
    endpoint: Option<String>,
    /// AWS region (default: AWS_REGION, then the profile).
    #[arg(long)]
    region: Option<String>,
    /// Create the stream if it does not exist.
    #[arg(long)]
    create: bool,
    /// A Matroska file to send, or `-` for standard input.
    #[arg(long, required_unless_present = "camera", conflicts_with = "camera")]
    input: Option<PathBuf>,
    /// Send the synthetic H.264 camera instead, e.g. `640x480@15`.
    #[arg(long, value_name = "WxH@FPS")]
    camera: Option<String>,
    /// With --camera: stop after this many frames (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    frames: Option<u64>,
    /// A live source: film the camera at real time, and when the upload buffer is full
    /// drop the oldest fragments (with a warning) instead of pausing the input.
    #[arg(long)]
    realtime: bool,
    /// Target fragment duration in seconds: a new fragment starts at the first keyframe
    /// past it (0 to 10).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    fragment_duration: f64,
    /// Tags written on every fragment: `K=V,K2=V2` (at most 10).
    #[arg(long, value_name = "K=V,...")]
    tags: Option<String>,
    /// Trust the certificates of this PEM file besides the system's, e.g. the cert.pem of
    /// `kvs serve --tls` (default: AWS_CA_BUNDLE, else SSL_CERT_FILE, when set).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

/// Where the bytes come from.
#[derive(Debug)]
enum Input {
    File(PathBuf),
    Stdin,
    Camera { camera: CameraConfig, frames: Option<u64> },
}

/// The arguments, checked.
#[derive(Debug)]
struct Plan {
    stream: String,
    input: Input,
    config: Config,
}

impl Plan {
    fn new(args: Args) -> anyhow::Result<Self> {
        let mut config = Config::default();
        config.region = args.region;
        config.endpoint_url = args.endpoint;
        config.create = args.create;
        config.realtime = args.realtime;
        if !args.fragment_duration.is_finite()
            || args.fragment_duration <= 0.0
            || args.fragment_duration > 10.0
        {
            bail!("--fragment-duration must be more than 0 and at most 10 seconds");
        }
        config.fragment_duration = Duration::from_secs_f64(args.fragment_duration);
        if let Some(tags) = &args.tags {
            config.tags = kvs_producer::parse_tags(tags)?;
        }
        config.ca_pem = kvs_consumer::tls::ca_pem_from(args.ca_file.as_deref())?;
        if args.frames.is_some() && args.camera.is_none() {
            bail!("--frames counts the frames of --camera: give it too");
        }
        let input = match (args.input, args.camera) {
            (Some(path), _) if path.as_os_str() == "-" => Input::Stdin,
            (Some(path), _) => Input::File(path),
            (None, Some(spec)) => {
                let mut camera = parse_camera(&spec)?;
                camera.realtime = args.realtime;
                if args.frames == Some(0) {
                    bail!("--frames must be at least 1");
                }
                Input::Camera { camera, frames: args.frames }
            }
            (None, None) => bail!("give --input FILE, --input - or --camera WxH@FPS"),
        };
        Ok(Self { stream: args.stream, input, config })
    }
}

/// `WxH@FPS`, a keyframe every second.
fn parse_camera(spec: &str) -> anyhow::Result<CameraConfig> {
    let bad = || format!("--camera {spec:?} is not WxH@FPS, e.g. 640x480@15");
    let (size, fps) = spec.split_once('@').with_context(bad)?;
    let (w, h) = size.split_once('x').with_context(bad)?;
    let fps: u32 = fps.parse().with_context(bad)?;
    let camera = CameraConfig {
        width: w.parse().with_context(bad)?,
        height: h.parse().with_context(bad)?,
        fps,
        frames_per_fragment: fps.max(1),
        ..CameraConfig::default()
    };
    // The camera checks its own limits; encoding one frame says so before any work.
    encode_at(&camera, 1, 0).map_err(|e| anyhow::anyhow!("--camera {spec}: {e}"))?;
    Ok(camera)
}

/// Runs `kvs put`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::new(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(put(plan))
}

async fn put(plan: Plan) -> anyhow::Result<()> {
    let (stop_camera, stopped) = watch::channel(false);
    let input: Box<dyn AsyncRead + Unpin + Send> = match plan.input {
        Input::File(path) => Box::new(
            tokio::fs::File::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?,
        ),
        Input::Stdin => Box::new(tokio::io::stdin()),
        Input::Camera { camera, frames } => {
            let (writer, reader) = tokio::io::duplex(1 << 20);
            tokio::spawn(film(camera, frames, writer, stopped));
            Box::new(reader)
        }
    };
    let producer = Producer::new(plan.stream, plan.config);
    let stats = producer.stats();
    let progress = progress_bar();
    let started = Instant::now();
    let put = producer.put(input);
    tokio::pin!(put);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    let result = loop {
        tokio::select! {
            result = &mut put => break result,
            _ = tick.tick() => progress.set_message(progress_message(&stats.snapshot(), started.elapsed())),
            _ = &mut ctrl_c => {
                if interrupted {
                    bail!("interrupted");
                }
                // The camera stops filming; what it filmed is still sent and persisted.
                interrupted = true;
                stop_camera.send_replace(true);
                progress.suspend(|| eprintln!("kvs: stopping: sending what is buffered (Ctrl-C quits)"));
                ctrl_c.set(tokio::signal::ctrl_c());
            }
        }
    };
    progress.finish_and_clear();
    eprintln!("{}", progress_message(&stats.snapshot(), started.elapsed()));
    result?;
    Ok(())
}

/// Films `frames` frames (or until stopped) one second at a time into `out`, at real time
/// when the camera says so.
async fn film(
    camera: CameraConfig,
    frames: Option<u64>,
    mut out: tokio::io::DuplexStream,
    mut stop: watch::Receiver<bool>,
) {
    let start_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let started = tokio::time::Instant::now();
    let fps = u64::from(camera.fps);
    let mut done = 0u64;
    while !*stop.borrow() && frames.is_none_or(|total| done < total) {
        let count = frames.map_or(fps, |total| (total - done).min(fps));
        let at_ms = start_ms + (done * 1000 / fps) as i64;
        if camera.realtime {
            let due = started + Duration::from_millis((done + count) * 1000 / fps);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                _ = stop.changed() => break,
            }
        }
        let config = camera.clone();
        let bytes = match tokio::task::spawn_blocking(move || encode_at(&config, count, at_ms)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the camera cannot encode");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "the camera stopped");
                break;
            }
        };
        if out.write_all(&bytes).await.is_err() {
            break;
        }
        done += count;
    }
    let _ = out.shutdown().await;
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message("connecting");
    bar
}

/// `12 fragments sent, 11 persisted, 3.4 MB (1.1 MB/s), ack 120 ms, 2 resent`.
fn progress_message(s: &Snapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut msg = format!(
        "{} fragments sent, {} persisted, {} ({}/s)",
        s.fragments_sent,
        s.fragments_persisted,
        human_bytes(s.bytes_sent as f64),
        human_bytes(s.bytes_sent as f64 / secs)
    );
    if let Some(ms) = s.ack_latency_ms {
        msg.push_str(&format!(", ack {ms} ms"));
    }
    if s.fragments_resent > 0 {
        msg.push_str(&format!(", {} resent", s.fragments_resent));
    }
    if s.reconnects > 0 {
        msg.push_str(&format!(", {} reconnects", s.reconnects));
    }
    if s.fragments_dropped > 0 {
        msg.push_str(&format!(", {} dropped (buffer full)", s.fragments_dropped));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        Plan::new(crate::cmd::parse_args(args)?)
    }

    #[test]
    fn arguments_become_a_plan() {
        let p = plan(&["--stream", "cam", "--input", "-", "--tags", "a=1,b=2", "--fragment-duration", "4"])
            .unwrap();
        assert!(matches!(p.input, Input::Stdin));
        assert_eq!(p.config.fragment_duration, Duration::from_secs(4));
        assert_eq!(p.config.tags.len(), 2);
        let p = plan(&["--stream", "cam", "--camera", "64x48@10", "--frames", "20", "--realtime"]).unwrap();
        let Input::Camera { camera, frames } = p.input else { panic!("a camera") };
        assert_eq!(
            (camera.width, camera.height, camera.fps, frames, camera.realtime),
            (64, 48, 10, Some(20), true)
        );
        assert!(p.config.realtime);
    }

    #[test]
    fn bad_arguments_are_refused_before_any_work() {
        for args in [
            &["--stream", "cam"][..],
            &["--stream", "cam", "--input", "-", "--camera", "64x48@10"],
            &["--stream", "cam", "--camera", "64x48"],
            &["--stream", "cam", "--camera", "7x7@10"],
            &["--stream", "cam", "--input", "-", "--fragment-duration", "11"],
            &["--stream", "cam", "--input", "-", "--fragment-duration", "0"],
            &["--stream", "cam", "--input", "-", "--tags", "novalue"],
            &["--stream", "cam", "--input", "-", "--frames", "3"],
            &["--stream", "cam", "--input", "-", "--ca-file", "/nonexistent.pem"],
        ] {
            assert!(plan(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn progress_reads_well() {
        let mut s = Snapshot::default();
        (s.fragments_sent, s.fragments_persisted, s.bytes_sent, s.ack_latency_ms) =
            (3, 2, 2_000_000, Some(120));
        assert_eq!(
            progress_message(&s, Duration::from_secs(2)),
            "3 fragments sent, 2 persisted, 2.00 MB (1.00 MB/s), ack 120 ms"
        );
    }
}
