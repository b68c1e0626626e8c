//! `Fleet`: many streams read in one process from Python, over `kvs-fleet`: discovery by
//! names, prefix or all, one exactly-once read per stream, and checkpoints in an SQLite
//! file or in a DynamoDB lease table that several workers share.
//!
//! The fleet runs on a tokio runtime of its own. `__next__` hands out `(stream, fragment)`
//! and keeps the `kvs_fleet::Delivery` until the next call, `stop()` or the object's end:
//! dropping it is what marks the fragment handled, so its checkpoint is written only after
//! the loop body that handled it returned, and that stream's next fragment comes only then.
//! Waits release the GIL and come back to Python every [`WAIT_SLICE`] for signals (Ctrl-C).
//! Lease changes and per-stream errors are never raised: the last [`MAX_EVENTS`] are kept
//! for `events()`. The context manager and async iteration are Python
//! (`kvs_consumer/fleet.py`); discovery, reads, leases and checkpoints belong to
//! `kvs-fleet`.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use kvs_consumer::{StartSelector, StaticCredentials};
use kvs_fleet::{CheckpointPolicy, Delivery, Event, FleetConfig, SqliteStore, StreamSelection};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::consumer::start_selector;
use crate::error::Error;
use crate::fragment::Fragment;

/// How long a wait runs with the GIL released before Python gets to check for signals.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Lease events and stream errors kept for `events()`; older ones are dropped first.
const MAX_EVENTS: usize = 1000;

/// How long a fleet that is garbage-collected without `stop()` may take to stop cleanly
/// (its destructor holds the GIL meanwhile).
const DROP_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Worker threads of a fleet's runtime: the streams' reads are I/O, their parsing small.
const RUNTIME_THREADS: usize = 2;

/// A running fleet: its runtime, and the delivery handed to Python last.
struct Running {
    runtime: Runtime,
    fleet: kvs_fleet::Fleet,
    /// The pair Python is handling: handled (and checkpointed) once dropped.
    held: Option<Delivery>,
}

impl Running {
    /// Stops cleanly and waits with the GIL released: the held pair is handled, every
    /// stream writes its last checkpoint and releases its lease. Fragments queued but not
    /// handed out yet are dropped unhandled: the next run reads them. A signal's exception
    /// (a second Ctrl-C) abandons the wait, like a crash: nothing is lost, the last
    /// fragments may come again, flagged `redelivered`.
    /// `handled: false` gives the held pair back instead (its loop body failed): it is
    /// not checkpointed and comes again, flagged. Returns the lease changes and errors
    /// that came while stopping.
    fn close(self, py: Python<'_>, handled: bool) -> PyResult<Vec<Event>> {
        let Running { runtime, fleet, held } = self;
        match held {
            Some(delivery) if !handled => delivery.abandon(),
            held => drop(held),
        }
        let stopped = block_on(py, &runtime, fleet.shutdown());
        runtime.shutdown_background();
        stopped
    }
}

/// What one slice of waiting for the next event ended with.
enum Wake {
    Event(Option<Box<Event>>),
    Stopped,
    Tick,
}

