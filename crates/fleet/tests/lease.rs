//! Leases against a real DynamoDB API: moto's server, started by each test on a free
//! loopback port (`MOTO_SERVER` names the executable, else `moto_server` on the PATH; the
//! tests pass with a message when it is absent). The table's conditional writes, the
//! checkpoint round trip, and coordinators that share, lose, steal and release streams.

use std::collections::{BTreeSet, HashSet};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvs_fleet::lease::{DEFAULT_FAILOVER, Lease, LeaseCoordinator, LeaseEvent, LeaseEventKind, LeaseTable};
use kvs_fleet::{Checkpoint, CheckpointStore, Error, Handled};
use kvs_mkv::FragmentNumber;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A moto server, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    /// Starts one, or says why not and returns `None`.
    fn start() -> Option<Self> {
        let exe = match std::env::var_os("MOTO_SERVER") {
            Some(path) => {
                let path = PathBuf::from(path);
                assert!(path.is_file(), "MOTO_SERVER={} is not a file", path.display());
                path
            }
            None => match on_path("moto_server") {
                Some(path) => path,
                None => {
                    eprintln!("skipped: moto_server not found (pip install \"moto[server]\")");
                    return None;
                }
            },
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let mut moto = Self { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("{} exited at start: {status}", exe.display());
            }
            assert!(Instant::now() < deadline, "moto_server did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        let mut config = kvs_consumer::Config::default();
        config.region = Some("us-east-1".into());
        config.endpoint_url = Some(self.url.clone());
        config.credentials = Some(kvs_consumer::StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        });
        kvs_consumer::Client::new(&config).await.unwrap().sdk_config().clone()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// A moto server and the SDK configuration that points at it, or return (skipped).
macro_rules! moto_or_skip {
    () => {
        match Moto::start() {
            Some(moto) => {
                let sdk = moto.sdk().await;
                (moto, sdk)
            }
            None => return,
        }
    };
}

fn number(digits: &str) -> FragmentNumber {
    digits.parse().unwrap()
}

async fn lease_of(table: &LeaseTable, key: &str) -> Lease {
    table.scan().await.unwrap().into_iter().find(|l| l.key == key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_is_created_when_missing_and_opens_again() {
    let (_moto, sdk) = moto_or_skip!();
    let table = LeaseTable::open(&sdk, "leases").await.unwrap();
    assert_eq!(table.name(), "leases");
    assert!(table.scan().await.unwrap().is_empty());
    assert!(table.create_if_missing("door").await.unwrap());
    // Opening again finds it, with its items.
    let again = LeaseTable::open(&sdk, "leases").await.unwrap();
    assert_eq!(again.scan().await.unwrap(), vec![Lease::new("door")]);
    // Many workers opening a new table at once: one creates it, the others wait for it.
    let opens: Vec<_> = (0..3)
        .map(|_| {
            let sdk = sdk.clone();
            tokio::spawn(async move { LeaseTable::open(&sdk, "together").await.map(|_| ()) })
        })
        .collect();
    for open in opens {
        open.await.unwrap().unwrap();
    }
    assert!(matches!(LeaseTable::open(&sdk, "").await, Err(Error::Config(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_if_missing_is_idempotent() {
    let (_moto, sdk) = moto_or_skip!();
    let table = LeaseTable::open(&sdk, "leases").await.unwrap();
    assert!(table.create_if_missing("door").await.unwrap());
    let taken = table.take(&Lease::new("door"), "a").await.unwrap().unwrap();
    // A second creation changes nothing: not the owner, not the counter.
    assert!(!table.create_if_missing("door").await.unwrap());
    assert_eq!(lease_of(&table, "door").await, taken);
    assert!(table.create_if_missing("garage").await.unwrap());
    let mut keys: Vec<String> = table.scan().await.unwrap().into_iter().map(|l| l.key).collect();
    keys.sort();
    assert_eq!(keys, ["door", "garage"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_fence_stale_counters_and_other_owners() {
    let (_moto, sdk) = moto_or_skip!();
    let table = LeaseTable::open(&sdk, "leases").await.unwrap();
    table.create_if_missing("door").await.unwrap();
    let fresh = lease_of(&table, "door").await;

    let a1 = table.take(&fresh, "a").await.unwrap().expect("unowned: taken");
    assert_eq!((a1.owner.as_deref(), a1.counter, a1.owner_switches_since_checkpoint), (Some("a"), 1, 1));
    // The same scan, used again by b: the counter moved.
    assert_eq!(table.take(&fresh, "b").await.unwrap(), None);
    // By a, it is what a retry looks like when the first answer was lost: recognised as done.
    assert_eq!(table.take(&fresh, "a").await.unwrap().as_ref(), Some(&a1));

    // Renewals: only the owner, only with the current counter.
    assert_eq!(table.renew(&a1, "b").await.unwrap(), None, "another owner");
    assert_eq!(table.renew(&fresh, "a").await.unwrap(), None, "stale counter");
    let a2 = table.renew(&a1, "a").await.unwrap().expect("renewed");
    assert_eq!((a2.counter, a2.owner_switches_since_checkpoint), (2, 1));
    assert_eq!(table.renew(&a1, "a").await.unwrap().as_ref(), Some(&a2), "a retried renewal is done");
    assert_eq!(
        table.renew(&Lease { counter: 0, ..a1.clone() }, "a").await.unwrap(),
        None,
        "two writes behind"
    );

    // A checkpoint is a renewal that also resets the owner switches.
    let checkpoint = Checkpoint { horizon_ms: Some(5), ..Checkpoint::default() };
    // One write behind, but that write was a renewal, not this checkpoint.
    assert_eq!(table.checkpoint(&a1, "a", &checkpoint).await.unwrap(), None, "stale counter");
    assert_eq!(table.checkpoint(&a2, "b", &checkpoint).await.unwrap(), None, "another owner");
    let a3 = table.checkpoint(&a2, "a", &checkpoint).await.unwrap().expect("checkpointed");
    assert_eq!((a3.counter, a3.owner_switches_since_checkpoint), (3, 0));
    assert_eq!(a3.checkpoint, checkpoint);
    assert_eq!(table.checkpoint(&a2, "a", &checkpoint).await.unwrap().as_ref(), Some(&a3), "retried");
    let other = Checkpoint { horizon_ms: Some(6), ..Checkpoint::default() };
    assert_eq!(table.checkpoint(&a2, "a", &other).await.unwrap(), None, "not this checkpoint");

    // Stealing: b takes it from a, expecting a as the owner; a finds out on its next write.
    let b4 = table.take(&a3, "b").await.unwrap().expect("stolen");
    assert_eq!((b4.owner.as_deref(), b4.counter, b4.owner_switches_since_checkpoint), (Some("b"), 4, 1));
    assert_eq!(b4.checkpoint, checkpoint, "the checkpoint travels with the lease");
    assert_eq!(table.renew(&a3, "a").await.unwrap(), None);
    assert_eq!(table.checkpoint(&a3, "a", &checkpoint).await.unwrap(), None);
    assert!(!table.release(&a3, "a").await.unwrap());

    // Release: only the owner with the current counter; then anyone takes it as unowned.
    assert!(!table.release(&a3, "b").await.unwrap(), "stale counter");
    assert!(!table.release(&b4, "a").await.unwrap(), "another owner");
    assert!(table.release(&b4, "b").await.unwrap());
    let released = lease_of(&table, "door").await;
    assert_eq!((released.owner.as_deref(), released.counter), (None, 5));
    assert_eq!(table.take(&b4, "c").await.unwrap(), None, "expects b as owner, there is none");
    let c6 = table.take(&released, "c").await.unwrap().expect("released: taken");
    // Two switches since the checkpoint: to b, then to c.
    assert_eq!((c6.owner.as_deref(), c6.counter, c6.owner_switches_since_checkpoint), (Some("c"), 6, 2));

    // Deleted: every write is refused, and a creation starts over.
    table.delete("door").await.unwrap();
    assert!(table.scan().await.unwrap().is_empty());
    assert_eq!(table.renew(&c6, "c").await.unwrap(), None);
    assert!(table.create_if_missing("door").await.unwrap());
    assert_eq!(lease_of(&table, "door").await, Lease::new("door"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_round_trip_exactly() {
    let (_moto, sdk) = moto_or_skip!();
    let table = LeaseTable::open(&sdk, "leases").await.unwrap();
    table.create_if_missing("door").await.unwrap();
    let mut lease = table.take(&Lease::new("door"), "a").await.unwrap().unwrap();

    // AWS fragment numbers have 48 digits: more than u128, and not exact as a float.
    let aws = "913438523331814323926820626077439201462642095120";
    let next = "913438523331814323926820626077439201462642095121";
    let longest = "9".repeat(128);
    let handled = |number: &str, producer, server| Handled {
        fragment_number: number.parse().unwrap(),
        continuation_token: number.to_owned(),
        producer_timestamp_ms: producer,
        server_timestamp_ms: server,
    };
    let cases = [
        (
            "full",
            Checkpoint {
                handled: Some(handled(aws, Some(1_700_000_000_123), Some(1_700_000_000_456))),
                in_flight: Some(number(next)),
                horizon_ms: Some(1_700_000_009_999),
            },
        ),
        (
            "no optional fields",
            Checkpoint { handled: Some(handled(aws, None, None)), ..Checkpoint::default() },
        ),
        (
            "only a producer timestamp",
            Checkpoint { handled: Some(handled(next, Some(i64::MAX), None)), ..Checkpoint::default() },
        ),
        (
            "negative and extreme timestamps",
            Checkpoint {
                handled: Some(handled("0", Some(-1), Some(i64::MIN))),
                in_flight: Some(number(&longest)),
                horizon_ms: Some(i64::MIN),
            },
        ),
        (
            "in flight, nothing handled yet",
            Checkpoint { in_flight: Some(number(aws)), ..Checkpoint::default() },
        ),
        ("horizon only", Checkpoint { horizon_ms: Some(0), ..Checkpoint::default() }),
        ("back to nothing", Checkpoint::default()),
        (
            "full again",
            Checkpoint {
                handled: Some(Handled {
                    continuation_token: "a token that is not a number".into(),
                    ..handled(&longest, Some(0), Some(0))
                }),
                in_flight: Some(number(&longest)),
                horizon_ms: Some(i64::MAX),
            },
        ),
    ];
    for (name, checkpoint) in cases {
        let written = table.checkpoint(&lease, "a", &checkpoint).await.unwrap().expect(name);
        assert_eq!(written.checkpoint, checkpoint, "{name}: as returned");
        let read = lease_of(&table, "door").await;
        assert_eq!(read, written, "{name}: as scanned");
        if let Some(h) = &read.checkpoint.handled {
            let expected = checkpoint.handled.as_ref().unwrap();
            assert_eq!(h.fragment_number.as_str(), expected.fragment_number.as_str(), "{name}");
            assert_eq!(h.continuation_token, expected.continuation_token, "{name}");
        }
        lease = written;
    }
    assert_eq!(lease.checkpoint.handled.unwrap().fragment_number.as_str(), longest);
}

/// A coordinator, its running loop and its events.
struct Worker {
    leases: LeaseCoordinator,
    events: UnboundedReceiver<LeaseEvent>,
    /// Every event received so far.
    seen: Vec<LeaseEvent>,
    cancel: CancellationToken,
    running: Option<JoinHandle<()>>,
}

impl Worker {
    /// A worker on the table `leases`, not running yet.
    async fn new(sdk: &aws_config::SdkConfig, id: &str, failover: Duration, streams: &[String]) -> Self {
        let table = LeaseTable::open(sdk, "leases").await.unwrap();
        let (tx, events) = unbounded_channel();
        let leases = LeaseCoordinator::new(table, id, failover, tx).unwrap();
        leases.set_streams(streams.to_vec());
        Self { leases, events, seen: Vec::new(), cancel: CancellationToken::new(), running: None }
    }

    async fn start(sdk: &aws_config::SdkConfig, id: &str, failover: Duration, streams: &[String]) -> Self {
        let mut worker = Self::new(sdk, id, failover, streams).await;
        worker.run();
        worker
    }

    fn run(&mut self) {
        self.running = Some(tokio::spawn(self.leases.clone().run(self.cancel.clone())));
    }

    /// Stops the loop without releasing anything: to the others, this worker died.
    async fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(running) = self.running.take() {
            running.await.unwrap();
        }
    }

    fn drain(&mut self) -> &[LeaseEvent] {
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
        &self.seen
    }

    /// What the events say this worker holds: they must agree with `held()`.
    fn held_by_events(&mut self) -> BTreeSet<String> {
        let mut held = BTreeSet::new();
        for event in self.drain() {
            match event.kind {
                LeaseEventKind::Acquired | LeaseEventKind::Stolen => {
                    assert!(held.insert(event.stream.clone()))
                }
                LeaseEventKind::Lost | LeaseEventKind::Released => assert!(held.remove(&event.stream)),
                LeaseEventKind::Renewed => assert!(held.contains(&event.stream)),
            }
        }
        held
    }

    fn count(&mut self, kind: LeaseEventKind) -> usize {
        self.drain().iter().filter(|e| e.kind == kind).count()
    }
}

fn streams(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("camera-{i}")).collect()
}

/// Waits until `done` holds, at most `limit`; returns how long it took.
async fn within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_six_streams_and_one_takes_over_when_the_other_dies() {
    let (_moto, sdk) = moto_or_skip!();
    let failover = Duration::from_secs(1);
    let all = streams(6);
    // Started together, as by one deployment.
    let mut a = Worker::new(&sdk, "a", failover, &all).await;
    let mut b = Worker::new(&sdk, "b", failover, &all).await;
    a.run();
    b.run();

    // Both create the items and race for them (a worker alone in the table wants them all,
    // so the faster may win all six); from an uneven split the poorer one steals one per
    // scan (every failover at most) down to 3/3: at most three steals, 3 s.
    let (la, lb) = (a.leases.clone(), b.leases.clone());
    let balanced = within(Duration::from_secs(10), "3/3", || {
        let (ha, hb) = (la.held(), lb.held());
        ha.len() == 3 && hb.len() == 3 && ha.iter().all(|s| !hb.contains(s))
    })
    .await;
    eprintln!("a and b hold 3 streams each after {balanced:?}");
    // Balanced: nothing moves any more (each worker scans at least once meanwhile).
    tokio::time::sleep(failover * 5 / 2).await;
    assert_eq!((a.leases.held().len(), b.leases.held().len()), (3, 3));
    let owners: Vec<Option<String>> = LeaseTable::open(&sdk, "leases")
        .await
        .unwrap()
        .scan()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.owner)
        .collect();
    assert_eq!(owners.iter().filter(|o| o.as_deref() == Some("a")).count(), 3);
    assert_eq!(owners.iter().filter(|o| o.as_deref() == Some("b")).count(), 3);
    assert!(b.count(LeaseEventKind::Renewed) > 0);

    // a dies (no release). b sees a's counters stand still over two of its scans: the
    // first one after a's last renewal, and the next, at most failover later. That is
    // 2 x failover at worst: failover plus one take interval.
    let a_held: BTreeSet<String> = a.leases.held().into_iter().collect();
    let before = b.drain().len();
    a.stop().await;
    let took =
        within(2 * failover + Duration::from_millis(900), "b takes all 6", || lb.held().len() == 6).await;
    eprintln!("b took over a's streams {took:?} after a died (failover {failover:?})");
    assert_eq!(b.held_by_events(), lb.held().into_iter().collect());
    // Expired, not stolen: a was not a live worker any more.
    let since_death = &b.drain()[before..];
    let taken: BTreeSet<String> =
        since_death.iter().filter(|e| e.kind == LeaseEventKind::Acquired).map(|e| e.stream.clone()).collect();
    assert_eq!(taken, a_held);
    assert!(since_death.iter().all(|e| matches!(e.kind, LeaseEventKind::Acquired | LeaseEventKind::Renewed)));

    // a, back from the dead, still believes it holds its streams: its next checkpoint
    // finds out, and says so.
    assert_eq!(a.held_by_events(), a_held);
    let stream = a_held.first().unwrap();
    let saved = a.leases.save(stream, &Checkpoint { horizon_ms: Some(1), ..Checkpoint::default() }).await;
    assert!(matches!(&saved, Err(Error::LeaseLost { stream: s }) if s == stream), "{saved:?}");
    assert!(a.drain().contains(&LeaseEvent { stream: stream.clone(), kind: LeaseEventKind::Lost }));
    assert!(!a.leases.held().contains(stream));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lease_is_taken_at_once() {
    let (_moto, sdk) = moto_or_skip!();
    let failover = Duration::from_secs(1);
    let all = streams(6);
    let mut a = Worker::start(&sdk, "a", failover, &all).await;
    let la = a.leases.clone();
    within(Duration::from_secs(5), "a takes all 6", || la.held().len() == 6).await;
    a.stop().await;
    a.leases.release_all().await;
    assert!(a.leases.held().is_empty());
    assert_eq!(a.count(LeaseEventKind::Released), 6);
    assert!(a.held_by_events().is_empty());

    // A worker that has never seen the table cannot judge anything expired yet: whatever it
    // takes on its first scan it takes because it is unowned. It takes one to two renewal
    // intervals after its start (failover / 3), when the presence of workers started with
    // it shows.
    let mut c = Worker::start(&sdk, "c", DEFAULT_FAILOVER, &all).await;
    let lc = c.leases.clone();
    let limit = DEFAULT_FAILOVER * 2 / 3 + Duration::from_secs(2);
    let took = within(limit, "c takes all 6", || lc.held().len() == 6).await;
    eprintln!("c took the released streams in {took:?}");
    assert_eq!(c.count(LeaseEventKind::Acquired), 6);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_is_the_checkpoint_store_of_its_streams() {
    let (_moto, sdk) = moto_or_skip!();
    let failover = Duration::from_secs(1);
    let mut a = Worker::start(&sdk, "a", failover, &streams(2)).await;
    let la = a.leases.clone();
    within(Duration::from_secs(5), "a takes both", || la.held().len() == 2).await;

    assert_eq!(a.leases.load("camera-0").await.unwrap(), None, "no checkpoint yet");
    assert!(matches!(a.leases.load("elsewhere").await, Err(Error::LeaseLost { .. })));
    let checkpoint = Checkpoint {
        handled: Some(Handled {
            fragment_number: number("913438523331814323926820626077439201462642095120"),
            continuation_token: "913438523331814323926820626077439201462642095120".into(),
            producer_timestamp_ms: Some(1),
            server_timestamp_ms: Some(2),
        }),
        in_flight: None,
        horizon_ms: Some(3),
    };
    // Checkpoints and renewals of the same lease, all at once, never trip over each other's
    // counter.
    let saves: Vec<_> = (0..20)
        .map(|_| {
            let (leases, checkpoint) = (a.leases.clone(), checkpoint.clone());
            tokio::spawn(async move { leases.save("camera-0", &checkpoint).await })
        })
        .collect();
    for save in saves {
        save.await.unwrap().unwrap();
    }
    assert_eq!(a.leases.load("camera-0").await.unwrap(), Some(checkpoint.clone()));
    assert!(matches!(
        a.leases.save("elsewhere", &checkpoint).await,
        Err(Error::LeaseLost { stream }) if stream == "elsewhere"
    ));

    // While checkpoints keep coming, they are the renewals: camera-0 gets no Renewed
    // events, camera-1 (no checkpoints) does.
    let before = a.drain().len();
    let until = Instant::now() + 2 * failover;
    while Instant::now() < until {
        a.leases.save("camera-0", &checkpoint).await.unwrap();
        tokio::time::sleep(failover / 10).await;
    }
    let renewed: HashSet<String> = a.drain()[before..]
        .iter()
        .filter(|e| e.kind == LeaseEventKind::Renewed)
        .map(|e| e.stream.clone())
        .collect();
    assert_eq!(renewed, HashSet::from(["camera-1".to_owned()]));

    // A worker starting later reads the checkpoint with the lease.
    a.stop().await;
    a.leases.release_all().await;
    let mut b = Worker::start(&sdk, "b", failover, &streams(2)).await;
    let lb = b.leases.clone();
    within(Duration::from_secs(3), "b takes both", || lb.held().len() == 2).await;
    assert_eq!(b.leases.load("camera-0").await.unwrap(), Some(checkpoint));
    assert_eq!(b.leases.load("camera-1").await.unwrap(), None);

    // A stream no longer selected is released.
    b.leases.set_streams(vec!["camera-1".into()]);
    within(Duration::from_secs(2), "camera-0 released", || lb.held() == ["camera-1"]).await;
    assert!(b.drain().contains(&LeaseEvent { stream: "camera-0".into(), kind: LeaseEventKind::Released }));
    let table = LeaseTable::open(&sdk, "leases").await.unwrap();
    assert_eq!(lease_of(&table, "camera-0").await.owner, None);
    // ... and not taken again, while it stays deselected.
    tokio::time::sleep(3 * failover).await;
    assert_eq!(lb.held(), ["camera-1"]);
    b.stop().await;
}
