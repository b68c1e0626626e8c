use bytes::Bytes;
use kvs_mkv::{
    EbmlWriter, Error, Event, Fragment, FragmentSplitter, Limits, SegmentItem, SegmentReader, TrackKind, ids,
    names, testing,
};
use proptest::prelude::*;

use crate::util::{digest, fragments, sample, split, split_chunked};

/// The Segment's children of a fragment, each as its raw bytes (header included).
fn segment_children(f: &Fragment) -> Vec<(u32, Bytes)> {
    let tree = f.tree();
    let segment = tree.path("Segment").expect("a Segment");
    segment
        .children()
        .iter()
        .map(|e| {
            let start = e.offset() as usize;
            (e.id(), f.bytes().slice(start..start + e.header_len() + e.data().len()))
        })
        .collect()
}

/// What the KVS parser library's OutputSegmentMerger writes for these fragments: the first
/// one whole (its Segment made unknown-size), then for each later one a one-byte Void and
/// everything from its first Tags on; the headers it shares with the first are left out.
fn merge(fragments: &[&Fragment]) -> Bytes {
    let mut w = EbmlWriter::new();
    let first = fragments[0].tree();
    let ebml = &first.roots()[0];
    assert_eq!(ebml.id(), ids::EBML);
    w.raw(&fragments[0].bytes()[..ebml.header_len() + ebml.data().len()]);
    w.unknown_size_master(ids::SEGMENT);
    for (i, f) in fragments.iter().enumerate() {
        let children = segment_children(f);
        let from = if i == 0 {
            0
        } else {
            w.raw(&[0xEC, 0x81, 0x42]);
            children.iter().position(|(id, _)| *id == ids::TAGS).expect("Tags")
        };
        for (_, bytes) in &children[from..] {
            w.raw(bytes);
        }
    }
    w.into_bytes()
}

/// A merged stream as the issue describes it: one EBML header and Segment with Info and
/// Tracks, then `n` Clusters of `frames` frames, each followed by Tags holding all of its
/// KVS tags, the continuation token last.
fn synthetic_merged(n: u64, frames: u16) -> Bytes {
    let whole = Fragment::from_bytes(testing::fragment(0, 1, 8)).unwrap();
    let mut w = EbmlWriter::new();
    for (id, bytes) in segment_children(&whole) {
        if id == ids::INFO || id == ids::TRACKS {
            w.raw(&bytes);
        }
    }
    let header = w.into_bytes();
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT).raw(&header);
    for i in 0..n {
        let number = testing::fragment_number(i);
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, i * 2000);
            for j in 0..frames {
                c.simple_block(1, (j * 33) as i16, j == 0, format!("{i}-{j}").as_bytes());
            }
        });
        w.simple_tags(&[
            (names::FRAGMENT_NUMBER, &number),
            (names::MILLIS_BEHIND_NOW, "1000"),
            (names::CONTINUATION_TOKEN, &number),
        ]);
    }
    w.into_bytes()
}

/// A plain Matroska file (no KVS tags): EBML header, a Segment whose header is `segment`,
/// Info, Tracks (H.264 track 1), then `clusters` Clusters of `frames` frames of
/// `payload_len` bytes.
fn plain(segment: &[u8], clusters: u64, frames: u16, payload_len: usize) -> Bytes {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").raw(segment);
    w.master(ids::INFO, |i| {
        i.uint(ids::TIMECODE_SCALE, 1_000_000).string(ids::MUXING_APP, "Lavf");
    });
    w.master(ids::TRACKS, |t| {
        t.master(ids::TRACK_ENTRY, |e| {
            e.uint(ids::TRACK_NUMBER, 1).uint(ids::TRACK_TYPE, 1).string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
        });
    });
    for i in 0..clusters {
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, i * 1000);
            for j in 0..frames {
                c.simple_block(1, j as i16 * 40, j == 0, &vec![(i + u64::from(j)) as u8; payload_len]);
            }
        });
    }
    w.into_bytes()
}

