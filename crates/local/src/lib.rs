//! A KVS-compatible server on loopback, with a synthetic camera: the embedded default.
//!
//! [`LocalKvs`] speaks the REST+JSON protocol of Amazon Kinesis Video Streams, so the
//! official SDK clients (`aws-sdk-kinesisvideo`, `-kinesisvideomedia`,
//! `-kinesisvideoarchivedmedia`) work against it unchanged through `endpoint_url`:
//! CreateStream, DescribeStream, ListStreams, DeleteStream, GetDataEndpoint, PutMedia,
//! GetMedia with every StartSelector (live: the response stays open and each new fragment
//! is written as it is ingested), ListFragments and GetMediaForFragmentList. Fragments
//! are served in AWS's exact layout with 48-digit fragment numbers, and AWS's limits and
//! errors are enforced. Tests can inject faults ([`Faults`]) and in-band errors, and feed
//! streams from a synthetic H.264 [`camera`] or from MKV files.
//!
//! For load, [`LocalKvs::spawn_replay`] feeds many live streams (`cam000`, `cam001`, ...)
//! at real time from one pre-encoded MKV, looped and re-stamped, with no encoding and one
//! thread for all of them: 500 streams run on two cores. Each replayed fragment shares its
//! media bytes with the input; only the Cluster's Timecode is rewritten. Fragments are
//! kept per [`Config::retention_age`] and [`Config::retention_bytes`] (1 day, 1 GiB per
//! stream by default): shorten the age for long replays of many streams.
//!
//! Behaviour worth knowing when testing against it:
//! - StartSelector `FRAGMENT_NUMBER` starts *at* that fragment, `CONTINUATION_TOKEN` right
//!   *after* it (a number no longer kept starts at the next one kept); `SERVER_TIMESTAMP`
//!   and `PRODUCER_TIMESTAMP` start at the first fragment still running at that time; at
//!   the live edge the response waits for new fragments, and ends after
//!   [`Config::idle_timeout`] with nothing new or [`Config::max_get_media_duration`].
//! - ListFragments pages are not sorted (each is newest first), as AWS warns; NextToken
//!   is the number of the next fragment.
//! - Each producer Cluster becomes a fragment carrying the producer's header elements
//!   (SeekHead, Void, Info, Tracks and the Tags sent before the first Cluster); Tags sent
//!   between Clusters go with the next fragment only; Cues and old KVS tags are dropped.
//! - PutMedia acknowledges each fragment with BUFFERING as soon as its Cluster's Timecode
//!   has arrived, then RECEIVED and PERSISTED once the Cluster is whole; it sends IDLE
//!   while nothing arrives, and stops at the first ERROR, whose `ErrorId` is AWS's
//!   ([`PutMediaErrorId`]): decreasing timecodes (4004), a frame of an undeclared track
//!   (4010), an impossible timestamp (4007), a fragment over 50 MB (4001), more held than
//!   [`Config::put_media_buffer`] (4001 or 4009). A body signed with `UNSIGNED-PAYLOAD`
//!   streams; one whose hash is signed is checked whole before anything is stored.
//! - Connections are capped ([`Config::max_connections`]) and closed when they take too
//!   long to send their headers or move no byte for a while; GetMedia and
//!   GetMediaForFragmentList keep AWS's per-stream limits and 25 MB/s per response.
//! - With [`Config::tls`] it speaks HTTPS with a self-signed certificate for 127.0.0.1
//!   and localhost ([`LocalKvs::certificate_pem`]); the TLS handshake holds a connection
//!   slot and must end within [`Config::header_read_timeout`].
//!
//! What it does not do: GetImages, HLS/DASH, clips, KMS, tagging, or anything beyond
//! loopback unless [`Config::addr`] says so. Parsing MKV belongs to `kvs-mkv`; consuming
//! streams to `kvs-consumer`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kvs_local::Error> {
//! use kvs_local::{Config, LocalKvs};
//!
//! let kvs = LocalKvs::start(Config::default()).await?;
//! kvs.create_stream("demo")?;
//! let numbers = kvs.ingest_mkv("demo", kvs_mkv::testing::stream_of(3))?;
//! assert_eq!(numbers.len(), 3);
//! assert_eq!(numbers[0].as_str().len(), 48);
//! println!("export AWS_ENDPOINT_URL={}", kvs.endpoint_url());
//! kvs.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
pub mod camera;
mod clock;
mod config;
mod error;
mod faults;
mod ingest;
mod layout;
pub mod metrics;
mod replay;
mod server;
mod store;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kvs_mkv::FragmentNumber;
use kvs_streaming::page::{PAGE_TOKEN_PARAM, PageToken};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use api::errors::{InBandErrorId, PutMediaErrorId};
pub use camera::{CameraConfig, CameraHandle};
pub use config::{Config, Credentials};
pub use error::{CameraConfigError, Error, FragmentFileProblem, MediaError, ReplayProblem};
pub use faults::{Faults, RefuseWith};
pub use replay::{MAX_REPLAY_STREAMS, ReplayHandle, replay_stream_names};

