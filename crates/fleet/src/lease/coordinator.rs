//! [`LeaseCoordinator`]: one worker's side of the lease protocol. It owns the set of leases
//! this worker holds (with the counter each was last written with), the timers that renew
//! them and scan for more, the serialisation of writes to each lease, and the
//! [`LeaseEvent`]s that tell the rest of the worker what changed hands.
//!
//! It does not decide what to take (that is [`LeaseTaker`]), speak DynamoDB (that is
//! [`LeaseTable`]), discover streams (it is told them with
//! [`set_streams`](LeaseCoordinator::set_streams)) or read them: a reader starts on
//! [`LeaseEventKind::Acquired`]/[`Stolen`](LeaseEventKind::Stolen) and must stop on
//! [`Lost`](LeaseEventKind::Lost), or when a save fails with [`Error::LeaseLost`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Lease, LeaseTable, LeaseTaker, Take, TakeKind, WORKER_KEY_PREFIX};
use crate::Error;
use crate::checkpoint::{Checkpoint, CheckpointStore};

/// The failover time when none is chosen (KCL's default). A dead worker's streams are
/// taken over within 2 x failover: failover plus one take interval.
///
/// Why the take interval is failover (from the end of one scan to the start of the
/// next, in a phase drawn at random at the start) and not KCL's 2 x failover: expiry is
/// inferred from counters that stand still between two scans (no clocks compared across
/// machines), so a takeover waits for up to two scan intervals after the last write;
/// scanning every failover bounds that at 2 x failover, where KCL's interval allows 4 x.
/// A scan of 500 leases costs about 40 read units, so this is a few thousand units per
/// worker and hour.
pub const DEFAULT_FAILOVER: Duration = Duration::from_secs(10);

/// Shortest failover accepted: renewals run every failover/3 and a DynamoDB write takes
/// tens of milliseconds.
const MIN_FAILOVER: Duration = Duration::from_millis(300);

/// Lease writes in flight at once (renewals, takes, creations, releases): a worker of
/// hundreds of streams renews them all within failover/3 without opening hundreds of
/// connections.
const MAX_CONCURRENT_WRITES: usize = 32;

/// What happened to a lease of this worker. The names are a contract: they appear as
/// `"event"` in the JSON lines `{"type":"lease","stream":S,"worker":W,"event":E}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseEventKind {
    /// Taken while unowned or expired: start reading the stream.
    Acquired,
    /// Renewed (by the timer; checkpoints renew too, silently).
    Renewed,
    /// A renewal or checkpoint found that another worker took it: stop reading.
    Lost,
    /// Given up: on shutdown, or because the stream is no longer selected.
    Released,
    /// Taken from another live worker that held more than its share: start reading.
    Stolen,
}

impl LeaseEventKind {
    /// The contract name: `acquired`, `renewed`, `lost`, `released` or `stolen`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acquired => "acquired",
            Self::Renewed => "renewed",
            Self::Lost => "lost",
            Self::Released => "released",
            Self::Stolen => "stolen",
        }
    }
}

/// A change to one of this worker's leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseEvent {
    /// The stream (the lease key).
    pub stream: String,
    /// What happened.
    pub kind: LeaseEventKind,
}

/// One worker's lease manager: renews the leases it holds, takes its fair share of the
/// others, and is the [`CheckpointStore`] of the streams it holds. Cheap to clone (an
/// `Arc` inside): the loop, the readers and the shutdown path share one.
///
/// Life cycle: [`new`](Self::new), [`set_streams`](Self::set_streams) whenever discovery
/// changes its mind, spawn [`run`](Self::run) with a cancellation token; on shutdown
/// cancel it, write the final checkpoints, then [`release_all`](Self::release_all) so that
/// other workers take the streams at once rather than after they expire.
///
/// ```no_run
/// use std::time::Duration;
/// use kvs_fleet::lease::{LeaseCoordinator, LeaseTable, DEFAULT_FAILOVER};
/// use tokio_util::sync::CancellationToken;
///
/// # async fn example(sdk: aws_config::SdkConfig) -> Result<(), kvs_fleet::Error> {
/// let table = LeaseTable::open(&sdk, "kvs-leases").await?;
/// let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let leases = LeaseCoordinator::new(table, "worker-1", DEFAULT_FAILOVER, events)?;
/// leases.set_streams(vec!["door".into(), "garage".into()]);
/// let cancel = CancellationToken::new();
/// let running = tokio::spawn(leases.clone().run(cancel.clone()));
/// while let Some(event) = received.recv().await {
///     println!("{} {}", event.stream, event.kind.as_str());
/// #   break;
/// }
/// cancel.cancel();
/// let _ = running.await;
/// leases.release_all().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LeaseCoordinator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    table: LeaseTable,
    worker_id: String,
    failover: Duration,
    events: UnboundedSender<LeaseEvent>,
    held: Mutex<HashMap<String, Held>>,
    streams: Mutex<Streams>,
    /// Wakes the loop when `set_streams` changed the selection.
    streams_changed: Notify,
    /// Set by `release_all`: from then on nothing is taken, so a loop still running (or a
    /// take in flight) cannot undo the release.
    closed: AtomicBool,
}

