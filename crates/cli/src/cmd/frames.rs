//! `kvs frames`: decodes the video frames of a GetMedia capture, an MKV file or standard
//! input and saves the selected ones as JPEG or PNG files named
//! `<fragment number>-<frame index>.<ext>`. Decoding and selection are `kvs-media`'s; this
//! module reads the input, shows progress and reports.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::ProgressBar;
use kvs_media::{Error, FrameDecoder, ImageFormat, Selection, VideoOptions};
use kvs_mkv::Event;

use crate::input::Input;

/// Image file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Jpeg,
    Png,
}

/// Arguments of `kvs frames`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A GetMedia capture or MKV file; `-` for standard input.
    input: PathBuf,
    /// Directory for the images (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Save every Nth frame of each fragment (0, N, 2N...).
    #[arg(long, value_name = "N", conflicts_with = "keyframes")]
    every: Option<NonZeroUsize>,
    /// Save keyframes only; nothing else is decoded.
    #[arg(long)]
    keyframes: bool,
    /// Image format.
    #[arg(long, value_enum, default_value_t = Format::Jpeg)]
    format: Format,
    /// JPEG quality, 1 to 100.
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Video track number (default: the first video track).
    #[arg(long)]
    track: Option<u64>,
}

/// Runs `kvs frames`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let selection = match (args.every, args.keyframes) {
        (_, true) => Selection::Keyframes,
        (Some(n), false) => Selection::EveryNth(n),
        (None, false) => Selection::All,
    };
    let format = match args.format {
        Format::Jpeg => ImageFormat::Jpeg { quality: args.quality },
        Format::Png => ImageFormat::Png,
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let input = Input::open(&args.input, true)?;
    let mut options = VideoOptions::with_selection(selection);
    options.track = args.track;
    let mut saver = Saver {
        decoder: FrameDecoder::new(options),
        out: args.out,
        format,
        written: 0,
        frame_errors: 0,
        fragments: 0,
    };

    input.split(|event, progress| saver.handle(event, progress))?;
    let stats = saver.decoder.stats();
    println!(
        "{} images in {} from {} fragments ({} frames decoded, {} failed)",
        saver.written,
        saver.out.display(),
        saver.fragments,
        stats.decoded,
        saver.frame_errors
    );
    Ok(())
}

struct Saver {
    decoder: FrameDecoder,
    out: PathBuf,
    format: ImageFormat,
    written: u64,
    frame_errors: u64,
    fragments: u64,
}

impl Saver {
    fn handle(&mut self, event: Event, progress: &ProgressBar) -> anyhow::Result<()> {
        match event {
            Event::Fragment(fragment) => {
                self.fragments += 1;
                // Each selected picture is converted and written while the decoder
                // holds it: memory stays at one picture whatever the fragment's size.
                let (out, format) = (&self.out, self.format);
                let mut written = 0u64;
                let mut failed: Option<anyhow::Error> = None;
                let result = self.decoder.decode_with(&fragment, |picture| {
                    if failed.is_some() {
                        return;
                    }
                    match picture.to_frame().and_then(|frame| kvs_media::save_image(&frame, out, format)) {
                        Ok(_) => written += 1,
                        Err(e @ Error::Io { .. }) => failed = Some(e.into()),
                        Err(e) => {
                            tracing::warn!(frame = picture.info().index, error = %e, "frame not saved")
                        }
                    }
                });
                self.written += written;
                if let Some(e) = failed {
                    return Err(e);
                }
                let errors = match result {
                    Ok(errors) => errors,
                    Err(e @ (Error::UnsupportedCodec { .. } | Error::NoVideoTrack(_))) => {
                        return Err(e).with_context(|| format!("fragment {}", fragment.index()));
                    }
                    Err(e) => {
                        tracing::warn!(fragment = fragment.index(), error = %e, "fragment skipped");
                        return Ok(());
                    }
                };
                for error in &errors {
                    tracing::warn!(fragment = fragment.index(), frame = ?error.index, error = %error.error, "frame failed");
                }
                self.frame_errors += errors.len() as u64;
                progress.set_message(format!("{} images", self.written));
            }
            Event::Skipped(s) => tracing::warn!(bytes = s.len, reason = %s.reason, "skipped data"),
            Event::AwsError(e) => tracing::warn!(error = %e, "error in the stream"),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Option<PathBuf> {
        Some(kvs_mkv::testing::samples_dir()?.join(name))
    }

    fn args(input: PathBuf, out: PathBuf) -> Args {
        Args { input, out, every: None, keyframes: false, format: Format::Jpeg, quality: 85, track: None }
    }

    #[test]
    fn keyframes_of_a_capture_become_one_jpeg_per_fragment_named_by_number() {
        let Some(input) = sample("output_get_media.mkv") else { return };
        let dir = tempfile::tempdir().unwrap();
        run(Args { keyframes: true, ..args(input, dir.path().to_owned()) }).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 5);
        assert_eq!(names[0], "91343852333181432392682062607743920146159169392-0.jpg");
        assert!(names.iter().all(|n| n.ends_with("-0.jpg")));
        let jpeg = std::fs::read(dir.path().join(&names[0])).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    }

    #[test]
    fn every_nth_as_png_writes_exactly_those_frames() {
        let Some(input) = sample("output_get_media.mkv") else { return };
        let dir = tempfile::tempdir().unwrap();
        let every = NonZeroUsize::new(20);
        run(Args { every, format: Format::Png, ..args(input, dir.path().to_owned()) }).unwrap();
        let mut indices: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("91343852333181432392682062607743920146159169392-"))
            .collect();
        indices.sort();
        assert_eq!(
            indices,
            ["0", "20", "40"].map(|i| format!("91343852333181432392682062607743920146159169392-{i}.png"))
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 15);
    }

    #[test]
    fn an_unsupported_codec_is_a_clear_error() {
        let Some(input) = sample("test_mixed_tags.mkv") else { return };
        let dir = tempfile::tempdir().unwrap();
        let error = run(args(input, dir.path().to_owned())).unwrap_err();
        assert!(format!("{error:#}").contains("unsupported codec \"V_MS/VFW/FOURCC\""), "{error:#}");
    }
}
