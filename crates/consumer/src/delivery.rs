//! The three ways in, over one engine: [`FragmentStream`] (an async `Stream`),
//! [`BlockingFragments`] (an iterator) and [`ConsumerThread`] (a thread that calls a
//! [`Handler`], the shape of the Python sample's KvsConsumerLibrary).
//!
//! Each of them owns the receiving end of the bounded queue and the cancellation token of
//! one driver task; none of them reads the network itself.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use futures_core::Stream;
use kvs_mkv::Fragment;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::driver::{self, Outbox};
use crate::{Client, Config, Error, Source, Stats};

/// A read to be started: a [`Source`] and a [`Config`].
///
/// ```
/// use kvs_consumer::{Consumer, Source};
///
/// let capture = std::io::Cursor::new(kvs_mkv::testing::stream_of(3).to_vec());
/// let numbers: Vec<String> = Consumer::new(Source::reader(capture))
///     .blocking()?
///     .map(|item| item.map(|f| f.kvs().fragment_number.as_ref().unwrap().to_string()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(numbers.len(), 3);
/// # Ok::<(), kvs_consumer::Error>(())
/// ```
#[derive(Debug)]
pub struct Consumer {
    source: Source,
    config: Config,
    client: Option<Client>,
}

impl Consumer {
    /// A read of `source` with the default [`Config`].
    pub fn new(source: Source) -> Self {
        Self { source, config: Config::default(), client: None }
    }

    /// A read of `source` with `config`.
    pub fn with_config(source: Source, config: Config) -> Self {
        Self { source, config, client: None }
    }

    /// Makes the read's AWS calls through `client` (its SDK configuration and connection
    /// pool, shared with other reads) instead of loading a configuration of its own; the
    /// region, endpoint and credentials of the read's [`Config`] are then not used.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Starts the read on the current tokio runtime and returns its fragments as an async
    /// `Stream`. Must be called from within a tokio runtime.
    pub fn stream(self) -> Result<FragmentStream, Error> {
        self.config.validate()?;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("Consumer::stream needs a tokio runtime".into()))?;
        let (tx, rx) = mpsc::channel(self.config.queue_capacity);
        let cancel = CancellationToken::new();
        let stats = Stats::new();
        let outbox = Outbox { tx, cancel: cancel.clone(), stats: stats.clone() };
        handle.spawn(driver::run(self.source, self.config, self.client, outbox));
        Ok(FragmentStream { rx, cancel, stats })
    }

    /// Starts the read on a runtime of its own and returns a blocking iterator. Do not call
    /// it from async code.
    pub fn blocking(self) -> Result<BlockingFragments, Error> {
        let runtime = runtime()?;
        let stream = {
            let _entered = runtime.enter();
            self.stream()?
        };
        Ok(BlockingFragments { stream, runtime: Some(runtime) })
    }

    /// Starts the read on a thread of its own that calls `handler` for every item, in order.
    pub fn spawn<H: Handler>(self, mut handler: H) -> Result<ConsumerThread, Error> {
        let mut fragments = self.blocking()?;
        let cancel = fragments.stream.cancel.clone();
        let stats = fragments.stream.stats.clone();
        let stopped = cancel.clone();
        let thread = std::thread::Builder::new().name("kvs-consumer".into()).spawn(move || {
            let mut last_ended = false;
            for item in fragments.by_ref() {
                if stopped.is_cancelled() {
                    break;
                }
                match item {
                    Ok(fragment) => handler.on_fragment_arrived(fragment),
                    Err(error) => {
                        last_ended = error.ends_stream();
                        handler.on_stream_read_exception(error);
                    }
                }
            }
            if !stopped.is_cancelled() && !last_ended {
                handler.on_read_stream_complete();
            }
        })?;
        Ok(ConsumerThread { cancel, stats, thread: Some(thread) })
    }
}

fn runtime() -> Result<Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("kvs-consumer-io")
        .enable_all()
        .build()?)
}

/// The fragments of a read, as an async `Stream`, in order.
///
/// Items are `Ok(fragment)` or `Err(error)`; an error for which
/// [`Error::ends_stream`] is true is the last item. Dropping the stream stops the read
/// and closes its connection.
#[derive(Debug)]
pub struct FragmentStream {
    rx: mpsc::Receiver<Result<Fragment, Error>>,
    cancel: CancellationToken,
    stats: Stats,
}

