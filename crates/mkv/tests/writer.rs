use bytes::Bytes;
use kvs_mkv::{EbmlWriter, ElementTree, Fragment, Value, ids, testing};

use crate::util::{SAMPLES, fragments, sample, split};

/// Every element of the tree in order: (depth, id, value), sizes, padding and the
/// Duration the rewrite adds left out, and SeekHead and Cues, which become Void where the
/// positions they hold moved or lie outside the fragment.
fn shape(tree: &ElementTree) -> Vec<(usize, u32, String)> {
    let mut skip_below = usize::MAX;
    let mut out = Vec::new();
    for (d, e) in tree.iter() {
        if d > skip_below {
            continue;
        }
        skip_below = usize::MAX;
        if matches!(e.id(), ids::SEEK_HEAD | ids::CUES) {
            skip_below = d;
            continue;
        }
        if e.id() != ids::VOID && e.id() != ids::DURATION {
            out.push((d, e.id(), format!("{:?}", e.value())));
        }
    }
    out
}

fn assert_known_sizes(tree: &ElementTree) {
    for (_, e) in tree.iter() {
        assert!(e.declared_size().is_some(), "{} at {} has an unknown size", e.name(), e.offset());
    }
}

#[test]
fn playable_rewrite_keeps_every_element_and_knows_every_size() {
    for name in SAMPLES {
        let Some(bytes) = sample(name) else { return };
        for fragment in fragments(&split(&bytes)) {
            let playable = Bytes::from(fragment.to_playable_mkv().unwrap());
            let reparsed = Fragment::from_bytes(playable.clone()).unwrap();
            let (before, after) = (fragment.tree(), reparsed.tree());
            assert!(after.error().is_none(), "{name}: {:?}", after.error());
            assert_known_sizes(&after);
            if fragment.is_complete() {
                assert_eq!(shape(&after), shape(&before), "{name} fragment {}", fragment.index());
                assert_eq!(reparsed.tags(), fragment.tags());
            }
            assert_eq!(reparsed.frames().unwrap(), fragment.frames_lossy().0, "{name}: same frames");
            // Idempotent: a playable file rewrites to itself.
            assert_eq!(reparsed.to_playable_mkv().unwrap(), playable.to_vec());
        }
    }
}

#[test]
fn playable_files_have_a_duration_from_their_frames() {
    let Some(bytes) = sample("test_mixed_tags.mkv") else { return };
    for fragment in fragments(&split(&bytes)) {
        assert!(fragment.tree().find("Duration").is_none(), "this producer wrote none");
        let playable = Fragment::from_bytes(Bytes::from(fragment.to_playable_mkv().unwrap())).unwrap();
        let duration = playable.tree().path("Segment/Info/Duration").map(|d| d.value());
        // In millisecond ticks: from the first to the last frame, plus one average frame
        // interval (integer nanoseconds) for the last frame's own length.
        let frames = fragment.frames().unwrap();
        let span_ns = frames.last().unwrap().timestamp_ns - frames[0].timestamp_ns;
        let step_ns = span_ns / (frames.len() as i64 - 1);
        assert_eq!(
            duration,
            Some(Value::Float((span_ns + step_ns) as f64 / 1e6)),
            "fragment {}",
            fragment.index()
        );
    }
}

#[test]
fn one_byte_unknown_sizes_grow_and_seek_head_becomes_void() {
    let mut w = EbmlWriter::new();
    w.ebml_header("webm");
    w.raw(&[0x18, 0x53, 0x80, 0x67, 0xFF]);
    w.master(ids::SEEK_HEAD, |s| {
        s.master(ids::SEEK, |seek| {
            seek.binary(ids::SEEK_ID, &[0x1F, 0x43, 0xB6, 0x75]).uint(ids::SEEK_POSITION, 40);
        });
    });
    w.raw(&[0x1F, 0x43, 0xB6, 0x75, 0xFF]);
    w.uint(ids::TIMECODE, 5).simple_block(1, 0, true, &[7; 200]);
    let fragment = Fragment::from_bytes(w.into_bytes()).unwrap();
    let playable = Fragment::from_bytes(Bytes::from(fragment.to_playable_mkv().unwrap())).unwrap();
    let tree = playable.tree();
    assert_known_sizes(&tree);
    assert!(tree.find("SeekHead").is_none());
    assert_eq!(tree.find_all("Void").len(), 1);
    assert_eq!(playable.frames().unwrap()[0].payload, Bytes::from(vec![7; 200]));
}

#[test]
fn incomplete_fragment_rewrites_to_its_whole_frames() {
    let stream = testing::fragment(0, 5, 100);
    let cut = stream.slice(..stream.len() - 300);
    let fragment = fragments(&split(&cut))[0].clone();
    assert!(!fragment.is_complete());
    let whole = fragment.frames_lossy().0;
    assert!(!whole.is_empty() && whole.len() < 5);
    let playable = Fragment::from_bytes(Bytes::from(fragment.to_playable_mkv().unwrap())).unwrap();
    assert!(playable.is_complete());
    assert_eq!(playable.frames().unwrap(), whole);
    let mut unused = EbmlWriter::new();
    unused.raw(b"");
    assert!(unused.is_empty());
}