/// A Segment header of unknown size.
const UNKNOWN_SIZE_SEGMENT: [u8; 12] =
    [0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// The header of a Segment that declares `size` bytes, in the 8-byte form.
fn segment_of_size(size: u64) -> Vec<u8> {
    let mut header = vec![0x18, 0x53, 0x80, 0x67, 0x01];
    header.extend_from_slice(&size.to_be_bytes()[1..]);
    header
}

fn numbers(fragments: &[&Fragment]) -> Vec<Option<String>> {
    fragments.iter().map(|f| f.kvs().fragment_number.as_ref().map(ToString::to_string)).collect()
}

fn frame_counts(fragments: &[&Fragment]) -> Vec<usize> {
    fragments.iter().map(|f| f.frames().unwrap().len()).collect()
}

/// Every byte of the input is in one fragment (past its copy of a shared header) or
/// reported skipped.
fn assert_accounted(events: &[Event], len: usize) {
    let accounted: u64 = events
        .iter()
        .map(|e| match e {
            Event::Fragment(f) => (f.bytes().len() - f.shared_header_len()) as u64,
            Event::Skipped(s) => s.len,
            _ => 0,
        })
        .sum();
    assert_eq!(accounted, len as u64);
}

#[test]
fn merged_capture_gives_every_cluster_as_a_fragment() {
    let Some(bytes) = sample("output_get_media.mkv") else { return };
    let events = split(&bytes);
    let originals = fragments(&events);
    let merged = merge(&originals);
    let events = split(&merged);
    assert!(events.iter().all(|e| matches!(e, Event::Fragment(_))), "{:?}", digest(&events));
    assert_accounted(&events, merged.len());
    let got = fragments(&events);
    assert_eq!(numbers(&got), numbers(&originals));
    assert_eq!(frame_counts(&got), [60; 5]);
    for (got, original) in got.iter().zip(&originals) {
        assert!(got.is_complete());
        assert_eq!(got.tags(), original.tags());
        assert_eq!(got.tracks().unwrap(), original.tracks().unwrap());
        assert_eq!(got.frames().unwrap(), original.frames().unwrap());
        // Self-contained: read again on its own, and rewritten for players.
        let alone = Fragment::from_bytes(got.bytes().clone()).unwrap();
        assert_eq!(alone.frames().unwrap(), original.frames().unwrap());
        let playable = Fragment::from_bytes(Bytes::from(got.to_playable_mkv().unwrap())).unwrap();
        assert_eq!(playable.frames().unwrap(), original.frames().unwrap());
        assert_eq!(playable.tracks().unwrap(), original.tracks().unwrap());
    }
    // The first is the input as received; the others start with a copy of its header.
    assert_eq!(got[0].bytes().as_ptr(), merged.as_ptr());
    assert_eq!(got[0].shared_header_len(), 0);
    let header_len = got[1].shared_header_len();
    assert!(header_len > 0);
    assert!(got[1..].iter().all(|f| f.shared_header_len() == header_len));
    assert_eq!(got[1].offset(), got[0].bytes().len() as u64);
    assert_eq!(got[2].offset(), got[1].offset() + (got[1].bytes().len() - header_len) as u64);
}

#[test]
fn merged_stream_gives_all_fragment_numbers_and_frames() {
    let stream = synthetic_merged(3, 60);
    let events = split(&stream);
    assert!(events.iter().all(|e| matches!(e, Event::Fragment(_))), "{:?}", digest(&events));
    let got = fragments(&events);
    assert_eq!(numbers(&got), (0..3).map(|i| Some(testing::fragment_number(i))).collect::<Vec<_>>());
    assert_eq!(frame_counts(&got), [60, 60, 60]);
    assert_eq!(got.iter().map(|f| f.index()).collect::<Vec<_>>(), [0, 1, 2]);
    for (i, f) in got.iter().enumerate() {
        assert_eq!(f.kvs().continuation_token.as_deref(), Some(testing::fragment_number(i as u64).as_str()));
        let frames = f.frames().unwrap();
        assert_eq!(&frames[59].payload[..], format!("{i}-59").as_bytes());
        assert_eq!(frames[0].timestamp_ns, i as i64 * 2_000_000_000);
        assert_eq!(f.tracks().unwrap()[0].codec_id, "V_MPEG4/ISO/AVC");
    }
    assert_accounted(&events, stream.len());
}

#[test]
fn a_merged_fragment_is_delivered_on_its_continuation_token() {
    let stream = synthetic_merged(2, 5);
    let first = fragments(&split(&stream))[0].bytes().len();
    let mut splitter = FragmentSplitter::new();
    splitter.feed(stream.slice(..first));
    assert!(matches!(splitter.poll(), Some(Event::Fragment(f)) if f.is_complete()));
    assert_eq!(splitter.buffered(), 0);
}

#[test]
fn a_segment_ending_after_a_token_gives_no_empty_fragment() {
    // Known-size Segments that end right after their continuation token, back to back.
    let mut w = EbmlWriter::new();
    for i in 0..2 {
        let fragment = testing::fragment(i, 2, 8);
        let f = Fragment::from_bytes(fragment.clone()).unwrap();
        let body: Vec<u8> = segment_children(&f).into_iter().flat_map(|(_, b)| b.to_vec()).collect();
        w.ebml_header("matroska").binary(ids::SEGMENT, &body);
    }
    let stream = w.into_bytes();
    let events = split(&stream);
    assert!(events.iter().all(|e| matches!(e, Event::Fragment(_))), "{events:?}");
    assert_eq!(
        numbers(&fragments(&events)),
        [Some(testing::fragment_number(0)), Some(testing::fragment_number(1))]
    );
}

#[test]
fn clusters_mkv_is_one_fragment_per_cluster() {
    let Some(bytes) = sample("clusters.mkv") else { return };
    let events = split(&bytes);
    assert!(events.iter().all(|e| matches!(e, Event::Fragment(_))), "{:?}", digest(&events));
    assert_accounted(&events, bytes.len());
    let got = fragments(&events);
    assert_eq!(frame_counts(&got), [59, 59, 59, 59, 59, 59, 59, 31]);
    assert!(numbers(&got).iter().all(Option::is_none));
    for f in &got {
        assert!(f.is_complete());
        let tracks = f.tracks().unwrap();
        assert_eq!((tracks.len(), tracks[0].kind), (1, TrackKind::Video));
        assert!(tracks[0].codec_private.is_some(), "every fragment carries the codec setup");
        assert!(f.frames().unwrap()[0].keyframe);
        assert!(f.to_playable_mkv().is_ok());
    }
    // The producer's own Tags (before the first Cluster) stay with the first fragment.
    assert!(!got[0].tags().is_empty());
    assert!(got[1..].iter().all(|f| f.tags().is_empty()));
}

#[test]
fn vogels_is_one_fragment_per_cluster() {
    let Some(bytes) = sample("vogels_330.mkv") else { return };
    let events = split(&bytes);
    assert!(events.iter().all(|e| matches!(e, Event::Fragment(_))), "{:?}", digest(&events));
    assert_accounted(&events, bytes.len());
    let got = fragments(&events);
    assert_eq!(frame_counts(&got), [166, 384, 203, 384, 180, 384, 222, 292, 119]);
    let per_track = |track| -> usize {
        got.iter().map(|f| f.frames().unwrap().iter().filter(|fr| fr.track == track).count()).sum()
    };
    assert_eq!((per_track(1), per_track(2)), (909, 1425));
    for f in &got {
        let kinds: Vec<_> = f.tracks().unwrap().iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [TrackKind::Video, TrackKind::Audio]);
        let playable = Fragment::from_bytes(Bytes::from(f.to_playable_mkv().unwrap())).unwrap();
        assert_eq!(playable.frames().unwrap(), f.frames().unwrap());
        assert!(playable.tree().find("SeekHead").is_none(), "positions of the whole file do not hold");
        assert!(playable.tree().find("Cues").is_none());
    }
}