use crate::api::Shared;
use crate::ingest::{Ingested, Ingester, NewFragment, TimecodeType};
use crate::store::{Store, Stream, lock, now_ms};

/// How long [`LocalKvs::shutdown`] waits for open responses to notice the stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running server (axum on the tokio runtime it was started in). Clones share the
/// server; [`shutdown`](Self::shutdown) stops it for all of them, and so does dropping the
/// last clone (without waiting for open responses to end).
#[derive(Debug, Clone)]
pub struct LocalKvs {
    shared: Arc<Shared>,
    stop: Arc<watch::Sender<bool>>,
    server: Arc<Mutex<Option<JoinHandle<()>>>>,
    certificate: Option<server::Certificate>,
}

impl LocalKvs {
    /// Binds `config.addr`, recovers the directory store if any, makes or loads the
    /// certificate with [`Config::tls`], and starts serving.
    pub async fn start(config: Config) -> Result<LocalKvs, Error> {
        let store = Store::open(&config)?;
        let tls = if config.tls { Some(server::Tls::new(config.data_dir.as_deref())?) } else { None };
        // tokio binds with SO_REUSEADDR: a server restarted on the port of one that was
        // killed gets it back at once, whatever connections of the old one linger.
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (stop, shutdown) = watch::channel(false);
        let page_token =
            config.credentials.as_ref().map(|_| PageToken::random()).transpose().map_err(Error::PageToken)?;
        let endpoint = format!("{scheme}://{addr}");
        let shared = Arc::new(Shared { config, store, endpoint, shutdown, page_token });
        let router = api::router(shared.clone());
        let serving = shared.clone();
        let (acceptor, certificate) = match tls {
            Some(tls) => (Some(tls.acceptor), Some(tls.certificate)),
            None => (None, None),
        };
        let server = tokio::spawn(async move {
            server::serve(listener, router, &serving.config, acceptor, serving.shutdown.clone()).await;
        });
        tracing::info!(endpoint = %shared.endpoint, "local KVS listening");
        Ok(LocalKvs { shared, stop: Arc::new(stop), server: Arc::new(Mutex::new(Some(server))), certificate })
    }

