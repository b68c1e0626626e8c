//! Synthetic fragments for tests, examples and benchmarks: H.264 (and optionally AAC)
//! tracks with real configuration records and made-up frame payloads, in the layout of
//! a KVS fragment; and, in [`read`], the outputs read back into samples.
//!
//! Behind the `testing` feature, which only dev-dependencies enable (as `kvs_mkv::testing`):
//! pure functions, no I/O; the product never compiles them.

pub mod read;

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, Fragment, ids};

/// Cluster time of fragment 0, in ms (a real KVS producer time).
pub const BASE_MS: u64 = 1_700_000_000_000;

/// Video frames are this many ms apart (30 fps, rounded as MKV stores it).
pub const VIDEO_STEP_MS: i16 = 33;

/// AAC frames (1024 samples at 48 kHz) are about this many ms apart.
pub const AUDIO_STEP_MS: f64 = 1024.0 / 48.0;

/// An H.264 SPS (Constrained Baseline, 640x360) and PPS.
pub const SPS: &[u8] = &[
    0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00,
    0x03, 0x00, 0xF0, 0x3C, 0x58, 0xBA, 0x80,
];
/// The PPS that goes with [`SPS`].
pub const PPS: &[u8] = &[0x68, 0xCE, 0x0F, 0x2C, 0x80];

/// AudioSpecificConfig of AAC-LC, 48 kHz, stereo.
pub const ASC: &[u8] = &[0x11, 0x90];

/// The AVCDecoderConfigurationRecord of [`SPS`] and [`PPS`], 4-byte NAL lengths.
pub fn avcc() -> Vec<u8> {
    let mut out = vec![1, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1];
    out.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    out.extend_from_slice(SPS);
    out.push(1);
    out.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    out.extend_from_slice(PPS);
    out
}

/// The payload of video frame `j` of fragment `i`: one length-prefixed NAL unit, an IDR
/// slice for a keyframe, of `len` bytes in all.
pub fn video_payload(i: u64, j: u64, keyframe: bool, len: usize) -> Vec<u8> {
    let nal_len = len.max(6) - 4;
    let mut out = Vec::with_capacity(nal_len + 4);
    out.extend_from_slice(&(nal_len as u32).to_be_bytes());
    out.push(if keyframe { 0x65 } else { 0x41 });
    out.extend(format!("{i}-{j};").bytes().cycle().take(nal_len - 1));
    out
}

/// Fragment `i` of a synthetic stream: an H.264 track 1 (640x360) with `video` frames
/// 33 ms apart, the first a keyframe, and an AAC track 2 (48 kHz stereo) with `audio`
/// frames when `audio > 0`. Each video frame is 1000 bytes, each audio frame 200.
pub fn fragment(i: u64, video: u16, audio: u16) -> Fragment {
    Fragment::from_bytes(fragment_bytes(i, video, audio, 1000)).expect("a synthetic fragment parses")
}

/// [`fragment`] with video frames of `payload_len` bytes, as bytes.
pub fn fragment_bytes(i: u64, video: u16, audio: u16, payload_len: usize) -> Bytes {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::INFO, |info| {
        info.uint(ids::TIMECODE_SCALE, 1_000_000);
    });
    let avcc = avcc();
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1)
                .uint(ids::TRACK_UID, 1)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                .binary(ids::CODEC_PRIVATE, &avcc)
                .master(ids::VIDEO, |v| {
                    v.uint(ids::PIXEL_WIDTH, 640).uint(ids::PIXEL_HEIGHT, 360);
                });
        });
        if audio > 0 {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, 2)
                    .uint(ids::TRACK_UID, 2)
                    .uint(ids::TRACK_TYPE, 2)
                    .string(ids::CODEC_ID, "A_AAC")
                    .binary(ids::CODEC_PRIVATE, ASC)
                    .master(ids::AUDIO, |a| {
                        a.float(ids::SAMPLING_FREQUENCY, 48_000.0).uint(ids::CHANNELS, 2);
                    });
            });
        }
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, BASE_MS + i * 2000);
        let mut blocks: Vec<(i16, u64, Vec<u8>, bool)> = (0..u64::from(video))
            .map(|j| (j as i16 * VIDEO_STEP_MS, 1, video_payload(i, j, j == 0, payload_len), j == 0))
            .collect();
        blocks.extend((0..audio).map(|k| {
            let at = (f64::from(k) * AUDIO_STEP_MS).round() as i16;
            (at, 2, format!("aac {i}-{k};").bytes().cycle().take(200).collect(), true)
        }));
        // Interleaved by time, video first at equal times, as producers write them.
        blocks.sort_by_key(|b| (b.0, b.1));
        for (at, track, payload, key) in blocks {
            c.simple_block(track, at, key, &payload);
        }
    });
    w.into_bytes()
}

/// A fragment with one track of `codec_id` (video) and this `CodecPrivate`, and one frame.
pub fn fragment_with_codec(codec_id: &str, codec_private: Option<&[u8]>) -> Fragment {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1).uint(ids::TRACK_TYPE, 1).string(ids::CODEC_ID, codec_id);
            if let Some(private) = codec_private {
                e.binary(ids::CODEC_PRIVATE, private);
            }
        });
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, BASE_MS);
        c.simple_block(1, 0, true, &video_payload(0, 0, true, 100));
    });
    Fragment::from_bytes(w.into_bytes()).expect("a synthetic fragment parses")
}

/// An H.264 fragment with B-frames: stored (decode order) I P B B P B B, shown at
/// 0, 99, 33, 66, 198, 132, 165 ms after the cluster time.
pub fn b_frame_fragment() -> Fragment {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    let avcc = avcc();
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                .binary(ids::CODEC_PRIVATE, &avcc);
        });
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, BASE_MS);
        for (j, at) in [0i16, 99, 33, 66, 198, 132, 165].into_iter().enumerate() {
            c.simple_block(1, at, j == 0, &video_payload(0, j as u64, j == 0, 100));
        }
    });
    Fragment::from_bytes(w.into_bytes()).expect("a synthetic fragment parses")
}

/// [`fragment`] with video only: `frames` frames of H.264.
pub fn h264_fragment(i: u64, frames: u16) -> Fragment {
    fragment(i, frames, 0)
}
