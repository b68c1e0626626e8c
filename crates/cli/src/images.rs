//! Video frames as image files, shared by `kvs frames`, `kvs consume` and `kvs demo`: the
//! command-line options that choose frames and format ([`ImageArgs`]) and the one place
//! that decodes a fragment, selects its frames and writes them ([`ImageSaver`]).
//!
//! Files are named `<fragment number>-<frame index>.<ext>` by `kvs-media`'s
//! [`file_name`](kvs_media::file_name), from validated fragment numbers only. Decoding,
//! selection, encoding and the threads that do them belong to `kvs-media`'s
//! [`FrameExporter`]; where the output directory comes from (`--out`, `--frames-out`,
//! `<out>/frames`) and what is printed belong to each command.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::ProgressBar;
use kvs_media::{Codec, Error, ExportReport, FrameExporter, ImageFormat, Selection, Stats, VideoOptions};
use kvs_mkv::Fragment;

/// Image file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JPEG, lossy, with `--quality`.
    Jpeg,
    /// PNG, lossless.
    Png,
}

/// Which frames become images, and how: flattened into each command that saves frames.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Images")]
pub struct ImageArgs {
    /// Save every Nth frame of each fragment (0, N, 2N...).
    #[arg(long, value_name = "N", conflicts_with = "keyframes")]
    pub every: Option<NonZeroUsize>,
    /// Save keyframes only; nothing else is decoded.
    #[arg(long)]
    pub keyframes: bool,
    /// Image format.
    #[arg(long, value_enum, default_value_t = Format::Jpeg)]
    pub format: Format,
    /// JPEG quality, 1 to 100.
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    /// Video track number (default: the first video track).
    #[arg(long, value_name = "N")]
    pub track: Option<u64>,
    /// Threads that decode, and as many that encode (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
}

impl Default for ImageArgs {
    /// What the command line gives without any of these flags.
    fn default() -> Self {
        Self { every: None, keyframes: false, format: Format::Jpeg, quality: 85, track: None, threads: None }
    }
}

impl ImageArgs {
    /// The frames to save: `--keyframes`, `--every N`, or else `default` (each command
    /// has its own: all frames for `kvs frames`, every 5th for `kvs demo`).
    pub fn selection(&self, default: Selection) -> Selection {
        match (self.every, self.keyframes) {
            (_, true) => Selection::Keyframes,
            (Some(n), false) => Selection::EveryNth(n),
            (None, false) => default,
        }
    }

    /// The image format with its quality.
    pub fn image_format(&self) -> ImageFormat {
        match self.format {
            Format::Jpeg => ImageFormat::Jpeg { quality: self.quality },
            Format::Png => ImageFormat::Png,
        }
    }
}

/// Decodes fragments and writes their selected frames into one directory, on as many
/// threads as [`ImageArgs::threads`] says. [`save`](Self::save) returns once the
/// fragment's images are written; [`submit`](Self::submit) returns at once, and
/// [`finish`](Self::finish) waits for what is left.
///
/// A fragment that cannot be decoded at all because of its codec or a missing video track
/// is skipped and counted ([`undecodable`](Self::undecodable)), with one warning on
/// standard error per reason (per codec and track): a capture may concatenate streams of
/// several codecs, and the fragments this build can decode are still worth saving.
/// Whether saving nothing is an error is each command's decision. Other whole-fragment
/// problems are logged and the fragment skipped; frames that fail are logged and counted.
/// Failing to write a file is an error.
#[derive(Debug)]
pub struct ImageSaver {
    exporter: FrameExporter,
    dir: PathBuf,
    written: u64,
    frame_errors: u64,
    /// Fragments skipped because their video cannot be decoded, by reason (the error's
    /// text, which names the codec and track): the first of each reason is warned about.
    undecodable: BTreeMap<String, u64>,
    /// The progress bar warnings are printed around, so that it does not draw over them.
    progress: ProgressBar,
}

impl ImageSaver {
    /// A saver into `dir` (created if missing) with the frames `args` select, `default`
    /// when it selects none.
    pub fn new(args: &ImageArgs, default: Selection, dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut options = VideoOptions::with_selection(args.selection(default));
        options.track = args.track;
        let threads =
            args.threads.unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
        Ok(Self {
            exporter: FrameExporter::new(options, args.image_format(), &dir, threads),
            dir,
            written: 0,
            frame_errors: 0,
            undecodable: BTreeMap::new(),
            progress: ProgressBar::hidden(),
        })
    }

    /// Prints warnings around `progress` (hidden while they are printed) instead of over it.
    pub fn report_through(&mut self, progress: &ProgressBar) {
        self.progress = progress.clone();
    }

    /// Decodes `fragment` and writes its selected frames; returns how many images it wrote
    /// (with those of fragments [`submit`](Self::submit)ted before it).
    pub fn save(&mut self, fragment: &Fragment) -> anyhow::Result<u64> {
        let mut reports = self.exporter.submit(fragment.clone());
        reports.extend(self.exporter.flush());
        self.absorb(reports)
    }

