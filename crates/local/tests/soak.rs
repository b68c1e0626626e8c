//! A bounded soak: 4 streams fed by cameras, 3 live readers each that resume with
//! continuation tokens whenever a response ends (idle time, or a cut every few
//! fragments), for `SOAK` (5 s rather than the 20 s, to keep the suite fast; set
//! `KVS_SOAK_SECS` to soak longer). No fragment may be lost, duplicated or reordered.

use std::time::Duration;

use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use kvs_local::camera::CameraConfig;
use kvs_local::{Config, Faults, LocalKvs};
use kvs_mkv::{Event, FragmentNumber, FragmentSplitter};

use crate::util::{config, media};

const SOAK: Duration = Duration::from_secs(5);

fn soak_time() -> Duration {
    std::env::var("KVS_SOAK_SECS").ok().and_then(|s| s.parse().ok()).map_or(SOAK, Duration::from_secs)
}
const STREAMS: usize = 4;
const READERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_live_readers_on_four_streams_lose_nothing() {
    let kvs = LocalKvs::start(Config { idle_timeout: Duration::from_millis(400), ..config() }).await.unwrap();
    let camera = CameraConfig {
        width: 64,
        height: 64,
        fps: 60,
        frames_per_fragment: 6,
        realtime: true,
        ..Default::default()
    };
    let mut cameras = Vec::new();
    for s in 0..STREAMS {
        let name = format!("soak-{s}");
        kvs.create_stream(&name).unwrap();
        // Odd streams cut every response after 3 fragments, so readers resume often.
        if s % 2 == 1 {
            kvs.set_faults(&name, Faults { cut_after_fragments: Some(3), ..Faults::default() });
        }
        cameras.push(kvs.spawn_camera(&name, camera.clone()));
    }
    let mut readers = Vec::new();
    for s in 0..STREAMS {
        for _ in 0..READERS {
            readers.push(tokio::spawn(read_until_quiet(kvs.clone(), format!("soak-{s}"))));
        }
    }
    tokio::time::sleep(soak_time()).await;
    let mut fragments = Vec::new();
    for camera in cameras {
        fragments.push(camera.stop().unwrap());
    }
    let mut received = Vec::new();
    for reader in readers {
        received.push(reader.await.unwrap());
    }
    let archive = crate::util::archive(&kvs);
    for s in 0..STREAMS {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let out = archive
                .list_fragments()
                .stream_name(format!("soak-{s}"))
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            all.extend(
                out.fragments()
                    .iter()
                    .map(|f| f.fragment_number().unwrap().parse::<FragmentNumber>().unwrap()),
            );
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        all.sort();
        assert_eq!(all.len() as u64, fragments[s]);
        assert!(all.len() >= 10, "stream {s} got only {} fragments", all.len());
        for r in 0..READERS {
            assert_eq!(received[s * READERS + r], all, "stream {s}, reader {r}");
        }
    }
    kvs.shutdown().await;
}

/// Reads a stream from its start, resuming after every end of body with the last
/// continuation token, until a response brings nothing new after the cameras stopped.
async fn read_until_quiet(kvs: LocalKvs, stream: String) -> Vec<FragmentNumber> {
    let client = media(&kvs);
    let mut got: Vec<FragmentNumber> = Vec::new();
    let mut empty_in_a_row = 0;
    while empty_in_a_row < 2 {
        let selector = match got.last() {
            None => {
                StartSelector::builder().start_selector_type(StartSelectorType::Earliest).build().unwrap()
            }
            Some(last) => StartSelector::builder()
                .start_selector_type(StartSelectorType::ContinuationToken)
                .continuation_token(last.to_string())
                .build()
                .unwrap(),
        };
        let out = client.get_media().stream_name(&stream).start_selector(selector).send().await.unwrap();
        let mut body = out.payload;
        let mut splitter = FragmentSplitter::new();
        let before = got.len();
        loop {
            while let Some(event) = splitter.poll() {
                match event {
                    Event::Fragment(f) => got.push(f.kvs().fragment_number.clone().unwrap()),
                    other => panic!("unexpected {other:?}"),
                }
            }
            match body.next().await {
                Some(chunk) => splitter.feed(chunk.unwrap()),
                None => break,
            }
        }
        splitter.finish();
        while let Some(event) = splitter.poll() {
            if let Event::Fragment(f) = event {
                got.push(f.kvs().fragment_number.clone().unwrap());
            }
        }
        empty_in_a_row = if got.len() == before { empty_in_a_row + 1 } else { 0 };
    }
    got
}
