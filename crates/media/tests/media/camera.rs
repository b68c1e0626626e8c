//! The synthetic camera (kvs-local) decoded and read back from its pixels: every frame
//! present, in order, at its timestamp; selections hand out exactly the frames asked for
//! and convert nothing else.

use std::num::NonZeroUsize;
use std::sync::Arc;

use kvs_h264::{LengthSize, NalHeader};
use kvs_local::camera::read_frame_index;
use kvs_media::{DecodedFragment, Error, FrameDecoder, Selection, VideoFrame, VideoOptions};

use crate::util::{Camera, START_MS, camera, fragment_number};

fn index_of(frame: &VideoFrame) -> u64 {
    let (h, w, _) = frame.rgb.dim();
    read_frame_index(frame.rgb.as_slice().unwrap(), w, h).expect("the picture carries its index")
}

fn decode_all(
    selection: Selection,
    fragments: &[kvs_mkv::Fragment],
) -> (Vec<DecodedFragment>, kvs_media::Stats) {
    let mut decoder = FrameDecoder::new(VideoOptions::with_selection(selection));
    let out = fragments.iter().map(|f| decoder.decode(f).unwrap()).collect();
    (out, decoder.stats())
}

#[test]
fn every_frame_comes_out_in_order_with_its_timestamp_and_fragment_tags() {
    let cam = camera(320, 240, 15, 45);
    let fragments = cam.fragments(15);
    let (decoded, stats) = decode_all(Selection::All, &fragments);
    for (i, d) in decoded.iter().enumerate() {
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.frames.len(), 15);
        for (k, frame) in d.frames.iter().enumerate() {
            let index = (i * 15 + k) as u64;
            assert_eq!(index_of(frame), index);
            assert_eq!(frame.rgb.dim(), (240, 320, 3));
            assert_eq!(frame.info.index, k);
            assert_eq!(frame.info.keyframe, k == 0);
            assert_eq!(frame.info.timestamp_ns, Camera::timestamp_ns(index));
            assert_eq!(frame.info.fragment_number.as_ref().unwrap().as_str(), fragment_number(i));
            let producer = Camera::timestamp_ns(i as u64 * 15) / 1_000_000;
            assert_eq!(frame.info.producer_timestamp.as_ref().unwrap().unix_millis(), producer);
            assert_eq!(frame.info.server_timestamp.as_ref().unwrap().unix_millis(), producer + 250);
        }
    }
    assert_eq!((stats.frames, stats.decoded, stats.pictures, stats.converted), (45, 45, 45, 45));
    assert_eq!((stats.errors, stats.skipped_before_keyframe), (0, 0));
}

#[test]
fn the_producer_stream_as_one_fragment_decodes_whole() {
    let cam = camera(160, 96, 10, 30);
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    let decoded = decoder.decode(&cam.whole).unwrap();
    let indices: Vec<u64> = decoded.frames.iter().map(index_of).collect();
    assert_eq!(indices, (0..30).collect::<Vec<_>>());
    assert_eq!(decoded.frames[29].info.timestamp_ns, (START_MS + 29 * 1000 / 15) * 1_000_000);
    assert!(decoded.frames[0].info.fragment_number.is_none());
}

#[test]
fn every_nth_gives_exactly_those_indices_and_converts_nothing_else() {
    let cam = camera(320, 240, 15, 45);
    let fragments = cam.fragments(15);
    let (decoded, stats) = decode_all(Selection::EveryNth(NonZeroUsize::new(4).unwrap()), &fragments);
    let got: Vec<Vec<u64>> = decoded.iter().map(|d| d.frames.iter().map(index_of).collect()).collect();
    assert_eq!(got, vec![vec![0, 4, 8, 12], vec![15, 19, 23, 27], vec![30, 34, 38, 42]]);
    // Every frame is a reference frame here: all decoded, only the selected converted.
    assert_eq!((stats.decoded, stats.pictures, stats.converted), (45, 45, 12));
}

#[test]
fn keyframes_only_feeds_the_decoder_nothing_but_the_idr_frames() {
    let cam = camera(320, 240, 15, 45);
    let (decoded, stats) = decode_all(Selection::Keyframes, &cam.fragments(15));
    let got: Vec<Vec<u64>> = decoded.iter().map(|d| d.frames.iter().map(index_of).collect()).collect();
    assert_eq!(got, vec![vec![0], vec![15], vec![30]]);
    assert_eq!((stats.decoded, stats.converted, stats.skipped_non_keyframes), (3, 3, 42));
}

#[test]
fn a_predicate_sees_timestamps_before_decoding() {
    let cam = camera(320, 240, 15, 30);
    let cutoff = Camera::timestamp_ns(20);
    let selection = Selection::Predicate(Arc::new(move |info| info.timestamp_ns >= cutoff));
    let (decoded, stats) = decode_all(selection, &cam.fragments(15));
    let got: Vec<u64> = decoded.iter().flat_map(|d| d.frames.iter().map(index_of)).collect();
    assert_eq!(got, (20..30).collect::<Vec<_>>());
    assert_eq!(stats.converted, 10);
}

/// Marks the last frame of each fragment as a non-reference picture (nal_ref_idc 0). No
/// frame refers to it (the next fragment starts with an IDR), so it can be left out.
fn mark_last_non_reference(cam: &mut Camera, per_fragment: usize) {
    for chunk in cam.blocks.chunks_mut(per_fragment) {
        let last = chunk.last_mut().unwrap();
        let nals: Vec<Vec<u8>> = kvs_h264::split_avcc(&last.payload, LengthSize::FOUR)
            .map(|nal| {
                let mut nal = nal.unwrap().to_vec();
                nal[0] = NalHeader { nal_ref_idc: 0, ..NalHeader::from_byte(nal[0]) }.to_byte();
                nal
            })
            .collect();
        last.payload.clear();
        kvs_h264::write_avcc(&mut last.payload, nals.iter().map(Vec::as_slice), LengthSize::FOUR).unwrap();
    }
}

