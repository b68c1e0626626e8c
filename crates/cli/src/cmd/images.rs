//! `kvs images`: pictures of a stream's time range from the service (GetImages, every page,
//! any range length), one file per picture named by its timestamp
//! (`20261204T050102.345Z.jpg`), with a progress bar; instants without a picture
//! (`NO_MEDIA`, `MEDIA_ERROR`) are warned about and counted.
//!
//! The service decodes and encodes (on AWS this costs no local decoding); the calls are
//! `kvs_consumer::archived`'s. Local captures have `kvs frames` instead.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kvs_consumer::archived::{ImageError, ImageFormat, ImagesRequest};

use crate::cmd::archived::{ServiceArgs, duration, range, runtime};
use crate::images::Format;

/// The first warnings printed one by one; the rest are only counted.
const WARNINGS_SHOWN: u64 = 10;

/// Arguments of `kvs images`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stream name, or ARN (`arn:...`).
    #[arg(long)]
    stream: String,
    /// First instant (RFC 3339 or Unix seconds).
    #[arg(long)]
    from: String,
    /// Last instant (RFC 3339 or Unix seconds).
    #[arg(long)]
    to: String,
    /// Select by producer timestamps instead of server timestamps.
    #[arg(long)]
    producer_time: bool,
    /// Time between two pictures: 500ms, 1s, 2m... (at least 200ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
    every: Duration,
    /// Width in pixels (1 to 3840); needs --height.
    #[arg(long, requires = "height", value_parser = clap::value_parser!(u32).range(1..=3840))]
    width: Option<u32>,
    /// Height in pixels (1 to 2160); alone, the width keeps the aspect ratio.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2160))]
    height: Option<u32>,
    /// Image format.
    #[arg(long, value_enum, default_value_t = Format::Jpeg)]
    format: Format,
    /// JPEG quality, 1 to 100 (the service's default).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Directory for the pictures (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where the service is.
    #[command(flatten)]
    service: ServiceArgs,
}

/// Runs `kvs images`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut request = ImagesRequest::new(range(&args.from, &args.to, args.producer_time)?);
    if args.every < kvs_consumer::archived::MIN_SAMPLING_INTERVAL {
        anyhow::bail!("--every must be at least 200ms");
    }
    request.interval = args.every;
    request.width = args.width;
    request.height = args.height;
    request.format = match args.format {
        Format::Jpeg => ImageFormat::Jpeg { quality: args.quality },
        Format::Png => ImageFormat::Png,
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let counts = runtime()?.block_on(fetch(&args, request))?;
    eprintln!("{}", counts.summary(&args.out));
    Ok(())
}

/// What a run got.
#[derive(Debug, Default)]
struct Counts {
    written: u64,
    no_media: u64,
    media_error: u64,
    other: u64,
}

impl Counts {
    fn missing(&self) -> u64 {
        self.no_media + self.media_error + self.other
    }

    /// `12 images in out; 3 instants without a picture (2 NO_MEDIA, 1 MEDIA_ERROR)`.
    fn summary(&self, dir: &std::path::Path) -> String {
        let mut text = format!("{} images in {}", self.written, dir.display());
        if self.missing() > 0 {
            let parts: Vec<String> =
                [("NO_MEDIA", self.no_media), ("MEDIA_ERROR", self.media_error), ("other", self.other)]
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(what, n)| format!("{n} {what}"))
                    .collect();
            text.push_str(&format!("; {} instants without a picture ({})", self.missing(), parts.join(", ")));
        }
        text
    }
}

async fn fetch(args: &Args, request: ImagesRequest) -> anyhow::Result<Counts> {
    let ext = request.format.extension();
    let progress = ProgressBar::new(request.expected());
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let archive = args.service.archive(&args.stream).await?;
    let mut images = archive.images(request);
    let mut counts = Counts::default();
    while let Some(image) = images.next().await {
        let image = image?;
        progress.inc(1);
        if progress.position() > progress.length().unwrap_or(0) {
            progress.set_length(progress.position());
        }
        match &image.error {
            None => {
                // The name comes from the parsed timestamp only, never from the answer's text.
                let path = args.out.join(image.file_name(ext));
                std::fs::write(&path, &image.content)
                    .with_context(|| format!("writing {}", path.display()))?;
                counts.written += 1;
            }
            Some(error) => {
                match error {
                    ImageError::NoMedia => counts.no_media += 1,
                    ImageError::MediaError => counts.media_error += 1,
                    _ => counts.other += 1,
                }
                if counts.missing() <= WARNINGS_SHOWN {
                    let at = kvs_consumer::archived::utc_name(image.timestamp);
                    progress.suspend(|| eprintln!("kvs: warning: no picture at {at}: {error}"));
                }
            }
        }
        progress.set_message(format!("{} written", counts.written));
    }
    progress.finish_and_clear();
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::parse_args;

    #[test]
    fn flags() {
        let args: Args = parse_args(&[
            "--stream", "cam", "--from", "10", "--to", "20", "--every", "500ms", "--height", "120", "--out",
            "o",
        ])
        .unwrap();
        assert_eq!(
            (args.every, args.height, args.width, args.quality),
            (Duration::from_millis(500), Some(120), None, 80)
        );
        assert!(
            parse_args::<Args>(&["--stream", "c", "--from", "1", "--to", "2", "--width", "9", "--out", "o"])
                .is_err()
        );
        assert!(parse_args::<Args>(&["--stream", "c", "--from", "1", "--to", "2"]).is_err());
        assert!(
            parse_args::<Args>(&["--stream", "c", "--from", "1", "--to", "2", "--height", "0", "--out", "o"])
                .is_err()
        );
    }

    #[test]
    fn summary_counts_what_is_missing() {
        let counts = Counts { written: 12, no_media: 2, media_error: 1, other: 0 };
        assert_eq!(
            counts.summary("out".as_ref()),
            "12 images in out; 3 instants without a picture (2 NO_MEDIA, 1 MEDIA_ERROR)"
        );
        assert_eq!(Counts { written: 1, ..Counts::default() }.summary("o".as_ref()), "1 images in o");
    }
}