    /// Queues `fragment`; its images are written while the input goes on being read. An
    /// error is a file that could not be written, of this or an earlier fragment.
    pub fn submit(&mut self, fragment: Fragment) -> anyhow::Result<()> {
        let reports = self.exporter.submit(fragment);
        self.absorb(reports).map(drop)
    }

    /// Waits until every queued fragment's images are written.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        let reports = self.exporter.flush();
        self.absorb(reports).map(drop)
    }

    /// Counts and reports what became of finished fragments; returns the images written.
    fn absorb(&mut self, reports: Vec<ExportReport>) -> anyhow::Result<u64> {
        let mut written = 0;
        for report in reports {
            written += report.written;
            self.written += report.written;
            let fragment = report.fragment_index;
            for error in report.errors {
                if let Error::Io { .. } = error.error {
                    return Err(error.error.into());
                }
                self.frame_errors += 1;
                tracing::warn!(fragment, frame = ?error.index, error = %error.error, "frame not saved");
            }
            match report.result {
                Ok(()) => {}
                Err(
                    e @ (Error::UnsupportedCodec { .. }
                    | Error::UnsupportedProfile { .. }
                    | Error::NoVideoTrack(_)),
                ) => self.skip_undecodable(fragment, &e),
                Err(e) => tracing::warn!(fragment, error = %e, "fragment skipped"),
            }
        }
        Ok(written)
    }

    /// Counts a fragment that cannot be decoded at all, warning at the first of its reason.
    fn skip_undecodable(&mut self, fragment: u64, error: &Error) {
        let count = self.undecodable.entry(error.to_string()).or_insert(0);
        if *count == 0 {
            // Only a codec of the table, which the `ffmpeg` feature decodes, gets the hint.
            let hint = match error {
                Error::UnsupportedCodec { codec_id, .. }
                    if Codec::from_codec_id(codec_id).is_some_and(|c| !c.decodable()) =>
                {
                    " (this build decodes H.264 only; the `ffmpeg` feature adds H.265 and others)"
                }
                _ => "",
            };
            self.progress.suspend(|| {
                eprintln!("kvs: skipping fragments with {error}{hint}, from fragment {fragment}");
            });
        }
        *count += 1;
    }

    /// The directory images go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Images written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Frames that failed to decode, convert or encode so far.
    pub fn frame_errors(&self) -> u64 {
        self.frame_errors
    }

    /// Fragments skipped so far because their video cannot be decoded at all.
    pub fn undecodable(&self) -> u64 {
        self.undecodable.values().sum()
    }

    /// Why fragments could not be decoded, e.g. `unsupported codec "V_MS/VFW/FOURCC" on
    /// track 1`, with how many fragments each.
    pub fn undecodable_reasons(&self) -> impl Iterator<Item = (&str, u64)> {
        self.undecodable.iter().map(|(reason, &n)| (reason.as_str(), n))
    }

    /// The decoders' counters.
    pub fn stats(&self) -> Stats {
        self.exporter.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn flags_choose_the_selection_and_format() {
        let args = ImageArgs::default();
        assert!(matches!(args.selection(Selection::All), Selection::All));
        assert_eq!(args.image_format(), ImageFormat::Jpeg { quality: 85 });
        let args = ImageArgs { every: NonZeroUsize::new(3), format: Format::Png, ..ImageArgs::default() };
        assert!(matches!(args.selection(Selection::All), Selection::EveryNth(n) if n.get() == 3));
        assert_eq!(args.image_format(), ImageFormat::Png);
        let args = ImageArgs { keyframes: true, ..ImageArgs::default() };
        assert!(matches!(args.selection(Selection::All), Selection::Keyframes));
    }

    #[test]
    fn a_camera_stream_gives_exactly_the_selected_frames_per_fragment() {
        let config =
            kvs_local::CameraConfig { width: 64, height: 48, frames_per_fragment: 6, ..Default::default() };
        let mut splitter = kvs_mkv::FragmentSplitter::new();
        // `encode` films one Segment; two of them back to back are two fragments.
        splitter.feed(kvs_local::camera::encode(&config, 6));
        splitter.feed(kvs_local::camera::encode(&config, 6));
        splitter.finish();
        let dir = tempfile::tempdir().unwrap();
        let args = ImageArgs { every: NonZeroUsize::new(4), ..ImageArgs::default() };
        let mut saver = ImageSaver::new(&args, Selection::All, dir.path().join("new")).unwrap();
        let mut per_fragment = Vec::new();
        while let Some(event) = splitter.poll() {
            if let kvs_mkv::Event::Fragment(fragment) = event {
                per_fragment.push(saver.save(&fragment).unwrap());
            }
        }
        assert_eq!(per_fragment, [2, 2]);
        assert_eq!((saver.written(), saver.frame_errors()), (4, 0));
        assert_eq!(names(saver.dir()), ["0-0.jpg", "0-4.jpg", "1-0.jpg", "1-4.jpg"]);
        let jpeg = std::fs::read(saver.dir().join("1-4.jpg")).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    }
}