/// A lease change or a stream error, kept for `events()`.
enum Record {
    Lease { stream: String, event: &'static str },
    Error { stream: String, message: String, code: Option<String> },
}

/// Reads many streams: `for stream, fragment in Fleet(prefix="door-"): ...`.
///
/// Each stream is read on its own, every fragment once and in order, fragments of
/// different streams interleaved. A pair is handled when the next one is asked for (or
/// at `stop()`): only then is its stream's checkpoint written and its next fragment
/// handed out, so a restart goes on after the last pair the loop body finished.
#[pyclass(frozen, subclass, module = "kvs_consumer._native")]
pub struct Fleet {
    running: Mutex<Option<Running>>,
    stop: Notify,
    stopping: AtomicBool,
    events: Mutex<VecDeque<Record>>,
    worker: String,
}

/// Where checkpoints live.
enum Store {
    Sqlite(PathBuf),
    DynamoDb(String),
}

#[pymethods]
impl Fleet {
    #[new]
    #[pyo3(signature = (streams = None, prefix = None, all = false, endpoint = None, region = None, checkpoints = "sqlite:kvs-checkpoints.sqlite", worker_id = None, failover = 10.0, start = None, checkpoint_every = None, discovery_interval = 60.0, credentials = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        streams: Option<Vec<String>>,
        prefix: Option<String>,
        all: bool,
        endpoint: Option<String>,
        region: Option<String>,
        checkpoints: &str,
        worker_id: Option<String>,
        failover: f64,
        start: Option<&Bound<'_, PyAny>>,
        checkpoint_every: Option<f64>,
        discovery_interval: f64,
        credentials: Option<(String, String, Option<String>)>,
    ) -> PyResult<Self> {
        let selection = match (streams, prefix, all) {
            (Some(names), None, false) if !names.is_empty() => StreamSelection::Names(names),
            (None, Some(prefix), false) => StreamSelection::Prefix(prefix),
            (None, None, true) => StreamSelection::All,
            _ => return Err(PyValueError::new_err("give one of streams=[...], prefix=... or all=True")),
        };
        let mut config = FleetConfig::new(selection);
        config.consumer.region = region;
        config.consumer.endpoint_url = endpoint;
        config.consumer.credentials = credentials.map(|(access_key_id, secret_access_key, session_token)| {
            StaticCredentials { access_key_id, secret_access_key, session_token }
        });
        config.initial = match start_selector(start)? {
            StartSelector::AfterFragment(_) | StartSelector::ContinuationToken(_) => {
                return Err(PyValueError::new_err(
                    "start is where streams without a checkpoint begin: \"now\", \"earliest\" or a timestamp",
                ));
            }
            initial => initial,
        };
        config.discovery_interval = seconds("discovery_interval", discovery_interval)?;
        if let Some(every) = checkpoint_every {
            config.checkpoint = CheckpointPolicy::Every(seconds("checkpoint_every", every)?);
        }
        let failover = seconds("failover", failover)?;
        let store = match checkpoints.split_once(':') {
            Some(("sqlite", path)) if !path.is_empty() => Store::Sqlite(path.into()),
            Some(("dynamodb", table)) if !table.is_empty() => Store::DynamoDb(table.to_owned()),
            _ => {
                return Err(PyValueError::new_err("checkpoints takes \"sqlite:PATH\" or \"dynamodb:TABLE\""));
            }
        };
        // Workers sharing a lease table need names of their own; alone, `local` will do.
        match (worker_id, &store) {
            (Some(id), _) => config.worker_id = id,
            (None, Store::DynamoDb(_)) => config.worker_id = kvs_fleet::default_worker_id(),
            (None, Store::Sqlite(_)) => {}
        }

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("kvs-fleet-io")
            .enable_all()
            .build()
            .map_err(kvs_consumer::Error::from)
            .map_err(Error::from)?;
        let started = block_on(py, &runtime, async move {
            match store {
                Store::Sqlite(path) => kvs_fleet::Fleet::start(config, SqliteStore::open(path)?).await,
                Store::DynamoDb(table) => kvs_fleet::Fleet::start_on_dynamodb(config, &table, failover).await,
            }
        });
        let fleet = match started {
            Ok(Ok(fleet)) => fleet,
            Ok(Err(error)) => {
                runtime.shutdown_background();
                return Err(Error::from(error).into());
            }
            Err(interrupted) => {
                runtime.shutdown_background();
                return Err(interrupted);
            }
        };
        let worker = fleet.worker().to_owned();
        Ok(Self {
            running: Mutex::new(Some(Running { runtime, fleet, held: None })),
            stop: Notify::new(),
            stopping: AtomicBool::new(false),
            events: Mutex::new(VecDeque::new()),
            worker,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next `(stream, fragment)`; the pair handed out before is handled now.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<(String, Fragment)>> {
        let mut guard = match self.running.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::WouldBlock) if self.stopping.load(Ordering::Relaxed) => return Ok(None),
            Err(TryLockError::WouldBlock) => {
                return Err(PyRuntimeError::new_err("this Fleet is being read by another thread"));
            }
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        if let Some(running) = guard.as_mut() {
            running.held = None;
        }
        loop {
            if self.stopping.load(Ordering::Relaxed) {
                if let Some(running) = guard.take() {
                    for event in running.close(py, true)? {
                        self.record(event);
                    }
                }
                return Ok(None);
            }
            let Some(running) = guard.as_mut() else { return Ok(None) };
            let Running { runtime, fleet, .. } = running;
            let stop = &self.stop;
            let wake = py.detach(|| {
                runtime.block_on(async {
                    tokio::select! {
                        biased;
                        () = stop.notified() => Wake::Stopped,
                        event = fleet.next() => Wake::Event(event.map(Box::new)),
                        () = tokio::time::sleep(WAIT_SLICE) => Wake::Tick,
                    }
                })
            });
            match wake {
                Wake::Tick => py.check_signals()?,
                Wake::Stopped => {}
                Wake::Event(Some(event)) => match *event {
                    Event::Fragment(delivery) => {
                        let pair = (
                            delivery.stream().to_owned(),
                            Fragment::delivered(delivery.fragment().clone(), delivery.redelivered()),
                        );
                        running.held = Some(delivery);
                        return Ok(Some(pair));
                    }
                    event => self.record(event),
                },
                Wake::Event(None) => {
                    if let Some(running) = guard.take() {
                        running.runtime.shutdown_background();
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Stops cleanly and waits until done: the pair being handled counts as handled
    /// (unless `handled=False`: then it comes again at the next run, flagged), every
    /// stream writes its last checkpoint and releases its lease, and iteration ends. Safe
    /// to call from any thread, also while another one waits in `next()`.
    #[pyo3(signature = (handled = true))]
    fn stop(&self, py: Python<'_>, handled: bool) -> PyResult<()> {
        self.stopping.store(true, Ordering::Relaxed);
        self.stop.notify_one();
        // A thread waiting in `__next__` sees the flag within a slice and stops the fleet
        // itself; then there is nothing left to do here.
        let mut guard = loop {
            match self.running.try_lock() {
                Ok(guard) => break guard,
                Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    py.detach(|| std::thread::sleep(Duration::from_millis(10)));
                    py.check_signals()?;
                }
            }
        };
        if let Some(running) = guard.take() {
            for event in running.close(py, handled)? {
                self.record(event);
            }
        }
        Ok(())
    }

    /// The lease events and stream errors since the last call (the last 1000 at most),
    /// oldest first: `{"type": "lease", "stream", "worker", "event"}` with `event` one of
    /// `acquired`, `renewed`, `lost`, `released`, `stolen`; `{"type": "error", "stream",
    /// "worker", "message", "code"}` with `code` the KVS error code of an error sent inside
    /// the stream, else None. A stream's errors never stop the others.
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let records: Vec<Record> = lock(&self.events).drain(..).collect();
        records
            .into_iter()
            .map(|record| {
                let d = PyDict::new(py);
                match record {
                    Record::Lease { stream, event } => {
                        d.set_item("type", "lease")?;
                        d.set_item("stream", stream)?;
                        d.set_item("worker", &self.worker)?;
                        d.set_item("event", event)?;
                    }
                    Record::Error { stream, message, code } => {
                        d.set_item("type", "error")?;
                        d.set_item("stream", stream)?;
                        d.set_item("worker", &self.worker)?;
                        d.set_item("message", message)?;
                        d.set_item("code", code)?;
                    }
                }
                Ok(d)
            })
            .collect()
    }

    /// This worker's name: `worker_id`, else host name and process id on DynamoDB, else
    /// `"local"`.
    #[getter]
    fn worker(&self) -> &str {
        &self.worker
    }

    fn __repr__(&self) -> String {
        let state = if self.stopping.load(Ordering::Relaxed) { " stopped" } else { "" };
        format!("<Fleet worker={:?}{state}>", self.worker)
    }
}

impl Fleet {
    fn record(&self, event: Event) {
        let record = match event {
            Event::Lease(lease) => Record::Lease { stream: lease.stream, event: lease.kind.as_str() },
            Event::Error { stream, error } => {
                let code = match &error {
                    kvs_consumer::Error::InBand(aws) => Some(aws.code.clone()),
                    _ => None,
                };
                Record::Error { stream, message: error.to_string(), code }
            }
            _ => return,
        };
        let mut records = lock(&self.events);
        if records.len() == MAX_EVENTS {
            records.pop_front();
        }
        records.push_back(record);
    }
}

impl Drop for Fleet {
    /// A fleet dropped without `stop()` still stops cleanly, within a bound.
    fn drop(&mut self) {
        let running = self.running.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(Running { runtime, fleet, held }) = running {
            drop(held);
            runtime.block_on(async {
                let _ = tokio::time::timeout(DROP_STOP_TIMEOUT, fleet.shutdown()).await;
            });
            runtime.shutdown_background();
        }
    }
}

/// Runs `future` on `runtime` with the GIL released, coming back to Python every
/// [`WAIT_SLICE`] to check for signals; an exception from a signal handler drops the
/// future and is returned.
fn block_on<F>(py: Python<'_>, runtime: &Runtime, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut future = std::pin::pin!(future);
    loop {
        let done = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(WAIT_SLICE, future.as_mut()).await.ok() })
        });
        match done {
            Some(output) => return Ok(output),
            None => py.check_signals()?,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Records are plain data: one left half-pushed by a panic is still valid.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A duration keyword argument in seconds, checked as `kvs fleet` checks its flags; a bad
/// one is a `ValueError`.
fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    kvs_fleet::positive_seconds(name, value).map_err(|e| PyValueError::new_err(e.to_string()))
}
