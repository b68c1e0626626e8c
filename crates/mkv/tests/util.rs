use std::path::PathBuf;

use bytes::Bytes;
use kvs_mkv::{Event, FragmentSplitter};

/// The captures folder: `$KVS_SAMPLES`, else `../shared/kvs-samples` beside the repo.
/// `None` (and a note on stderr) where neither exists: a fresh clone without them.
pub fn samples_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KVS_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kvs-samples"));
    if dir.join("README.md").exists() {
        Some(dir)
    } else {
        eprintln!("skipping: no KVS captures at {} (set KVS_SAMPLES)", dir.display());
        None
    }
}

/// Reads one capture, or `None` to skip.
pub fn sample(name: &str) -> Option<Bytes> {
    let path = samples_dir()?.join(name);
    Some(Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))))
}

/// Every capture's name.
pub const SAMPLES: &[&str] = &[
    "clusters.mkv",
    "empty-mkv-with-tags.mkv",
    "kinesis_video_renderer_example_output.mkv",
    "output-get-media-equal-timecode.mkv",
    "output_get_media.mkv",
    "test_mixed_tags.mkv",
    "vogels_330.mkv",
];

/// Feeds `input` in chunks of the given sizes (cycled) and collects every event.
pub fn split_chunked(input: &Bytes, sizes: &[usize]) -> Vec<Event> {
    let mut splitter = FragmentSplitter::new();
    let mut events = Vec::new();
    let mut pos = 0;
    for &size in sizes.iter().cycle() {
        if pos >= input.len() {
            break;
        }
        let end = (pos + size.max(1)).min(input.len());
        splitter.feed(input.slice(pos..end));
        pos = end;
        events.extend(std::iter::from_fn(|| splitter.poll()));
    }
    splitter.finish();
    events.extend(std::iter::from_fn(|| splitter.poll()));
    events
}

/// Splits `input` fed whole.
pub fn split(input: &Bytes) -> Vec<Event> {
    split_chunked(input, &[usize::MAX])
}

/// The fragments among the events.
pub fn fragments(events: &[Event]) -> Vec<&kvs_mkv::Fragment> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Fragment(f) => Some(f),
            _ => None,
        })
        .collect()
}
