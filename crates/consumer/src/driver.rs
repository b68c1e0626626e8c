//! The driver: the one loop that does all the I/O of a read. It makes the requests, reads
//! each body chunk by chunk, feeds the [`Tracker`], and sends what comes out through the
//! bounded queue, waiting when the queue is full (back-pressure). It retries with backoff
//! and resumes after the last delivered fragment.
//!
//! It does not parse (the tracker and `kvs-mkv` do) and does not call user code (the
//! adapters in `delivery` do).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use aws_sdk_kinesisvideo::types::ApiName;
use aws_sdk_kinesisvideomedia::primitives::ByteStream;
use bytes::Bytes;
use kvs_mkv::{Fragment, FragmentNumber};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::aws::{Aws, Client, Failure};
use crate::error::in_band_is_fatal;
use crate::local::{CHUNK_SIZE, ChunkBuffer};
use crate::metrics::ReadMetrics;
use crate::resume::{Output, Tracker};
use crate::stats::Stats;
use crate::{Config, Error, Source, StartSelector, TimeRange};

/// How often throughput and lag are logged (at info level).
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Longest wait before asking again after a live response that brought nothing new.
const MAX_IDLE_DELAY: Duration = Duration::from_secs(1);

/// Why the driver stopped early.
#[derive(Debug)]
enum Stop {
    /// The application went away or asked to stop.
    Cancelled,
    /// The read ended with this error, to be sent as the last item.
    Fatal(Error),
    /// An in-band error that ends the read was delivered; nothing more to send.
    Ended,
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fatal(e)
    }
}

/// The sending end of the queue, with the cancellation signal and the counters.
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) tx: mpsc::Sender<Result<Fragment, Error>>,
    pub(crate) cancel: CancellationToken,
    pub(crate) stats: Stats,
}

impl Outbox {
    /// Queues one item, waiting while the queue is full.
    async fn send(&self, item: Result<Fragment, Error>) -> Result<(), Stop> {
        self.stats.counters().enqueued();
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            sent = self.tx.send(item) => sent.map_err(|_| Stop::Cancelled),
        }
    }

    /// Sleeps, unless cancelled first.
    async fn sleep(&self, duration: Duration) -> Result<(), Stop> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

/// Runs a read to its end. Every item goes through `outbox`; a fatal error is the last.
pub(crate) async fn run(source: Source, config: Config, client: Option<Client>, outbox: Outbox) {
    let resumable = source.resumable();
    let mut metrics = None;
    let result = match source {
        Source::Live { stream, start } => {
            let driver = Driver::new(&config, &outbox, resumable, true, Some(&stream));
            metrics = driver.metrics.clone();
            driver.live(client, &stream, start).await
        }
        Source::Archive { stream, range } => {
            let driver = Driver::new(&config, &outbox, resumable, false, Some(&stream));
            metrics = driver.metrics.clone();
            driver.archive(client, &stream, range).await
        }
        Source::Reader(reader) => Driver::new(&config, &outbox, resumable, false, None).reader(reader).await,
    };
    match result {
        Ok(()) | Err(Stop::Cancelled | Stop::Ended) => {}
        Err(Stop::Fatal(error)) => {
            warn!(%error, "read ended");
            if let Some(metrics) = &metrics {
                metrics.fatal();
            }
            // The application may be gone already: nothing to do about it.
            let _ = outbox.send(Err(error)).await;
        }
    }
    let s = outbox.stats.snapshot();
    info!(
        fragments = s.fragments,
        bytes = s.bytes,
        requests = s.requests,
        retries = s.retries,
        "read finished"
    );
}

/// How a response body ended.
#[derive(Debug)]
enum BodyEnd {
    /// The server ended it.
    Clean,
    /// A read error or a reset.
    Failed(String),
    /// Nothing arrived for `read_timeout`, between fragments: a paused producer or a dead
    /// connection. Either way, the thing to do is to ask again; it is not a failure.
    Quiet,
}

/// A response body or local reader, read chunk by chunk.
enum Body {
    Sdk(ByteStream),
    Reader(Box<dyn AsyncRead + Send + Unpin>, ChunkBuffer),
}

