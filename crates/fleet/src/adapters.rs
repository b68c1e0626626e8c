//! The other two ways in, over the same [`Fleet`]: a blocking iterator on a runtime of
//! its own ([`BlockingFleet`]), and callbacks ([`FleetHandler`], [`Fleet::run_handler`])
//! called on tokio's blocking pool, one call at a time per stream and many streams at
//! once, so a slow handler holds only its own stream.

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::lease::LeaseEvent;
use crate::{Delivery, Error, Event, Fleet};

/// What [`Fleet::run_handler`] calls.
pub trait FleetHandler: Send + Sync + 'static {
    /// A fragment of `delivery.stream()`; it is handled (and checkpointed) when this
    /// returns. Calls for one stream come one at a time and in order; calls for different
    /// streams run at the same time, on different threads.
    fn on_fragment(&self, delivery: &Delivery);

    /// A lease changed hands (fleets on DynamoDB).
    fn on_lease(&self, event: &LeaseEvent) {
        tracing::debug!(stream = %event.stream, event = event.kind.as_str(), "lease");
    }

    /// A stream's read failed; it starts again by itself.
    fn on_error(&self, stream: &str, error: &kvs_consumer::Error) {
        tracing::warn!(stream, %error, "stream error");
    }
}

/// Stops a fleet from anywhere (see [`Fleet::stop`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopHandle(pub(crate) CancellationToken);

impl StopHandle {
    /// Asks the fleet to stop cleanly: each stream finishes its fragment, writes its last
    /// checkpoint and releases its lease.
    pub fn stop(&self) {
        self.0.cancel();
    }
}

impl Fleet {
    /// Calls `handler` for every event until the fleet has stopped (by a
    /// [`StopHandle`]). Fragments are handled on the blocking pool, so handlers may block.
    pub async fn run_handler<H: FleetHandler>(mut self, handler: H) {
        let handler = Arc::new(handler);
        let mut calls = JoinSet::new();
        while let Some(event) = self.next().await {
            match event {
                Event::Fragment(delivery) => {
                    let handler = handler.clone();
                    calls.spawn_blocking(move || handler.on_fragment(&delivery));
                }
                Event::Lease(event) => handler.on_lease(&event),
                Event::Error { stream, error } => handler.on_error(&stream, &error),
            }
            while let Some(done) = calls.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a fragment handler panicked");
                }
            }
        }
        while calls.join_next().await.is_some() {}
    }
}

/// A fleet's events as a blocking iterator, on a runtime of its own (for code that is not
/// async). Dropping it stops the fleet cleanly.
///
/// ```no_run
/// use kvs_fleet::{BlockingFleet, Event, Fleet, FleetConfig, SqliteStore, StreamSelection};
///
/// let config = FleetConfig::new(StreamSelection::All);
/// let store = SqliteStore::open("checkpoints.sqlite")?;
/// for event in BlockingFleet::new(|| Fleet::start(config, store))? {
///     if let Event::Fragment(delivery) = event {
///         println!("{} {}", delivery.stream(), delivery.fragment().bytes().len());
///     }
/// }
/// # Ok::<(), kvs_fleet::Error>(())
/// ```
#[derive(Debug)]
pub struct BlockingFleet {
    fleet: Option<Fleet>,
    runtime: Runtime,
}

impl BlockingFleet {
    /// Runs `start` (one of the `Fleet::start*` calls) on a new runtime of two workers.
    /// Do not call it from async code.
    pub fn new<F, Fut>(start: F) -> Result<Self, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fleet, Error>>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kvs-fleet")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start a runtime: {e}")))?;
        let fleet = runtime.block_on(start())?;
        Ok(Self { fleet: Some(fleet), runtime })
    }

    /// A handle that stops the fleet from another thread.
    pub fn stop_handle(&self) -> Option<StopHandle> {
        self.fleet.as_ref().map(Fleet::stop_handle)
    }
}

impl Iterator for BlockingFleet {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.fleet.as_mut()?.blocking_next()
    }
}

impl Drop for BlockingFleet {
    fn drop(&mut self) {
        if let Some(fleet) = self.fleet.take() {
            self.runtime.block_on(fleet.shutdown());
        }
    }
}
