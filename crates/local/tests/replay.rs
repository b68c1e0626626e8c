//! `LocalKvs::spawn_replay`: many live streams from one input, looped and re-stamped,
//! checked through GetMedia and ListFragments as a consumer sees them.

use std::time::Duration;

use aws_sdk_kinesisvideomedia::primitives::ByteStream;
use aws_sdk_kinesisvideomedia::types::StartSelectorType;
use kvs_local::{Error, LocalKvs};
use kvs_mkv::{Event, Fragment, FragmentSplitter, ids};

use crate::util::{
    archive, control, frames_of, get_media, open_get_media, producer_frames, selector, split, start,
    stream_names,
};

const STREAMS: usize = 20;

/// Fragments of a live body, until `want` of them or `within` has passed.
async fn read_fragments(mut body: ByteStream, want: usize, within: Duration) -> Vec<Fragment> {
    let deadline = tokio::time::Instant::now() + within;
    let mut splitter = FragmentSplitter::new();
    let mut out = Vec::new();
    while out.len() < want {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(chunk)) => splitter.feed(chunk.unwrap()),
            _ => break,
        }
        while let Some(event) = splitter.poll() {
            if let Event::Fragment(f) = event {
                out.push(f);
            }
        }
    }
    out
}

fn producer_ms(f: &Fragment) -> i64 {
    f.kvs().producer_timestamp.as_ref().unwrap().unix_millis()
}

fn server_ms(f: &Fragment) -> i64 {
    f.kvs().server_timestamp.as_ref().unwrap().unix_millis()
}

fn cluster_timecode(f: &Fragment) -> u64 {
    f.tree().path("Segment/Cluster/Timecode").and_then(kvs_mkv::Element::as_uint).unwrap()
}