#[test]
fn plain_segment_over_the_element_limit_is_read_cluster_by_cluster() {
    // A Segment declaring 320 MB of which only three Clusters arrive.
    let stream = plain(&segment_of_size(320_000_000), 3, 25, 1000);
    let events = split(&stream);
    assert!(events.iter().all(|e| matches!(e, Event::Fragment(_))), "{events:?}");
    let got = fragments(&events);
    assert_eq!(frame_counts(&got), [25, 25, 25]);
    assert!(got.iter().all(|f| f.is_complete() && f.kvs().fragment_number.is_none()));
    assert_eq!(got[2].frames().unwrap()[0].timestamp_ns, 2_000_000_000);

    // The same with a small element limit: Clusters and the Segment are masters, never held
    // to it; only what is read whole is.
    let limits = Limits::default().with_max_element_size(2000);
    let mut splitter = FragmentSplitter::with_limits(limits);
    splitter.feed(plain(&segment_of_size(1 << 40), 4, 20, 500));
    splitter.finish();
    let events: Vec<_> = std::iter::from_fn(|| splitter.poll()).collect();
    assert_eq!(frame_counts(&fragments(&events)), [20; 4]);
    assert_eq!(events.len(), 4);
}

#[test]
fn from_bytes_reads_a_whole_file_as_one_fragment() {
    // The caller says the bytes are one fragment: no cut per Cluster.
    let stream = plain(&segment_of_size(1 << 30), 3, 25, 100);
    let f = Fragment::from_bytes(stream.clone()).unwrap();
    assert_eq!((f.frames().unwrap().len(), f.bytes().len(), f.shared_header_len()), (75, stream.len(), 0));
    let Some(bytes) = sample("clusters.mkv") else { return };
    assert_eq!(Fragment::from_bytes(bytes).unwrap().frames().unwrap().len(), 444);
}