impl Body {
    async fn next(&mut self) -> Option<Result<Bytes, String>> {
        match self {
            Body::Sdk(stream) => stream.next().await.map(|r| r.map_err(|e| e.to_string())),
            Body::Reader(reader, chunks) => {
                chunks.read_async(reader).await.map_err(|e| e.to_string()).transpose()
            }
        }
    }
}

struct Driver<'a> {
    config: &'a Config,
    outbox: &'a Outbox,
    tracker: Tracker,
    out: VecDeque<Output>,
    /// Failures in a row.
    failures: u32,
    last_request: Option<Instant>,
    /// When throughput was last logged, and the byte count then.
    last_report: (Instant, u64),
    /// Per-stream metrics (network reads only).
    metrics: Option<ReadMetrics>,
}

impl<'a> Driver<'a> {
    fn new(
        config: &'a Config,
        outbox: &'a Outbox,
        resumable: bool,
        live: bool,
        stream: Option<&str>,
    ) -> Self {
        Self {
            config,
            outbox,
            tracker: Tracker::new(resumable, live, config.limits),
            out: VecDeque::new(),
            failures: 0,
            last_request: None,
            last_report: (Instant::now(), 0),
            metrics: stream.map(ReadMetrics::new),
        }
    }

    /// Logs throughput and lag every [`REPORT_EVERY`].
    fn report(&mut self) {
        let (since, bytes_then) = self.last_report;
        let elapsed = since.elapsed();
        if elapsed < REPORT_EVERY {
            return;
        }
        let s = self.outbox.stats.snapshot();
        let rate = (s.bytes - bytes_then) as f64 / elapsed.as_secs_f64();
        info!(fragments = s.fragments, bytes = s.bytes, bytes_per_s = rate as u64, lag_ms = ?s.millis_behind_now, retries = s.retries, "reading");
        self.last_report = (Instant::now(), s.bytes);
    }

    /// One more failure: gives up past the retry policy, else waits out the backoff.
    async fn backoff(&mut self, why: String) -> Result<(), Stop> {
        self.failures += 1;
        let policy = &self.config.retry;
        if self.failures >= policy.max_attempts {
            return Err(Stop::Fatal(Error::RetriesExhausted { attempts: self.failures, last: why }));
        }
        let delay = policy.delay(self.failures);
        warn!(failures = self.failures, ?delay, %why, "retrying");
        self.outbox.stats.counters().retries.fetch_add(1, Relaxed);
        if let Some(metrics) = &self.metrics {
            metrics.retry();
        }
        self.outbox.sleep(delay).await
    }

    /// Keeps media requests at least `min_request_interval` apart (the 5 TPS limit).
    async fn pace(&mut self) -> Result<(), Stop> {
        if let Some(last) = self.last_request {
            let next = last + self.config.min_request_interval;
            let now = Instant::now();
            if next > now {
                self.outbox.sleep(next - now).await?;
            }
        }
        if self.last_request.is_some()
            && let Some(metrics) = &self.metrics
        {
            metrics.reconnect();
        }
        self.last_request = Some(Instant::now());
        self.outbox.stats.counters().requests.fetch_add(1, Relaxed);
        Ok(())
    }

    /// The SDK clients of `stream`, on the shared `client` or on one loaded for this read.
    async fn aws(&self, client: Option<Client>, stream: &str) -> Result<Aws, Stop> {
        let client = match client {
            Some(client) => client,
            None => Client::new(self.config).await?,
        };
        Ok(Aws::new(client, stream)?)
    }

    /// The data endpoint for `api`, backing off on retryable failures.
    async fn data_endpoint(&mut self, aws: &Aws, api: ApiName) -> Result<String, Stop> {
        loop {
            match aws.data_endpoint(api.clone()).await {
                Ok(endpoint) => return Ok(endpoint),
                Err(Failure::Fatal(e)) => return Err(Stop::Fatal(e)),
                Err(Failure::Retry(why)) => self.backoff(why).await?,
            }
        }
    }

