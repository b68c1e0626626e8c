//! A fleet against the real local server over HTTP, with the SQLite checkpoint store:
//! every fragment of every stream once and in order; a clean restart repeats nothing; a
//! crash repeats only the fragment in flight, flagged; streams created later are found.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kvs_fleet::{Event, Fleet, FleetConfig, SqliteStore, StreamSelection};
use kvs_local::LocalKvs;
use kvs_mkv::FragmentNumber;
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A local server on its own runtime (the fleet's runtime is torn down in some tests).
fn server() -> (Runtime, LocalKvs) {
    let rt = runtime();
    let config = kvs_local::Config {
        idle_timeout: Duration::from_millis(300),
        get_media_tps: 1000,
        get_media_connections: 100,
        ..kvs_local::Config::default()
    };
    let kvs = rt.block_on(LocalKvs::start(config)).unwrap();
    (rt, kvs)
}

fn config(kvs: &LocalKvs, streams: StreamSelection) -> FleetConfig {
    let mut config = FleetConfig::new(streams);
    config.consumer.endpoint_url = Some(kvs.endpoint_url());
    config.initial = kvs_consumer::StartSelector::Earliest;
    config.discovery_interval = Duration::from_millis(300);
    config.restart_delay = Duration::from_millis(100);
    config
}

/// A fleet on its own runtime, with the SQLite file at `db`.
fn start(rt: &Runtime, config: FleetConfig, db: &Path) -> Fleet {
    rt.block_on(async { Fleet::start(config, SqliteStore::open(db).unwrap()).await.unwrap() })
}

/// (stream, fragment number, redelivered) of the next `n` fragments, within 20 s; an error
/// fails the test unless its stream is in `may_fail`.
fn take(fleet: &mut Fleet, n: usize) -> Vec<(String, FragmentNumber, bool)> {
    take_tolerating(fleet, n, &[])
}

fn take_tolerating(fleet: &mut Fleet, n: usize, may_fail: &[&str]) -> Vec<(String, FragmentNumber, bool)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} fragments: {got:?}", got.len());
        match fleet.blocking_next() {
            Some(Event::Fragment(d)) => got.push((
                d.stream().to_owned(),
                d.fragment().kvs().fragment_number.clone().unwrap(),
                d.redelivered(),
            )),
            Some(Event::Error { stream, error }) => {
                assert!(may_fail.contains(&stream.as_str()), "{stream}: {error}");
            }
            Some(_) => {}
            None => panic!("the fleet stopped"),
        }
    }
    got
}

fn by_stream(got: &[(String, FragmentNumber, bool)]) -> BTreeMap<String, Vec<FragmentNumber>> {
    let mut map: BTreeMap<String, Vec<FragmentNumber>> = BTreeMap::new();
    for (stream, number, _) in got {
        map.entry(stream.clone()).or_default().push(number.clone());
    }
    map
}

#[test]
fn every_fragment_once_in_order_and_a_clean_restart_repeats_nothing() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("checkpoints.sqlite");
    let mut ingested: BTreeMap<String, Vec<FragmentNumber>> = BTreeMap::new();
    for s in ["cam-a", "cam-b", "cam-c"] {
        kvs.create_stream(s).unwrap();
        ingested.insert(s.into(), kvs.ingest_mkv(s, kvs_mkv::testing::stream_of(4)).unwrap());
    }
    kvs.create_stream("other").unwrap();
    kvs.ingest_mkv("other", kvs_mkv::testing::stream_of(2)).unwrap();

    let rt = runtime();
    let mut fleet = start(&rt, config(&kvs, StreamSelection::Prefix("cam-".into())), &db);
    let first = take(&mut fleet, 12);
    assert_eq!(by_stream(&first), ingested, "every fragment of the cam- streams, in order");
    assert!(first.iter().all(|(_, _, redelivered)| !redelivered));
    rt.block_on(fleet.shutdown());

    for (s, numbers) in &mut ingested {
        *numbers = kvs.ingest_mkv(s, kvs_mkv::testing::stream_of(2)).unwrap();
    }
    let mut fleet = start(&rt, config(&kvs, StreamSelection::Prefix("cam-".into())), &db);
    let second = take(&mut fleet, 6);
    assert_eq!(by_stream(&second), ingested, "after the restart, only the new fragments");
    assert!(second.iter().all(|(_, _, redelivered)| !redelivered));
    // Nothing more arrives: no repeat hides behind the six.
    std::thread::sleep(Duration::from_millis(800));
    rt.block_on(async {
        let extra = tokio::time::timeout(Duration::from_millis(200), fleet.next()).await;
        assert!(!matches!(extra, Ok(Some(Event::Fragment(_)))), "an unexpected fragment after the restart");
    });
    rt.block_on(fleet.shutdown());
    server_rt.block_on(kvs.shutdown());
}

