//! `kvs serve`: runs the local KVS-compatible server (`kvs-local`) until Ctrl-C, with
//! optional synthetic cameras, MKV files and replays feeding its streams. Prints the
//! endpoint and the environment to export so that AWS SDKs and tools talk to it.
//!
//! `--tls` serves HTTPS with a self-signed certificate for 127.0.0.1 and localhost; its
//! PEM goes to `cert.pem` in `--data-dir` (kept and served again by the next start), or
//! to a file in the temporary directory when in memory, and the exports name it as
//! `AWS_CA_BUNDLE`, which the AWS CLI, boto3 and `kvs` read.
//!
//! The web page is at the endpoint's `/`. With `--credentials` a browser, which cannot
//! sign, needs the page address printed at start (`page: …/?token=…`).
//!
//! `--replay N:PREFIX=FILE` is the load generator: N live streams `PREFIX000`,
//! `PREFIX001`, ... fed at real time from one pre-encoded MKV, looped, with no encoding
//! and one thread for all of them (see `LocalKvs::spawn_replay`). Memory grows with
//! what the server keeps, so a replay shortens the retention from a day to 300 s unless
//! `--retention` is given.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use kvs_local::{
    CameraConfig, CameraHandle, Config, Credentials, LocalKvs, MAX_REPLAY_STREAMS, replay_stream_names,
};

/// Retention when `--replay` is given without `--retention`. Replayed fragments share
/// their media bytes with the input, but each still costs a few hundred bytes of
/// bookkeeping: a day of 500 streams would be millions of them, 300 s is tens of MB.
const REPLAY_RETENTION: Duration = Duration::from_secs(300);

/// Arguments of `kvs serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Loopback unless told otherwise; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Keep streams in this directory (they survive a restart); default: in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost, made at
    /// start (or the one kept in --data-dir). Its PEM is written to DIR/cert.pem, or to a
    /// temporary file when in memory; the exports name it as AWS_CA_BUNDLE.
    #[arg(long)]
    tls: bool,
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
    /// Region to check signatures against and name in ARNs: clients must sign for it.
    /// Default: AWS_REGION, else us-east-1.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// End a GetMedia response after this many seconds with nothing new (AWS-like).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    idle_timeout: f64,
    /// Feed N live streams PREFIX000, PREFIX001, ... (more digits past 1000) at real
    /// time from one MKV file (a producer recording or a GetMedia capture; each Cluster
    /// is a fragment), looped and re-stamped, with no encoding and one thread for all:
    /// e.g. `500:cam=clip.mkv`. N is 1 to 10000. Sets --retention to 300 unless given.
    /// Repeatable.
    #[arg(long, value_name = "N:PREFIX=FILE")]
    replay: Vec<String>,
    /// Drop fragments older than this many seconds. Default: 1 day, or 300 with
    /// --replay (replayed streams never stop growing).
    #[arg(long, value_name = "SECONDS")]
    retention: Option<f64>,
    /// Serve Prometheus metrics (per stream: fragments and bytes ingested, GetMedia
    /// readers) at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Connections served at once; more wait in the listener's backlog until one closes.
    #[arg(long, value_name = "N", default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// Close a connection that has not sent its request headers within this many seconds
    /// of opening or of its last response.
    #[arg(long, value_name = "SECONDS", default_value_t = Config::default().header_read_timeout.as_secs_f64())]
    header_timeout: f64,
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

/// A `--replay` value.
#[derive(Debug, PartialEq, Eq)]
struct ReplaySpec {
    count: usize,
    prefix: String,
    file: PathBuf,
}

fn parse_replay(spec: &str) -> anyhow::Result<ReplaySpec> {
    let usage = || format!("--replay takes N:PREFIX=FILE (e.g. 500:cam=clip.mkv), got {spec:?}");
    let (count, rest) = spec.split_once(':').with_context(usage)?;
    let (prefix, file) = rest.split_once('=').with_context(usage)?;
    let count: usize = match count.parse() {
        Ok(n) if (1..=MAX_REPLAY_STREAMS).contains(&n) => n,
        _ => bail!("--replay {spec:?}: N must be a number of streams from 1 to {MAX_REPLAY_STREAMS}"),
    };
    if prefix.is_empty() || file.is_empty() {
        bail!("{}", usage());
    }
    replay_stream_names(prefix, count).with_context(|| {
        format!(
            "--replay {spec:?}: PREFIX must make stream names of 1 to 256 characters of a-z A-Z 0-9 _ . -"
        )
    })?;
    Ok(ReplaySpec { count, prefix: prefix.to_owned(), file: PathBuf::from(file) })
}

/// How long fragments are kept: `--retention`, else 300 s for a replay, else the default.
fn retention(seconds: Option<f64>, replaying: bool) -> anyhow::Result<Duration> {
    match seconds {
        Some(s) => match Duration::try_from_secs_f64(s) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => bail!("--retention must be a positive number of seconds, got {s}"),
        },
        None if replaying => Ok(REPLAY_RETENTION),
        None => Ok(Config::default().retention_age),
    }
}

