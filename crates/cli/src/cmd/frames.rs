//! `kvs frames`: decodes the video frames of a GetMedia capture, an MKV file or standard
//! input and saves the selected ones as JPEG or PNG files named
//! `<fragment number>-<frame index>.<ext>`. Decoding and selection are `kvs-media`'s; this
//! module reads the input, shows progress and reports.
//!
//! A fragment whose video cannot be decoded (a codec this build lacks, no video track) is
//! skipped with one warning per codec and track, and the others are saved: a capture may
//! concatenate streams of several codecs. When fragments were skipped so and no image at
//! all was written, the command fails, naming why, rather than report success with an
//! empty directory.

use std::path::PathBuf;

use anyhow::bail;
use indicatif::ProgressBar;
use kvs_media::Selection;
use kvs_mkv::Event;

use crate::images::{ImageArgs, ImageSaver};
use crate::input::Input;

/// Arguments of `kvs frames`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A GetMedia capture or MKV file; `-` for standard input.
    input: PathBuf,
    /// Directory for the images (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Which frames, in which format (default: every frame as JPEG).
    #[command(flatten)]
    images: ImageArgs,
}

/// Runs `kvs frames`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut saver = ImageSaver::new(&args.images, Selection::All, args.out)?;
    let input = Input::open(&args.input, true)?;
    let mut fragments = 0u64;
    input.split(|event, progress| {
        if let Event::Fragment(_) = &event {
            fragments += 1;
        }
        handle(&mut saver, event, progress)
    })?;
    saver.finish()?;
    let skipped = match saver.undecodable() {
        0 => String::new(),
        n => format!(", {n} fragments undecodable"),
    };
    println!(
        "{} images in {} from {} fragments ({} frames decoded, {} failed{skipped})",
        saver.written(),
        saver.dir().display(),
        fragments,
        saver.stats().decoded,
        saver.frame_errors()
    );
    if saver.written() == 0 && saver.undecodable() > 0 {
        let reasons: Vec<String> =
            saver.undecodable_reasons().map(|(reason, n)| format!("{reason} ({n} fragments)")).collect();
        bail!(
            "no image written: {} of {fragments} fragments cannot be decoded: {}",
            saver.undecodable(),
            reasons.join(", ")
        );
    }
    Ok(())
}

fn handle(saver: &mut ImageSaver, event: Event, progress: &ProgressBar) -> anyhow::Result<()> {
    match event {
        Event::Fragment(fragment) => {
            saver.report_through(progress);
            saver.submit(fragment)?;
            progress.set_message(format!("{} images", saver.written()));
        }
        Event::Skipped(s) => tracing::warn!(bytes = s.len, reason = %s.reason, "skipped data"),
        Event::AwsError(e) => tracing::warn!(error = %e, "error in the stream"),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Option<PathBuf> {
        Some(kvs_samples::samples_dir()?.join(name))
    }

    fn args(input: PathBuf, out: PathBuf) -> Args {
        Args { input, out, images: ImageArgs::default() }
    }

    #[test]
    fn keyframes_of_a_capture_become_one_jpeg_per_fragment_named_by_number() {
        let Some(input) = sample("output_get_media.mkv") else { return };
        let dir = tempfile::tempdir().unwrap();
        let images = ImageArgs { keyframes: true, ..ImageArgs::default() };
        run(Args { images, ..args(input, dir.path().to_owned()) }).unwrap();
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
        let images = ImageArgs {
            every: std::num::NonZeroUsize::new(20),
            format: crate::images::Format::Png,
            ..ImageArgs::default()
        };
        run(Args { images, ..args(input, dir.path().to_owned()) }).unwrap();
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
    fn a_capture_of_only_an_unsupported_codec_is_a_clear_error() {
        let Some(input) = sample("test_mixed_tags.mkv") else { return };
        let dir = tempfile::tempdir().unwrap();
        let error = format!("{:#}", run(args(input, dir.path().to_owned())).unwrap_err());
        assert!(error.starts_with("no image written: "), "{error}");
        assert!(error.contains("unsupported codec \"V_MS/VFW/FOURCC\" on track 1 ("), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