#[test]
fn segment_reader_takes_a_segment_over_the_element_limit() {
    let mut reader = SegmentReader::new();
    reader.feed(plain(&segment_of_size(320_000_000), 3, 5, 100));
    reader.finish();
    let items: Vec<_> = std::iter::from_fn(|| reader.poll()).collect::<Result<_, _>>().unwrap();
    let clusters =
        items.iter().filter(|i| matches!(i, SegmentItem::Child(e) if e.id == ids::CLUSTER)).count();
    assert_eq!(clusters, 3);
    assert!(matches!(&items[1], SegmentItem::SegmentStart(e) if !e.unknown_size));
}

#[test]
fn a_cluster_over_the_fragment_limit_is_refused_before_it_is_buffered() {
    let limits = Limits::default().with_max_fragment_size(10_000);
    let mut splitter = FragmentSplitter::with_limits(limits);
    let stream = plain(&segment_of_size(1 << 30), 1, 30, 1000);
    // Only the first kilobyte: the Cluster's declared size alone breaks the limit.
    splitter.feed(stream.slice(..1000));
    splitter.finish();
    let events: Vec<_> = std::iter::from_fn(|| splitter.poll()).collect();
    let Some(Event::Fragment(f)) = events.first() else { panic!("{events:?}") };
    assert!(!f.is_complete());
    assert!(
        matches!(&events[1], Event::Skipped(s) if matches!(s.reason, Error::FragmentTooLarge { limit: 10_000, .. })),
        "{events:?}"
    );
}