/// The selection given by discovery.
#[derive(Debug, Default)]
struct Streams {
    /// `None` until `set_streams` is called: until then every lease of the table is wanted.
    selected: Option<HashSet<String>>,
    /// Changed since the loop last acted on it.
    dirty: bool,
}

/// A lease this worker holds.
#[derive(Debug)]
struct Held {
    /// As last written by this worker: its counter is what the next write expects.
    lease: Lease,
    /// When the last successful write was sent (renewal or checkpoint).
    last_write: Instant,
    /// Serialises writes to this lease: a renewal and a checkpoint sent together would
    /// both expect the same counter, and the loser would look like a lost lease. A new
    /// one per take, so a write that waited on an old holding never touches a new one.
    writing: Arc<tokio::sync::Mutex<()>>,
}

/// A write to a held lease.
#[derive(Debug, Clone, Copy)]
enum Write<'a> {
    Renew,
    Checkpoint(&'a Checkpoint),
    Release,
}

/// How a write to a held lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Written,
    /// A renewal found the lease written recently enough.
    Skipped,
    /// The condition failed: another worker holds it now.
    Lost,
    /// Not held (any more).
    NotHeld,
}

impl LeaseCoordinator {
    /// A coordinator for worker `worker_id` (unique in the fleet: a host name and process
    /// id, say) on `table`; a lease not renewed for `failover` may be taken by others.
    /// Events go to `events` (dropping the receiver is fine).
    pub fn new(
        table: LeaseTable,
        worker_id: impl Into<String>,
        failover: Duration,
        events: UnboundedSender<LeaseEvent>,
    ) -> Result<Self, Error> {
        let worker_id = worker_id.into();
        if worker_id.is_empty() {
            return Err(Error::Config("the worker id is empty".into()));
        }
        if failover < MIN_FAILOVER {
            return Err(Error::Config(format!("lease failover {failover:?} is below {MIN_FAILOVER:?}")));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                table,
                worker_id,
                failover,
                events,
                held: Mutex::new(HashMap::new()),
                streams: Mutex::new(Streams::default()),
                streams_changed: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// This worker's id (the `leaseOwner` it writes).
    pub fn worker_id(&self) -> &str {
        &self.inner.worker_id
    }

    /// The failover time.
    pub fn failover(&self) -> Duration {
        self.inner.failover
    }

    /// The streams whose leases this worker holds, sorted.
    pub fn held(&self) -> Vec<String> {
        let mut streams: Vec<String> = self.held_map().keys().cloned().collect();
        streams.sort_unstable();
        streams
    }

    /// The streams discovery selects now. [`run`](Self::run) creates the lease items
    /// missing from its last scan, releases the held leases of streams not in the list,
    /// and from then on takes only leases of these streams. Until this is first called,
    /// every lease of the table is wanted. Cheap when nothing changed.
    pub fn set_streams(&self, streams: Vec<String>) {
        let selected: HashSet<String> = streams.into_iter().collect();
        {
            let mut current = self.inner.streams.lock().unwrap_or_else(PoisonError::into_inner);
            if current.selected.as_ref() == Some(&selected) {
                return;
            }
            current.selected = Some(selected);
            current.dirty = true;
        }
        self.inner.streams_changed.notify_one();
    }

    /// Renews the held leases every failover/3, and every failover (in a random phase, so
    /// that workers started together do not scan in step) scans the table and takes this
    /// worker's share; acts on [`set_streams`](Self::set_streams) as it comes. Returns when `cancel`
    /// is cancelled, holding what it held: release explicitly with
    /// [`release_all`](Self::release_all), after the final checkpoints.
    ///
    /// Errors are logged and tried again at the next tick: a lease that cannot be renewed
    /// for the failover time is taken by another worker, and the next write here reports
    /// it lost.
    pub async fn run(self, cancel: CancellationToken) {
        let failover = self.inner.failover;
        let renew_every = failover / 3;
        let mut taker = LeaseTaker::new(self.inner.worker_id.clone(), failover);
        // Keys of the last successful scan: the leases that need not be created.
        let mut known = HashSet::new();
        let mut scanned = false;
        let start = Instant::now();
        let mut next_renew = start + renew_every;
        let mut next_scan = start;
        // Takes wait one to two renewal intervals after the start: the presence items of
        // workers started at the same time show in the scans by then, and the random
        // phase keeps such workers from scanning in step ever after.
        let first_take = start + renew_every.mul_f64(1.0 + fastrand::f64());
        self.heartbeat().await;
        info!(worker = %self.inner.worker_id, table = %self.inner.table.name(), ?failover, "lease coordinator started");
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = self.inner.streams_changed.notified() => {}
                () = tokio::time::sleep_until(next_renew.min(next_scan).into()) => {}
            }
            let now = Instant::now();
            if now >= next_renew {
                next_renew = now + renew_every;
                self.renew_held().await;
                self.heartbeat().await;
            }
            if now >= next_scan {
                match self.balance(&mut taker, &mut known, now >= first_take).await {
                    Ok(()) => scanned = true,
                    Err(e) => warn!(worker = %self.inner.worker_id, error = %e, "lease scan failed"),
                }
                // Exactly failover after this scan ended: the next scan then judges every
                // counter seen standing since this one, so a dead worker's leases are
                // taken at most failover + one take interval after its last write.
                next_scan = Instant::now() + failover;
                if now < first_take {
                    next_scan = first_take;
                }
            }
            // Creations wait for a scan, so that a restart does not write one item per
            // stream when the items are all there.
            if scanned && self.sync_streams(&known).await {
                // Leases the last scan did not show: take them now, not a scan interval
                // later. Workers started together all get here, and race for them at once.
                next_scan = Instant::now().max(first_take);
            }
        }
        info!(worker = %self.inner.worker_id, held = self.held_map().len(), "lease coordinator stopped");
    }

