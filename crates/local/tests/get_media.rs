use aws_sdk_kinesisvideomedia::primitives::DateTime;
use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use kvs_mkv::{ids, names};

use crate::util::{
    camera_mkv, frames_of, get_media, open_get_media, producer_frames, samples_dir, selector, split, start,
};

#[tokio::test]
async fn every_selector_starts_where_it_should() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(5);
    let numbers: Vec<String> =
        kvs.ingest_mkv("cam", mkv.clone()).unwrap().iter().map(|n| n.to_string()).collect();
    assert_eq!(numbers.len(), 5);

    // EARLIEST: every fragment, frames byte for byte as produced.
    let all = split(get_media(&kvs, "cam", selector(StartSelectorType::Earliest)).await);
    assert_eq!(all.numbers(), numbers);
    let produced = producer_frames(&mkv);
    for (fragment, frames) in all.fragments.iter().zip(&produced) {
        assert!(fragment.is_complete());
        assert_eq!(&frames_of(fragment), frames);
    }

    let n2 = numbers[2].clone();
    let by_number = StartSelector::builder()
        .start_selector_type(StartSelectorType::FragmentNumber)
        .after_fragment_number(&n2)
        .build()
        .unwrap();
    let by_number = split(get_media(&kvs, "cam", by_number).await);
    assert_eq!(by_number.numbers(), numbers[2..]);
    let by_token = StartSelector::builder()
        .start_selector_type(StartSelectorType::ContinuationToken)
        .continuation_token(&n2)
        .build()
        .unwrap();
    let by_token = split(get_media(&kvs, "cam", by_token).await);
    assert_eq!(by_token.numbers(), numbers[3..]);

    let third = &all.fragments[2].kvs();
    let server_ms = third.server_timestamp.as_ref().unwrap().unix_millis();
    let producer_ms = third.producer_timestamp.as_ref().unwrap().unix_millis();
    assert_eq!(producer_ms, 1_700_000_000_000 + 2 * 100);
    let at_producer = StartSelector::builder()
        .start_selector_type(StartSelectorType::ProducerTimestamp)
        .start_timestamp(DateTime::from_millis(producer_ms + 10))
        .build()
        .unwrap();
    assert_eq!(split(get_media(&kvs, "cam", at_producer).await).numbers(), numbers[2..]);
    let at_server = StartSelector::builder()
        .start_selector_type(StartSelectorType::ServerTimestamp)
        .start_timestamp(DateTime::from_millis(server_ms))
        .build()
        .unwrap();
    let from_server = split(get_media(&kvs, "cam", at_server).await).numbers();
    // Each fragment lasts 99 ms (3 frames at 30 fps): the first one still running at that time.
    let server = |f: &kvs_mkv::Fragment| f.kvs().server_timestamp.as_ref().unwrap().unix_millis();
    let expected = all.fragments.iter().position(|f| server(f) + 99 > server_ms).unwrap();
    assert_eq!(from_server, numbers[expected..]);

    // NOW at rest: nothing new, the body ends after the idle time, empty.
    assert!(get_media(&kvs, "cam", selector(StartSelectorType::Now)).await.is_empty());
    kvs.shutdown().await;
}

#[tokio::test]
async fn fragments_have_the_aws_layout() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    kvs.ingest_mkv("cam", camera_mkv(3)).unwrap();
    let body = split(get_media(&kvs, "cam", selector(StartSelectorType::Earliest)).await);
    let mut previous: Option<kvs_mkv::FragmentNumber> = None;
    for f in &body.fragments {
        let kvs_tags = f.kvs();
        let number = kvs_tags.fragment_number.clone().unwrap();
        assert_eq!(number.as_str().len(), 48);
        assert_eq!(kvs_tags.continuation_token.as_deref(), Some(number.as_str()));
        assert!(kvs_tags.millis_behind_now.is_some());
        if let Some(previous) = previous {
            assert!(number > previous);
            let (a, b) = (
                previous.as_str()[10..].parse::<u128>().unwrap(),
                number.as_str()[10..].parse::<u128>().unwrap(),
            );
            assert!(b - a > 1, "fragment numbers must not be consecutive");
        }
        previous = Some(number);
        let tag_names: Vec<&str> = f.tags().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            tag_names,
            [
                names::FRAGMENT_NUMBER,
                names::SERVER_TIMESTAMP,
                names::PRODUCER_TIMESTAMP,
                names::MILLIS_BEHIND_NOW,
                names::CONTINUATION_TOKEN
            ]
        );
        // EBML header, then an unknown-size Segment holding Info, Tracks, Tags, Cluster, Tags.
        let tree = f.tree();
        let roots: Vec<u32> = tree.roots().iter().map(|e| e.id()).collect();
        assert_eq!(roots, [ids::EBML, ids::SEGMENT]);
        let segment = &tree.roots()[1];
        assert_eq!(segment.declared_size(), None);
        let children: Vec<u32> = segment.children().iter().map(|e| e.id()).collect();
        assert_eq!(children, [ids::INFO, ids::TRACKS, ids::TAGS, ids::CLUSTER, ids::TAGS]);
        assert_eq!(f.tracks().unwrap()[0].codec_id, "V_MPEG4/ISO/AVC");
    }
    kvs.shutdown().await;
}

