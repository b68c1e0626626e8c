use kvs_mkv::{Event, FragmentNumber, TrackKind};

use crate::util::{fragments, sample, split};

/// Frame counts per fragment, fragment numbers and completeness of one capture.
fn facts(name: &str) -> Option<Vec<(usize, Option<String>, bool)>> {
    let bytes = sample(name)?;
    let events = split(&bytes);
    assert!(
        events.iter().all(|e| matches!(e, Event::Fragment(_))),
        "{name}: only fragments expected, got {events:?}"
    );
    let total: usize = fragments(&events).iter().map(|f| f.bytes().len() - f.shared_header_len()).sum();
    assert_eq!(total, bytes.len(), "{name}: every byte belongs to one fragment");
    Some(
        fragments(&events)
            .iter()
            .map(|f| {
                let frames = f.frames_lossy();
                assert!(frames.1.is_none(), "{name}: {:?}", frames.1);
                (frames.0.len(), f.kvs().fragment_number.as_ref().map(ToString::to_string), f.is_complete())
            })
            .collect(),
    )
}

fn counts(facts: &[(usize, Option<String>, bool)]) -> Vec<usize> {
    facts.iter().map(|f| f.0).collect()
}

#[test]
fn output_get_media_has_five_fragments_of_sixty_frames() {
    let Some(facts) = facts("output_get_media.mkv") else { return };
    assert_eq!(counts(&facts), [60; 5]);
    assert_eq!(facts[0].1.as_deref(), Some("91343852333181432392682062607743920146159169392"));
    assert!(facts.iter().all(|f| f.2));
    let bytes = sample("output_get_media.mkv").unwrap();
    let events = split(&bytes);
    let first = fragments(&events)[0];
    assert_eq!(first.bytes().len(), 547_925);
    let kvs = first.kvs();
    assert_eq!(kvs.millis_behind_now, Some(15858));
    assert_eq!(kvs.continuation_token.as_deref(), Some("91343852333181432392682062607743920146159169392"));
    assert_eq!(kvs.producer_timestamp.as_ref().unwrap().unix_millis(), 1_511_852_108_513);
    // Producer tags come before the KVS tags and are kept.
    let names: Vec<_> = first.tags().iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"ENCODER"), "{names:?}");
    assert!(names.contains(&"DURATION"), "{names:?}");
    let tracks = first.tracks().unwrap();
    assert_eq!(tracks.len(), 1);
    assert_eq!((tracks[0].codec_id.as_str(), tracks[0].kind), ("V_MPEG4/ISO/AVC", TrackKind::Video));
    let video = tracks[0].video.unwrap();
    assert_eq!((video.width, video.height), (640, 360));
    assert!(tracks[0].codec_private.as_ref().is_some_and(|c| c[0] == 1), "AVCDecoderConfigurationRecord");
}

#[test]
fn renderer_output_has_444_frames_in_eight_increasing_fragments() {
    let Some(facts) = facts("kinesis_video_renderer_example_output.mkv") else { return };
    assert_eq!(counts(&facts), [59, 59, 59, 59, 59, 59, 59, 31]);
    assert_eq!(facts[7].1.as_deref(), Some("91343852333181432427344383709766881962776549716"));
    let numbers: Vec<FragmentNumber> = facts.iter().map(|f| f.1.as_ref().unwrap().parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn mixed_tags_keeps_user_tags_in_order() {
    let Some(bytes) = sample("test_mixed_tags.mkv") else { return };
    let events = split(&bytes);
    let fragments = fragments(&events);
    assert_eq!(fragments.len(), 10);
    for f in &fragments {
        assert_eq!(f.frames().unwrap().len(), 10);
        let user: Vec<_> =
            f.tags().iter().filter(|t| t.name.starts_with("testTag")).map(|t| t.name.as_str()).collect();
        // Five after the Cluster in every fragment; the first fragment also has five at the
        // very start of its Segment. In order, repeats kept.
        let runs = if f.index() == 0 { 2 } else { 1 };
        let expected: Vec<String> = (0..runs).flat_map(|_| 0..5).map(|i| format!("testTag_{i}")).collect();
        assert_eq!(user, expected, "fragment {}", f.index());
        assert!(f.kvs().continuation_token.is_some());
        assert_eq!(f.tracks().unwrap()[0].codec_id, "V_MS/VFW/FOURCC");
    }
}

#[test]
fn empty_fragment_has_tags_and_no_frames() {
    let Some(facts) = facts("empty-mkv-with-tags.mkv") else { return };
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].0, 0);
    assert_eq!(facts[0].1.as_deref(), Some("91343852338378294813695855977007281634605393997"));
}

