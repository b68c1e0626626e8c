//! [`Fleet`]: many streams in one process. A supervisor task discovers the streams
//! (ListStreams, again every `discovery_interval`), decides which this worker reads (all of
//! them, or those whose DynamoDB lease it holds), and runs one task per stream; each task
//! runs a `kvs-consumer` read with its exactly-once resume, hands fragments out one at a
//! time, and writes checkpoints as its [`CheckpointTracker`] asks.
//!
//! Isolation: a stream's failures back it off alone; a slow handler holds only its own
//! stream (one delivery outstanding per stream); memory is bounded per stream by its
//! queue and in total by a byte budget on what is handed out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kvs_consumer::{Client, Consumer, RetryPolicy, Source, StartSelector};
use kvs_mkv::Fragment;
use metrics::gauge;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::delivery::{Delivery, Event, Outcome};
use crate::lease::{LeaseCoordinator, LeaseEvent, LeaseEventKind, LeaseTable};
use crate::tracker::CheckpointTracker;
use crate::{Error, FleetConfig, StreamSelection};

/// Metric: age of a stream's last checkpoint write (`gauge`, seconds, label `stream`).
pub const CHECKPOINT_AGE: &str = "kvs_checkpoint_age_seconds";
/// Metric: checkpoint writes (`counter`, label `stream`).
pub const CHECKPOINT_WRITES: &str = "kvs_checkpoint_writes_total";
/// Metric: streams this worker is reading (`gauge`, label `worker`).
pub const STREAMS_READ: &str = "kvs_fleet_streams";

/// Room for events in the fleet's queue: each stream has at most one delivery in it.
const EVENT_QUEUE: usize = 1024;

/// How often a waiting stream task refreshes its checkpoint-age gauge.
const GAUGE_EVERY: Duration = Duration::from_secs(5);

/// Many streams read at once; see the crate documentation for an example.
///
/// Take events with [`next`](Self::next) (or as a `Stream`); to stop cleanly call
/// [`stop`](Self::stop) and keep taking events until `None`: every stream finishes the
/// delivery it has out, writes its last checkpoint and releases its lease. Or call
/// [`shutdown`](Self::shutdown), which does the same and drops what was not taken.
#[derive(Debug)]
pub struct Fleet {
    events: mpsc::Receiver<Event>,
    cancel: CancellationToken,
    worker: String,
}

impl Fleet {
    /// Starts a fleet on this machine alone: it reads every selected stream and keeps
    /// checkpoints in `store`. Must be called within a tokio runtime.
    pub async fn start<S: CheckpointStore + Clone>(config: FleetConfig, store: S) -> Result<Fleet, Error> {
        let client = Client::new(&config.consumer).await?;
        let worker = config.worker_id.clone();
        Ok(launch(config, client, store, None, worker))
    }

    /// Starts a worker of a fleet spread over machines: it reads the streams whose lease
    /// it holds in `leases` (a DynamoDB table shared by the workers), where checkpoints are
    /// kept too. `lease_events` is the receiving end of the channel the coordinator was
    /// built with.
    pub async fn start_leased(
        config: FleetConfig,
        leases: LeaseCoordinator,
        lease_events: mpsc::UnboundedReceiver<LeaseEvent>,
    ) -> Result<Fleet, Error> {
        let client = Client::new(&config.consumer).await?;
        let worker = leases.worker_id().to_owned();
        Ok(launch(config, client, leases.clone(), Some((leases, lease_events)), worker))
    }

    /// Starts a worker on the DynamoDB lease table `table` (created if missing), as
    /// `config.worker_id`, taking over the leases of workers silent for `failover`. DynamoDB is
    /// reached through the SDK's usual chain (`AWS_ENDPOINT_URL_DYNAMODB`, then
    /// `AWS_ENDPOINT_URL`), never through the KVS endpoint of `config`.
    pub async fn start_on_dynamodb(
        config: FleetConfig,
        table: &str,
        failover: Duration,
    ) -> Result<Fleet, Error> {
        let worker_id = config.worker_id.clone();
        let client = Client::new(&config.consumer).await?;
        let dynamodb_url =
            std::env::var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|_| std::env::var("AWS_ENDPOINT_URL")).ok();
        let mut sdk = client.sdk_config().to_builder();
        sdk.set_endpoint_url(dynamodb_url);
        let sdk = sdk.build();
        let table = LeaseTable::open(&sdk, table).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let leases = LeaseCoordinator::new(table, worker_id.clone(), failover, tx)?;
        Ok(launch(config, client, leases.clone(), Some((leases, rx)), worker_id))
    }

    /// The next event, or `None` once the fleet has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        let mut event = self.events.recv().await?;
        if let Event::Fragment(delivery) = &mut event {
            delivery.mark_received();
        }
        Some(event)
    }

    /// The next event, waiting on this thread (outside any async runtime).
    pub fn blocking_next(&mut self) -> Option<Event> {
        let mut event = self.events.blocking_recv()?;
        if let Event::Fragment(delivery) = &mut event {
            delivery.mark_received();
        }
        Some(event)
    }

    /// This worker's id ([`FleetConfig::worker_id`]).
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// A handle that stops the fleet from elsewhere (another task or thread).
    pub fn stop_handle(&self) -> crate::StopHandle {
        crate::StopHandle(self.cancel.clone())
    }

    /// Asks every stream to stop after its outstanding delivery; events keep coming until
    /// all have stopped (last checkpoints written, leases released).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Stops and waits: deliveries not taken yet are dropped unhandled (they come again
    /// after a restart, not flagged). Returns the other events that came meanwhile (the
    /// leases released, for one).
    pub async fn shutdown(mut self) -> Vec<Event> {
        self.cancel.cancel();
        let mut rest = Vec::new();
        while let Some(event) = self.events.recv().await {
            if !matches!(event, Event::Fragment(_)) {
                rest.push(event);
            }
        }
        rest
    }
}

