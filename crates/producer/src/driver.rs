//! [`Producer`]: the one loop that does all the I/O of a put. It reads the input in chunks
//! into the [`Refragmenter`], pushes fragments into the [`UploadBuffer`], writes them to
//! the PutMedia connection (its header first), and settles the acknowledgements; on an
//! ERROR ack, a failed or silent connection, it reconnects with backoff and resends from
//! the first fragment not yet persisted.
//!
//! Cutting fragments, matching acks and choosing what to resend belong to the sans-IO
//! types; HTTP and signing to `http`; the control plane to `aws`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use crate::aws::{Control, Failure};
use crate::http::{Event, PutClient, Target};
use crate::{AckOutcome, Config, Error, RefragmentConfig, Refragmenter, Snapshot, Stats, UploadBuffer};

/// Input read at a time.
const READ_CHUNK: usize = 64 << 10;

/// Puts one input into one stream. See the crate documentation for an example.
#[derive(Debug)]
pub struct Producer {
    stream: String,
    config: Config,
    stats: Stats,
}

/// The open PutMedia connection.
struct Connection {
    body: mpsc::Sender<Bytes>,
    events: mpsc::Receiver<Event>,
    /// The header sent on it (one Segment per PutMedia).
    header: Option<Bytes>,
    /// The request body ended (the server answered early): wait for the task's report.
    body_closed: bool,
}

impl Producer {
    /// A put of `stream` (a name, or an ARN starting with `arn:`).
    pub fn new(stream: impl Into<String>, config: Config) -> Self {
        Self { stream: stream.into(), config, stats: Stats::default() }
    }

    /// The live counters, for progress.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Reads `input` to its end and puts every fragment; returns when KVS has persisted
    /// them all (or the put failed for good). An input error (not Matroska, cut short, no
    /// keyframe) is returned after the fragments before it are persisted.
    pub async fn put(self, input: impl AsyncRead + Unpin) -> Result<Snapshot, Error> {
        self.config.validate()?;
        let config = &self.config;
        let mut consumer_config = kvs_consumer::Config::default();
        consumer_config.region = config.region.clone();
        consumer_config.endpoint_url = config.endpoint_url.clone();
        consumer_config.credentials = config.credentials.clone();
        consumer_config.ca_pem = config.ca_pem.clone();
        let client = kvs_consumer::Client::new(&consumer_config).await?;
        let control = Control::new(client, &self.stream);
        let region = control.region()?;
        let http = PutClient::new(config.ca_pem.as_deref())?;
        if config.create {
            self.retrying(|| control.create_stream()).await?;
        }
        let start = config.producer_start.unwrap_or_else(SystemTime::now);
        let start_ms = start.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let refragment = RefragmentConfig {
            fragment_duration: config.fragment_duration,
            tags: config.tags.clone(),
            start_ms,
            ..RefragmentConfig::default()
        };
        let target = Target {
            endpoint: String::new(),
            stream: self.stream.clone(),
            region,
            producer_start_ms: start_ms,
        };
        let run = Run {
            producer: &self,
            control: &control,
            http: &http,
            target,
            endpoint: None,
            refragmenter: Refragmenter::new(refragment),
            buffer: UploadBuffer::new(config.buffer_bytes, config.realtime),
            failures: 0,
            last_failure: String::new(),
        };
        run.drive(input).await?;
        Ok(self.stats.snapshot())
    }

    /// Runs a control-plane call with the retry policy.
    async fn retrying<T, F: std::future::Future<Output = Result<T, Failure>>>(
        &self,
        mut call: impl FnMut() -> F,
    ) -> Result<T, Error> {
        let mut failures = 0;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(why)) => {
                    failures += 1;
                    if failures >= self.config.retry.max_attempts {
                        return Err(Error::RetriesExhausted { attempts: failures, last: why });
                    }
                    warn!(%why, "retrying");
                    tokio::time::sleep(self.config.retry.delay(failures)).await;
                }
            }
        }
    }
}

/// The state of one put.
struct Run<'a> {
    producer: &'a Producer,
    control: &'a Control,
    http: &'a PutClient,
    target: Target,
    endpoint: Option<String>,
    refragmenter: Refragmenter,
    buffer: UploadBuffer,
    failures: u32,
    last_failure: String,
}