#[tokio::test]
async fn live_readers_get_each_fragment_as_it_is_ingested() {
    let kvs = kvs_local::LocalKvs::start(kvs_local::Config {
        idle_timeout: std::time::Duration::from_secs(30),
        ..crate::util::config()
    })
    .await
    .unwrap();
    kvs.create_stream("live").unwrap();
    let out = open_get_media(&kvs, "live", selector(StartSelectorType::Now)).await;
    let mut body = out.payload;
    let mut splitter = kvs_mkv::FragmentSplitter::new();
    // Ingest one fragment at a time; each must arrive while the body stays open.
    for i in 0..3 {
        let one = crate::util::camera_mkv_at(1, 1_700_000_000_000 + i * 1000);
        let number = kvs.ingest_mkv("live", one.clone()).unwrap().pop().unwrap();
        let fragment = loop {
            if let Some(kvs_mkv::Event::Fragment(f)) = splitter.poll() {
                break f;
            }
            let chunk = body.next().await.expect("the body ended before the fragment came").unwrap();
            splitter.feed(chunk);
        };
        assert_eq!(fragment.kvs().fragment_number.as_ref(), Some(&number));
        assert_eq!(frames_of(&fragment), producer_frames(&one)[0]);
    }
    drop(body);
    kvs.shutdown().await;
}

#[tokio::test]
async fn real_captures_come_back_frame_for_frame() {
    let Some(dir) = samples_dir() else {
        eprintln!("kvs-samples not found: skipping");
        return;
    };
    let kvs = start().await;
    for (file, fragments, blocks) in
        [("output_get_media.mkv", 5, 300), ("kinesis_video_renderer_example_output.mkv", 8, 444)]
    {
        let bytes = bytes::Bytes::from(std::fs::read(dir.join(file)).unwrap());
        let original = split(bytes.clone());
        kvs.create_stream(file.replace(".mkv", "").as_str()).unwrap();
        let stream = file.replace(".mkv", "");
        assert_eq!(kvs.ingest_mkv(&stream, bytes).unwrap().len(), fragments);
        let served = split(get_media(&kvs, &stream, selector(StartSelectorType::Earliest)).await);
        assert_eq!(served.fragments.len(), fragments);
        let served_frames: Vec<_> = served.fragments.iter().flat_map(frames_of).collect();
        let original_frames: Vec<_> = original.fragments.iter().flat_map(frames_of).collect();
        assert_eq!(served_frames.len(), blocks);
        assert_eq!(served_frames, original_frames);
        // The captures' cluster times start near 0: producer timestamps keep their spacing.
        let producer = |f: &kvs_mkv::Fragment| f.kvs().producer_timestamp.as_ref().unwrap().unix_millis();
        let first_frame = |f: &kvs_mkv::Fragment| f.frames().unwrap()[0].timestamp_ns / 1_000_000;
        for (s, o) in served.fragments.iter().zip(&original.fragments) {
            assert_eq!(
                producer(s) - producer(&served.fragments[0]),
                first_frame(o) - first_frame(&original.fragments[0])
            );
            // The same elements in the same order, byte for byte but for the KVS tags (Cues,
            // whose positions mean nothing in a fragment, are not kept).
            assert_eq!(segment_children(s), segment_children(o));
        }
    }
    kvs.shutdown().await;
}

