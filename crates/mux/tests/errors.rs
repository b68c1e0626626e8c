//! Every typed error a bad input gives, and that none of them is a panic.

use kvs_mkv::{EbmlWriter, Fragment, ids};
use kvs_mux::testing::{self, BASE_MS};
use kvs_mux::{ClipLimits, Error, Remuxer};

#[test]
fn unsupported_codecs_are_named() {
    for codec in ["V_VP8", "V_MS/VFW/FOURCC", "A_OPUS"] {
        let fragment = testing::fragment_with_codec(codec, Some(&[1, 2, 3]));
        match Remuxer::for_fragment(&fragment) {
            Err(Error::UnsupportedCodec { track: 1, codec_id }) => assert_eq!(codec_id, codec),
            other => panic!("{codec}: {other:?}"),
        }
    }
}

#[test]
fn bad_codec_private_is_an_error() {
    for (codec, private) in [
        ("V_MPEG4/ISO/AVC", None),
        ("V_MPEG4/ISO/AVC", Some(&[1u8, 2][..])),
        ("V_MPEG4/ISO/AVC", Some(&[2, 0x42, 0, 0x1E, 0xFF, 0xE0, 0][..])),
        ("V_MPEGH/ISO/HEVC", Some(&[1, 2, 3][..])),
        ("A_AAC", Some(&[0x11][..])),
    ] {
        let fragment = testing::fragment_with_codec(codec, private);
        match Remuxer::for_fragment(&fragment) {
            Err(Error::BadCodecPrivate { track: 1, codec_id, .. }) => assert_eq!(codec_id, codec),
            other => panic!("{codec} {private:?}: {other:?}"),
        }
    }
}

#[test]
fn fragments_without_tracks_or_frames() {
    assert!(matches!(Remuxer::new(&[]), Err(Error::NoTracks)));
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, 1);
    });
    let bare = Fragment::from_bytes(w.into_bytes()).unwrap();
    assert!(matches!(Remuxer::for_fragment(&bare), Err(Error::NoTracks)));
    let remuxer = Remuxer::for_fragment(&testing::h264_fragment(0, 1)).unwrap();
    assert!(matches!(remuxer.media_segment(1, &bare, None), Err(Error::NoFrames)));
    assert!(matches!(remuxer.clip([&bare], ClipLimits::AWS), Err(Error::NoFrames)));
    assert!(matches!(remuxer.ts_muxer().segment(&bare), Err(Error::NoFrames)));
}

#[test]
fn frames_of_other_tracks_and_before_the_origin() {
    let video_only = Remuxer::for_fragment(&testing::h264_fragment(0, 1)).unwrap();
    let with_audio = testing::fragment(0, 2, 2);
    assert!(matches!(video_only.media_segment(1, &with_audio, None), Err(Error::UnknownTrack { track: 2 })));
    let late = video_only.with_origin_ns((BASE_MS as i64 + 1) * 1_000_000);
    match late.media_segment(1, &testing::h264_fragment(0, 2), None) {
        Err(Error::BeforeOrigin { track: 1, timestamp_ns, origin_ns }) => {
            assert_eq!(
                (timestamp_ns, origin_ns),
                (BASE_MS as i64 * 1_000_000, (BASE_MS as i64 + 1) * 1_000_000)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_nal_length_past_the_frame_is_a_bad_frame_in_ts() {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                .binary(ids::CODEC_PRIVATE, &testing::avcc());
        });
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, 5);
        c.simple_block(1, 0, true, &[0, 0, 0, 200, 0x65, 1, 2]);
    });
    let fragment = Fragment::from_bytes(w.into_bytes()).unwrap();
    let remuxer = Remuxer::for_fragment(&fragment).unwrap();
    match remuxer.ts_muxer().segment(&fragment) {
        Err(Error::BadFrame { track: 1, timestamp_ns: 5_000_000, reason }) => {
            assert_eq!(reason, "NAL length past the end of the frame")
        }
        other => panic!("{other:?}"),
    }
    // MP4 carries the frame as it is: it is the decoder's to judge.
    assert!(remuxer.media_segment(1, &fragment, None).is_ok());
}

/// A fragment of `tracks` H.264 tracks with `codec_private` and one frame each of `payload`.
fn fragment_of(tracks: u64, codec_private: &[u8], payload: &[u8]) -> Fragment {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::TRACKS, |t| {
        for n in 1..=tracks {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, n)
                    .uint(ids::TRACK_TYPE, 1)
                    .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                    .binary(ids::CODEC_PRIVATE, codec_private);
            });
        }
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, BASE_MS);
        for n in 1..=tracks {
            c.simple_block(n, 0, true, payload);
        }
    });
    Fragment::from_bytes(w.into_bytes()).unwrap()
}

#[test]
fn more_tracks_than_mpeg_ts_carries() {
    let fragment = fragment_of(17, &testing::avcc(), &testing::video_payload(0, 0, true, 50));
    let remuxer = Remuxer::for_fragment(&fragment).unwrap();
    assert!(matches!(remuxer.ts_muxer().segment(&fragment), Err(Error::Encode { format: "MPEG-TS", .. })));
    assert!(remuxer.media_segment(1, &fragment, None).is_ok());
}

#[test]
fn random_codec_private_and_frames_never_panic() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut remuxed, mut refused) = (0, 0);
    for round in 0..2000 {
        let len = (next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the rounds keep a valid configuration and garble only the frame.
        let private = if round % 2 == 0 { testing::avcc() } else { bytes.clone() };
        if round % 4 == 0 && len > 4 {
            bytes[..4].copy_from_slice(&((len - 4) as u32).to_be_bytes());
        }
        let fragment = fragment_of(1, &private, &bytes);
        let Ok(remuxer) = Remuxer::for_fragment(&fragment) else {
            refused += 1;
            continue;
        };
        let _ = remuxer.init_segment();
        let _ = remuxer.media_segment(1, &fragment, Some(&fragment));
        let _ = remuxer.clip([&fragment, &fragment], ClipLimits::AWS);
        match remuxer.ts_muxer().segment(&fragment) {
            Ok(_) => remuxed += 1,
            Err(Error::BadFrame { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(remuxed > 100 && refused > 100, "{remuxed} remuxed, {refused} refused");
}