/// The region to serve: `--region`, else `env` (AWS_REGION, the region the shell's SDKs
/// sign for), else the server's default, us-east-1.
fn region(flag: Option<String>, env: Option<String>) -> anyhow::Result<String> {
    let (region, from) = match (flag, env.filter(|r| !r.is_empty())) {
        (Some(region), _) => (region, "--region"),
        (None, Some(region)) => (region, "AWS_REGION"),
        (None, None) => return Ok(Config::default().region),
    };
    // It goes into ARNs, credential scopes and shell exports: a name like eu-west-1 only.
    let name_like = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if region.is_empty() || region.len() > 64 || !region.bytes().all(name_like) {
        bail!("{from} {region:?} is not a region name such as eu-west-1");
    }
    Ok(region)
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
    let header_read_timeout = match Duration::try_from_secs_f64(args.header_timeout) {
        Ok(d) if !d.is_zero() => d,
        _ => bail!("--header-timeout must be a positive number of seconds"),
    };
    if args.max_connections == 0 {
        bail!("--max-connections must be at least 1");
    }
    let cameras = args.camera.iter().map(|c| parse_camera(c)).collect::<anyhow::Result<Vec<_>>>()?;
    let files = args.ingest.iter().map(|i| parse_ingest(i)).collect::<anyhow::Result<Vec<_>>>()?;
    let credentials = args.credentials.as_deref().map(parse_credentials).transpose()?;
    let region = region(args.region, std::env::var("AWS_REGION").ok())?;
    let replays = args.replay.iter().map(|r| parse_replay(r)).collect::<anyhow::Result<Vec<_>>>()?;
    let retention_age = retention(args.retention, !replays.is_empty())?;
    // Two live feeds on one stream would interleave their timestamps.
    let mut live: HashSet<String> = cameras.iter().map(|c| c.stream.clone()).collect();
    for spec in &replays {
        for name in replay_stream_names(&spec.prefix, spec.count)? {
            if !live.insert(name.clone()) {
                bail!("stream {name} would be fed twice (--replay {}:{}=...)", spec.count, spec.prefix);
            }
        }
    }
    // Read before the server starts: a missing file is a usage error, not a runtime one.
    let replays = replays
        .into_iter()
        .map(|spec| {
            let bytes = std::fs::read(&spec.file)
                .with_context(|| format!("--replay: cannot read {}", spec.file.display()))?;
            Ok((spec, Bytes::from(bytes)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !args.addr.ip().is_loopback() {
        tracing::warn!(addr = %args.addr, "listening beyond loopback");
    }
    let config = Config {
        addr: args.addr,
        data_dir: args.data_dir,
        tls: args.tls,
        idle_timeout: Duration::from_secs_f64(args.idle_timeout),
        credentials: credentials.clone(),
        region: region.clone(),
        retention_age,
        header_read_timeout,
        max_connections: args.max_connections,
        ..Config::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        if let Some(addr) = args.metrics {
            crate::metrics_endpoint::serve(addr)?;
        }
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
        let mut replaying = Vec::new();
        for (ReplaySpec { count, prefix, file }, bytes) in replays {
            let replay = kvs
                .spawn_replay(&prefix, count, bytes)
                .with_context(|| format!("--replay {count}:{prefix}={}", file.display()))?;
            let (first, last) = (replay.streams().first(), replay.streams().last());
            eprintln!(
                "replay: {count} streams {}..{} from {} ({} fragments, loop of {:.1} s)",
                first.map_or("", String::as_str),
                last.map_or("", String::as_str),
                file.display(),
                replay.fragments_per_loop(),
                replay.loop_duration().as_secs_f64(),
            );
            replaying.push((prefix, replay));
        }
        if args.retention.is_some() || !replaying.is_empty() {
            eprintln!("retention: fragments older than {} s are dropped", retention_age.as_secs_f64());
        }
        let url = kvs.endpoint_url();
        let certificate = certificate_file(&kvs)?;
        eprintln!("local KVS listening on {url} (Ctrl-C stops)");
        // With --credentials the address carries the page's token: it is printed here, to
        // the user who started the server, as Jupyter prints its own, and never logged.
        eprintln!("page: {}", kvs.page_url());
        if let Some(file) = &certificate {
            eprintln!("certificate: {} (clients: --ca-file {0})", file.path.display());
        }
        let key_id = credentials.as_ref().map_or("local", |c| c.access_key_id.as_str());
        let secret = match credentials {
            Some(_) => "# export AWS_SECRET_ACCESS_KEY=<the secret given to --credentials>",
            None => "export AWS_SECRET_ACCESS_KEY=local",
        };
        // One write: a reader that stops at the endpoint line and closes the pipe must not
        // make the lines after it fail (a broken pipe would end the server).
        let mut exports = format!(
            "export AWS_ENDPOINT_URL={url}\nexport AWS_REGION={region}\nexport AWS_DEFAULT_REGION={region}\n\
             export AWS_ACCESS_KEY_ID={key_id}\n{secret}\n"
        );
        if let Some(file) = &certificate {
            exports.push_str(&format!("export AWS_CA_BUNDLE={}\n", file.path.display()));
        }
        if let Err(e) = std::io::Write::write_all(&mut std::io::stdout().lock(), exports.as_bytes()) {
            tracing::debug!(error = %e, "cannot print the environment to export");
        }
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        eprintln!("stopping");
        for (stream, feed) in feeds {
            match feed.stop() {
                Ok(fragments) => eprintln!("{stream}: {fragments} fragments fed"),
                Err(e) => eprintln!("{stream}: feed failed: {e}"),
            }
        }
        for (prefix, replay) in replaying {
            let streams = replay.streams().len();
            match replay.stop() {
                Ok(fragments) => eprintln!("replay {prefix}: {fragments} fragments fed to {streams} streams"),
                Err(e) => eprintln!("replay {prefix}: feed failed: {e}"),
            }
        }
        kvs.shutdown().await;
        drop(certificate);
        Ok(())
    })
}

/// Where `kvs serve --tls` wrote its certificate's PEM; a temporary file is removed when
/// this is dropped (at Ctrl-C).
struct CertificateFile {
    path: PathBuf,
    temporary: bool,
}

impl Drop for CertificateFile {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The file clients trust: the data directory's `cert.pem`, or the PEM written to a
/// temporary file named after this process when the store is in memory.
fn certificate_file(kvs: &LocalKvs) -> anyhow::Result<Option<CertificateFile>> {
    let Some(pem) = kvs.certificate_pem() else { return Ok(None) };
    if let Some(path) = kvs.certificate_file() {
        return Ok(Some(CertificateFile { path: path.to_owned(), temporary: false }));
    }
    let path = std::env::temp_dir().join(format!("kvs-serve-{}-cert.pem", std::process::id()));
    // A file left by a killed server of the same process id goes; then the file is made
    // new, never written through a link someone else put there.
    let _ = std::fs::remove_file(&path);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        std::io::Write::write_all(&mut file, pem.as_bytes())
    };
    write().with_context(|| format!("writing the certificate to {}", path.display()))?;
    Ok(Some(CertificateFile { path, temporary: true }))
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

    #[test]
    fn the_region_is_the_flag_else_aws_region_else_us_east_1() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(region(some("eu-west-1"), some("ap-south-1")).unwrap(), "eu-west-1");
        assert_eq!(region(None, some("ap-south-1")).unwrap(), "ap-south-1");
        assert_eq!(region(None, None).unwrap(), "us-east-1");
        assert_eq!(region(None, some("")).unwrap(), "us-east-1", "an empty AWS_REGION is unset");
        for (flag, env, says) in [
            (some(""), None, "--region \"\""),
            (some("eu west"), None, "--region"),
            (None, some("EU-WEST-1"), "AWS_REGION \"EU-WEST-1\""),
            (None, some("x\nexport Y=1"), "AWS_REGION"),
        ] {
            let error = region(flag, env).unwrap_err().to_string();
            assert!(error.contains(says) && error.contains("not a region name"), "{error}");
        }
    }

    #[test]
    fn replay_specs_parse() {
        let spec = parse_replay("500:cam=/tmp/a:b=c.mkv").unwrap();
        assert_eq!(spec, ReplaySpec { count: 500, prefix: "cam".into(), file: "/tmp/a:b=c.mkv".into() });
        assert_eq!(parse_replay("10000:x.y-z_=f").unwrap().count, 10_000);
        for (bad, says) in [
            ("cam=f", "N:PREFIX=FILE"),
            ("5:cam", "N:PREFIX=FILE"),
            ("5:=f", "N:PREFIX=FILE"),
            ("5:cam=", "N:PREFIX=FILE"),
            ("0:cam=f", "1 to 10000"),
            ("10001:cam=f", "1 to 10000"),
            ("-1:cam=f", "1 to 10000"),
            ("x:cam=f", "1 to 10000"),
            ("5:ca/m=f", "PREFIX"),
            ("5:ca m=f", "PREFIX"),
        ] {
            let error = format!("{:#}", parse_replay(bad).unwrap_err());
            assert!(error.contains(says), "{bad}: {error}");
        }
        let long = "a".repeat(253);
        assert!(parse_replay(&format!("1000:{long}=f")).is_ok());
        assert!(parse_replay(&format!("1001:{long}=f")).is_err(), "4 digits make 257 characters");
    }

    #[test]
    fn a_replay_shortens_the_retention_unless_told() {
        assert_eq!(retention(None, false).unwrap(), Duration::from_secs(24 * 3600));
        assert_eq!(retention(None, true).unwrap(), REPLAY_RETENTION);
        assert_eq!(retention(Some(60.0), true).unwrap(), Duration::from_secs(60));
        assert_eq!(retention(Some(0.5), false).unwrap(), Duration::from_millis(500));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(retention(Some(bad), true).is_err(), "{bad}");
        }
    }
}
