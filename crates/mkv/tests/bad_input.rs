use bytes::Bytes;
use kvs_mkv::{EbmlWriter, Error, Event, FragmentSplitter, Limits, ids, names, testing};

use crate::util::{fragments, split};

#[test]
fn huge_declared_size_is_an_error_not_an_allocation() {
    // A Cluster declaring 2^55 bytes after a good fragment: a master is bounded by the
    // fragment limit, refused on its header. A SimpleBlock declaring as much breaks the
    // element limit.
    for (element, reason) in [
        (&[0x1F, 0x43, 0xB6, 0x75, 0x01, 0x80, 0, 0, 0, 0, 0, 0][..], "fragment"),
        (&[0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xA3, 0x01, 0x80, 0, 0, 0, 0, 0, 0][..], "element"),
    ] {
        let mut w = EbmlWriter::new();
        w.raw(&testing::fragment(0, 2, 8));
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.raw(element);
        w.raw(&testing::fragment(1, 2, 8));
        let events = split(&w.into_bytes());
        let frags = fragments(&events);
        assert_eq!(frags.len(), 3, "{events:?}");
        assert!(frags[0].is_complete() && !frags[1].is_complete() && frags[2].is_complete());
        assert_eq!(frags[2].kvs().fragment_number.as_ref().unwrap().to_string(), testing::fragment_number(1));
        let skipped: Vec<_> =
            events.iter().filter_map(|e| if let Event::Skipped(s) = e { Some(s) } else { None }).collect();
        assert_eq!(skipped.len(), 1);
        match reason {
            "fragment" => assert!(matches!(skipped[0].reason, Error::FragmentTooLarge { .. }), "{skipped:?}"),
            _ => assert!(
                matches!(skipped[0].reason, Error::ElementTooLarge { id: ids::SIMPLE_BLOCK, size, .. } if size == 1 << 55),
                "{skipped:?}"
            ),
        }
    }
}

#[test]
fn configured_limits_apply() {
    let stream = testing::stream_of(1);
    let mut splitter = FragmentSplitter::with_limits(Limits::default().with_max_element_size(100));
    splitter.feed(stream);
    splitter.finish();
    let events: Vec<_> = std::iter::from_fn(|| splitter.poll()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Skipped(s) if matches!(s.reason, Error::ElementTooLarge { .. })))
    );

    // An unknown-size Cluster that never ends is cut at the fragment limit.
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT).unknown_size_master(ids::CLUSTER);
    for _ in 0..100 {
        w.simple_block(1, 0, false, &[0; 100]);
    }
    let mut splitter = FragmentSplitter::with_limits(Limits::default().with_max_fragment_size(2000));
    splitter.feed(w.into_bytes());
    splitter.finish();
    let events: Vec<_> = std::iter::from_fn(|| splitter.poll()).collect();
    let Some(Event::Fragment(f)) = events.first() else { panic!("{events:?}") };
    assert!(!f.is_complete() && f.bytes().len() <= 2200);
    assert!(matches!(&events[1], Event::Skipped(s) if matches!(s.reason, Error::FragmentTooLarge { .. })));
}

#[test]
fn in_band_errors_are_events_not_fragments() {
    for (code_tag, id_tag) in
        [(names::ERROR_CODE, names::ERROR_ID), (names::EXCEPTION_ERROR_CODE, names::EXCEPTION_MESSAGE)]
    {
        let mut w = EbmlWriter::new();
        w.raw(&testing::fragment(0, 2, 8));
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.simple_tags(&[(code_tag, "3002"), (id_tag, "stream deleted")]);
        let stream = w.into_bytes();
        let offset = testing::fragment(0, 2, 8).len() as u64;
        // Delivered the moment its Tags element is whole, before end of input.
        let mut splitter = FragmentSplitter::new();
        splitter.feed(stream.clone());
        let events: Vec<_> = std::iter::from_fn(|| splitter.poll()).collect();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[0], Event::Fragment(_)));
        let Event::AwsError(error) = &events[1] else { panic!("{events:?}") };
        assert_eq!((error.code.as_str(), error.offset), ("3002", offset));
        assert!(error.to_string().contains("3002"));
    }
}

#[test]
fn garbage_only_input_is_one_skipped_run() {
    let input = Bytes::from(vec![0x42u8; 10_000]);
    let events = crate::util::split_chunked(&input, &[333]);
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0], Event::Skipped(s) if s.offset == 0 && s.len == 10_000));
}

#[test]
fn invalid_vint_inside_a_fragment_keeps_what_came_before() {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, 0).simple_block(1, 0, true, b"ok");
    });
    let good = w.len();
    w.raw(&[0x00, 0x00, 0x00]);
    w.raw(&testing::fragment(3, 1, 4));
    let events = split(&w.into_bytes());
    let frags = fragments(&events);
    assert_eq!(frags.len(), 2);
    assert_eq!((frags[0].bytes().len(), frags[0].is_complete()), (good, false));
    assert_eq!(frags[0].frames().unwrap().len(), 1);
    assert!(events.iter().any(|e| matches!(e, Event::Skipped(s) if s.offset == good as u64 && s.len == 3)));
}

#[test]
fn input_cut_inside_the_ebml_header_is_skipped_not_a_fragment() {
    let stream = testing::stream_of(1);
    let events = split(&stream.slice(..10));
    assert!(
        matches!(&events[..], [Event::Skipped(s)] if s.len == 10 && matches!(s.reason, Error::Truncated { .. }))
    );
}