    /// The endpoint URL to give the SDKs (`http://127.0.0.1:PORT`, or `https://` with
    /// [`Config::tls`]).
    pub fn endpoint_url(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// The address of the web page: the endpoint's `/`, with `?token=…` when the server
    /// checks signatures ([`Config::credentials`]), since a browser cannot sign. Whoever
    /// has this address can list the streams and play them, as with the secret key, but
    /// can call no operation that writes or deletes.
    pub fn page_url(&self) -> String {
        match &self.shared.page_token {
            Some(token) => format!("{}/?{PAGE_TOKEN_PARAM}={}", self.shared.endpoint, token.as_str()),
            None => format!("{}/", self.shared.endpoint),
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        let addr = self.shared.endpoint.split_once("://").map_or("", |(_, addr)| addr);
        addr.parse().unwrap_or(self.shared.config.addr)
    }

    /// With [`Config::tls`], the PEM of the server's certificate: what clients trust.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_ref().map(|c| c.pem.as_str())
    }

    /// With [`Config::tls`] and [`Config::data_dir`], the file holding the certificate's
    /// PEM (`cert.pem` in the data directory).
    pub fn certificate_file(&self) -> Option<&std::path::Path> {
        self.certificate.as_ref().and_then(|c| c.file.as_deref())
    }

    /// Creates a stream; does nothing if it exists.
    pub fn create_stream(&self, name: &str) -> Result<(), Error> {
        self.shared.store.create(name).map(|_| ())
    }

    /// Deletes a stream; its open GetMedia responses get an in-band error (3002) and end.
    /// With [`Config::data_dir`], fails with [`Error::DeleteFailed`] (the stream staying
    /// whole) if its directory cannot be set aside.
    pub fn delete_stream(&self, name: &str) -> Result<(), Error> {
        self.shared.store.delete(name).map(|_| ())
    }

    fn stream(&self, name: &str) -> Result<Arc<Stream>, Error> {
        self.shared.store.get(name).ok_or_else(|| Error::StreamNotFound(name.to_owned()))
    }

    /// Ingests a producer MKV stream at once, as PutMedia does: each Cluster becomes one
    /// fragment. Returns the fragment numbers given, in order. Cluster timecodes before
    /// the year 2000 are taken as relative to now. A stream cut short keeps its whole
    /// Clusters; a malformed one is refused before anything is stored.
    pub fn ingest_mkv(&self, stream: &str, producer_mkv: Bytes) -> Result<Vec<FragmentNumber>, Error> {
        let target = self.stream(stream)?;
        let mut numbers = Vec::new();
        for new in cut(producer_mkv)? {
            numbers.push(self.shared.store.append(&target, new)?.number.clone());
        }
        Ok(numbers)
    }

    /// Feeds a producer MKV stream (a file) on a thread, one fragment at a time: paced
    /// by its Cluster timecodes when `paced`, else as fast as possible.
    pub fn spawn_ingest(&self, stream: &str, producer_mkv: Bytes, paced: bool) -> CameraHandle {
        let prepared = self.stream(stream).and_then(|target| Ok((target, cut(producer_mkv)?)));
        let (target, fragments) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => return CameraHandle::failed(e),
        };
        let shared = self.shared.clone();
        let first_ms = fragments.first().map_or(0, |f| f.producer_ms);
        let start = std::time::Instant::now();
        let mut fragments = fragments.into_iter();
        CameraHandle::spawn(move |stop| {
            let Some(new) = fragments.next() else { return Ok(false) };
            if paced {
                let due = Duration::from_millis(new.producer_ms.saturating_sub(first_ms).max(0) as u64);
                let wait = due.saturating_sub(start.elapsed());
                if !camera::sleep_unless_stopped(wait, stop) {
                    return Ok(false);
                }
            }
            shared.store.append(&target, new).map(|_| true)
        })
    }