    /// Reads one body to its end, sending what may be delivered. Returns how it ended and
    /// how many fragments it delivered.
    async fn pump(
        &mut self,
        mut body: Body,
        read_timeout: Option<Duration>,
        expect_last: Option<FragmentNumber>,
    ) -> Result<(BodyEnd, u64), Stop> {
        self.tracker.begin_response(expect_last);
        let mut delivered = 0;
        let cut_before = self.tracker.cut;
        let end = loop {
            let next = tokio::select! {
                biased;
                _ = self.outbox.cancel.cancelled() => return Err(Stop::Cancelled),
                next = with_timeout(read_timeout, body.next()) => next,
            };
            match next {
                None => break BodyEnd::Quiet,
                Some(None) => break BodyEnd::Clean,
                Some(Some(Err(e))) => break BodyEnd::Failed(e),
                Some(Some(Ok(chunk))) => {
                    self.outbox.stats.counters().bytes.fetch_add(chunk.len() as u64, Relaxed);
                    if let Some(metrics) = &self.metrics {
                        metrics.bytes(chunk.len());
                    }
                    self.tracker.feed(chunk, &mut self.out);
                    let held = self.tracker.buffered() as u64;
                    self.outbox.stats.counters().peak_buffered_bytes.fetch_max(held, Relaxed);
                    delivered += self.flush().await?;
                }
            }
        };
        self.tracker.end_response(!matches!(end, BodyEnd::Failed(_)), &mut self.out);
        delivered += self.flush().await?;
        // An end that cut a fragment is a dropped connection all the same.
        let end = match end {
            BodyEnd::Clean | BodyEnd::Quiet if self.tracker.cut > cut_before => {
                BodyEnd::Failed("the response ended inside a fragment".into())
            }
            end => end,
        };
        Ok((end, delivered))
    }

    /// Sends what the tracker let through; returns the number of fragments sent.
    async fn flush(&mut self) -> Result<u64, Stop> {
        let c = self.outbox.stats.counters();
        c.duplicates.store(self.tracker.duplicates, Relaxed);
        c.cut.store(self.tracker.cut, Relaxed);
        c.skipped_bytes.store(self.tracker.skipped_bytes, Relaxed);
        let mut sent = 0;
        while let Some(output) = self.out.pop_front() {
            match output {
                Output::Fragment(f) => {
                    c.fragments.fetch_add(1, Relaxed);
                    if let Some(lag) = f.kvs().millis_behind_now {
                        c.millis_behind_now.store(lag, Relaxed);
                    }
                    if let Some(metrics) = &self.metrics {
                        metrics.fragment(&f);
                    }
                    debug!(number = ?f.kvs().fragment_number, bytes = f.bytes().len(), lag = ?f.kvs().millis_behind_now, "fragment");
                    self.outbox.send(Ok(f)).await?;
                    sent += 1;
                    self.report();
                }
                Output::InBand(e) => {
                    let fatal = in_band_is_fatal(&e);
                    warn!(code = %e.code, id = ?e.id, fatal, "in-band error");
                    if let Some(metrics) = &self.metrics {
                        metrics.in_band();
                    }
                    self.outbox.send(Err(Error::InBand(e))).await?;
                    if fatal {
                        return Err(Stop::Ended);
                    }
                }
            }
        }
        Ok(sent)
    }

    /// GetMedia, resumed by continuation token until cancelled (or caught up).
    async fn live(mut self, client: Option<Client>, stream: &str, start: StartSelector) -> Result<(), Stop> {
        let aws = self.aws(client, stream).await?;
        if let StartSelector::AfterFragment(n) = &start {
            self.tracker.start_after(n.clone());
        }
        let mut client = None;
        let mut idle_responses = 0u32;
        loop {
            let media = match &client {
                Some(c) => c,
                None => client.insert(aws.media_client(&self.data_endpoint(&aws, ApiName::GetMedia).await?)),
            };
            self.pace().await?;
            let selector = self.tracker.next_selector(&start);
            debug!(?selector, "GetMedia");
            let body = match aws.get_media(media, &selector).await {
                Ok(body) => body,
                Err(Failure::Fatal(e)) => return Err(Stop::Fatal(e)),
                Err(Failure::Retry(why)) => {
                    self.backoff(why).await?;
                    continue;
                }
            };
            let (end, delivered) = self.pump(Body::Sdk(body), Some(self.config.read_timeout), None).await?;
            if delivered > 0 {
                self.failures = 0;
                idle_responses = 0;
            }
            match end {
                BodyEnd::Clean | BodyEnd::Quiet if delivered == 0 && self.config.until_caught_up => {
                    info!("caught up with the live edge");
                    return Ok(());
                }
                BodyEnd::Clean | BodyEnd::Quiet => {
                    if delivered == 0 {
                        // The producer is paused: keep following, a little more slowly
                        // (at most a second late for the first fragment after the pause).
                        idle_responses += 1;
                        let delay = self.config.retry.delay(idle_responses).min(MAX_IDLE_DELAY);
                        debug!(?delay, "no new fragment; following");
                        self.outbox.sleep(delay).await?;
                    }
                }
                BodyEnd::Failed(why) => self.backoff(why).await?,
            }
        }
    }

