use bytes::Bytes;
use kvs_mkv::{Event, FragmentSplitter};

pub use kvs_samples::sample;

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

/// A comparable digest of events: everything but the zero-copy identity of buffers.
pub fn digest(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Fragment(f) => format!(
                "fragment {} @{} {} bytes ({} shared) complete={} tags={:?} hash={:x}",
                f.index(),
                f.offset(),
                f.bytes().len(),
                f.shared_header_len(),
                f.is_complete(),
                f.tags(),
                fnv(f.bytes())
            ),
            other => format!("{other:?}"),
        })
        .collect()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
