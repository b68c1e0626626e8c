//! Fragmented MP4 of synthetic fragments, read back box by box.

use kvs_mux::Remuxer;
use kvs_mux::testing::{self, ASC, BASE_MS, PPS, SPS};

use crate::util::{fmp4_samples, frames_of, moov_of, top_boxes};

/// `ms` after the Unix epoch in ticks of `scale`.
fn at(ms: f64, scale: u32) -> u64 {
    (ms * f64::from(scale) / 1000.0).round() as u64
}

#[test]
fn init_segment_describes_every_track() {
    let fragment = testing::fragment(0, 3, 5);
    let init = Remuxer::for_fragment(&fragment).unwrap().init_segment().unwrap();
    let kinds: Vec<String> = top_boxes(&init).iter().map(|b| b.0.to_string()).collect();
    assert_eq!(kinds, ["ftyp", "moov"]);
    let moov = moov_of(&init);
    let trex: Vec<u32> = moov.mvex.as_ref().unwrap().trex.iter().map(|t| t.track_id).collect();
    assert_eq!(trex, [1, 2]);
    assert_eq!(moov.trak.len(), 2);
    let video = &moov.trak[0];
    assert_eq!((video.tkhd.track_id, video.mdia.mdhd.timescale), (1, 90_000));
    match &video.mdia.minf.stbl.stsd.codecs[..] {
        [mp4_atom::Codec::Avc1(avc1)] => {
            assert_eq!((avc1.visual.width, avc1.visual.height), (640, 360));
            assert_eq!(avc1.avcc.sequence_parameter_sets, [SPS.to_vec()]);
            assert_eq!(avc1.avcc.picture_parameter_sets, [PPS.to_vec()]);
            assert_eq!(avc1.avcc.length_size, 4);
        }
        other => panic!("{other:?}"),
    }
    let audio = &moov.trak[1];
    assert_eq!((audio.tkhd.track_id, audio.mdia.mdhd.timescale), (2, 48_000));
    match &audio.mdia.minf.stbl.stsd.codecs[..] {
        [mp4_atom::Codec::Mp4a(mp4a)] => {
            assert_eq!(mp4a.audio.channel_count, 2);
            let config = &mp4a.esds.es_desc.dec_config;
            assert_eq!((config.object_type_indication, config.stream_type), (0x40, 5));
            assert_eq!(config.dec_specific.as_ref().unwrap().raw, ASC);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn media_segment_samples_are_the_frames() {
    let fragments = [testing::fragment(0, 30, 47), testing::fragment(1, 30, 47)];
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    let segment = remuxer.media_segment(7, &fragments[0], Some(&fragments[1])).unwrap();
    let (sequence, tracks) = fmp4_samples(&segment);
    assert_eq!(sequence, 7);
    assert_eq!(tracks.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2]);
    for (id, samples) in &tracks {
        let frames = frames_of(&fragments[..1], u64::from(*id));
        let next = frames_of(&fragments[1..], u64::from(*id));
        let scale = if *id == 1 { 90_000 } else { 48_000 };
        assert_eq!(samples.len(), frames.len());
        for (s, f) in samples.iter().zip(&frames) {
            assert_eq!(s.data, f.payload);
            assert_eq!(s.sync, f.keyframe || *id == 2);
            assert_eq!(s.cts, 0);
        }
        let ms = |ns: i64| ns as f64 / 1e6;
        assert_eq!(samples[0].dts, at(ms(frames[0].timestamp_ns), scale));
        let total: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
        assert_eq!(total, at(ms(next[0].timestamp_ns), scale) - at(ms(frames[0].timestamp_ns), scale));
    }
    // Video frames are 33 ms apart: 2970 ticks; the last lasts until the next fragment
    // (2000 ms after this one's start, 29 x 33 = 957 ms after its last frame... 1043 ms).
    let video = &tracks[0].1;
    assert!(video[..29].iter().all(|s| s.duration == 2970));
    assert_eq!(video[29].duration, (2000 - 29 * 33) * 90);
    assert_eq!(video[0].dts, BASE_MS * 90);
}

#[test]
fn without_next_the_last_frame_lasts_as_long_as_the_one_before() {
    let fragment = testing::h264_fragment(0, 10);
    let segment = Remuxer::for_fragment(&fragment).unwrap().media_segment(1, &fragment, None).unwrap();
    let (_, tracks) = fmp4_samples(&segment);
    let durations: Vec<u32> = tracks[0].1.iter().map(|s| s.duration).collect();
    assert_eq!(durations, [2970; 10]);
}

#[test]
fn b_frames_get_composition_offsets() {
    let fragment = testing::b_frame_fragment();
    let segment = Remuxer::for_fragment(&fragment).unwrap().media_segment(1, &fragment, None).unwrap();
    let (_, tracks) = fmp4_samples(&segment);
    let samples = &tracks[0].1;
    // Shown at 0 99 33 66 198 132 165 ms: decoded in that order at the sorted times, from
    // the first frame's time; frames shown before they are decoded get negative offsets.
    assert_eq!(samples[0].dts, BASE_MS * 90);
    assert!(samples.iter().all(|s| s.duration == 33 * 90));
    let cts: Vec<i64> = samples.iter().map(|s| s.cts).collect();
    assert_eq!(cts, [0, 66, -33, -33, 66, -33, -33].map(|ms| ms * 90));
    let frames = frames_of(std::slice::from_ref(&fragment), 1);
    for (s, f) in samples.iter().zip(&frames) {
        assert_eq!(s.dts as i64 + s.cts, f.timestamp_ns / 1_000_000 * 90);
    }
}

#[test]
fn origin_and_styp() {
    let fragment = testing::h264_fragment(3, 5);
    let origin_ns = (BASE_MS as i64) * 1_000_000;
    let remuxer = Remuxer::for_fragment(&fragment).unwrap().with_origin_ns(origin_ns).with_styp(true);
    let segment = remuxer.media_segment(4, &fragment, None).unwrap();
    let kinds: Vec<String> = top_boxes(&segment).iter().map(|b| b.0.to_string()).collect();
    assert_eq!(kinds, ["styp", "moof", "mdat"]);
    let (_, tracks) = fmp4_samples(&segment);
    // Fragment 3 starts 6 s after the origin.
    assert_eq!(tracks[0].1[0].dts, 6 * 90_000);
}

#[test]
fn one_track_of_two() {
    let fragments: Vec<_> = (0..2).map(|i| testing::fragment(i, 30, 47)).collect();
    let audio = Remuxer::for_fragment(&fragments[0]).unwrap().with_only_track(2).unwrap();
    let moov = moov_of(&audio.init_segment().unwrap());
    assert_eq!(moov.trak.iter().map(|t| t.tkhd.track_id).collect::<Vec<_>>(), [2]);
    let (_, tracks) = fmp4_samples(&audio.media_segment(1, &fragments[0], Some(&fragments[1])).unwrap());
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].0, 2);
    let frames = frames_of(&fragments[..1], 2);
    assert_eq!(tracks[0].1.len(), 47);
    assert!(tracks[0].1.iter().zip(&frames).all(|(s, f)| s.data == f.payload));
    let video = Remuxer::for_fragment(&fragments[0]).unwrap().with_only_track(1).unwrap();
    let clip = video.clip(&fragments, kvs_mux::ClipLimits::AWS).unwrap();
    assert_eq!(clip.frames, 60);
    let err = Remuxer::for_fragment(&fragments[0]).unwrap().with_only_track(3).unwrap_err();
    assert!(matches!(err, kvs_mux::Error::UnknownTrack { track: 3 }), "{err}");
}
