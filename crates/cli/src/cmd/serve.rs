//! `kvs serve`: runs the local KVS-compatible server (`kvs-local`) until Ctrl-C, with
//! optional synthetic cameras and MKV files feeding its streams. Prints the endpoint and
//! the environment to export so that AWS SDKs and tools talk to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use kvs_local::{CameraConfig, CameraHandle, Config, Credentials, LocalKvs};

/// Arguments of `kvs serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Loopback unless told otherwise; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Keep streams in this directory (they survive a restart); default: in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Feed stream NAME from a synthetic H.264 camera at real time, e.g. `cam` or
    /// `cam:640x360@30` (default 320x240@15, one fragment per second). Repeatable.
    #[arg(long, value_name = "NAME[:WxH@FPS]")]
    camera: Vec<String>,
    /// Ingest an MKV file (a producer stream or a GetMedia capture) into stream NAME.
    /// Repeatable.
    #[arg(long, value_name = "NAME=FILE")]
    ingest: Vec<String>,
    /// Pace `--ingest` files by their timecodes instead of ingesting them at once.
    #[arg(long)]
    realtime: bool,
    /// Verify SigV4 signatures against this key: `KEY_ID:SECRET`, or `env` to take
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Default: accept any request.
    #[arg(long, value_name = "KEY_ID:SECRET|env")]
    credentials: Option<String>,
    /// End a GetMedia response after this many seconds with nothing new (AWS-like).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    idle_timeout: f64,
}

/// A `--camera` value.
#[derive(Debug, PartialEq, Eq)]
struct CameraSpec {
    stream: String,
    camera: CameraConfig,
}

fn parse_camera(spec: &str) -> anyhow::Result<CameraSpec> {
    let (stream, format) = match spec.split_once(':') {
        Some((stream, format)) => (stream, Some(format)),
        None => (spec, None),
    };
    let mut camera = CameraConfig { realtime: true, ..CameraConfig::default() };
    if let Some(format) = format {
        let (size, fps) = match format.split_once('@') {
            Some((size, fps)) => (size, Some(fps)),
            None => (format, None),
        };
        let (w, h) = size.split_once('x').with_context(|| format!("camera size {size:?} is not WxH"))?;
        camera.width = w.parse().with_context(|| format!("camera width {w:?}"))?;
        camera.height = h.parse().with_context(|| format!("camera height {h:?}"))?;
        if let Some(fps) = fps {
            camera.fps = fps.parse().with_context(|| format!("camera fps {fps:?}"))?;
        }
    }
    // One fragment per second, as producers commonly send.
    camera.frames_per_fragment = camera.fps.max(1);
    if stream.is_empty() {
        bail!("--camera needs a stream name: NAME[:WxH@FPS]");
    }
    Ok(CameraSpec { stream: stream.to_owned(), camera })
}

fn parse_ingest(spec: &str) -> anyhow::Result<(String, PathBuf)> {
    match spec.split_once('=') {
        Some((stream, file)) if !stream.is_empty() && !file.is_empty() => {
            Ok((stream.to_owned(), PathBuf::from(file)))
        }
        _ => bail!("--ingest takes NAME=FILE, got {spec:?}"),
    }
}

fn parse_credentials(spec: &str) -> anyhow::Result<Credentials> {
    if spec == "env" {
        let id = std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID is not set")?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY is not set")?;
        return Ok(Credentials::new(id, secret));
    }
    match spec.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(Credentials::new(id, secret)),
        _ => bail!("--credentials takes KEY_ID:SECRET or env"),
    }
}

/// Runs `kvs serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.idle_timeout.is_finite() || args.idle_timeout <= 0.0 {
        bail!("--idle-timeout must be a positive number of seconds");
    }
    let cameras = args.camera.iter().map(|c| parse_camera(c)).collect::<anyhow::Result<Vec<_>>>()?;
    let files = args.ingest.iter().map(|i| parse_ingest(i)).collect::<anyhow::Result<Vec<_>>>()?;
    let credentials = args.credentials.as_deref().map(parse_credentials).transpose()?;
    if !args.addr.ip().is_loopback() {
        tracing::warn!(addr = %args.addr, "listening beyond loopback");
    }
    let config = Config {
        addr: args.addr,
        data_dir: args.data_dir,
        idle_timeout: Duration::from_secs_f64(args.idle_timeout),
        credentials: credentials.clone(),
        ..Config::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let kvs = LocalKvs::start(config).await.context("starting the local KVS server")?;
        let mut feeds: Vec<(String, CameraHandle)> = Vec::new();
        for CameraSpec { stream, camera } in cameras {
            eprintln!("camera: {stream} {}x{}@{} fps", camera.width, camera.height, camera.fps);
            feeds.push((stream.clone(), kvs.spawn_camera(&stream, camera)));
        }
        for (stream, file) in files {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            kvs.create_stream(&stream).with_context(|| format!("creating stream {stream}"))?;
            if args.realtime {
                feeds.push((stream.clone(), kvs.spawn_ingest(&stream, bytes.into(), true)));
            } else {
                let numbers = kvs
                    .ingest_mkv(&stream, bytes.into())
                    .with_context(|| format!("ingesting {}", file.display()))?;
                eprintln!("ingested {}: {} fragments into {stream}", file.display(), numbers.len());
            }
        }
        let url = kvs.endpoint_url();
        eprintln!("local KVS listening on {url} (Ctrl-C stops)");
        let key_id = credentials.as_ref().map_or("local", |c| c.access_key_id.as_str());
        println!("export AWS_ENDPOINT_URL={url}");
        println!("export AWS_REGION=us-east-1");
        println!("export AWS_DEFAULT_REGION=us-east-1");
        println!("export AWS_ACCESS_KEY_ID={key_id}");
        match credentials {
            Some(_) => println!("# export AWS_SECRET_ACCESS_KEY=<the secret given to --credentials>"),
            None => println!("export AWS_SECRET_ACCESS_KEY=local"),
        }
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        eprintln!("stopping");
        for (stream, feed) in feeds {
            match feed.stop() {
                Ok(fragments) => eprintln!("{stream}: {fragments} fragments fed"),
                Err(e) => eprintln!("{stream}: feed failed: {e}"),
            }
        }
        kvs.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_specs_parse() {
        let plain = parse_camera("cam").unwrap();
        assert_eq!((plain.stream.as_str(), plain.camera.width, plain.camera.fps), ("cam", 320, 15));
        assert!(plain.camera.realtime);
        let full = parse_camera("door:640x360@30").unwrap();
        assert_eq!(
            (full.camera.width, full.camera.height, full.camera.fps, full.camera.frames_per_fragment),
            (640, 360, 30, 30)
        );
        let sized = parse_camera("c:64x48").unwrap();
        assert_eq!((sized.camera.width, sized.camera.height, sized.camera.fps), (64, 48, 15));
        for bad in ["", ":64x48", "c:64", "c:axb@1", "c:64x48@x"] {
            assert!(parse_camera(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ingest_and_credential_specs_parse() {
        assert_eq!(parse_ingest("s=a.mkv").unwrap(), ("s".to_owned(), PathBuf::from("a.mkv")));
        assert!(parse_ingest("s").is_err() && parse_ingest("=a").is_err());
        let c = parse_credentials("AKID:se:cret").unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("AKID", "se:cret"));
        assert!(parse_credentials("AKID").is_err());
    }
}
