//! `kvs clip`: a progressive MP4 of a capture, remuxed locally through `kvs-mux`, the same
//! remux (and by default the same limits) as GetClip.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use kvs_mkv::Event;
use kvs_mux::{ClipLimits, Remuxer};

use crate::input::Input;

/// Arguments of `kvs clip`.
#[derive(Debug, clap::Args)]
#[command(after_help = "The server form, `kvs clip --stream S --from T --to T -o clip.mp4` (GetClip), \
                        comes with the server's GetClip.")]
pub struct Args {
    /// A GetMedia capture or MKV file; `-` for standard input.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the MP4; `-` for standard output.
    #[arg(short, long)]
    output: PathBuf,
    /// Take every fragment, not only GetClip's first 200 fragments or 100 MB of media.
    #[arg(long)]
    all: bool,
}

/// Runs `kvs clip`: reads every fragment, remuxes them into one MP4 (H.264/H.265 and AAC
/// tracks), writes it, and says on standard error what went in.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut fragments = Vec::new();
    Input::open(&args.input, true)?.split(|event, _| {
        match event {
            Event::Fragment(f) => fragments.push(f),
            Event::Skipped(s) => tracing::warn!(bytes = s.len, reason = %s.reason, "skipped data"),
            Event::AwsError(e) => tracing::warn!(error = %e, "error in the stream"),
            _ => {}
        }
        Ok(())
    })?;
    let Some(first) = fragments.first() else { bail!("{}: no fragment in the input", args.input.display()) };
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
        assert_eq!((args.input, args.output, args.all), ("a.mkv".into(), "a.mp4".into(), true));
        assert!(parse_args::<Args>(&["--input", "a.mkv"]).is_err());
        assert!(parse_args::<Args>(&["-o", "a.mp4"]).is_err());
    }
}