/// The children of a fragment's Segment but Cues, as bytes; KVS Tags (whose values
/// differ) as `Err`.
fn segment_children(f: &kvs_mkv::Fragment) -> Vec<Result<Vec<u8>, ()>> {
    let tree = f.tree();
    let segment = tree.roots().iter().find(|e| e.id() == ids::SEGMENT).unwrap();
    segment
        .children()
        .iter()
        .filter(|e| e.id() != ids::CUES)
        .map(|e| {
            let start = e.offset() as usize;
            let bytes = &f.bytes()[start..start + e.header_len() + e.data().len()];
            let kvs = e.id() == ids::TAGS && bytes.windows(17).any(|w| w == b"AWS_KINESISVIDEO_");
            if kvs { Err(()) } else { Ok(bytes.to_vec()) }
        })
        .collect()
}

#[tokio::test]
async fn every_sample_file_can_be_ingested() {
    let Some(dir) = samples_dir() else {
        eprintln!("kvs-samples not found: skipping");
        return;
    };
    let kvs = start().await;
    // (file, fragments served, frames served): ordinary MKV files become one fragment per
    // Cluster; a capture cut short keeps its whole fragments; no Cluster, no fragment.
    let files: [(&str, Option<u64>, usize); 5] = [
        ("clusters.mkv", Some(8), 444),
        ("vogels_330.mkv", None, 909 + 1425),
        ("test_mixed_tags.mkv", Some(10), 100),
        ("output-get-media-equal-timecode.mkv", Some(1), 120),
        ("empty-mkv-with-tags.mkv", Some(0), 0),
    ];
    for (i, (file, fragments, frames)) in files.into_iter().enumerate() {
        let stream = format!("file-{i}");
        kvs.create_stream(&stream).unwrap();
        let bytes = bytes::Bytes::from(std::fs::read(dir.join(file)).unwrap());
        let fed = kvs.spawn_ingest(&stream, bytes, false).wait().unwrap();
        assert!(fragments.is_none_or(|expected| expected == fed), "{file}: {fed} fragments");
        let body = split(get_media(&kvs, &stream, selector(StartSelectorType::Earliest)).await);
        assert_eq!(body.fragments.len() as u64, fed, "{file}");
        let served: usize = body.fragments.iter().map(|f| f.frames().unwrap().len()).sum();
        assert_eq!(served, frames, "{file}");
        if file == "test_mixed_tags.mkv" {
            for f in &body.fragments {
                let user: Vec<&str> =
                    f.tags().iter().map(|t| t.name.as_str()).filter(|n| n.starts_with("testTag_")).collect();
                assert!(
                    user.starts_with(&["testTag_0", "testTag_1", "testTag_2", "testTag_3", "testTag_4"]),
                    "{user:?}"
                );
            }
        }
    }
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_paced_file_is_fed_in_order() {
    let kvs = start().await;
    kvs.create_stream("paced").unwrap();
    // 3 fragments 100 ms apart: fed over about 200 ms.
    let mkv = crate::util::camera_mkv(3);
    let fed = kvs.spawn_ingest("paced", mkv.clone(), true).wait().unwrap();
    assert_eq!(fed, 3);
    let body = split(get_media(&kvs, "paced", selector(StartSelectorType::Earliest)).await);
    let frames: Vec<_> = body.fragments.iter().map(frames_of).collect();
    assert_eq!(frames, producer_frames(&mkv));
    // Feeding an unknown stream fails at once.
    assert!(matches!(kvs.spawn_ingest("nope", mkv, true).wait(), Err(kvs_local::Error::StreamNotFound(_))));
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_publish_in_number_order() {
    let kvs = start().await;
    kvs.create_stream("two").unwrap();
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let kvs = kvs.clone();
            std::thread::spawn(move || {
                (0..10)
                    .flat_map(|_| kvs.ingest_mkv("two", crate::util::camera_mkv(1)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ingested: Vec<_> = producers.into_iter().flat_map(|p| p.join().unwrap()).collect();
    ingested.sort();
    let body = split(get_media(&kvs, "two", selector(StartSelectorType::Earliest)).await);
    let served: Vec<_> = body.fragments.iter().map(|f| f.kvs().fragment_number.clone().unwrap()).collect();
    assert_eq!(served, ingested);
    kvs.shutdown().await;
}