#[test]
fn a_crash_repeats_only_the_fragment_in_flight_and_flags_it() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("checkpoints.sqlite");
    kvs.create_stream("door").unwrap();
    let numbers = kvs.ingest_mkv("door", kvs_mkv::testing::stream_of(5)).unwrap();
    let names = StreamSelection::Names(vec!["door".into()]);

    let crashed = runtime();
    let mut fleet = start(&crashed, config(&kvs, names.clone()), &db);
    let handled = take(&mut fleet, 2);
    assert_eq!(handled.iter().map(|h| h.1.clone()).collect::<Vec<_>>(), numbers[..2]);
    // Fragment 3 is being handled when the process dies: no last checkpoint is written.
    let in_flight = loop {
        if let Some(Event::Fragment(d)) = fleet.blocking_next() {
            break d;
        }
    };
    assert_eq!(in_flight.fragment().kvs().fragment_number.as_ref(), Some(&numbers[2]));
    crashed.shutdown_timeout(Duration::from_secs(5));
    std::mem::forget(in_flight);
    std::mem::forget(fleet);

    let rt = runtime();
    let mut fleet = start(&rt, config(&kvs, names), &db);
    let again = take(&mut fleet, 3);
    let expected: Vec<(String, FragmentNumber, bool)> =
        numbers[2..].iter().enumerate().map(|(i, n)| ("door".into(), n.clone(), i == 0)).collect();
    assert_eq!(again, expected, "fragment 3 again, flagged; 4 and 5 once, not flagged");
    rt.block_on(fleet.shutdown());
    server_rt.block_on(kvs.shutdown());
}

#[test]
fn streams_created_later_are_found_and_deleted_ones_dropped() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    kvs.create_stream("lot-1").unwrap();
    kvs.ingest_mkv("lot-1", kvs_mkv::testing::stream_of(1)).unwrap();
    let rt = runtime();
    let mut fleet = start(&rt, config(&kvs, StreamSelection::All), &dir.path().join("c.sqlite"));
    assert_eq!(take(&mut fleet, 1)[0].0, "lot-1");
    kvs.delete_stream("lot-1").unwrap();
    kvs.create_stream("lot-2").unwrap();
    let numbers = kvs.ingest_mkv("lot-2", kvs_mkv::testing::stream_of(2)).unwrap();
    let got = take_tolerating(&mut fleet, 2, &["lot-1"]);
    assert_eq!(
        got.iter().map(|g| (g.0.as_str(), g.1.clone())).collect::<Vec<_>>(),
        [("lot-2", numbers[0].clone()), ("lot-2", numbers[1].clone())]
    );
    rt.block_on(fleet.shutdown());
    server_rt.block_on(kvs.shutdown());
}

/// Records when each stream's fragments were handled; the `slow` stream's take a second.
#[derive(Clone, Default)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<(String, Instant)>>>);

impl kvs_fleet::FleetHandler for Recorder {
    fn on_fragment(&self, delivery: &kvs_fleet::Delivery) {
        if delivery.stream() == "slow" {
            std::thread::sleep(Duration::from_secs(1));
        }
        self.0.lock().unwrap().push((delivery.stream().to_owned(), Instant::now()));
    }
}

#[test]
fn a_slow_handler_slows_only_its_own_stream() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    for s in ["slow", "fast-1", "fast-2"] {
        kvs.create_stream(s).unwrap();
        kvs.ingest_mkv(s, kvs_mkv::testing::stream_of(5)).unwrap();
    }
    let rt = runtime();
    let fleet = start(&rt, config(&kvs, StreamSelection::All), &dir.path().join("c.sqlite"));
    let stop = fleet.stop_handle();
    let recorder = Recorder::default();
    let started = Instant::now();
    let running = rt.spawn(fleet.run_handler(recorder.clone()));
    let count = |stream: &str| recorder.0.lock().unwrap().iter().filter(|(s, _)| s == stream).count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while count("fast-1") < 5 || count("fast-2") < 5 {
        assert!(Instant::now() < deadline, "the fast streams were held up");
        std::thread::sleep(Duration::from_millis(20));
    }
    // All ten fast fragments were handled while the slow stream was still on its first.
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(count("slow") <= 2, "slow handled {}", count("slow"));
    stop.stop();
    rt.block_on(running).unwrap();
    // The slow stream's handler finished what it had: handled fragments in order, once.
    let slow = count("slow");
    assert!((1..5).contains(&slow), "{slow}");
    server_rt.block_on(kvs.shutdown());
}

