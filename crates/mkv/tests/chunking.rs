use bytes::Bytes;
use kvs_mkv::{Event, testing};
use proptest::prelude::*;

use crate::util::{SAMPLES, digest, fragments, sample, split, split_chunked};

#[test]
fn every_sample_splits_the_same_in_one_byte_and_odd_chunks() {
    for name in SAMPLES {
        let Some(bytes) = sample(name) else { return };
        let whole = digest(&split(&bytes));
        // One-byte chunks over a whole 2.5 MB file are slow in debug builds: the small
        // captures get them, the large ones get 7-byte and uneven chunks.
        if bytes.len() < 100_000 {
            assert_eq!(digest(&split_chunked(&bytes, &[1])), whole, "{name} in 1-byte chunks");
        }
        assert_eq!(digest(&split_chunked(&bytes, &[7])), whole, "{name} in 7-byte chunks");
        assert_eq!(
            digest(&split_chunked(&bytes, &[1024, 1, 65536, 3, 4000])),
            whole,
            "{name} in mixed chunks"
        );
    }
}

#[test]
fn fragments_are_delivered_on_their_last_byte() {
    // Feed the stream up to exactly the end of the first fragment: it must come out now,
    // not when the next one starts.
    let stream = testing::stream_of(2);
    let first_len = testing::fragment(0, 3, 16).len();
    let mut splitter = kvs_mkv::FragmentSplitter::new();
    splitter.feed(stream.slice(..first_len - 1));
    assert!(splitter.poll().is_none(), "one byte short of the continuation token");
    splitter.feed(stream.slice(first_len - 1..first_len));
    match splitter.poll() {
        Some(Event::Fragment(f)) => assert!(f.is_complete() && f.bytes().len() == first_len),
        other => panic!("expected the first fragment, got {other:?}"),
    }
    assert_eq!(splitter.buffered(), 0);
}

#[test]
fn a_whole_input_is_not_copied() {
    let stream = testing::stream_of(3);
    let events = split(&stream);
    let first = fragments(&events)[0];
    assert_eq!(first.bytes().as_ptr(), stream.as_ptr(), "fragment bytes are a slice of the input");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_gives_the_same_fragments(
        n in 1u64..6,
        sizes in prop::collection::vec(1usize..300, 1..20),
    ) {
        let stream = testing::stream_of(n);
        let whole = digest(&split(&stream));
        prop_assert_eq!(fragments(&split(&stream)).len() as u64, n);
        prop_assert_eq!(digest(&split_chunked(&stream, &sizes)), whole);
    }

    #[test]
    fn any_chunking_of_a_capture_gives_the_same_fragments(
        sample_index in 0..SAMPLES.len(),
        sizes in prop::collection::vec(1usize..70_000, 1..8),
    ) {
        let Some(bytes) = sample(SAMPLES[sample_index]) else { return Ok(()) };
        prop_assert_eq!(digest(&split_chunked(&bytes, &sizes)), digest(&split(&bytes)));
    }

    #[test]
    fn garbage_between_fragments_is_skipped_and_reported(
        garbage in prop::collection::vec(any::<u8>(), 1..200),
        at in 0u64..4,
        sizes in prop::collection::vec(1usize..500, 1..6),
    ) {
        // Garbage that happens to hold an EBML magic would start a (bogus) fragment.
        prop_assume!(!garbage.windows(4).any(|w| w == [0x1A, 0x45, 0xDF, 0xA3]));
        let mut input = Vec::new();
        for i in 0..4 {
            if i == at {
                input.extend_from_slice(&garbage);
            }
            input.extend_from_slice(&testing::fragment(i, 2, 10));
        }
        let events = split_chunked(&Bytes::from(input), &sizes);
        let fragment_numbers: Vec<String> = fragments(&events)
            .iter()
            .map(|f| f.kvs().fragment_number.as_ref().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (0..4).map(testing::fragment_number).collect();
        prop_assert_eq!(fragment_numbers, expected);
        prop_assert!(fragments(&events).iter().all(|f| f.is_complete()));
        let skipped: Vec<(u64, u64)> = events.iter().filter_map(|e| match e {
            Event::Skipped(s) => Some((s.offset, s.len)),
            _ => None,
        }).collect();
        let offset: u64 = (0..at).map(|i| testing::fragment(i, 2, 10).len() as u64).sum();
        prop_assert_eq!(skipped, vec![(offset, garbage.len() as u64)]);
    }

    #[test]
    fn truncation_anywhere_never_panics_and_keeps_whole_fragments(cut in 0usize..2000, chunk in 1usize..64) {
        let stream = testing::stream_of(5);
        let cut = cut % stream.len();
        let events = split_chunked(&stream.slice(..cut), &[chunk]);
        let lens: Vec<usize> = (0..5).map(|i| testing::fragment(i, 3, 16).len()).collect();
        let whole_before_cut = lens.iter().scan(0, |end, len| { *end += len; Some(*end) }).filter(|&end| end <= cut).count();
        let delivered = fragments(&events);
        prop_assert!(delivered.iter().take(whole_before_cut).all(|f| f.is_complete()));
        prop_assert!(delivered.len() >= whole_before_cut && delivered.len() <= whole_before_cut + 1);
        for f in &delivered {
            let (frames, error) = f.frames_lossy();
            prop_assert!(error.is_none() || !f.is_complete());
            prop_assert!(frames.len() <= 3);
        }
        // Nothing is lost: every byte is in a fragment or reported as skipped.
        let accounted: u64 = events.iter().map(|e| match e {
            Event::Fragment(f) => f.bytes().len() as u64,
            Event::Skipped(s) => s.len,
            Event::AwsError(_) => 0,
            _ => 0,
        }).sum();
        prop_assert_eq!(accounted, cut as u64);
    }

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2000), chunk in 1usize..100) {
        let mut input = input;
        // Start some with a real header so the element walker gets exercised.
        if input.len() > 8 && input[0] % 2 == 0 {
            input.splice(0..0, testing::fragment(0, 1, 4).iter().copied().take(60));
        }
        let input = Bytes::from(input);
        let events = split_chunked(&input, &[chunk]);
        for f in fragments(&events) {
            let _ = f.frames_lossy();
            let _ = f.tracks();
            let _ = f.tree().to_string();
            let _ = f.to_playable_mkv();
        }
        // Every byte is in one fragment or reported skipped.
        let accounted: u64 = events.iter().map(|e| match e {
            Event::Fragment(f) => (f.bytes().len() - f.shared_header_len()) as u64,
            Event::Skipped(s) => s.len,
            _ => 0,
        }).sum();
        prop_assert_eq!(accounted, input.len() as u64);
    }
}