    /// Feeds `count` live streams named by [`replay_stream_names`] (`prefix000`,
    /// `prefix001`, ...; created if missing) from one producer MKV or GetMedia capture, at
    /// real time and looped until the handle is stopped or dropped. Each Cluster is one
    /// fragment; its producer timestamp is the time it is appended and its Cluster
    /// Timecode is rewritten to match, so both keep increasing across loops. Stream `i`
    /// starts `i / count` of the first fragment's duration late, so that appends spread
    /// evenly over time. One thread feeds every stream.
    ///
    /// Fails before anything starts on a count outside 1 to [`MAX_REPLAY_STREAMS`], a
    /// prefix that makes invalid stream names, or an input with no whole Cluster.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kvs_local::Error> {
    /// let kvs = kvs_local::LocalKvs::start(kvs_local::Config::default()).await?;
    /// let replay = kvs.spawn_replay("cam", 20, kvs_mkv::testing::stream_of(3))?;
    /// assert_eq!((replay.streams()[19].as_str(), replay.fragments_per_loop()), ("cam019", 3));
    /// std::thread::sleep(std::time::Duration::from_millis(300));
    /// assert!(replay.stop()? >= 20);
    /// # Ok(()) }
    /// ```
    pub fn spawn_replay(
        &self,
        prefix: &str,
        count: usize,
        producer_mkv: Bytes,
    ) -> Result<ReplayHandle, Error> {
        replay::spawn(self.shared.clone(), prefix, count, producer_mkv)
    }

    /// Sets the faults of a stream's later media calls (replacing earlier ones). Does
    /// nothing for an unknown stream.
    pub fn set_faults(&self, stream: &str, faults: Faults) {
        match self.shared.store.get(stream) {
            Some(s) => s.set_faults(faults),
            None => tracing::warn!(stream, "set_faults on an unknown stream"),
        }
    }

    /// Appends an in-band error fragment (tags `AWS_KINESISVIDEO_ERROR_CODE` = `code`,
    /// `AWS_KINESISVIDEO_ERROR_ID` = `id`) to a stream: every GetMedia reader that passes
    /// this point receives it, then the fragments after it. A CONTINUATION_TOKEN resume
    /// starts at the next fragment and does not replay it.
    pub fn inject_error(&self, stream: &str, code: &str, id: &str) -> Result<(), Error> {
        let target = self.stream(stream)?;
        self.shared.store.inject_error(&target, code, id);
        Ok(())
    }

    /// Starts a synthetic camera feeding `stream` (created if missing), at real time or as
    /// fast as possible, until the handle is stopped or dropped or `camera.frames` are done.
    pub fn spawn_camera(&self, stream: &str, camera: CameraConfig) -> CameraHandle {
        if let Err(e) = self.create_stream(stream) {
            return CameraHandle::failed(e);
        }
        let realtime = camera.realtime;
        let start_ms = now_ms();
        let encoder = match camera::Camera::new(camera, start_ms) {
            Ok(encoder) => encoder,
            Err(e) => return CameraHandle::failed(e),
        };
        let shared = self.shared.clone();
        let name = stream.to_owned();
        let mut ingester = Ingester::new(TimecodeType::Absolute, start_ms);
        CameraHandle::spawn(CameraHandle::camera_step(encoder, realtime, move |bytes| {
            let target = shared.store.get(&name).ok_or_else(|| Error::StreamNotFound(name.clone()))?;
            for ingested in ingester.feed(bytes) {
                if let Ingested::Fragment(new) = ingested? {
                    shared.store.append(&target, new)?;
                }
            }
            Ok(())
        }))
    }

    /// Stops the server: open GetMedia and PutMedia responses end, then the listener
    /// closes. Cameras stop when their handles are dropped.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let server = lock(&self.server).take();
        if let Some(server) = server
            && tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err()
        {
            tracing::warn!("server did not stop in time");
        }
    }
}

/// Cuts a whole producer stream into fragments. A stream cut short (a recording that
/// ends inside a Cluster) keeps the fragments before the cut.
fn cut(producer_mkv: Bytes) -> Result<Vec<NewFragment>, Error> {
    let mut ingester = Ingester::new(TimecodeType::Absolute, now_ms());
    let mut results = ingester.feed(producer_mkv);
    results.extend(ingester.finish());
    let mut fragments = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(Ingested::Fragment(fragment)) => fragments.push(fragment),
            Ok(Ingested::Buffering { .. }) => {}
            Err(Error::Mkv(e @ kvs_mkv::Error::Truncated { .. })) => {
                tracing::warn!(error = %e, "the producer stream ends inside an element: its last part is dropped");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(fragments)
}