impl futures_core::Stream for Fleet {
    type Item = Event;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Event>> {
        self.events.poll_recv(cx).map(|event| {
            event.map(|mut event| {
                if let Event::Fragment(delivery) = &mut event {
                    delivery.mark_received();
                }
                event
            })
        })
    }
}

/// What every task of a fleet shares.
struct Shared<S> {
    config: FleetConfig,
    client: Client,
    store: S,
    events: mpsc::Sender<Event>,
    budget: Arc<Semaphore>,
    worker: String,
}

fn launch<S: CheckpointStore + Clone>(
    config: FleetConfig,
    client: Client,
    store: S,
    leases: Option<(LeaseCoordinator, mpsc::UnboundedReceiver<LeaseEvent>)>,
    worker: String,
) -> Fleet {
    let (tx, events) = mpsc::channel(EVENT_QUEUE);
    let cancel = CancellationToken::new();
    let budget = Arc::new(Semaphore::new(budget_permits(config.max_handed_out_bytes)));
    let shared = Arc::new(Shared { config, client, store, events: tx, budget, worker: worker.clone() });
    tokio::spawn(Supervisor::new(shared, cancel.clone()).run(leases));
    Fleet { events, cancel, worker }
}

fn budget_permits(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX).clamp(1, Semaphore::MAX_PERMITS)
}

/// The task that decides which streams run.
struct Supervisor<S> {
    shared: Arc<Shared<S>>,
    cancel: CancellationToken,
    running: HashMap<String, (CancellationToken, JoinHandle<()>)>,
    /// Streams this worker should read now (selected, and leased when there are leases).
    wanted: Vec<String>,
}

impl<S: CheckpointStore + Clone> Supervisor<S> {
    fn new(shared: Arc<Shared<S>>, cancel: CancellationToken) -> Self {
        Self { shared, cancel, running: HashMap::new(), wanted: Vec::new() }
    }

