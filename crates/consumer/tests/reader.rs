//! Local byte sources through the same pipeline: the real GetMedia captures in
//! kvs-samples (found through $KVS_SAMPLES or ../shared/kvs-samples).

use kvs_consumer::{Consumer, FragmentExt, Source};

use kvs_samples::samples_dir as samples;

#[test]
fn a_real_capture_gives_its_fragments_and_frames() {
    let Some(dir) = samples() else { return };
    let items: Vec<_> =
        Consumer::new(Source::file(dir.join("output_get_media.mkv")).unwrap()).blocking().unwrap().collect();
    let fragments: Vec<_> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(fragments.len(), 5);
    assert_eq!(
        fragments[0].kvs().fragment_number.as_ref().unwrap().as_str(),
        "91343852333181432392682062607743920146159169392"
    );
    assert_eq!(fragments[0].kvs().millis_behind_now, Some(15858));
    let frames: usize = fragments.iter().map(|f| f.frames().unwrap().len()).sum();
    assert_eq!(frames, 300);
    let total: usize = fragments.iter().map(|f| f.bytes().len()).sum();
    assert_eq!(total, 2_503_485);
}

#[test]
fn a_truncated_capture_delivers_its_cut_fragment_as_incomplete() {
    let Some(dir) = samples() else { return };
    let source = Source::file(dir.join("output-get-media-equal-timecode.mkv")).unwrap();
    let fragments: Vec<_> = Consumer::new(source).blocking().unwrap().map(Result::unwrap).collect();
    let complete: Vec<bool> = fragments.iter().map(|f| f.is_complete()).collect();
    assert_eq!(complete, [true, false]);
    assert_eq!(fragments[0].frames().unwrap().len(), 120);
    assert_eq!(fragments[1].frames_lossy().0.len(), 119);
    // Saved playable, the cut fragment keeps its whole frames.
    let dir = tempfile::tempdir().unwrap();
    let path = fragments[1].save_mkv_in(dir.path()).unwrap();
    let back = kvs_mkv::Fragment::from_bytes(std::fs::read(path).unwrap().into()).unwrap();
    assert_eq!(back.frames().unwrap().len(), 119);
}