impl Run<'_> {
    async fn drive(mut self, mut input: impl AsyncRead + Unpin) -> Result<(), Error> {
        let config = &self.producer.config;
        let stats = self.producer.stats.clone();
        let mut chunk = vec![0u8; READ_CHUNK];
        let mut input_open = true;
        let mut input_error: Option<Error> = None;
        let mut conn: Option<Connection> = None;
        let mut next_attempt = Instant::now();
        let mut next_send = Instant::now();
        let mut last_progress = Instant::now();
        let mut said_full = false;
        loop {
            while let Some(item) = self.refragmenter.poll() {
                match item {
                    Ok(fragment) => {
                        stats.built();
                        for old in self.buffer.push(fragment) {
                            stats.dropped();
                            warn!(timecode = old.timecode_ms, "buffer full: the oldest fragment was dropped");
                        }
                    }
                    Err(e) => {
                        input_open = false;
                        input_error.get_or_insert(e);
                    }
                }
            }
            stats.buffered(self.buffer.bytes());
            if self.buffer.is_full() != said_full {
                said_full = !said_full;
                if said_full {
                    warn!(
                        bytes = self.buffer.bytes(),
                        fragments = self.buffer.len(),
                        "the upload buffer is full: {}",
                        if config.realtime { "dropping the oldest fragments" } else { "input paused" }
                    );
                }
            }
            if !input_open && self.buffer.is_empty() {
                break;
            }
            let now = Instant::now();
            // Tracks that changed need a new PutMedia (one Segment each): close the
            // connection once what was sent on it is persisted.
            let header_ok = match (&conn, self.buffer.next_to_send()) {
                (Some(c), Some(f)) => c.header.as_ref().is_none_or(|h| *h == f.header),
                _ => true,
            };
            if !header_ok && self.buffer.in_flight() == 0 {
                debug!("the tracks changed: a new PutMedia starts");
                conn = None;
                self.buffer.reconnect();
                continue;
            }
            if conn.is_none() && self.buffer.next_to_send().is_some() && now >= next_attempt {
                match self.connect().await {
                    Ok(c) => {
                        conn = Some(c);
                        last_progress = Instant::now();
                    }
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Retry(why)) => next_attempt = self.failed(why)?,
                }
                continue;
            }
            let want_input = input_open && (config.realtime || !self.buffer.is_full());
            let can_send = header_ok
                && self.buffer.next_to_send().is_some()
                && conn.as_ref().is_some_and(|c| !c.body_closed);
            let paced = (now < next_send).then_some(next_send);
            let silent =
                (conn.is_some() && self.buffer.in_flight() > 0).then(|| last_progress + config.ack_timeout);
            let retry_at = (conn.is_none() && self.buffer.next_to_send().is_some()).then_some(next_attempt);
            let mut close = false;
            let (body, events, sent_header, body_closed) = match conn.as_mut() {
                Some(c) => {
                    (Some(&c.body), Some(&mut c.events), Some(&mut c.header), Some(&mut c.body_closed))
                }
                None => (None, None, None, None),
            };
            tokio::select! {
                read = input.read(&mut chunk), if want_input => match read {
                    Ok(0) => {
                        input_open = false;
                        self.refragmenter.finish();
                    }
                    Ok(n) => self.refragmenter.feed(Bytes::copy_from_slice(&chunk[..n])),
                    Err(e) => {
                        input_open = false;
                        input_error.get_or_insert(Error::Io(e));
                        self.refragmenter.finish();
                    }
                },
                permit = reserve(body), if can_send && paced.is_none() => {
                    let next = self.buffer.next_to_send();
                    let (Ok(permit), Some(sent_header), Some(f)) = (permit, sent_header, next) else {
                        // The body is closed: the connection's task reports why.
                        if let Some(closed) = body_closed {
                            *closed = true;
                        }
                        continue;
                    };
                    if sent_header.as_ref() != Some(&f.header) {
                        stats.add_bytes(f.header.len());
                        *sent_header = Some(f.header.clone());
                        permit.send(f.header.clone());
                    } else {
                        let (body, timecode) = (f.body.clone(), f.timecode_ms);
                        let resend = self.buffer.mark_sent(now.into_std());
                        stats.sent(body.len(), resend);
                        debug!(timecode, resend, "fragment sent");
                        permit.send(body);
                        next_send = now + config.min_fragment_interval;
                    }
                }
                event = recv(events) => match event {
                    Some(Event::Ack(ack)) => {
                        last_progress = Instant::now();
                        match self.buffer.on_ack(&ack, last_progress.into_std()) {
                            AckOutcome::Persisted { timecode, latency } => {
                                self.failures = 0;
                                stats.persisted(latency.map(|l| l.as_millis() as u64));
                                debug!(timecode, ?latency, "fragment persisted");
                            }
                            AckOutcome::Failed(ack) if !ack.is_retryable_error() => {
                                return Err(Error::Refused {
                                    id: ack.error_id.unwrap_or(0),
                                    code: ack.error_code.unwrap_or_default(),
                                    timecode: ack.timecode,
                                });
                            }
                            AckOutcome::Failed(ack) => {
                                close = true;
                                let why = format!("ERROR ack {:?} {:?}", ack.error_id, ack.error_code);
                                next_attempt = self.dropped(why, &stats)?;
                            }
                            _ => {}
                        }
                    }
                    Some(Event::Closed { fatal: Some(e), .. }) => return Err(e),
                    Some(Event::Closed { why, retry, .. }) => {
                        close = true;
                        if self.buffer.in_flight() > 0 || !retry {
                            next_attempt = self.dropped(why, &stats)?;
                        } else {
                            debug!(%why, "PutMedia closed with nothing in flight");
                            self.buffer.reconnect();
                        }
                    }
                    None => {
                        close = true;
                        next_attempt = self.dropped("the connection task ended".into(), &stats)?;
                    }
                },
                () = sleep_opt(paced) => {}
                () = sleep_opt(retry_at) => {}
                () = sleep_opt(silent) => {
                    close = true;
                    let why = format!("no acknowledgement for {:?}", config.ack_timeout);
                    next_attempt = self.dropped(why, &stats)?;
                }
            }
            if close {
                conn = None;
            }
        }
        info!(persisted = stats.snapshot().fragments_persisted, "put done");
        match input_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Opens a PutMedia connection (asking for the data endpoint when not known).
    async fn connect(&mut self) -> Result<Connection, Failure> {
        let endpoint = match &self.endpoint {
            Some(e) => e.clone(),
            None => {
                let e = self.control.data_endpoint().await?;
                debug!(endpoint = %e, "data endpoint");
                self.endpoint = Some(e.clone());
                e
            }
        };
        self.target.endpoint = endpoint;
        let credentials = self.control.credentials().await?;
        let (body, events) =
            self.http.open(&self.target, &credentials, SystemTime::now()).map_err(Failure::Fatal)?;
        Ok(Connection { body, events, header: None, body_closed: false })
    }

    /// A connection dropped with fragments in flight: count it and say when to retry.
    fn dropped(&mut self, why: String, stats: &Stats) -> Result<Instant, Error> {
        let resend = self.buffer.reconnect();
        stats.reconnected();
        warn!(%why, resend, "PutMedia connection lost; reconnecting");
        // The endpoint may have moved (InvalidEndpoint, a restarted server).
        self.endpoint = None;
        self.failed(why)
    }

    /// One more failure in a row; when to try again.
    fn failed(&mut self, why: String) -> Result<Instant, Error> {
        self.failures += 1;
        self.last_failure = why;
        let retry = &self.producer.config.retry;
        if self.failures >= retry.max_attempts {
            return Err(Error::RetriesExhausted {
                attempts: self.failures,
                last: std::mem::take(&mut self.last_failure),
            });
        }
        Ok(Instant::now() + retry.delay(self.failures))
    }
}

async fn reserve(body: Option<&mpsc::Sender<Bytes>>) -> Result<mpsc::Permit<'_, Bytes>, ()> {
    match body {
        Some(body) => body.reserve().await.map_err(|_| ()),
        None => std::future::pending().await,
    }
}

async fn recv(events: Option<&mut mpsc::Receiver<Event>>) -> Option<Event> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
