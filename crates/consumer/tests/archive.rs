//! Archived reads: ListFragments over a range (pages come newest first, unsorted), then
//! GetMediaForFragmentList in batches, against `kvs-local` over real HTTP.

use std::time::{Duration, SystemTime};

use kvs_consumer::{Consumer, Error, Source, TimeRange};
use kvs_local::{Faults, RefuseWith};

use crate::util::{assert_same, bytes, config, drain, fragments, numbers, server, stream_with};

fn around_now() -> TimeRange {
    let now = SystemTime::now();
    TimeRange::server(now - Duration::from_secs(3600), now + Duration::from_secs(3600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_reads_every_page_sorted_in_batches() {
    let kvs = server(Duration::from_millis(300)).await;
    let all = stream_with(&kvs, "archive", 25);
    let mut c = config(&kvs);
    c.list_page_size = 4;
    c.archive_batch_size = 7;
    let stream = Consumer::with_config(Source::archive("archive", around_now()), c).stream().unwrap();
    let stats = stream.stats();
    let got = fragments(drain(stream).await);
    assert_same(&numbers(&got), &all, "got");
    assert!(got.iter().all(|f| f.is_complete() && f.kvs().server_timestamp.is_some()));
    // ceil(25 / 7) media requests.
    assert_eq!(stats.snapshot().requests, 4);

    let past = SystemTime::now() - Duration::from_secs(7200);
    let empty = Source::archive("archive", TimeRange::server(past, past + Duration::from_secs(60)));
    assert!(drain(Consumer::with_config(empty, config(&kvs)).stream().unwrap()).await.is_empty());
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_reads_resume_after_cuts_and_throttling() {
    let kvs = server(Duration::from_millis(300)).await;
    let all = stream_with(&kvs, "archive-cut", 40);
    let mut c = config(&kvs);
    c.archive_batch_size = 15;
    let clean = fragments(
        drain(
            Consumer::with_config(Source::archive("archive-cut", around_now()), c.clone()).stream().unwrap(),
        )
        .await,
    );
    assert_same(&numbers(&clean), &all, "clean");
    let longest = clean.iter().map(|f| f.bytes().len() as u64).max().unwrap();
    for cut in [longest / 2, longest + 7, 2 * longest + longest / 3] {
        kvs.set_faults("archive-cut", Faults { cut_after_bytes: Some(cut), ..Default::default() });
        let source = Source::archive("archive-cut", around_now());
        let items = drain(Consumer::with_config(source, c.clone()).stream().unwrap()).await;
        if cut < longest {
            // No fragment fits in a response: the retries run out, nothing half-read leaks.
            assert!(matches!(&items[..], [Err(Error::RetriesExhausted { .. })]), "{items:?}");
        } else {
            assert_same(&bytes(&fragments(items)), &bytes(&clean), &format!("cut after {cut} bytes"));
        }
    }
    kvs.set_faults(
        "archive-cut",
        Faults { refuse_next: Some((2, RefuseWith::ClientLimitExceeded)), ..Default::default() },
    );
    let stream = Consumer::with_config(Source::archive("archive-cut", around_now()), c).stream().unwrap();
    let stats = stream.stats();
    assert_same(&bytes(&fragments(drain(stream).await)), &bytes(&clean), "throttled");
    assert_eq!(stats.snapshot().retries, 2);
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_of_a_missing_stream_is_a_typed_error() {
    let kvs = server(Duration::from_millis(300)).await;
    let items = drain(
        Consumer::with_config(Source::archive("nothing-here", around_now()), config(&kvs)).stream().unwrap(),
    )
    .await;
    assert!(matches!(&items[..], [Err(Error::StreamNotFound { .. })]), "{items:?}");
    kvs.shutdown().await;
}
