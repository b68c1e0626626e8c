//! Synthetic KVS streams for tests, examples and benchmarks of this and other crates: the
//! exact GetMedia layout, with made-up frame payloads.
//!
//! Behind the `testing` feature, which only dev-dependencies enable: pure functions, no
//! I/O. The real captures are found by the dev-only crate `kvs-samples`.

use bytes::Bytes;

use crate::{EbmlWriter, ids};

/// The first fragment number [`stream_of`] uses (a real one from AWS).
pub const FIRST_FRAGMENT_NUMBER: &str = "91343852333181432392682062607743920146159169392";

/// Fragment number `i` of a synthetic stream: 48 digits, increasing, not consecutive.
pub fn fragment_number(i: u64) -> String {
    let base: u128 = FIRST_FRAGMENT_NUMBER[..38].parse().expect("38 digits fit in u128");
    format!("{}{}", base + u128::from(i) * 7919, &FIRST_FRAGMENT_NUMBER[38..])
}

/// One fragment in the GetMedia layout: EBML header, unknown-size Segment, Info, Tracks
/// (H.264 640x360, track 1), KVS tags, a known-size Cluster at `i` seconds with `frames`
/// SimpleBlocks (the first a keyframe; payload `i`-`j` repeated to `payload_len` bytes),
/// and the trailing MILLIS_BEHIND_NOW and CONTINUATION_TOKEN tags.
pub fn fragment(i: u64, frames: u16, payload_len: usize) -> Bytes {
    let number = fragment_number(i);
    let millis = 1_511_374_566_000 + i as i64 * 2000;
    let ts = crate::Timestamp::from_unix_millis(millis);
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska");
    w.unknown_size_master(ids::SEGMENT);
    w.master(ids::INFO, |info| {
        info.uint(ids::TIMECODE_SCALE, 1_000_000).string(ids::MUXING_APP, "kvs-mkv testing");
    });
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1)
                .uint(ids::TRACK_UID, 1)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                .master(ids::VIDEO, |v| {
                    v.uint(ids::PIXEL_WIDTH, 640).uint(ids::PIXEL_HEIGHT, 360);
                });
        });
    });
    w.simple_tags(&[
        (crate::names::FRAGMENT_NUMBER, &number),
        (crate::names::SERVER_TIMESTAMP, ts.as_str()),
        (crate::names::PRODUCER_TIMESTAMP, ts.as_str()),
    ]);
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, millis as u64);
        for j in 0..frames {
            let pattern = format!("{i}-{j};");
            let payload: Vec<u8> = pattern.bytes().cycle().take(payload_len.max(pattern.len())).collect();
            c.simple_block(1, (j * 33) as i16, j == 0, &payload);
        }
    });
    w.simple_tags(&[(crate::names::MILLIS_BEHIND_NOW, "1000"), (crate::names::CONTINUATION_TOKEN, &number)]);
    w.into_bytes()
}

/// `n` fragments of 3 small frames each, back to back.
pub fn stream_of(n: u64) -> Bytes {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(&fragment(i, 3, 16));
    }
    Bytes::from(out)
}