/// Every fragment of every stream, read concurrently once the replay has stopped (each
/// body ends after the idle time).
async fn all_fragments(kvs: &LocalKvs, names: &[String]) -> Vec<Vec<Fragment>> {
    let reads: Vec<_> = names
        .iter()
        .map(|name| {
            let (kvs, name) = (kvs.clone(), name.clone());
            tokio::spawn(async move { get_media(&kvs, &name, selector(StartSelectorType::Earliest)).await })
        })
        .collect();
    let mut out = Vec::new();
    for read in reads {
        out.push(split(read.await.unwrap()).fragments);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_streams_loop_live_with_increasing_timestamps_spread_in_time() {
    let kvs = start().await;
    // 3 fragments of 99 ms: the loop comes round every 297 ms, ten times in the test.
    let input = kvs_mkv::testing::stream_of(3);
    let expected = producer_frames(&input);
    let replay = kvs.spawn_replay("rep", STREAMS, input).unwrap();
    assert_eq!(replay.streams().len(), STREAMS);
    assert_eq!((replay.streams()[0].as_str(), replay.streams()[19].as_str()), ("rep000", "rep019"));
    assert_eq!((replay.fragments_per_loop(), replay.loop_duration()), (3, Duration::from_millis(297)));
    let started = std::time::Instant::now();

    // A live reader joining late gets fragments as they are appended.
    let live = open_get_media(&kvs, "rep007", selector(StartSelectorType::Now)).await;
    let opened_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let live = read_fragments(live.payload, 6, Duration::from_secs(3)).await;
    assert_eq!(live.len(), 6, "live fragments on rep007");
    for pair in live.windows(2) {
        assert_eq!(producer_ms(&pair[1]) - producer_ms(&pair[0]), 99);
        assert!(server_ms(&pair[1]) > server_ms(&pair[0]));
    }
    assert!(server_ms(&live[1]) as u128 >= opened_ms, "live, not replayed from the archive");

    tokio::time::sleep(Duration::from_secs(3).saturating_sub(started.elapsed())).await;
    let appended = replay.stop().unwrap();
    let streams = all_fragments(&kvs, &(0..STREAMS).map(|i| format!("rep{i:03}")).collect::<Vec<_>>()).await;
    assert_eq!(streams.iter().map(Vec::len).sum::<usize>() as u64, appended);

    for (i, fragments) in streams.iter().enumerate() {
        // About 30 in 3 s; a loaded machine may be late, but every stream loops.
        assert!(fragments.len() >= 10, "rep{i:03}: {} fragments", fragments.len());
        for (k, f) in fragments.iter().enumerate() {
            assert_eq!(frames_of(f), expected[k % 3], "rep{i:03} fragment {k}: the loop in order");
            // The first frame is at the producer timestamp: the Cluster was re-stamped.
            let first_frame_ms = f.frames().unwrap()[0].timestamp_ns / 1_000_000;
            assert_eq!(first_frame_ms, producer_ms(f));
            assert_eq!(cluster_timecode(f), producer_ms(f) as u64);
            assert!(server_ms(f) >= producer_ms(f), "stamped when due, appended after");
        }
        for pair in fragments.windows(2) {
            // Paced by the fragments' durations, across the loop point too.
            assert_eq!(producer_ms(&pair[1]) - producer_ms(&pair[0]), 99, "rep{i:03}");
            assert!(cluster_timecode(&pair[1]) > cluster_timecode(&pair[0]));
            assert!(server_ms(&pair[1]) > server_ms(&pair[0]));
        }
    }

    // Stream i starts i/20 of the first fragment (99 ms) after stream 0.
    let first = producer_ms(&streams[0][0]);
    for (i, fragments) in streams.iter().enumerate() {
        assert_eq!(producer_ms(&fragments[0]) - first, (i * 99 / STREAMS) as i64, "rep{i:03}");
    }
    // On the server's clock too: appends are spread out, not 20 at the same instant.
    let mut servers: Vec<i64> = streams.iter().flatten().map(server_ms).collect();
    let total = servers.len();
    servers.sort_unstable();
    servers.dedup();
    assert!(servers.len() * 2 >= total, "{} distinct server times for {total} fragments", servers.len());
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_capture_replays_on_twenty_streams() {
    let Some(input) = kvs_samples::sample("clusters.mkv") else { return };
    let kvs = start().await;
    let expected = producer_frames(&input);
    let replay = kvs.spawn_replay("cam", STREAMS, input).unwrap();
    assert_eq!(replay.fragments_per_loop(), 8);
    // Every stream has had its first fragment once 20 are appended (the last one starts
    // 19/20 of a fragment after the first, before the first's second fragment).
    let deadline = std::time::Instant::now() + replay.loop_duration();
    while replay.fragments() < STREAMS as u64 {
        assert!(std::time::Instant::now() < deadline, "only {} fragments", replay.fragments());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let archive = archive(&kvs);
    for name in replay.streams() {
        let listed = archive.list_fragments().stream_name(name).send().await.unwrap();
        assert!(!listed.fragments().is_empty(), "{name}");
    }
    let body = open_get_media(&kvs, "cam007", selector(StartSelectorType::Earliest)).await;
    let fragments = read_fragments(body.payload, 1, Duration::from_secs(5)).await;
    let f = &fragments[0];
    assert_eq!(frames_of(f), expected[0]);
    assert_eq!(f.frames().unwrap()[0].timestamp_ns / 1_000_000, producer_ms(f));
    assert!(f.tracks().unwrap().iter().any(|t| t.codec_id == "V_MPEG4/ISO/AVC"));
    drop(replay);
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_deleted_stream_stops_being_fed_and_the_others_go_on() {
    let kvs = start().await;
    let replay = kvs.spawn_replay("del", 3, kvs_mkv::testing::stream_of(2)).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    kvs.delete_stream("del001").unwrap();
    let before = replay.fragments();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!replay.is_finished());
    assert!(replay.fragments() >= before + 4, "{before} then {}", replay.fragments());
    assert_eq!(stream_names(&control(&kvs)).await, ["del000", "del002"]);
    replay.stop().unwrap();
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_replay_that_cannot_run_fails_before_creating_anything() {
    let kvs = start().await;
    let input = kvs_mkv::testing::stream_of(1);
    assert!(matches!(kvs.spawn_replay("cam", 0, input.clone()), Err(Error::ReplayCount(0))));
    assert!(matches!(kvs.spawn_replay("cam", 10_001, input.clone()), Err(Error::ReplayCount(10_001))));
    assert!(matches!(kvs.spawn_replay("a/b", 2, input), Err(Error::InvalidStreamName(_))));
    let mut no_cluster = kvs_mkv::EbmlWriter::new();
    no_cluster.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    assert!(matches!(kvs.spawn_replay("cam", 2, no_cluster.into_bytes()), Err(Error::EmptyReplay)));
    assert!(kvs.spawn_replay("cam", 2, bytes::Bytes::from_static(b"\x1A\x45\xDF\xA3\xFF garbage")).is_err());
    let listed = control(&kvs).list_streams().send().await.unwrap();
    assert!(listed.stream_info_list().is_empty());
    kvs.shutdown().await;
}
