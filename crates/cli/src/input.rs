//! Local input for `inspect`, `frames` and `audio`: a file or standard input, read in
//! chunks through the fragment splitter, with a progress bar on standard error.

use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use kvs_mkv::{Event, FragmentSplitter};

/// An opened file or standard input (`-`).
pub struct Input {
    reader: Box<dyn Read>,
    progress: ProgressBar,
}

impl Input {
    /// Opens `path`; with `show_progress`, a bar sized to the file (a byte counter for
    /// standard input), drawn only where standard error is a terminal.
    pub fn open(path: &Path, show_progress: bool) -> anyhow::Result<Self> {
        let (reader, len): (Box<dyn Read>, Option<u64>) = if path.as_os_str() == "-" {
            (Box::new(io::stdin().lock()), None)
        } else {
            let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let len = file.metadata().map(|m| m.len()).ok();
            (Box::new(file), len)
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
        Ok(Self { reader, progress })
    }

    /// Reads to the end, handing each event to `on_event` as soon as the splitter has it,
    /// so a pipe from a live source shows each fragment as it arrives.
    pub fn split(
        mut self,
        mut on_event: impl FnMut(Event, &ProgressBar) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut splitter = FragmentSplitter::new();
        let mut chunk = vec![0u8; 256 << 10];
        loop {
            let n = match self.reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("reading input"),
            };
            self.progress.inc(n as u64);
            splitter.feed(Bytes::copy_from_slice(&chunk[..n]));
            while let Some(event) = splitter.poll() {
                on_event(event, &self.progress)?;
            }
        }
        splitter.finish();
        while let Some(event) = splitter.poll() {
            on_event(event, &self.progress)?;
        }
        self.progress.finish_and_clear();
        Ok(())
    }
}
