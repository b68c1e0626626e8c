//! Local input for `inspect`, `frames` and `audio`: a file or standard input, with a
//! progress bar on standard error. The read loop itself is `kvs_consumer::LocalReader`'s;
//! the bar watches it through the reader it is given.

use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kvs_consumer::{Event, LocalReader};

/// An opened file or standard input (`-`).
pub struct Input {
    reader: Box<dyn Read>,
    progress: ProgressBar,
    regular_file: bool,
}

impl Input {
    /// Opens `path`; with `show_progress`, a bar sized to the file (a byte counter for
    /// standard input), drawn only where standard error is a terminal.
    pub fn open(path: &Path, show_progress: bool) -> anyhow::Result<Self> {
        let (reader, len, regular_file): (Box<dyn Read>, Option<u64>, bool) = if path.as_os_str() == "-" {
            (Box::new(io::stdin().lock()), None, false)
        } else {
            let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let metadata = file.metadata().ok();
            let regular_file = metadata.as_ref().is_some_and(|m| m.is_file());
            (Box::new(file), metadata.map(|m| m.len()), regular_file)
        };
        let progress = match (show_progress, len) {
            (false, _) => ProgressBar::hidden(),
            (true, Some(len)) => ProgressBar::new(len).with_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}").expect("valid template"),
            ),
            (true, None) => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes} read {msg}").expect("valid template"),
            ),
        };
        Ok(Self { reader, progress, regular_file })
    }

    /// Whether the input is a regular file, read as fast as the disk allows; otherwise (a
    /// pipe, a terminal, a FIFO) bytes may come as a live source sends them, and whoever
    /// prints events should flush each one.
    pub fn is_regular_file(&self) -> bool {
        self.regular_file
    }

    /// Reads to the end, handing each event to `on_event` as soon as the splitter has it,
    /// so a pipe from a live source shows each fragment as it arrives.
    pub fn split(
        self,
        mut on_event: impl FnMut(Event, &ProgressBar) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        for event in LocalReader::new(self.progress.wrap_read(self.reader)) {
            on_event(event.context("reading input")?, &self.progress)?;
        }
        self.progress.finish_and_clear();
        Ok(())
    }
}
