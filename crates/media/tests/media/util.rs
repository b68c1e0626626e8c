//! Test helpers: where the real captures are, and KVS fragments made from the synthetic
//! camera's producer stream.

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, Event, Fragment, FragmentSplitter, ids};

/// The kvs-samples folder, or `None` (and a note) when this machine has none.
pub use kvs_samples::samples_dir;

/// Every fragment of a file of `tests/data` (see the README there).
pub fn fixture_fragments(name: &str) -> Vec<Fragment> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    fragments_of(Bytes::from(std::fs::read(&path).unwrap()))
}

/// Every fragment of a capture.
pub fn fragments_of(bytes: Bytes) -> Vec<Fragment> {
    let mut splitter = FragmentSplitter::new();
    splitter.feed(bytes);
    splitter.finish();
    let mut out = Vec::new();
    while let Some(event) = splitter.poll() {
        if let Event::Fragment(f) = event {
            out.push(f);
        }
    }
    out
}

/// The fragment number given to the `i`th synthetic fragment.
pub fn fragment_number(i: usize) -> String {
    format!("91343852333181432392682062607743920146159{:07}", i)
}

/// One video frame to put into a synthetic fragment.
#[derive(Clone)]
pub struct Block {
    pub timestamp_ms: i64,
    pub keyframe: bool,
    pub payload: Vec<u8>,
}

/// A KVS-style fragment (EBML header, unknown-size Segment, Info, Tracks, KVS tags, one
/// Cluster) holding these H.264 frames on track 1.
pub fn kvs_fragment(i: usize, codec_private: &[u8], width: u64, height: u64, blocks: &[Block]) -> Fragment {
    let cluster_ms = blocks.first().map_or(0, |b| b.timestamp_ms);
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska");
    w.unknown_size_master(ids::SEGMENT);
    w.master(ids::INFO, |info| {
        info.uint(ids::TIMECODE_SCALE, 1_000_000);
    });
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1);
            e.uint(ids::TRACK_TYPE, 1);
            e.string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
            e.binary(ids::CODEC_PRIVATE, codec_private);
            e.master(ids::VIDEO, |v| {
                v.uint(ids::PIXEL_WIDTH, width).uint(ids::PIXEL_HEIGHT, height);
            });
        });
    });
    let number = fragment_number(i);
    let producer = kvs_mkv::Timestamp::from_unix_millis(cluster_ms).to_string();
    let server = kvs_mkv::Timestamp::from_unix_millis(cluster_ms + 250).to_string();
    w.simple_tags(&[
        ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", &number),
        ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", &server),
        ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", &producer),
    ]);
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, cluster_ms as u64);
        for b in blocks {
            c.simple_block(1, (b.timestamp_ms - cluster_ms) as i16, b.keyframe, &b.payload);
        }
    });
    w.simple_tags(&[("AWS_KINESISVIDEO_CONTINUATION_TOKEN", &number)]);
    Fragment::from_bytes(w.into_bytes()).expect("a fragment we built")
}

/// The synthetic camera's stream: its CodecPrivate, size and frames.
pub struct Camera {
    pub codec_private: Vec<u8>,
    pub width: u64,
    pub height: u64,
    pub blocks: Vec<Block>,
    /// The producer stream as one fragment (one Segment, one Cluster per fragment).
    pub whole: Fragment,
}

/// Camera start time used by the tests (ms since the epoch).
pub const START_MS: i64 = 1_700_000_000_000;

/// Films `frames` frames at `width`x`height`, 15 fps, a keyframe every `per_fragment`.
pub fn camera(width: u32, height: u32, per_fragment: u32, frames: u64) -> Camera {
    let config = kvs_local::camera::CameraConfig {
        width,
        height,
        fps: 15,
        frames_per_fragment: per_fragment,
        ..Default::default()
    };
    let stream = kvs_local::camera::encode_at(&config, frames, START_MS).expect("camera encodes");
    let whole = Fragment::from_bytes(stream).expect("camera stream parses");
    let track = whole.tracks().unwrap().into_iter().next().expect("camera has a track");
    let blocks = whole
        .frames()
        .unwrap()
        .into_iter()
        .map(|f| Block {
            timestamp_ms: f.timestamp_ns / 1_000_000,
            keyframe: f.keyframe,
            payload: f.payload.to_vec(),
        })
        .collect();
    let video = track.video.expect("video track");
    Camera {
        codec_private: track.codec_private.expect("CodecPrivate").to_vec(),
        width: video.width,
        height: video.height,
        blocks,
        whole,
    }
}

impl Camera {
    /// Cuts the frames into KVS fragments of `per_fragment` frames each.
    pub fn fragments(&self, per_fragment: usize) -> Vec<Fragment> {
        self.blocks
            .chunks(per_fragment)
            .enumerate()
            .map(|(i, blocks)| kvs_fragment(i, &self.codec_private, self.width, self.height, blocks))
            .collect()
    }

    /// Expected presentation time of frame `index` (the camera runs at 15 fps).
    pub fn timestamp_ns(index: u64) -> i64 {
        (START_MS + (index * 1000 / 15) as i64) * 1_000_000
    }
}
