//! The real captures in kvs-samples: every video frame decodes, fragment by fragment, in
//! the numbers the README counts; an undecodable codec or profile is a typed error.

use bytes::Bytes;
use kvs_media::{Error, FrameDecoder, Selection, VideoOptions};

use crate::util::{fragments_of, samples_dir};

fn load(name: &str) -> Option<Vec<kvs_mkv::Fragment>> {
    let dir = samples_dir()?;
    Some(fragments_of(Bytes::from(std::fs::read(dir.join(name)).unwrap())))
}

/// Decodes every frame of every fragment without converting any; returns pictures per
/// fragment and asserts no frame failed.
fn pictures_per_fragment(fragments: &[kvs_mkv::Fragment]) -> Vec<usize> {
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    let counts = fragments
        .iter()
        .map(|f| {
            let mut n = 0;
            let errors = decoder.decode_with(f, |_| n += 1).unwrap();
            assert!(errors.is_empty(), "fragment {}: {errors:?}", f.index());
            n
        })
        .collect();
    assert_eq!(decoder.stats().converted, 0);
    counts
}

#[test]
fn output_get_media_decodes_60_frames_per_fragment() {
    let Some(fragments) = load("output_get_media.mkv") else { return };
    assert_eq!(pictures_per_fragment(&fragments), vec![60; 5]);
}

/// kinesis_video_renderer_example_output.mkv and clusters.mkv hold the same H.264 stream,
/// which is not conformant: its frame_num jumps from 0 to 2 after each IDR while the SPS
/// says gaps_in_frame_num_allowed_flag = 0 (a frame dropped by the producer). openh264
/// refused every P-frame after the gap until the SPS given to it was rewritten to allow
/// gaps: now every frame decodes.
#[test]
fn renderer_example_decodes_every_frame_despite_its_frame_num_gap() {
    let Some(fragments) = load("kinesis_video_renderer_example_output.mkv") else { return };
    assert_eq!(pictures_per_fragment(&fragments), vec![59, 59, 59, 59, 59, 59, 59, 31]);

    let mut decoder = FrameDecoder::new(VideoOptions::with_selection(Selection::Keyframes));
    let last = fragments.last().unwrap();
    let decoded = decoder.decode(last).unwrap();
    assert_eq!(decoded.frames.len(), 1);
    let info = &decoded.frames[0].info;
    assert_eq!(
        info.fragment_number.as_ref().unwrap().as_str(),
        "91343852333181432427344383709766881962776549716"
    );
    assert_eq!(decoded.frames[0].rgb.dim(), (480, 640, 3));
}

/// 3 of vogels' 9 Clusters start in the middle of a GOP: the decoder goes on from the
/// Cluster before, and no frame is skipped for want of a keyframe.
#[test]
fn vogels_decodes_all_909_video_frames() {
    let Some(fragments) = load("vogels_330.mkv") else { return };
    // A plain file: one fragment per Cluster; the decoder carries over between them.
    assert_eq!(fragments.len(), 9);
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    let mut pictures = 0;
    for fragment in &fragments {
        let errors = decoder.decode_with(fragment, |_| pictures += 1).unwrap();
        assert!(errors.is_empty(), "fragment {}: {errors:?}", fragment.index());
    }
    assert_eq!(pictures, 909);
    let stats = decoder.stats();
    assert_eq!((stats.skipped_before_keyframe, stats.fragments_without_leading_keyframe), (0, 0));
}

#[test]
fn clusters_mkv_decodes_all_444_frames_one_fragment_per_cluster() {
    let Some(fragments) = load("clusters.mkv") else { return };
    assert_eq!(pictures_per_fragment(&fragments), vec![59, 59, 59, 59, 59, 59, 59, 31]);
}

#[test]
fn a_cut_recording_decodes_its_whole_frames() {
    let Some(fragments) = load("output-get-media-equal-timecode.mkv") else { return };
    let counts = pictures_per_fragment(&fragments);
    assert_eq!(counts[0], 120);
    assert!(!fragments[1].is_complete());
    let (whole, _) = fragments[1].frames_lossy();
    assert_eq!(counts[1], whole.len());
}

#[test]
fn mixed_tags_reports_its_codec_as_unsupported() {
    let Some(fragments) = load("test_mixed_tags.mkv") else { return };
    assert_eq!(fragments.len(), 10);
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    for fragment in &fragments {
        match decoder.decode(fragment) {
            Err(Error::UnsupportedCodec { codec_id, .. }) => assert_eq!(codec_id, "V_MS/VFW/FOURCC"),
            other => panic!("expected UnsupportedCodec, got {other:?}"),
        }
    }
    let message = decoder.decode(&fragments[0]).unwrap_err().to_string();
    assert!(message.contains("unsupported codec \"V_MS/VFW/FOURCC\""), "{message}");
}

#[test]
fn a_fragment_without_frames_gives_none() {
    let Some(fragments) = load("empty-mkv-with-tags.mkv") else { return };
    // It describes a video track but carries no Cluster: no frames, no errors.
    let decoded = FrameDecoder::new(VideoOptions::default()).decode(&fragments[0]).unwrap();
    assert!(decoded.frames.is_empty() && decoded.errors.is_empty());
}

/// An H.264 High 4:4:4 stream (tests/data/high444.mkv, made by x264) used to fail frame by
/// frame with openh264's bare "Native:16". Now the profile is read from the SPS before any
/// frame reaches openh264: one typed error for the fragment, naming the profile and the
/// feature that decodes it.
#[cfg(not(feature = "ffmpeg"))]
#[test]
fn high_444_is_one_unsupported_profile_error_not_one_per_frame() {
    let fragments = crate::util::fixture_fragments("high444.mkv");
    assert_eq!(fragments.len(), 1);
    let mut decoder = FrameDecoder::new(VideoOptions::default());
    let error = decoder.decode(&fragments[0]).unwrap_err();
    assert!(matches!(error, Error::UnsupportedProfile { track: 1, profile_idc: 244 }), "{error}");
    let message = error.to_string();
    assert!(message.contains("High 4:4:4 Predictive profile"), "{message}");
    assert!(message.contains("the `ffmpeg` feature decodes it"), "{message}");
    assert_eq!(decoder.stats().decoded, 0);
}
