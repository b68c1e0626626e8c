//! `kvs clip`: a progressive MP4 of a stream's time range from the service (GetClip,
//! `--stream`), or of a capture, remuxed locally through `kvs-mux` (`--input`), the same
//! remux (and by default the same limits) as GetClip.
//!
//! The GetClip call is `kvs_consumer::archived`'s; the remux is `kvs-mux`'s.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use kvs_mkv::Event;
use kvs_mux::{ClipLimits, Remuxer};

use crate::cmd::archived::{ServiceArgs, range, runtime};
use crate::input::Input;

/// Arguments of `kvs clip`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Either `--stream S --from T --to T` (GetClip on the service) or `--input FILE` \
                        (the same remux, locally).")]
pub struct Args {
    /// A GetMedia capture or MKV file; `-` for standard input.
    #[arg(long, required_unless_present = "stream", conflicts_with_all = ["stream", "from", "to", "producer_time"])]
    input: Option<PathBuf>,
    /// Stream name, or ARN (`arn:...`): GetClip on the service.
    #[arg(long, requires_all = ["from", "to"])]
    stream: Option<String>,
    /// With --stream: start of the range (RFC 3339 or Unix seconds).
    #[arg(long, requires = "stream")]
    from: Option<String>,
    /// With --stream: end of the range (RFC 3339 or Unix seconds).
    #[arg(long, requires = "stream")]
    to: Option<String>,
    /// With --stream: select by producer timestamps instead of server timestamps.
    #[arg(long, requires = "stream")]
    producer_time: bool,
    /// Where to write the MP4; `-` for standard output.
    #[arg(short, long)]
    output: PathBuf,
    /// With --input: take every fragment, not only GetClip's first 200 fragments or 100 MB
    /// of media.
    #[arg(long, conflicts_with = "stream")]
    all: bool,
    /// With --stream: where the service is.
    #[command(flatten)]
    service: ServiceArgs,
}

/// Runs `kvs clip`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match (&args.stream, &args.input) {
        (Some(stream), _) => get_clip(stream, &args),
        (None, Some(input)) => remux(input, &args),
        (None, None) => bail!("give --stream NAME --from T --to T, or --input FILE"),
    }
}

/// GetClip: the service's MP4 of the range, streamed to the output as it arrives. A
/// failed file is removed, not left half written.
fn get_clip(stream: &str, args: &Args) -> anyhow::Result<()> {
    let (Some(from), Some(to)) = (&args.from, &args.to) else { bail!("--stream needs --from and --to") };
    let range = range(from, to, args.producer_time)?;
    let to_stdout = args.output.as_os_str() == "-";
    let written = runtime()?.block_on(async {
        let archive = args.service.archive(stream).await?;
        if to_stdout {
            return Ok(archive.clip(&range, &mut tokio::io::stdout()).await?);
        }
        let mut file = tokio::fs::File::create(&args.output)
            .await
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        let result = archive.clip(&range, &mut file).await;
        if result.is_err() {
            drop(file);
            let _ = std::fs::remove_file(&args.output);
        }
        result.with_context(|| format!("GetClip of {stream}"))
    })?;
    eprintln!("{}: {written} bytes", args.output.display());
    Ok(())
}

/// Reads every fragment of `input`, remuxes them into one MP4 (H.264/H.265 and AAC
/// tracks), writes it, and says on standard error what went in.
fn remux(input: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let mut fragments = Vec::new();
    Input::open(input, true)?.split(|event, _| {
        match event {
            Event::Fragment(f) => fragments.push(f),
            Event::Skipped(s) => tracing::warn!(bytes = s.len, reason = %s.reason, "skipped data"),
            Event::AwsError(e) => tracing::warn!(error = %e, "error in the stream"),
            _ => {}
        }
        Ok(())
    })?;
    let Some(first) = fragments.first() else { bail!("{}: no fragment in the input", input.display()) };
    let remuxer = Remuxer::for_fragment(first).context("reading the tracks")?;
    let limits = if args.all { ClipLimits::NONE } else { ClipLimits::AWS };
    let clip = remuxer.clip(&fragments, limits).context("remuxing")?;
    if args.output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&clip.bytes)?;
        out.flush()?;
    } else {
        std::fs::write(&args.output, &clip.bytes)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    eprintln!(
        "{}: {} fragments, {} frames, {} bytes",
        args.output.display(),
        clip.fragments,
        clip.frames,
        clip.bytes.len()
    );
    if clip.truncated {
        eprintln!(
            "kvs: took the first {} of {} fragments (GetClip's limits: {} fragments, {} MB); --all takes every one",
            clip.fragments,
            fragments.len(),
            ClipLimits::AWS.max_fragments,
            ClipLimits::AWS.max_bytes >> 20
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::parse_args;

    #[test]
    fn input_and_output_are_required() {
        let args: Args = parse_args(&["--input", "a.mkv", "-o", "a.mp4", "--all"]).unwrap();
        assert_eq!((args.input, args.output, args.all), (Some("a.mkv".into()), "a.mp4".into(), true));
        assert!(parse_args::<Args>(&["--input", "a.mkv"]).is_err());
        assert!(parse_args::<Args>(&["-o", "a.mp4"]).is_err());
    }

    #[test]
    fn the_stream_form_needs_a_range() {
        let args: Args = parse_args(&[
            "--stream",
            "cam",
            "--from",
            "1",
            "--to",
            "2",
            "-o",
            "c.mp4",
            "--endpoint",
            "http://x",
        ])
        .unwrap();
        assert_eq!(
            (args.stream.as_deref(), args.from.as_deref(), args.to.as_deref()),
            (Some("cam"), Some("1"), Some("2"))
        );
        assert!(parse_args::<Args>(&["--stream", "cam", "--from", "1", "-o", "c.mp4"]).is_err());
        assert!(
            parse_args::<Args>(&[
                "--stream", "cam", "--from", "1", "--to", "2", "--input", "a.mkv", "-o", "c"
            ])
            .is_err()
        );
        assert!(
            parse_args::<Args>(&["--stream", "cam", "--from", "1", "--to", "2", "--all", "-o", "c"]).is_err()
        );
        assert!(parse_args::<Args>(&["--input", "a.mkv", "--from", "1", "-o", "c"]).is_err());
    }
}