#[test]
fn unselected_non_reference_frames_are_not_decoded_at_all() {
    let mut cam = camera(320, 240, 15, 30);
    mark_last_non_reference(&mut cam, 15);
    let (decoded, stats) = decode_all(Selection::EveryNth(NonZeroUsize::new(5).unwrap()), &cam.fragments(15));
    let got: Vec<Vec<u64>> = decoded.iter().map(|d| d.frames.iter().map(index_of).collect()).collect();
    assert_eq!(got, vec![vec![0, 5, 10], vec![15, 20, 25]]);
    assert_eq!((stats.skipped_non_reference, stats.decoded, stats.converted), (2, 28, 6));
}

#[test]
fn a_fragment_that_does_not_start_at_a_keyframe_skips_to_the_first_one() {
    let cam = camera(320, 240, 15, 30);
    // Three P-frames from the end of the first fragment, then the whole second one.
    let blocks: Vec<_> = cam.blocks[12..].to_vec();
    let fragment = crate::util::kvs_fragment(0, &cam.codec_private, cam.width, cam.height, &blocks);
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    let decoded = decoder.decode(&fragment).unwrap();
    let got: Vec<u64> = decoded.frames.iter().map(index_of).collect();
    assert_eq!(got, (15..30).collect::<Vec<_>>());
    assert_eq!(decoded.frames[0].info.index, 3, "indices count every frame of the fragment");
    let stats = decoder.stats();
    assert_eq!((stats.skipped_before_keyframe, stats.fragments_without_leading_keyframe), (3, 1));
}

#[test]
fn a_corrupt_frame_is_an_error_for_that_frame_and_decoding_goes_on() {
    let mut cam = camera(320, 240, 15, 30);
    // The last frame of the first fragment: a NAL length that overruns the payload.
    cam.blocks[14].payload[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    // A frame of the second fragment: slice data replaced by garbage.
    let garbage_at = cam.blocks[20].payload.len() / 2;
    for b in &mut cam.blocks[20].payload[garbage_at..] {
        *b = 0xFF;
    }
    let (decoded, _) = decode_all(Selection::All, &cam.fragments(15));
    let first: Vec<u64> = decoded[0].frames.iter().map(index_of).collect();
    assert_eq!(first, (0..14).collect::<Vec<_>>());
    assert_eq!(decoded[0].errors.len(), 1);
    assert_eq!(decoded[0].errors[0].index, Some(14));
    assert!(matches!(decoded[0].errors[0].error, Error::CorruptFrame(_)));
    // The second fragment starts at its own IDR: its first frames are intact whatever the
    // decoder made of the damaged one.
    let second: Vec<u64> = decoded[1].frames.iter().take(5).map(index_of).collect();
    assert_eq!(second, vec![15, 16, 17, 18, 19]);
}

#[test]
fn decoder_state_carries_across_fragments_without_tracks() {
    // The second fragment repeats no Tracks element: the decoder of the first goes on.
    let cam = camera(160, 96, 10, 20);
    let first = crate::util::kvs_fragment(0, &cam.codec_private, cam.width, cam.height, &cam.blocks[..10]);
    let mut w = kvs_mkv::EbmlWriter::new();
    w.ebml_header("matroska");
    w.unknown_size_master(kvs_mkv::ids::SEGMENT);
    w.master(kvs_mkv::ids::CLUSTER, |c| {
        let base = cam.blocks[10].timestamp_ms;
        c.uint(kvs_mkv::ids::TIMECODE, base as u64);
        for b in &cam.blocks[10..] {
            c.simple_block(1, (b.timestamp_ms - base) as i16, b.keyframe, &b.payload);
        }
    });
    let second = kvs_mkv::Fragment::from_bytes(w.into_bytes()).unwrap();
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    assert_eq!(decoder.decode(&first).unwrap().frames.len(), 10);
    let got: Vec<u64> = decoder.decode(&second).unwrap().frames.iter().map(index_of).collect();
    assert_eq!(got, (10..20).collect::<Vec<_>>());
    // A fresh decoder has no track to go on.
    let error = FrameDecoder::new(VideoOptions::default()).decode(&second).unwrap_err();
    assert!(matches!(error, Error::NoVideoTrack(None)));
}

#[test]
fn jpeg_and_png_files_are_named_from_the_fragment_number_and_index() {
    let cam = camera(160, 96, 10, 10);
    let fragments = cam.fragments(10);
    let dir = tempfile::tempdir().unwrap();
    let mut decoder =
        FrameDecoder::new(VideoOptions::with_selection(Selection::EveryNth(NonZeroUsize::new(3).unwrap())));
    let decoded = decoder.decode(&fragments[0]).unwrap();
    for frame in &decoded.frames {
        kvs_media::save_image(frame, dir.path(), kvs_media::ImageFormat::Jpeg { quality: 90 }).unwrap();
        kvs_media::save_image(frame, dir.path(), kvs_media::ImageFormat::Png).unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let n = fragment_number(0);
    let mut expected: Vec<String> =
        [0, 3, 6, 9].iter().flat_map(|i| [format!("{n}-{i}.jpg"), format!("{n}-{i}.png")]).collect();
    expected.sort();
    assert_eq!(names, expected);
}