impl FragmentStream {
    /// The read's counters.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Stops the read: the connection is closed and the stream ends after the items
    /// already queued.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// The next item, or `None` when the read has ended (`StreamExt::next` without the
    /// dependency).
    pub async fn next(&mut self) -> Option<Result<Fragment, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for FragmentStream {
    type Item = Result<Fragment, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.stats.counters().dequeued();
        }
        polled
    }
}

impl Drop for FragmentStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The fragments of a read as a blocking iterator (see [`FragmentStream`] for the items).
#[derive(Debug)]
pub struct BlockingFragments {
    stream: FragmentStream,
    runtime: Option<Runtime>,
}

impl BlockingFragments {
    /// The read's counters.
    pub fn stats(&self) -> Stats {
        self.stream.stats()
    }

    /// Stops the read (see [`FragmentStream::stop`]).
    pub fn stop(&self) {
        self.stream.stop();
    }
}

impl Iterator for BlockingFragments {
    type Item = Result<Fragment, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.stream.rx.blocking_recv();
        if item.is_some() {
            self.stream.stats.counters().dequeued();
        }
        item
    }
}

impl Drop for BlockingFragments {
    fn drop(&mut self) {
        self.stream.cancel.cancel();
        if let Some(runtime) = self.runtime.take() {
            // Do not wait for the driver: it stops at its next await point.
            runtime.shutdown_background();
        }
    }
}

/// What a [`ConsumerThread`] calls, on its own thread, one call at a time and in order
/// (the callbacks of the Python sample's KvsConsumerLibrary).
///
/// A slow handler slows the reader: nothing is dropped, and memory stays bounded by the
/// queue.
pub trait Handler: Send + 'static {
    /// A fragment, as soon as its last byte was parsed.
    fn on_fragment_arrived(&mut self, fragment: Fragment);

    /// An error: in-band KVS errors (after which the read may go on), or the error that
    /// ended the read (see [`Error::ends_stream`]).
    fn on_stream_read_exception(&mut self, error: Error) {
        tracing::warn!(%error, "stream read exception");
    }

    /// The read ended by itself without an error (archive read, local file, caught up).
    /// Not called after [`ConsumerThread::stop`].
    fn on_read_stream_complete(&mut self) {}
}

/// A read running on its own thread with a [`Handler`]: start with
/// [`Consumer::spawn`], then [`stop`](Self::stop) and/or [`join`](Self::join).
///
/// ```
/// use std::sync::mpsc;
/// use kvs_consumer::{Consumer, Handler, Source};
///
/// struct Count(mpsc::Sender<u64>, u64);
/// impl Handler for Count {
///     fn on_fragment_arrived(&mut self, _fragment: kvs_mkv::Fragment) { self.1 += 1; }
///     fn on_read_stream_complete(&mut self) { self.0.send(self.1).unwrap(); }
/// }
///
/// let (tx, rx) = mpsc::channel();
/// let capture = std::io::Cursor::new(kvs_mkv::testing::stream_of(4).to_vec());
/// let thread = Consumer::new(Source::reader(capture)).spawn(Count(tx, 0))?;
/// thread.join().unwrap();
/// assert_eq!(rx.recv().unwrap(), 4);
/// # Ok::<(), kvs_consumer::Error>(())
/// ```
#[derive(Debug)]
pub struct ConsumerThread {
    cancel: CancellationToken,
    stats: Stats,
    thread: Option<JoinHandle<()>>,
}

impl ConsumerThread {
    /// The read's counters.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Asks the read to stop: the connection closes at once, and the handler is called for
    /// no more than the item it is handling. Returns without waiting; see
    /// [`join`](Self::join).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the thread to end; `Err` holds the handler's panic, if it panicked.
    pub fn join(mut self) -> std::thread::Result<()> {
        match self.thread.take() {
            Some(thread) => thread.join(),
            None => Ok(()),
        }
    }
}

impl Drop for ConsumerThread {
    /// Dropping the handle stops the read (it does not wait for the thread).
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.cancel.cancel();
        }
    }
}