    /// Releases every held lease (emitting [`LeaseEventKind::Released`]), so that other
    /// workers take them at their next scan, and closes the coordinator: it takes nothing
    /// from then on. Call after the final checkpoints were saved, best after
    /// [`run`](Self::run) returned. Failures are logged: those leases expire instead.
    pub async fn release_all(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Err(e) = self.inner.table.leave(&self.inner.worker_id).await {
            warn!(worker = %self.inner.worker_id, error = %e, "presence item not removed: it expires instead");
        }
        let streams = self.held();
        self.concurrently(streams, |this, stream| async move {
            if let Err(e) = this.write(&stream, Write::Release).await {
                warn!(worker = %this.inner.worker_id, %stream, error = %e, "lease release failed");
            }
        })
        .await;
    }

    fn held_map(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        // A panic elsewhere while holding the lock leaves the map consistent (every update
        // is one insert or remove): keep going.
        self.inner.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, stream: &str, kind: LeaseEventKind) {
        // Nobody listening is fine.
        let _ = self.inner.events.send(LeaseEvent { stream: stream.to_owned(), kind });
    }

    fn publish_held(&self, count: usize) {
        metrics::gauge!("kvs_fleet_leases_held", "worker" => self.inner.worker_id.clone()).set(count as f64);
    }