    async fn run(mut self, leases: Option<(LeaseCoordinator, mpsc::UnboundedReceiver<LeaseEvent>)>) {
        let (coordinator, mut lease_events) = match leases {
            Some((c, rx)) => (Some(c), Some(rx)),
            None => (None, None),
        };
        let lease_loop = coordinator.clone().map(|c| tokio::spawn(c.run(self.cancel.child_token())));
        let mut discovery = tokio::time::interval(self.shared.config.discovery_interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                Some(event) = recv_lease(&mut lease_events) => self.on_lease(event).await,
                _ = discovery.tick() => {
                    let Some(selected) = self.discover().await else { continue };
                    match &coordinator {
                        Some(c) => c.set_streams(selected),
                        None => self.wanted = selected,
                    }
                    self.reconcile();
                }
            }
        }
        // Stop every stream (each finishes its delivery and writes its last checkpoint),
        // then give the leases back so other workers take them at once.
        for (token, _) in self.running.values() {
            token.cancel();
        }
        for (stream, (_, task)) in self.running.drain() {
            if let Err(e) = task.await {
                warn!(%stream, error = %e, "stream task failed");
            }
        }
        if let Some(c) = &coordinator {
            c.release_all().await;
        }
        if let Some(task) = lease_loop {
            let _ = task.await;
        }
        if let Some(rx) = &mut lease_events {
            while let Ok(event) = rx.try_recv() {
                let _ = self.shared.events.send(Event::Lease(event)).await;
            }
        }
        gauge!(STREAMS_READ, "worker" => self.shared.worker.clone()).set(0.0);
        info!(worker = %self.shared.worker, "fleet stopped");
    }

    async fn on_lease(&mut self, event: LeaseEvent) {
        match event.kind {
            LeaseEventKind::Acquired | LeaseEventKind::Stolen => {
                if !self.wanted.contains(&event.stream) {
                    self.wanted.push(event.stream.clone());
                }
            }
            LeaseEventKind::Lost | LeaseEventKind::Released => self.wanted.retain(|s| *s != event.stream),
            LeaseEventKind::Renewed => {}
        }
        let _ = self.shared.events.send(Event::Lease(event)).await;
        self.reconcile();
    }

    /// The selected streams, or `None` when ListStreams failed (the set stays as it was).
    async fn discover(&self) -> Option<Vec<String>> {
        let listed = match &self.shared.config.streams {
            StreamSelection::Names(names) => return Some(names.clone()),
            StreamSelection::Prefix(prefix) => self.shared.client.list_streams(Some(prefix)).await,
            StreamSelection::All => self.shared.client.list_streams(None).await,
        };
        match listed {
            Ok(names) => {
                debug!(streams = names.len(), "discovered streams");
                Some(names)
            }
            Err(error) => {
                warn!(%error, "ListStreams failed; keeping the streams known");
                None
            }
        }
    }

    /// Starts the wanted streams that are not running (or whose task ended) and stops the
    /// others.
    fn reconcile(&mut self) {
        self.running.retain(|stream, (token, task)| {
            let keep = !task.is_finished() && self.wanted.contains(stream);
            if !keep {
                token.cancel();
            }
            keep
        });
        for stream in &self.wanted {
            if !self.running.contains_key(stream) {
                let token = self.cancel.child_token();
                let task = tokio::spawn(StreamTask::new(self.shared.clone(), stream, token.clone()).run());
                self.running.insert(stream.clone(), (token, task));
            }
        }
        gauge!(STREAMS_READ, "worker" => self.shared.worker.clone()).set(self.running.len() as f64);
    }
}

async fn recv_lease(rx: &mut Option<mpsc::UnboundedReceiver<LeaseEvent>>) -> Option<LeaseEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Why a stream task stops.
enum Stop {
    /// The fleet is stopping, or the stream was given up: write the last checkpoint.
    Cancelled,
    /// Another worker owns the stream now: write nothing more.
    LeaseLost,
    /// The stream no longer exists.
    Gone,
    /// The application gave a fragment back: read again from the last handled one.
    Abandoned,
}

/// One stream's read, deliveries and checkpoints.
struct StreamTask<S> {
    shared: Arc<Shared<S>>,
    stream: Arc<str>,
    cancel: CancellationToken,
    age: metrics::Gauge,
    writes: metrics::Counter,
}

impl<S: CheckpointStore + Clone> StreamTask<S> {
    fn new(shared: Arc<Shared<S>>, stream: &str, cancel: CancellationToken) -> Self {
        let label = stream.to_owned();
        Self {
            shared,
            stream: stream.into(),
            cancel,
            age: gauge!(CHECKPOINT_AGE, "stream" => label.clone()),
            writes: metrics::counter!(CHECKPOINT_WRITES, "stream" => label),
        }
    }

    async fn run(self) {
        info!(stream = %self.stream, "reading");
        let recovered = match self.load().await {
            Ok(recovered) => recovered,
            Err(_) => return,
        };
        let mut tracker = CheckpointTracker::new(self.shared.config.checkpoint, recovered);
        let stop = self.read(&mut tracker).await;
        if matches!(stop, Stop::Cancelled | Stop::Gone | Stop::Abandoned)
            && let Some(last) = tracker.final_checkpoint(Instant::now())
        {
            let _ = self.save(&last).await;
        }
        info!(stream = %self.stream, "stopped reading");
    }

    /// The stored checkpoint, retried until it can be read (or the task is stopped).
    async fn load(&self) -> Result<Option<Checkpoint>, Stop> {
        let mut failures = 0;
        loop {
            match self.shared.store.load(&self.stream).await {
                Ok(checkpoint) => return Ok(checkpoint),
                Err(Error::LeaseLost { .. }) => return Err(Stop::LeaseLost),
                Err(error) => {
                    failures += 1;
                    warn!(stream = %self.stream, %error, "cannot read the checkpoint");
                    self.pause(failures).await?;
                }
            }
        }
    }