    /// ListFragments over the range (every page, sorted numerically), then
    /// GetMediaForFragmentList in batches, each resumed after its last delivered fragment.
    async fn archive(mut self, client: Option<Client>, stream: &str, range: TimeRange) -> Result<(), Stop> {
        let aws = self.aws(client, stream).await?;
        let list_client = aws.archive_client(&self.data_endpoint(&aws, ApiName::ListFragments).await?);
        let numbers = self.list_all(&aws, &list_client, &range).await?;
        info!(fragments = numbers.len(), "listed archived fragments");
        if numbers.is_empty() {
            return Ok(());
        }
        let media_client =
            aws.archive_client(&self.data_endpoint(&aws, ApiName::GetMediaForFragmentList).await?);
        for batch in numbers.chunks(self.config.archive_batch_size) {
            loop {
                let rest: Vec<FragmentNumber> = match self.tracker.last() {
                    Some(last) => batch.iter().filter(|n| *n > last).cloned().collect(),
                    None => batch.to_vec(),
                };
                if rest.is_empty() {
                    break;
                }
                self.pace().await?;
                let body = match aws.get_media_for_fragment_list(&media_client, &rest).await {
                    Ok(body) => body,
                    Err(Failure::Fatal(e)) => return Err(Stop::Fatal(e)),
                    Err(Failure::Retry(why)) => {
                        self.backoff(why).await?;
                        continue;
                    }
                };
                let expect_last = rest.last().cloned();
                let (end, delivered) =
                    self.pump(Body::Sdk(body), Some(self.config.read_timeout), expect_last).await?;
                if delivered > 0 {
                    self.failures = 0;
                }
                match end {
                    BodyEnd::Failed(why) => self.backoff(why).await?,
                    BodyEnd::Quiet => {
                        self.backoff(format!("no data for {:?}", self.config.read_timeout)).await?
                    }
                    // A response that ended early but made progress: ask for the rest.
                    BodyEnd::Clean if delivered > 0 => {}
                    BodyEnd::Clean => {
                        // Nothing more comes for this batch: whatever is missing was
                        // reported in-band (error 4000, fragment not found) or is gone.
                        debug!(missing = rest.len(), "fragments asked for and not sent");
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn list_all(
        &mut self,
        aws: &Aws,
        client: &aws_sdk_kinesisvideoarchivedmedia::Client,
        range: &TimeRange,
    ) -> Result<Vec<FragmentNumber>, Stop> {
        let mut numbers = Vec::new();
        let mut token = None;
        loop {
            let page =
                aws.list_fragments_page(client, range, self.config.list_page_size, token.clone()).await;
            match page {
                Ok((page, next)) => {
                    self.failures = 0;
                    numbers.extend(page);
                    match next {
                        Some(next) => token = Some(next),
                        None => break,
                    }
                }
                Err(Failure::Fatal(e)) => return Err(Stop::Fatal(e)),
                Err(Failure::Retry(why)) => self.backoff(why).await?,
            }
        }
        // Pages are not sorted: order by number, as numbers (not as strings).
        numbers.sort_unstable();
        numbers.dedup();
        Ok(numbers)
    }

    /// A local reader, read once to its end.
    async fn reader(mut self, reader: Box<dyn AsyncRead + Send + Unpin>) -> Result<(), Stop> {
        match self.pump(Body::Reader(reader, ChunkBuffer::new(CHUNK_SIZE)), None, None).await? {
            (BodyEnd::Clean | BodyEnd::Quiet, _) => Ok(()),
            (BodyEnd::Failed(why), _) => Err(Stop::Fatal(Error::Io(std::io::Error::other(why)))),
        }
    }
}

/// `future`, or `None` when `limit` passes first.
async fn with_timeout<T>(limit: Option<Duration>, future: impl Future<Output = T>) -> Option<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future).await.ok(),
        None => Some(future.await),
    }
}
