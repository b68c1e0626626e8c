//! The three ways in over one engine, back-pressure and stop, against `kvs-local`.

use std::sync::mpsc;
use std::time::Duration;

use kvs_consumer::{Consumer, Error, Fragment, Handler, Source, StartSelector};

use crate::util::{assert_same, config, numbers, server, stream_with};

/// A handler that reports every call on a channel.
#[derive(Debug, PartialEq)]
enum Call {
    Fragment(String),
    Exception(String),
    Complete,
}

struct Recorder(mpsc::Sender<Call>);

impl Handler for Recorder {
    fn on_fragment_arrived(&mut self, fragment: Fragment) {
        let number = fragment.kvs().fragment_number.clone().unwrap().to_string();
        self.0.send(Call::Fragment(number)).unwrap();
    }

    fn on_stream_read_exception(&mut self, error: Error) {
        let code = match error {
            Error::InBand(e) => e.code,
            other => other.to_string(),
        };
        self.0.send(Call::Exception(code)).unwrap();
    }

    fn on_read_stream_complete(&mut self) {
        self.0.send(Call::Complete).unwrap();
    }
}

/// A runtime for the server, apart from the consumer's own.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

#[test]
fn the_consumer_thread_calls_back_in_order_and_completes() {
    let rt = server_runtime();
    let kvs = rt.block_on(server(Duration::from_millis(200)));
    let before = stream_with(&kvs, "thread", 3);
    kvs.inject_error("thread", "5000", "1").unwrap();
    let after = kvs.ingest_mkv("thread", kvs_mkv::testing::stream_of(2)).unwrap();
    let mut c = config(&kvs);
    c.until_caught_up = true;
    let (tx, rx) = mpsc::channel();
    let thread = Consumer::with_config(Source::live("thread", StartSelector::Earliest), c)
        .spawn(Recorder(tx))
        .unwrap();
    thread.join().unwrap();
    let calls: Vec<Call> = rx.try_iter().collect();
    let mut expected: Vec<Call> = before.iter().map(|n| Call::Fragment(n.to_string())).collect();
    expected.push(Call::Exception("5000".into()));
    expected.extend(after.iter().map(|n| Call::Fragment(n.to_string())));
    expected.push(Call::Complete);
    assert_eq!(calls, expected);
    rt.block_on(kvs.shutdown());
}

#[test]
fn a_fatal_error_reaches_the_exception_callback_and_no_completion() {
    let rt = server_runtime();
    let kvs = rt.block_on(server(Duration::from_millis(200)));
    let (tx, rx) = mpsc::channel();
    let thread = Consumer::with_config(Source::live("absent", StartSelector::Now), config(&kvs))
        .spawn(Recorder(tx))
        .unwrap();
    thread.join().unwrap();
    let calls: Vec<Call> = rx.try_iter().collect();
    assert!(matches!(&calls[..], [Call::Exception(e)] if e.starts_with("stream not found")), "{calls:?}");
    rt.block_on(kvs.shutdown());
}

#[test]
fn stop_ends_a_followed_read_and_join_returns() {
    let rt = server_runtime();
    // Long idle: the response stays open at the live edge until the consumer stops.
    let kvs = rt.block_on(server(Duration::from_secs(60)));
    stream_with(&kvs, "stop", 2);
    let (tx, rx) = mpsc::channel();
    let thread = Consumer::with_config(Source::live("stop", StartSelector::Earliest), config(&kvs))
        .spawn(Recorder(tx))
        .unwrap();
    for _ in 0..2 {
        assert!(matches!(rx.recv_timeout(Duration::from_secs(30)), Ok(Call::Fragment(_))));
    }
    thread.stop();
    thread.join().unwrap();
    // Stopped by the application: no completion callback.
    assert_eq!(rx.try_iter().count(), 0);
    rt.block_on(kvs.shutdown());
}

#[test]
fn a_slow_handler_slows_the_reader_and_memory_stays_bounded() {
    let rt = server_runtime();
    let kvs = rt.block_on(server(Duration::from_millis(200)));
    let all = stream_with(&kvs, "slow", 60);
    let mut c = config(&kvs);
    c.until_caught_up = true;
    c.queue_capacity = 2;
    let mut iter =
        Consumer::with_config(Source::live("slow", StartSelector::Earliest), c).blocking().unwrap();
    let stats = iter.stats();
    let first = iter.next().unwrap().unwrap();
    // The handler sits on the first fragment: the reader fills the queue and stops there.
    let mut waited = 0;
    while stats.snapshot().in_flight < 3 {
        assert!(waited < 30_000, "the queue never filled: {:?}", stats.snapshot());
        std::thread::sleep(Duration::from_millis(1));
        waited += 1;
    }
    let mut got = vec![first];
    got.extend(iter.by_ref().map(Result::unwrap));
    assert_same(&numbers(&got), &all, "got");
    let s = stats.snapshot();
    // Queue capacity, plus one waiting to be queued and one being handed over.
    assert!((3..=4).contains(&s.peak_in_flight), "{s:?}");
    let longest = got.iter().map(|f| f.bytes().len() as u64).max().unwrap();
    assert!(s.peak_buffered_bytes <= 2 * longest + 64 * 1024, "{s:?}");
    rt.block_on(kvs.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_the_read() {
    let kvs = server(Duration::from_secs(60)).await;
    stream_with(&kvs, "dropped", 1);
    let mut stream = Consumer::with_config(Source::live("dropped", StartSelector::Earliest), config(&kvs))
        .stream()
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    stream.stop();
    let rest = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("stop is prompt");
    assert!(rest.is_none());
    kvs.shutdown().await;
}