    /// Writes a checkpoint, retried until it is written: nothing is handed out before.
    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), Stop> {
        let mut failures = 0;
        loop {
            match self.shared.store.save(&self.stream, checkpoint).await {
                Ok(()) => {
                    self.writes.increment(1);
                    self.age.set(0.0);
                    return Ok(());
                }
                Err(Error::LeaseLost { .. }) => return Err(Stop::LeaseLost),
                Err(error) => {
                    failures += 1;
                    warn!(stream = %self.stream, %error, failures, "cannot write the checkpoint");
                    self.pause(failures).await?;
                }
            }
        }
    }

    /// Waits out a backoff (the consumer's jittered exponential one, from
    /// `restart_delay` up to `max_restart_delay`), unless stopped first.
    async fn pause(&self, failures: u32) -> Result<(), Stop> {
        let config = &self.shared.config;
        let delay =
            RetryPolicy::new(config.restart_delay, config.max_restart_delay, u32::MAX).delay(failures);
        tokio::select! {
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            () = tokio::time::sleep(delay) => Ok(()),
        }
    }

    async fn read(&self, tracker: &mut CheckpointTracker) -> Stop {
        let mut failures = 0u32;
        loop {
            let start = match tracker.handled() {
                Some(handled) => StartSelector::ContinuationToken(handled.continuation_token.clone()),
                None => self.shared.config.initial.clone(),
            };
            let source = Source::live(&*self.stream, start);
            let consumer = Consumer::with_config(source, self.shared.config.consumer.clone());
            let mut reads = match consumer.client(self.shared.client.clone()).stream() {
                Ok(reads) => reads,
                Err(error) => {
                    self.report(error).await;
                    return Stop::Cancelled;
                }
            };
            let failed = loop {
                let idle = tracker.idle_deadline().map(tokio::time::Instant::from_std);
                let gauge_tick = tokio::time::sleep(GAUGE_EVERY);
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return Stop::Cancelled,
                    () = sleep_until(idle) => {
                        if let Some(checkpoint) = tracker.poll_idle(Instant::now())
                            && let Err(stop) = self.save(&checkpoint).await
                        {
                            return stop;
                        }
                    }
                    () = gauge_tick => {
                        if let Some(age) = tracker.age(Instant::now()) {
                            self.age.set(age.as_secs_f64());
                        }
                    }
                    item = reads.next() => match item {
                        None => break false,
                        Some(Ok(fragment)) => {
                            failures = 0;
                            match self.hand_out(tracker, fragment).await {
                                Ok(()) => {}
                                Err(Stop::Abandoned) => break true,
                                Err(stop) => return stop,
                            }
                        }
                        Some(Err(error)) => {
                            let ends = error.ends_stream();
                            let gone = matches!(error, kvs_consumer::Error::StreamNotFound { .. });
                            self.report(error).await;
                            if gone {
                                return Stop::Gone;
                            }
                            if ends {
                                break true;
                            }
                        }
                    }
                }
            };
            // The read ended (an error past its retries, or a clean end): start it again
            // from the last handled fragment after a backoff of this stream's own.
            failures += 1;
            debug!(stream = %self.stream, failed, failures, "restarting the read");
            if let Err(stop) = self.pause(failures).await {
                return stop;
            }
        }
    }

    /// Writes what must be written first, hands `fragment` out, and waits until it is
    /// handled.
    async fn hand_out(&self, tracker: &mut CheckpointTracker, fragment: Fragment) -> Result<(), Stop> {
        if let Some(checkpoint) = tracker.before_hand_out(&fragment, Instant::now(), now_ms()) {
            self.save(&checkpoint).await?;
        }
        let redelivered = tracker.is_redelivered(&fragment);
        let size = fragment.bytes().len().clamp(1, self.shared.budget_cap());
        let budget = tokio::select! {
            _ = self.cancel.cancelled() => return Err(Stop::Cancelled),
            permit = self.shared.budget.clone().acquire_many_owned(size as u32) => match permit {
                Ok(permit) => permit,
                Err(_) => return Err(Stop::Cancelled),
            },
        };
        let (done, handled) = oneshot::channel();
        let delivery = Delivery {
            stream: self.stream.clone(),
            fragment: fragment.clone(),
            redelivered,
            received: false,
            done: Some(done),
            _budget: budget,
        };
        if self.shared.events.send(Event::Fragment(delivery)).await.is_err() {
            return Err(Stop::Cancelled);
        }
        // Not raced with `cancel`: a stop lets the handler finish, so that the last
        // checkpoint names what it handled.
        match handled.await {
            Ok(Outcome::Handled) => {
                tracker.handled_fragment(&fragment, Instant::now());
                Ok(())
            }
            Ok(Outcome::Abandoned) => {
                tracker.abandoned_fragment(&fragment);
                Err(Stop::Abandoned)
            }
            Ok(Outcome::NotReceived) | Err(_) => Err(Stop::Cancelled),
        }
    }

    async fn report(&self, error: kvs_consumer::Error) {
        warn!(stream = %self.stream, %error, "stream error");
        let _ = self.shared.events.send(Event::Error { stream: self.stream.to_string(), error }).await;
    }
}

impl<S> Shared<S> {
    /// The most permits one delivery may take (a fragment larger than the whole budget
    /// takes all of it).
    fn budget_cap(&self) -> usize {
        budget_permits(self.config.max_handed_out_bytes).min(u32::MAX as usize)
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