#[test]
fn cut_recording_delivers_truncated_fragment_with_its_whole_frames() {
    let Some(facts) = facts("output-get-media-equal-timecode.mkv") else { return };
    assert_eq!(counts(&facts), [120, 119]);
    assert_eq!((facts[0].2, facts[1].2), (true, false));
    let bytes = sample("output-get-media-equal-timecode.mkv").unwrap();
    let events = split(&bytes);
    let last = fragments(&events)[1];
    assert!(last.kvs().continuation_token.is_none());
    assert!(last.frames().is_ok(), "the block cut by the end is not an error of an incomplete fragment");
}

/// Plain files have no KVS tags: a fragment per Cluster, without a fragment number (more in
/// the `segments` module).
#[test]
fn plain_mkv_files_are_one_fragment_per_cluster() {
    let Some(clusters) = facts("clusters.mkv") else { return };
    assert_eq!(counts(&clusters), [59, 59, 59, 59, 59, 59, 59, 31]);
    assert!(clusters.iter().all(|f| f.1.is_none() && f.2));
    let Some(vogels) = facts("vogels_330.mkv") else { return };
    assert_eq!(counts(&vogels).iter().sum::<usize>(), 909 + 1425);
    assert_eq!(vogels.len(), 9);
}

#[test]
fn frame_timestamps_are_absolute_and_ordered() {
    let Some(bytes) = sample("output_get_media.mkv") else { return };
    let events = split(&bytes);
    for f in fragments(&events) {
        let frames = f.frames().unwrap();
        assert!(frames[0].keyframe);
        assert_eq!(frames.iter().filter(|fr| fr.keyframe).count(), 1);
        assert!(frames.windows(2).all(|w| w[0].timestamp_ns <= w[1].timestamp_ns));
        // This producer wrote cluster timecodes relative to its start: fragment i begins at
        // i x 2 s, as do its producer timestamps.
        assert_eq!(frames[0].timestamp_ns, f.index() as i64 * 2_000_000_000);
        let producer_ms = f.kvs().producer_timestamp.as_ref().unwrap().unix_millis();
        assert_eq!(producer_ms - 1_511_852_108_513, f.index() as i64 * 2000);
        // 60 frames at 30 fps, millisecond timecodes.
        let span = frames[59].timestamp_ns - frames[0].timestamp_ns;
        assert!((1_960_000_000..=1_970_000_000).contains(&span), "{span}");
    }
}

#[test]
fn element_tree_finds_by_name_and_path() {
    let Some(bytes) = sample("output_get_media.mkv") else { return };
    let events = split(&bytes);
    let tree = fragments(&events)[0].tree();
    assert!(tree.error().is_none());
    assert_eq!(tree.find_all("SimpleBlock").len(), 60);
    let codec = tree.path("Segment/Tracks/TrackEntry/CodecID").unwrap();
    assert_eq!(codec.as_string().as_deref(), Some("V_MPEG4/ISO/AVC"));
    let width = tree.path("Segment/Tracks/TrackEntry/Video/PixelWidth").unwrap();
    assert_eq!(width.as_uint(), Some(640));
    assert_eq!(tree.roots().len(), 2);
    let listing = tree.to_string();
    assert!(listing.contains("+ Cluster (0x1F43B675)"), "{listing:.400}");
}
