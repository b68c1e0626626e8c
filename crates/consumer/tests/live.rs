//! Live GetMedia against `kvs-local` over real HTTP, with the official SDK clients.

use std::time::{Duration, UNIX_EPOCH};

use kvs_consumer::{Consumer, Error, Source, StartSelector};
use kvs_local::{Faults, RefuseWith};

use crate::util::{assert_same, config, drain, fragments, media_bytes, numbers, server, stream_with, take};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_start_selector_starts_where_it_says() {
    let kvs = server(Duration::from_millis(300)).await;
    let all = stream_with(&kvs, "selectors", 12);
    let mut c = config(&kvs);
    c.until_caught_up = true;
    let producer_6 = UNIX_EPOCH + Duration::from_millis(1_511_374_566_000 + 6 * 2000);
    let cases = [
        (StartSelector::Earliest, 0),
        (StartSelector::AfterFragment(all[4].clone()), 5),
        (StartSelector::ContinuationToken(all[8].to_string()), 9),
        (StartSelector::ServerTimestamp(UNIX_EPOCH + Duration::from_secs(1_000_000_000)), 0),
        (StartSelector::ProducerTimestamp(producer_6), 6),
        (StartSelector::Now, 12),
    ];
    for (selector, first) in cases {
        let source = Source::live("selectors", selector.clone());
        let got = fragments(drain(Consumer::with_config(source, c.clone()).stream().unwrap()).await);
        assert_same(&numbers(&got), &all[first..], &format!("{selector:?}"));
    }
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cuts_over_200_fragments_deliver_each_once_in_order_byte_identical() {
    let kvs = server(Duration::from_millis(300)).await;
    let all = stream_with(&kvs, "cuts", 200);
    let mut c = config(&kvs);
    c.until_caught_up = true;
    let source = || Source::live("cuts", StartSelector::Earliest);
    let clean = fragments(drain(Consumer::with_config(source(), c.clone()).stream().unwrap()).await);
    assert_same(&numbers(&clean), &all, "clean");
    let longest = clean.iter().map(|f| f.bytes().len() as u64).max().unwrap();

    // Every response is cut at a fresh random byte offset, up to three fragments long.
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    kvs.set_faults("cuts", Faults { cut_after_bytes: Some(rng.u64(1..3 * longest)), ..Default::default() });
    let stream = Consumer::with_config(source(), c).stream().unwrap();
    let stats = stream.stats();
    let chaos = {
        let (kvs, stats) = (kvs.clone(), stats.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let requests = stats.snapshot().requests;
                if requests != seen {
                    seen = requests;
                    let cut = rng.u64(1..3 * longest);
                    kvs.set_faults("cuts", Faults { cut_after_bytes: Some(cut), ..Default::default() });
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let got = fragments(drain(stream).await);
    chaos.abort();
    assert_same(&numbers(&got), &all, "got");
    assert_same(&media_bytes(&got), &media_bytes(&clean), "bytes before the trailing tags");
    for f in &got {
        let token = f.kvs().continuation_token.as_deref();
        assert_eq!(token, f.kvs().fragment_number.as_ref().map(|n| n.as_str()), "trailing tags are whole");
    }
    let s = stats.snapshot();
    assert!(s.cut >= 50, "connections were cut inside fragments many times: {s:?}");
    assert!(s.requests >= 70, "{s:?}");
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_ended_between_fragments_resume_without_gap() {
    let kvs = server(Duration::from_millis(300)).await;
    let all = stream_with(&kvs, "ends", 30);
    kvs.set_faults("ends", Faults { cut_after_fragments: Some(4), ..Default::default() });
    let mut c = config(&kvs);
    c.until_caught_up = true;
    let stream = Consumer::with_config(Source::live("ends", StartSelector::Earliest), c).stream().unwrap();
    let stats = stream.stats();
    let got = fragments(drain(stream).await);
    assert_same(&numbers(&got), &all, "got");
    let s = stats.snapshot();
    assert_eq!((s.duplicates, s.cut), (0, 0));
    // 8 responses of 4 fragments or fewer, and the one that found the live edge.
    assert_eq!(s.requests, 9);
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_back_off_then_read_on() {
    let kvs = server(Duration::from_millis(300)).await;
    for (i, refusal) in [
        RefuseWith::ClientLimitExceeded,
        RefuseWith::ConnectionLimitExceeded,
        RefuseWith::InternalError,
        RefuseWith::ServiceUnavailable,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("throttled-{i}");
        let all = stream_with(&kvs, &name, 5);
        kvs.set_faults(&name, Faults { refuse_next: Some((3, refusal)), ..Default::default() });
        let mut c = config(&kvs);
        c.until_caught_up = true;
        let stream = Consumer::with_config(Source::live(&name, StartSelector::Earliest), c).stream().unwrap();
        let stats = stream.stats();
        let got = fragments(drain(stream).await);
        assert_same(&numbers(&got), &all, &format!("{refusal:?}"));
        assert_eq!(stats.snapshot().retries, 3, "{refusal:?}");
    }
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_that_retrying_cannot_fix_end_with_typed_errors() {
    let kvs = server(Duration::from_millis(300)).await;
    type Expected = fn(&Error) -> bool;
    let cases: [(RefuseWith, Expected); 4] = [
        (RefuseWith::NotAuthorized, |e| matches!(e, Error::NotAuthorized { .. })),
        (RefuseWith::InvalidArgument, |e| matches!(e, Error::InvalidArgument { .. })),
        (RefuseWith::InvalidEndpoint, |e| matches!(e, Error::InvalidArgument { .. })),
        (RefuseWith::ResourceNotFound, |e| matches!(e, Error::StreamNotFound { .. })),
    ];
    for (i, (refusal, expected)) in cases.into_iter().enumerate() {
        let name = format!("refused-{i}");
        stream_with(&kvs, &name, 2);
        kvs.set_faults(&name, Faults { refuse_next: Some((1, refusal)), ..Default::default() });
        let stream = Consumer::with_config(Source::live(&name, StartSelector::Earliest), config(&kvs))
            .stream()
            .unwrap();
        let stats = stream.stats();
        let items = drain(stream).await;
        assert_eq!(items.len(), 1, "{refusal:?}: {items:?}");
        let error = items.into_iter().next().unwrap().unwrap_err();
        assert!(expected(&error) && error.ends_stream(), "{refusal:?}: {error:?}");
        assert_eq!(stats.snapshot().retries, 0);
    }
    let items = drain(
        Consumer::with_config(Source::live("no-such-stream", StartSelector::Now), config(&kvs))
            .stream()
            .unwrap(),
    )
    .await;
    assert!(matches!(&items[..], [Err(Error::StreamNotFound { .. })]), "{items:?}");
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_mid_read_ends_with_its_error() {
    let kvs = server(Duration::from_secs(30)).await;
    let all = stream_with(&kvs, "doomed", 5);
    let mut stream = Consumer::with_config(Source::live("doomed", StartSelector::Earliest), config(&kvs))
        .stream()
        .unwrap();
    let first = fragments(take(&mut stream, 5).await);
    assert_same(&numbers(&first), &all, "first");
    kvs.delete_stream("doomed").unwrap();
    let rest = drain(stream).await;
    match &rest[..] {
        [Err(e)] => {
            assert!(
                matches!(e, Error::InBand(aws) if aws.id.as_deref() == Some("3002")) && e.ends_stream(),
                "{e:?}"
            )
        }
        other => panic!("expected the in-band 3002 error alone, got {other:?}"),
    }
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_band_errors_reach_the_error_path_not_the_fragments() {
    let kvs = server(Duration::from_millis(300)).await;
    // A recoverable code: the read goes on after it.
    let before = stream_with(&kvs, "inband", 3);
    kvs.inject_error("inband", "5000", "77").unwrap();
    let after = kvs.ingest_mkv("inband", kvs_mkv::testing::stream_of(3)).unwrap();
    let mut c = config(&kvs);
    c.until_caught_up = true;
    let items = drain(
        Consumer::with_config(Source::live("inband", StartSelector::Earliest), c.clone()).stream().unwrap(),
    )
    .await;
    let mut items = items.into_iter();
    let head = fragments(items.by_ref().take(3).collect());
    assert_same(&numbers(&head), &before, "head");
    match items.next() {
        Some(Err(e)) => {
            assert!(!e.ends_stream());
            let Error::InBand(aws) = e else { panic!("expected an in-band error, got {e:?}") };
            assert_eq!((aws.code.as_str(), aws.id.as_deref()), ("5000", Some("77")));
        }
        other => panic!("expected the in-band error, got {other:?}"),
    }
    assert_eq!(numbers(&fragments(items.collect())), after);

    // A fatal code (KMS access denied): nothing after it is read.
    let before = stream_with(&kvs, "inband-fatal", 2);
    kvs.inject_error("inband-fatal", "4501", "9").unwrap();
    kvs.ingest_mkv("inband-fatal", kvs_mkv::testing::stream_of(2)).unwrap();
    let items = drain(
        Consumer::with_config(Source::live("inband-fatal", StartSelector::Earliest), c).stream().unwrap(),
    )
    .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        numbers(&fragments(items[..2].iter().map(|i| Ok(i.as_ref().unwrap().clone())).collect())),
        before
    );
    assert!(matches!(&items[2], Err(Error::InBand(aws)) if aws.code == "4501"));
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_waits_through_a_paused_producer() {
    // The server ends idle responses quickly; the consumer keeps asking, and gets the
    // fragments produced after the pause.
    let kvs = server(Duration::from_millis(50)).await;
    let first = stream_with(&kvs, "paused", 2);
    let mut stream = Consumer::with_config(Source::live("paused", StartSelector::Earliest), config(&kvs))
        .stream()
        .unwrap();
    assert_eq!(numbers(&fragments(take(&mut stream, 2).await)), first);
    let stats = stream.stats();
    let paused = async {
        while stats.snapshot().requests < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), paused).await.expect("the consumer keeps asking");
    let later = kvs.ingest_mkv("paused", kvs_mkv::testing::stream_of(2)).unwrap();
    assert_eq!(numbers(&fragments(take(&mut stream, 2).await)), later);
    stream.stop();
    assert!(drain(stream).await.is_empty());
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_asked_again_without_counting_failures() {
    // The server holds idle responses open; the consumer's read timeout is shorter.
    let kvs = server(Duration::from_secs(60)).await;
    let first = stream_with(&kvs, "silent", 1);
    let mut c = config(&kvs);
    c.read_timeout = Duration::from_millis(100);
    c.retry = kvs_consumer::RetryPolicy::new(Duration::from_millis(2), Duration::from_millis(20), 2);
    let mut stream =
        Consumer::with_config(Source::live("silent", StartSelector::Earliest), c).stream().unwrap();
    assert_same(&numbers(&fragments(take(&mut stream, 1).await)), &first, "first");
    let stats = stream.stats();
    let quiet = async {
        while stats.snapshot().requests < 5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), quiet).await.expect("the consumer keeps asking");
    let later = kvs.ingest_mkv("silent", kvs_mkv::testing::stream_of(1)).unwrap();
    assert_same(&numbers(&fragments(take(&mut stream, 1).await)), &later, "later");
    // Four silent responses in a row, with a retry policy of two attempts: none counted.
    assert_eq!(stats.snapshot().retries, 0);
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_cut_of_long_responses_is_resumed_without_gap() {
    // AWS ends a GetMedia response after about 45 minutes; here after 100 ms, while the
    // server sends a fragment every 20 ms.
    let config = kvs_local::Config {
        idle_timeout: Duration::from_millis(300),
        max_get_media_duration: Duration::from_millis(100),
        get_media_tps: 100_000,
        get_media_connections: 100,
        ..Default::default()
    };
    let kvs = kvs_local::LocalKvs::start(config).await.unwrap();
    let all = stream_with(&kvs, "long", 30);
    kvs.set_faults("long", Faults { latency: Some(Duration::from_millis(20)), ..Default::default() });
    let mut c = crate::util::config(&kvs);
    c.until_caught_up = true;
    let stream = Consumer::with_config(Source::live("long", StartSelector::Earliest), c).stream().unwrap();
    let stats = stream.stats();
    let got = fragments(drain(stream).await);
    assert_same(&numbers(&got), &all, "got");
    let s = stats.snapshot();
    assert!(s.requests >= 3, "the responses were cut: {s:?}");
    kvs.shutdown().await;
}