#[test]
fn memory_stays_within_one_cluster_whatever_the_file_size() {
    let stream = plain(&UNKNOWN_SIZE_SEGMENT, 100, 30, 500);
    let cluster_len = {
        let mut w = EbmlWriter::new();
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, 99_000);
            for j in 0..30u16 {
                c.simple_block(1, j as i16 * 40, j == 0, &[0; 500]);
            }
        });
        w.len()
    };
    let header_len = stream.len() - 100 * cluster_len;
    let mut splitter = FragmentSplitter::new();
    let mut got = 0;
    let mut most = 0;
    for chunk in (0..stream.len()).step_by(100) {
        splitter.feed(stream.slice(chunk..(chunk + 100).min(stream.len())));
        most = most.max(splitter.buffered());
        while let Some(event) = splitter.poll() {
            assert!(matches!(&event, Event::Fragment(f) if f.frames().unwrap().len() == 30), "{event:?}");
            got += 1;
        }
    }
    splitter.finish();
    got += std::iter::from_fn(|| splitter.poll()).count();
    assert_eq!(got, 100);
    // One Cluster, the header before the first one, and the chunk that reveals the next.
    assert!(most <= header_len + cluster_len + 100, "{most} buffered for Clusters of {cluster_len}");
    assert!(most >= cluster_len);
}

#[test]
fn garbage_after_a_continuation_token_is_still_garbage() {
    // After a token in an unknown-size Segment, bytes that are no Segment element (here a
    // small Void-looking run and then junk) are skipped up to the next EBML header.
    let mut input = testing::fragment(0, 2, 8).to_vec();
    let at = input.len() as u64;
    input.extend_from_slice(&[0xEC, 0x82, 1, 2, 0x55, 0x55, 0x55]);
    input.extend_from_slice(&testing::fragment(1, 2, 8));
    let events = split(&Bytes::from(input));
    let skipped: Vec<_> = events
        .iter()
        .filter_map(|e| if let Event::Skipped(s) = e { Some((s.offset, s.len)) } else { None })
        .collect();
    assert_eq!(skipped, [(at, 7)]);
    assert_eq!(
        numbers(&fragments(&events)),
        [Some(testing::fragment_number(0)), Some(testing::fragment_number(1))]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_of_a_merged_stream_gives_the_same_fragments(
        n in 1u64..5,
        sizes in prop::collection::vec(1usize..400, 1..12),
    ) {
        let stream = synthetic_merged(n, 4);
        let whole = split(&stream);
        prop_assert_eq!(fragments(&whole).len() as u64, n);
        prop_assert_eq!(digest(&split_chunked(&stream, &sizes)), digest(&whole));
    }

    #[test]
    fn any_chunking_of_a_plain_file_gives_the_same_fragments(
        clusters in 1u64..6,
        sizes in prop::collection::vec(1usize..400, 1..12),
    ) {
        let stream = plain(&segment_of_size(1 << 30), clusters, 3, 50);
        let whole = split(&stream);
        prop_assert_eq!(frame_counts(&fragments(&whole)), vec![3; clusters as usize]);
        prop_assert_eq!(digest(&split_chunked(&stream, &sizes)), digest(&whole));
    }

    #[test]
    fn a_damaged_merged_stream_splits_the_same_in_any_chunks_and_loses_no_byte(
        damage in prop::collection::vec((0usize..2000, any::<u8>()), 1..6),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        let mut bytes = [synthetic_merged(3, 4), plain(&UNKNOWN_SIZE_SEGMENT, 3, 3, 20)].concat();
        for (at, value) in damage {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        let stream = Bytes::from(bytes);
        let whole = split(&stream);
        prop_assert_eq!(digest(&split_chunked(&stream, &sizes)), digest(&whole));
        let accounted: u64 = whole.iter().map(|e| match e {
            Event::Fragment(f) => (f.bytes().len() - f.shared_header_len()) as u64,
            Event::Skipped(s) => s.len,
            _ => 0,
        }).sum();
        prop_assert_eq!(accounted, stream.len() as u64);
        for f in fragments(&whole) {
            let _ = (f.frames_lossy(), f.tracks(), f.to_playable_mkv());
        }
    }

    #[test]
    fn any_chunking_of_a_merged_capture_gives_the_same_fragments(
        sizes in prop::collection::vec(1usize..70_000, 1..8),
    ) {
        let Some(bytes) = sample("output_get_media.mkv") else { return Ok(()) };
        let merged = merge(&fragments(&split(&bytes)));
        prop_assert_eq!(digest(&split_chunked(&merged, &sizes)), digest(&split(&merged)));
    }
}