#[test]
fn a_blocking_fleet_iterates_and_stops_when_dropped() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    kvs.create_stream("door").unwrap();
    let numbers = kvs.ingest_mkv("door", kvs_mkv::testing::stream_of(3)).unwrap();
    let db = dir.path().join("c.sqlite");
    let cfg = config(&kvs, StreamSelection::Names(vec!["door".into()]));
    let store = SqliteStore::open(&db).unwrap();
    let fleet = kvs_fleet::BlockingFleet::new(|| Fleet::start(cfg, store)).unwrap();
    let got: Vec<FragmentNumber> = fleet
        .filter_map(|e| match e {
            Event::Fragment(d) => d.fragment().kvs().fragment_number.clone(),
            _ => None,
        })
        .take(3)
        .collect();
    assert_eq!(got, numbers);
    // Dropped: stopped cleanly, the file is free again and the checkpoint says 3 handled.
    let rt = runtime();
    let store = SqliteStore::open(&db).unwrap();
    let saved = rt.block_on(kvs_fleet::CheckpointStore::load(&store, "door")).unwrap().unwrap();
    assert_eq!(saved.handled.unwrap().fragment_number, numbers[2]);
    assert_eq!(saved.in_flight, None);
    server_rt.block_on(kvs.shutdown());
}

#[test]
fn a_failing_stream_backs_off_alone_and_recovers() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    let mut ingested = BTreeMap::new();
    for s in ["broken", "ok-1", "ok-2"] {
        kvs.create_stream(s).unwrap();
        ingested.insert(s.to_owned(), kvs.ingest_mkv(s, kvs_mkv::testing::stream_of(3)).unwrap());
    }
    let refuse = kvs_local::Faults {
        refuse_next: Some((u32::MAX, kvs_local::RefuseWith::NotAuthorized)),
        ..kvs_local::Faults::default()
    };
    kvs.set_faults("broken", refuse);
    let rt = runtime();
    let mut fleet = start(&rt, config(&kvs, StreamSelection::All), &dir.path().join("c.sqlite"));
    // The healthy streams deliver everything while the broken one fails, again and again.
    let mut errors = 0;
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 6 || errors < 2 {
        assert!(Instant::now() < deadline, "{} fragments, {errors} errors", got.len());
        match fleet.blocking_next() {
            Some(Event::Fragment(d)) => {
                got.push((d.stream().to_owned(), d.fragment().kvs().fragment_number.clone().unwrap(), false))
            }
            Some(Event::Error { stream, error }) => {
                assert_eq!(stream, "broken");
                assert!(matches!(error, kvs_consumer::Error::NotAuthorized { .. }), "{error}");
                errors += 1;
            }
            _ => {}
        }
    }
    let healthy = by_stream(&got);
    assert_eq!(healthy.get("ok-1"), ingested.get("ok-1"));
    assert_eq!(healthy.get("ok-2"), ingested.get("ok-2"));
    assert!(!healthy.contains_key("broken"));
    // Fixed: at its next restart it delivers everything, once.
    kvs.set_faults("broken", kvs_local::Faults::default());
    let recovered = take(&mut fleet, 3);
    assert_eq!(by_stream(&recovered).get("broken"), ingested.get("broken"));
    rt.block_on(fleet.shutdown());
    server_rt.block_on(kvs.shutdown());
}

#[test]
fn an_abandoned_fragment_comes_again_flagged_and_the_stream_goes_on() {
    let (server_rt, kvs) = server();
    let dir = tempfile::tempdir().unwrap();
    kvs.create_stream("door").unwrap();
    let numbers = kvs.ingest_mkv("door", kvs_mkv::testing::stream_of(3)).unwrap();
    let rt = runtime();
    let mut fleet =
        start(&rt, config(&kvs, StreamSelection::Names(vec!["door".into()])), &dir.path().join("c.sqlite"));
    assert_eq!(take(&mut fleet, 1)[0].1, numbers[0]);
    let second = loop {
        if let Some(Event::Fragment(d)) = fleet.blocking_next() {
            break d;
        }
    };
    assert_eq!(second.fragment().kvs().fragment_number.as_ref(), Some(&numbers[1]));
    second.abandon();
    let again = take(&mut fleet, 2);
    assert_eq!(
        again,
        [("door".into(), numbers[1].clone(), true), ("door".into(), numbers[2].clone(), false)]
    );
    rt.block_on(fleet.shutdown());
    server_rt.block_on(kvs.shutdown());
}
