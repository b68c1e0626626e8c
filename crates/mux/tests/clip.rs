//! Progressive MP4 of synthetic fragments, read back through its sample tables.

use kvs_mux::testing::{self, BASE_MS};
use kvs_mux::{ClipLimits, Error, Remuxer};

use crate::util::{frames_of, moov_of, mp4_samples, top_boxes};

#[test]
fn sample_tables_give_back_the_frames() {
    let fragments: Vec<_> = (0..3).map(|i| testing::fragment(i, 30, 47)).collect();
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    let clip = remuxer.clip(&fragments, ClipLimits::AWS).unwrap();
    assert_eq!((clip.fragments, clip.frames, clip.truncated), (3, 3 * 77, false));
    let kinds: Vec<String> = top_boxes(&clip.bytes).iter().map(|b| b.0.to_string()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
    let tracks = mp4_samples(&clip.bytes);
    assert_eq!(tracks.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2]);
    for (id, samples) in &tracks {
        let frames = frames_of(&fragments, u64::from(*id));
        assert_eq!(samples.len(), frames.len());
        for (s, f) in samples.iter().zip(&frames) {
            assert_eq!(s.data, f.payload);
            assert_eq!(s.sync, f.keyframe || *id == 2);
        }
    }
    // Video: 3 x 30 frames, 33 ms apart within a fragment, the fragment's last frame
    // until the next fragment (2 s later), the very last as long as the one before.
    let video = &tracks[0].1;
    let total: u64 = video.iter().map(|s| u64::from(s.duration)).sum();
    assert_eq!(total, (2 * 2000 + 30 * 33) * 90);
    assert_eq!(video[0].dts, 0);
    // Every chunk is one fragment's run of a track, and chunks interleave video, audio.
    let moov = moov_of(&clip.bytes);
    let stsc = &moov.trak[0].mdia.minf.stbl.stsc.entries;
    assert_eq!((stsc.len(), stsc[0].first_chunk, stsc[0].samples_per_chunk), (1, 1, 30));
    assert!(moov.trak.iter().all(|t| t.edts.is_none()));
    // The audio runs longest: its last frame at 981 ms lasts 21 ms.
    assert_eq!(moov.mvhd.duration, 2 * 2000 + 981 + 21);
}

#[test]
fn limits_take_whole_fragments() {
    let fragments: Vec<_> = (0..5).map(|i| testing::h264_fragment(i, 10)).collect();
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    let limited = |limits| remuxer.clip(&fragments, limits).unwrap();
    let clip = limited(ClipLimits { max_fragments: 2, ..ClipLimits::AWS });
    assert_eq!((clip.fragments, clip.frames, clip.truncated), (2, 20, true));
    // 10 frames of 1000 bytes a fragment: 25 000 bytes hold 2 fragments, not 3.
    let clip = limited(ClipLimits { max_bytes: 25_000, ..ClipLimits::AWS });
    assert_eq!((clip.fragments, clip.frames, clip.truncated), (2, 20, true));
    let clip = limited(ClipLimits::NONE);
    assert_eq!((clip.fragments, clip.frames, clip.truncated), (5, 50, false));
    assert_eq!(ClipLimits::default(), ClipLimits { max_fragments: 200, max_bytes: 100 * 1024 * 1024 });
    let err = remuxer.clip(&fragments, ClipLimits { max_bytes: 9_999, ..ClipLimits::AWS }).unwrap_err();
    assert!(matches!(err, Error::FragmentTooLarge { bytes: 10_000, limit: 9_999 }), "{err}");
}

#[test]
fn b_frames_get_ctts_and_an_edit_list() {
    let fragment = testing::b_frame_fragment();
    let clip = Remuxer::for_fragment(&fragment).unwrap().clip([&fragment], ClipLimits::AWS).unwrap();
    let tracks = mp4_samples(&clip.bytes);
    let cts: Vec<i64> = tracks[0].1.iter().map(|s| s.cts).collect();
    assert_eq!(cts, [33, 99, 0, 0, 99, 0, 0].map(|ms| ms * 90));
    // Decoding starts 33 ms before the first frame is shown: the edit skips that.
    let moov = moov_of(&clip.bytes);
    let elst = moov.trak[0].edts.as_ref().unwrap().elst.as_ref().unwrap();
    assert_eq!(elst.entries.len(), 1);
    assert_eq!(elst.entries[0].media_time, Some(33 * 90));
    // Shown for as long as it is decoded: 7 frames of 33 ms.
    assert_eq!(elst.entries[0].segment_duration, 7 * 33);
}

#[test]
fn a_track_that_starts_later_starts_with_an_empty_edit() {
    use kvs_mkv::{EbmlWriter, Fragment, ids};
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                .binary(ids::CODEC_PRIVATE, &testing::avcc());
        });
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 2)
                .uint(ids::TRACK_TYPE, 2)
                .string(ids::CODEC_ID, "A_AAC")
                .binary(ids::CODEC_PRIVATE, testing::ASC);
        });
    });
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, BASE_MS);
        for (track, at) in [(1, 0), (1, 33), (1, 66), (2, 100), (1, 99), (2, 121), (1, 132)] {
            c.simple_block(track, at, at == 0, &testing::video_payload(0, at as u64, at == 0, 50));
        }
    });
    let fragment = Fragment::from_bytes(w.into_bytes()).unwrap();
    let clip = Remuxer::for_fragment(&fragment).unwrap().clip([&fragment], ClipLimits::AWS).unwrap();
    let moov = moov_of(&clip.bytes);
    assert!(moov.trak[0].edts.is_none());
    let elst = moov.trak[1].edts.as_ref().unwrap().elst.as_ref().unwrap();
    let entries: Vec<(u64, Option<u64>)> =
        elst.entries.iter().map(|e| (e.segment_duration, e.media_time)).collect();
    // 100 ms of nothing, then the audio from its start: 2 frames, the second lasting as
    // long as the first (21 ms).
    assert_eq!(entries, [(100, None), (42, Some(0))]);
}