    /// Runs `f` on each item, at most [`MAX_CONCURRENT_WRITES`] at once, and collects what
    /// the calls return (in completion order).
    async fn concurrently<T, R, F, Fut>(&self, items: Vec<T>, f: F) -> Vec<R>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(Self, T) -> Fut,
        Fut: Future<Output = R> + Send + 'static,
    {
        let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_WRITES));
        let mut tasks = JoinSet::new();
        for item in items {
            let call = f(self.clone(), item);
            let limit = Arc::clone(&limit);
            tasks.spawn(async move {
                // The semaphore is never closed; without a permit the call runs anyway.
                let _permit = limit.acquire_owned().await.ok();
                call.await
            });
        }
        let mut results = Vec::with_capacity(tasks.len());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                Err(e) => warn!(worker = %self.inner.worker_id, error = %e, "lease task failed"),
            }
        }
        results
    }

    /// Writes this worker's presence item, so that others count it before it holds leases.
    async fn heartbeat(&self) {
        if let Err(e) = self.inner.table.heartbeat(&self.inner.worker_id).await {
            warn!(worker = %self.inner.worker_id, error = %e, "presence heartbeat failed");
        }
    }

    /// Renews every held lease not written within half a renewal interval.
    async fn renew_held(&self) {
        let streams = self.held();
        self.concurrently(streams, |this, stream| async move {
            if let Err(e) = this.write(&stream, Write::Renew).await {
                warn!(worker = %this.inner.worker_id, %stream, error = %e, "lease renewal failed");
            }
        })
        .await;
    }

    /// Scans, observes, plans, takes.
    async fn balance(
        &self,
        taker: &mut LeaseTaker,
        known: &mut HashSet<String>,
        take: bool,
    ) -> Result<(), Error> {
        let began = Instant::now();
        let scan = self.inner.table.scan_with_workers().await?;
        // Expiry is judged at the scan's start and counters first seen are dated at its end:
        // each value was read somewhere in between, and either way round it errs towards
        // "not expired yet".
        taker.observe(&scan, Instant::now());
        *known = scan.iter().map(|l| l.key.clone()).collect();
        let selected = self.inner.streams.lock().unwrap_or_else(PoisonError::into_inner).selected.clone();
        let wanted: Vec<Lease> = match &selected {
            Some(selected) => scan
                .into_iter()
                .filter(|l| selected.contains(&l.key) || l.key.starts_with(WORKER_KEY_PREFIX))
                .collect(),
            None => scan,
        };
        let held: HashSet<String> = self.held_map().keys().cloned().collect();
        // A held lease that looks expired is one whose renewals keep failing: the renewal
        // path, not a take, finds out what became of it.
        if !take {
            return Ok(());
        }
        let plan: Vec<Take> =
            taker.plan(&wanted, began).into_iter().filter(|t| !held.contains(&t.lease.key)).collect();
        self.concurrently(plan, |this, take| async move { this.take(take).await }).await;
        Ok(())
    }

    async fn take(&self, take: Take) {
        let worker = &self.inner.worker_id;
        let stream = take.lease.key.as_str();
        if self.inner.closed.load(Ordering::SeqCst) {
            return;
        }
        let sent = Instant::now();
        let lease = match self.inner.table.take(&take.lease, worker).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                debug!(%worker, stream, "lease taken by another worker first");
                return;
            }
            Err(e) => {
                warn!(%worker, stream, error = %e, "lease take failed");
                return;
            }
        };
        let count = {
            let mut held = self.held_map();
            let writing = Arc::new(tokio::sync::Mutex::new(()));
            held.insert(stream.to_owned(), Held { lease, last_write: sent, writing });
            held.len()
        };
        self.publish_held(count);
        match &take.kind {
            TakeKind::Steal { from } => {
                info!(%worker, stream, from = %from, "lease stolen");
                self.emit(stream, LeaseEventKind::Stolen);
            }
            TakeKind::Unowned | TakeKind::Expired => {
                info!(%worker, stream, previous = ?take.lease.owner, "lease acquired");
                self.emit(stream, LeaseEventKind::Acquired);
            }
        }
        if self.inner.closed.load(Ordering::SeqCst) {
            // `release_all` ran while this take was in flight.
            if let Err(e) = self.write(stream, Write::Release).await {
                warn!(%worker, stream, error = %e, "lease release failed");
            }
        }
    }

    /// Acts on a changed selection: creates the leases missing from the last scan and
    /// releases the held ones no longer selected. True when some lease exists now that the
    /// last scan did not show (created here, or by another worker meanwhile).
    async fn sync_streams(&self, known: &HashSet<String>) -> bool {
        let selected = {
            let mut streams = self.inner.streams.lock().unwrap_or_else(PoisonError::into_inner);
            if !streams.dirty {
                return false;
            }
            streams.dirty = false;
            streams.selected.clone().unwrap_or_default()
        };
        let missing: Vec<String> = selected.iter().filter(|s| !known.contains(*s)).cloned().collect();
        let exist = self
            .concurrently(missing, |this, stream| async move {
                match this.inner.table.create_if_missing(&stream).await {
                    // Created, or found created.
                    Ok(_) => true,
                    Err(e) => {
                        warn!(worker = %this.inner.worker_id, %stream, error = %e, "lease creation failed");
                        false
                    }
                }
            })
            .await;
        let dropped: Vec<String> = self.held().into_iter().filter(|s| !selected.contains(s)).collect();
        self.concurrently(dropped, |this, stream| async move {
            if let Err(e) = this.write(&stream, Write::Release).await {
                warn!(worker = %this.inner.worker_id, %stream, error = %e, "lease release failed");
            }
        })
        .await;
        exist.contains(&true)
    }

    /// One write to the held lease of `stream`, in turn with the other writes to it. A
    /// refused condition drops the lease and emits [`LeaseEventKind::Lost`]; any other
    /// error leaves it held (the next write, expecting the same counter, finds out).
    async fn write(&self, stream: &str, what: Write<'_>) -> Result<Outcome, Error> {
        let Some(writing) = self.held_map().get(stream).map(|h| Arc::clone(&h.writing)) else {
            return Ok(Outcome::NotHeld);
        };
        let _turn = writing.lock().await;
        let sent = Instant::now();
        let lease = {
            let held = self.held_map();
            match held.get(stream) {
                Some(h) if Arc::ptr_eq(&h.writing, &writing) => {
                    // Others call a lease expired after its counter stood still for the
                    // failover; with renewals every failover/3, skipping those within half
                    // an interval of a checkpoint keeps the longest gap at failover/2, and
                    // a stream checkpointed every second costs no renewal writes at all.
                    if matches!(what, Write::Renew)
                        && sent.saturating_duration_since(h.last_write) < self.inner.failover / 6
                    {
                        return Ok(Outcome::Skipped);
                    }
                    h.lease.clone()
                }
                _ => return Ok(Outcome::NotHeld),
            }
        };
        let table = &self.inner.table;
        let worker = &self.inner.worker_id;
        let written = match what {
            Write::Renew => table.renew(&lease, worker).await?,
            Write::Checkpoint(checkpoint) => table.checkpoint(&lease, worker, checkpoint).await?,
            Write::Release => {
                if table.release(&lease, worker).await? {
                    self.drop_held(stream, &writing, LeaseEventKind::Released);
                    return Ok(Outcome::Written);
                }
                None
            }
        };
        let Some(lease) = written else {
            self.drop_held(stream, &writing, LeaseEventKind::Lost);
            return Ok(Outcome::Lost);
        };
        if let Some(h) = self.held_map().get_mut(stream).filter(|h| Arc::ptr_eq(&h.writing, &writing)) {
            h.lease = lease;
            h.last_write = sent;
        }
        if matches!(what, Write::Renew) {
            debug!(%worker, stream, "lease renewed");
            self.emit(stream, LeaseEventKind::Renewed);
        }
        Ok(Outcome::Written)
    }

    /// Forgets the lease of `stream` taken under `writing`, and says why.
    fn drop_held(&self, stream: &str, writing: &Arc<tokio::sync::Mutex<()>>, kind: LeaseEventKind) {
        let count = {
            let mut held = self.held_map();
            if held.get(stream).is_some_and(|h| Arc::ptr_eq(&h.writing, writing)) {
                held.remove(stream);
            }
            held.len()
        };
        self.publish_held(count);
        let worker = &self.inner.worker_id;
        match kind {
            LeaseEventKind::Lost => info!(%worker, stream, "lease lost to another worker"),
            _ => info!(%worker, stream, "lease released"),
        }
        self.emit(stream, kind);
    }
}

impl CheckpointStore for LeaseCoordinator {
    /// The checkpoint in the held lease of `stream` (as read when it was taken, or as last
    /// saved); [`Error::LeaseLost`] when this worker does not hold it.
    async fn load(&self, stream: &str) -> Result<Option<Checkpoint>, Error> {
        let held = self.held_map();
        let Some(h) = held.get(stream) else {
            return Err(Error::LeaseLost { stream: stream.to_owned() });
        };
        let checkpoint = &h.lease.checkpoint;
        Ok((*checkpoint != Checkpoint::default()).then(|| checkpoint.clone()))
    }

    /// Writes `checkpoint` into the held lease (a renewal too); [`Error::LeaseLost`] when
    /// this worker does not hold it or another worker took it (then
    /// [`LeaseEventKind::Lost`] is emitted too).
    async fn save(&self, stream: &str, checkpoint: &Checkpoint) -> Result<(), Error> {
        match self.write(stream, Write::Checkpoint(checkpoint)).await? {
            Outcome::Written => Ok(()),
            Outcome::Lost | Outcome::NotHeld | Outcome::Skipped => {
                Err(Error::LeaseLost { stream: stream.to_owned() })
            }
        }
    }
}
