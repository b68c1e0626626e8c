//! The store: streams, their fragments in order, fragment numbering, retention, live
//! notification, and (when asked) the directory that makes them survive a restart.
//!
//! It knows nothing of HTTP: handlers in `api` read from it, and ingestion (PutMedia,
//! files, the camera) appends to it.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kvs_mkv::FragmentNumber;
use tokio::sync::watch;

use crate::api::errors::InBandErrorId;
use crate::faults::{Faults, RefuseWith};
use crate::ingest::NewFragment;
use crate::metrics::StreamMetrics;
use crate::{Config, Error};

/// Fragment numbers are this prefix followed by a 38-digit counter: 48 digits, like AWS's.
const NUMBER_PREFIX: &str = "9134385233";
const COUNTER_DIGITS: usize = 38;
const FRAGMENT_MAGIC: &[u8; 8] = b"KVSFRAG1";
const FRAGMENT_EXT: &str = "frag";
/// A stream directory renamed to `<dir>.deleted-<n>` is a tombstone: the stream is
/// deleted, and what is left of the directory is removed at the next start.
const TOMBSTONE_MARK: &str = ".deleted-";
/// Free names tried for a stream directory or a tombstone before giving up.
const MAX_NAME_TRIES: u32 = 1000;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Locks a mutex, going on with the data if a holder panicked (the data stays consistent:
/// every critical section here is a few assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether KVS would accept this stream name.
pub(crate) fn valid_stream_name(name: &str) -> bool {
    (1..=256).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// One fragment as stored.
#[derive(Debug)]
pub(crate) struct StoredFragment {
    pub number: FragmentNumber,
    pub producer_ms: i64,
    pub server_ms: i64,
    pub duration_ms: u64,
    pub head: Bytes,
    /// The Cluster's first bytes when the server rebuilt them (a replay re-stamps the
    /// Timecode), else empty: the Cluster is `cluster_start` followed by `cluster`.
    pub cluster_start: Bytes,
    /// The Cluster, or its rest after `cluster_start` (shared with the other fragments
    /// of a replay).
    pub cluster: Bytes,
}

impl StoredFragment {
    /// Bytes of media (producer header and Cluster).
    pub fn size(&self) -> u64 {
        (self.head.len() + self.cluster_start.len() + self.cluster.len()) as u64
    }
}

/// What a stream's log holds, in order.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A fragment.
    Fragment(Arc<StoredFragment>),
    /// An in-band error, sent to readers that pass it.
    Error { code: String, id: String },
}

/// Identity of a stream, as DescribeStream reports it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StreamInfo {
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
    pub version: String,
}

#[derive(Debug, Default)]
struct Log {
    entries: VecDeque<(u64, Entry)>,
    next_seq: u64,
    bytes: u64,
}

#[derive(Debug, Default)]
struct CallLimits {
    recent: VecDeque<Instant>,
    active: u32,
}

/// The calls that AWS limits per stream, each counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataApi {
    GetMedia,
    GetMediaForFragmentList,
    PutMedia,
}

impl DataApi {
    fn index(self) -> usize {
        self as usize
    }
}

/// Which planned refusal of [`Faults`] a call consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// GetMedia and GetMediaForFragmentList.
    MediaRead,
    PutMedia,
    Control,
}

/// One stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub info: StreamInfo,
    log: Mutex<Log>,
    end: watch::Sender<u64>,
    faults: Mutex<Faults>,
    limits: Mutex<[CallLimits; 3]>,
    /// Held while a fragment is numbered, written and published, so that concurrent
    /// producers on one stream publish their fragments in number order.
    appending: Mutex<()>,
    deleted: AtomicBool,
    dir: Option<PathBuf>,
    metrics: StreamMetrics,
}

/// Where a reader stands in a stream's log.
#[derive(Debug)]
pub(crate) enum Next {
    /// The entry at this sequence number.
    Entry(u64, Entry),
    /// Nothing yet: wait for the log to grow past this sequence number.
    Wait,
}

/// Holds one connection slot of a [`DataApi`] until dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot(Arc<Stream>, DataApi);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut limits = lock(&self.0.limits);
        let limits = &mut limits[self.1.index()];
        limits.active = limits.active.saturating_sub(1);
        if self.1 == DataApi::GetMedia {
            self.0.metrics.readers.decrement(1.0);
        }
    }
}

impl Stream {
    fn new(info: StreamInfo, dir: Option<PathBuf>) -> Self {
        let info_name = info.name.clone();
        Self {
            info,
            log: Mutex::default(),
            end: watch::Sender::new(0),
            faults: Mutex::default(),
            limits: Mutex::default(),
            appending: Mutex::new(()),
            deleted: AtomicBool::new(false),
            dir,
            metrics: StreamMetrics::new(&info_name),
        }
    }

    /// Whether the stream was deleted (readers holding it must stop).
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// A receiver woken whenever the log grows or the stream is deleted.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.end.subscribe()
    }

    /// The first entry at or after `seq`.
    pub fn next(&self, seq: u64) -> Next {
        let log = lock(&self.log);
        let first = log.entries.front().map_or(log.next_seq, |(s, _)| *s);
        let seq = seq.max(first);
        match log.entries.get((seq - first) as usize) {
            Some((s, entry)) => Next::Entry(*s, entry.clone()),
            None => Next::Wait,
        }
    }

    /// Sequence number of the oldest entry kept.
    pub fn earliest_seq(&self) -> u64 {
        let log = lock(&self.log);
        log.entries.front().map_or(log.next_seq, |(s, _)| *s)
    }

    /// Sequence number the next entry will get: the live edge.
    pub fn live_seq(&self) -> u64 {
        lock(&self.log).next_seq
    }

    /// The first fragment whose number is `>= number` (`inclusive`) or `> number`;
    /// in-band errors before it are skipped. The live edge if there is none.
    pub fn seq_from_number(&self, number: &FragmentNumber, inclusive: bool) -> u64 {
        let log = lock(&self.log);
        log.entries
            .iter()
            .find_map(|(seq, e)| match e {
                Entry::Fragment(f) if f.number > *number || (inclusive && f.number == *number) => Some(*seq),
                _ => None,
            })
            .unwrap_or(log.next_seq)
    }

    /// The first fragment that holds or follows the time `ms` (producer or server clock).
    pub fn seq_from_time(&self, ms: i64, producer: bool) -> u64 {
        let log = lock(&self.log);
        log.entries
            .iter()
            .find_map(|(seq, e)| match e {
                Entry::Fragment(f) => {
                    let start = if producer { f.producer_ms } else { f.server_ms };
                    (start.saturating_add(f.duration_ms as i64) > ms).then_some(*seq)
                }
                Entry::Error { .. } => None,
            })
            .unwrap_or(log.next_seq)
    }

    /// Every fragment kept, oldest first.
    pub fn fragments(&self) -> Vec<Arc<StoredFragment>> {
        lock(&self.log)
            .entries
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Fragment(f) => Some(f.clone()),
                Entry::Error { .. } => None,
            })
            .collect()
    }

    /// The fragment with this number, if kept.
    pub fn find(&self, number: &FragmentNumber) -> Option<Arc<StoredFragment>> {
        lock(&self.log).entries.iter().find_map(|(_, e)| match e {
            Entry::Fragment(f) if f.number == *number => Some(f.clone()),
            _ => None,
        })
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Replaces the faults.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Consumes one planned refusal of this kind of call, if any is left.
    pub fn take_refusal(&self, kind: Refusal) -> Option<RefuseWith> {
        let mut faults = lock(&self.faults);
        let slot = match kind {
            Refusal::MediaRead => &mut faults.refuse_next,
            Refusal::PutMedia => &mut faults.refuse_next_put_media,
            Refusal::Control => &mut faults.refuse_next_control,
        };
        let (count, with) = (*slot)?;
        *slot = (count > 1).then_some((count - 1, with));
        (count > 0).then_some(with)
    }

    /// Admits a call under the per-stream rate and connection limits of its API.
    pub fn admit(
        self: &Arc<Self>,
        api: DataApi,
        tps: u32,
        connections: u32,
    ) -> Result<ConnectionSlot, RefuseWith> {
        let mut limits = lock(&self.limits);
        let limits = &mut limits[api.index()];
        let now = Instant::now();
        while limits.recent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
            limits.recent.pop_front();
        }
        if limits.recent.len() >= tps as usize {
            return Err(RefuseWith::ClientLimitExceeded);
        }
        if limits.active >= connections {
            return Err(RefuseWith::ConnectionLimitExceeded);
        }
        limits.recent.push_back(now);
        limits.active += 1;
        if api == DataApi::GetMedia {
            self.metrics.readers.increment(1.0);
        }
        Ok(ConnectionSlot(self.clone(), api))
    }

    fn push(&self, entry: Entry, bytes: u64) {
        let mut log = lock(&self.log);
        let seq = log.next_seq;
        log.entries.push_back((seq, entry));
        log.next_seq += 1;
        log.bytes += bytes;
        let end = log.next_seq;
        drop(log);
        self.end.send_replace(end);
    }

    /// Drops the oldest fragments beyond the retention limits; returns those dropped.
    fn apply_retention(&self, max_bytes: u64, max_age: Duration, now: i64) -> Vec<Arc<StoredFragment>> {
        let mut log = lock(&self.log);
        let mut dropped = Vec::new();
        let oldest_ms = now.saturating_sub(max_age.as_millis() as i64);
        // The newest entry always stays, so a live reader never misses it.
        while log.entries.len() > 1 {
            let too_much = log.bytes > max_bytes;
            let size = match log.entries.front() {
                Some((_, Entry::Fragment(f))) if too_much || f.server_ms < oldest_ms => {
                    dropped.push(f.clone());
                    f.size()
                }
                // An error at the front goes with the fragments dropped before it.
                Some((_, Entry::Error { .. })) if too_much || !dropped.is_empty() => 0,
                _ => break,
            };
            log.bytes -= size;
            log.entries.pop_front();
        }
        dropped
    }
}

/// All streams, and the fragment number counter they share.
#[derive(Debug)]
pub(crate) struct Store {
    streams: Mutex<HashMap<String, Arc<Stream>>>,
    counter: Mutex<(u128, i64)>,
    dir: Option<PathBuf>,
    region: String,
    retention_bytes: u64,
    retention_age: Duration,
}

impl Store {
    /// An empty store, or the one recovered from `config.data_dir`.
    pub fn open(config: &Config) -> Result<Self, Error> {
        let store = Self {
            streams: Mutex::default(),
            counter: Mutex::new((0, 0)),
            dir: config.data_dir.as_ref().map(|d| d.join("streams")),
            region: config.region.clone(),
            retention_bytes: config.retention_bytes,
            retention_age: config.retention_age,
        };
        if let Some(dir) = &store.dir {
            fs::create_dir_all(dir)?;
            store.recover(dir)?;
        }
        Ok(store)
    }

    /// Creates a stream; `Ok(None)` if it exists already.
    pub fn create(&self, name: &str) -> Result<Option<Arc<Stream>>, Error> {
        if !valid_stream_name(name) {
            return Err(Error::InvalidStreamName(name.chars().take(300).collect()));
        }
        let mut streams = lock(&self.streams);
        if streams.contains_key(name) {
            return Ok(None);
        }
        let created_ms = now_ms();
        let info = StreamInfo {
            name: name.to_owned(),
            arn: format!("arn:aws:kinesisvideo:{}:000000000000:stream/{name}/{created_ms}", self.region),
            created_ms,
            version: format!("v{created_ms}"),
        };
        let dir = match &self.dir {
            Some(root) => Some(create_stream_dir(root, &info)?),
            None => None,
        };
        let stream = Arc::new(Stream::new(info, dir));
        streams.insert(name.to_owned(), stream.clone());
        Ok(Some(stream))
    }

    /// The stream of this name.
    pub fn get(&self, name: &str) -> Option<Arc<Stream>> {
        lock(&self.streams).get(name).cloned()
    }

    /// The stream of this ARN.
    pub fn get_by_arn(&self, arn: &str) -> Option<Arc<Stream>> {
        lock(&self.streams).values().find(|s| s.info.arn == arn).cloned()
    }

    /// Every stream, by name.
    pub fn list(&self) -> Vec<Arc<Stream>> {
        let mut all: Vec<_> = lock(&self.streams).values().cloned().collect();
        all.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        all
    }

    /// Deletes a stream: its readers get an in-band error and stop.
    ///
    /// With a directory store, the deletion is one rename of the stream's directory to a
    /// tombstone: if the rename fails, the stream stays whole and
    /// [`Error::DeleteFailed`] is returned; once it is done, a crash cannot bring the
    /// stream back, since [`recover`](Self::recover) removes tombstones.
    pub fn delete(&self, name: &str) -> Result<Arc<Stream>, Error> {
        let mut streams = lock(&self.streams);
        let stream = streams.get(name).cloned().ok_or_else(|| Error::StreamNotFound(name.to_owned()))?;
        let tombstone = {
            // No fragment is written into the directory while it moves.
            let _appending = lock(&stream.appending);
            let tombstone = stream.dir.as_deref().map(|dir| bury(name, dir)).transpose()?;
            streams.remove(name);
            stream.deleted.store(true, Ordering::Release);
            tombstone
        };
        drop(streams);
        let deleted = InBandErrorId::StreamWriteError;
        stream.push(Entry::Error { code: deleted.name().into(), id: deleted.id().to_string() }, 0);
        if let Some(tombstone) = tombstone
            && let Err(e) = fs::remove_dir_all(&tombstone)
        {
            tracing::warn!(
                stream = name,
                dir = %tombstone.display(),
                error = %e,
                "could not remove a deleted stream's tombstone: it goes at the next start"
            );
        }
        Ok(stream)
    }

    /// Numbers, timestamps, persists and publishes a new fragment.
    pub fn append(&self, stream: &Stream, new: NewFragment) -> Result<Arc<StoredFragment>, Error> {
        let _appending = lock(&stream.appending);
        let (number, server_ms) = {
            let mut counter = lock(&self.counter);
            let server_ms = now_ms().max(counter.1);
            // Strictly increasing, never consecutive: a jump of 1,000 to 1,999 at least,
            // and never behind the clock.
            let step = 1000 + (counter.0 % 997);
            let jitter =
                u128::from(splitmix64(counter.0 as u64 ^ server_ms as u64)) % 10_000_000_000_000_000_000;
            let next = (counter.0 + step).max(server_ms as u128 * 100_000_000_000_000_000_000 + jitter);
            *counter = (next, server_ms);
            (number_of(next), server_ms)
        };
        let fragment = Arc::new(StoredFragment {
            number,
            producer_ms: new.producer_ms,
            server_ms,
            duration_ms: new.duration_ms,
            head: new.head,
            cluster_start: new.cluster_start,
            cluster: new.cluster,
        });
        if let Some(dir) = &stream.dir {
            write_fragment(dir, &fragment)?;
        }
        stream.push(Entry::Fragment(fragment.clone()), fragment.size());
        stream.metrics.fragments.increment(1);
        stream.metrics.bytes.increment(fragment.size());
        for old in stream.apply_retention(self.retention_bytes, self.retention_age, server_ms) {
            if let Some(dir) = &stream.dir {
                let _ = fs::remove_file(dir.join(format!("{}.{FRAGMENT_EXT}", old.number)));
            }
        }
        Ok(fragment)
    }

    /// Appends an in-band error to a stream (not persisted).
    pub fn inject_error(&self, stream: &Stream, code: &str, id: &str) {
        stream.push(Entry::Error { code: code.to_owned(), id: id.to_owned() }, 0);
    }

    /// Loads every stream of the directory store. Tombstones are removed, a stream whose
    /// `stream.json` cannot be read is skipped (logged as an error), and two directories
    /// holding one stream name stop the start ([`Error::DuplicateStream`]).
    fn recover(&self, root: &Path) -> Result<(), Error> {
        let mut dirs =
            fs::read_dir(root)?.map(|entry| entry.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
        // Sorted, so that which of two duplicates is named first does not depend on the
        // file system.
        dirs.sort();
        let mut found: Vec<(StreamInfo, PathBuf)> = Vec::new();
        for dir in dirs {
            if is_tombstone(&dir) {
                tracing::info!(dir = %dir.display(), "removing the remains of a deleted stream");
                if let Err(e) = fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not remove a deleted stream's tombstone");
                }
                continue;
            }
            let Some(info) = read_stream_info(&dir) else { continue };
            if let Some((_, first)) = found.iter().find(|(other, _)| other.name == info.name) {
                return Err(Error::DuplicateStream { name: info.name, first: first.clone(), second: dir });
            }
            found.push((info, dir));
        }
        let mut max_counter = 0u128;
        let mut last_server = 0i64;
        for (info, dir) in found {
            let stream = Stream::new(info, Some(dir.clone()));
            let mut numbers = Vec::new();
            for file in fs::read_dir(&dir)? {
                let path = file?.path();
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
                match path.extension().and_then(|e| e.to_str()) {
                    Some(FRAGMENT_EXT) => match stem.parse::<FragmentNumber>() {
                        Ok(n) => numbers.push((n, path)),
                        Err(_) => tracing::warn!(file = %path.display(), "not a fragment file, ignored"),
                    },
                    Some("tmp") => {
                        tracing::warn!(file = %path.display(), "removing a torn write");
                        let _ = fs::remove_file(&path);
                    }
                    _ => {}
                }
            }
            numbers.sort();
            for (number, path) in numbers {
                match read_fragment(&path, number) {
                    Ok(f) => {
                        max_counter = max_counter.max(counter_of(&f.number));
                        last_server = last_server.max(f.server_ms);
                        let size = f.size();
                        stream.push(Entry::Fragment(Arc::new(f)), size);
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "removing an unreadable fragment");
                        let _ = fs::remove_file(&path);
                    }
                }
            }
            lock(&self.streams).insert(stream.info.name.clone(), Arc::new(stream));
        }
        *lock(&self.counter) = (max_counter, last_server);
        Ok(())
    }
}

/// The identity stored in a stream directory's `stream.json`; `None`, logged, if there is
/// none or it cannot be read: that directory is left alone and the other streams load.
fn read_stream_info(dir: &Path) -> Option<StreamInfo> {
    let path = dir.join("stream.json");
    let json = match fs::read(&path) {
        Ok(json) => json,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %dir.display(), "directory without stream.json ignored");
            return None;
        }
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "unreadable stream.json: stream not loaded");
            return None;
        }
    };
    match serde_json::from_slice(&json) {
        Ok(info) => Some(info),
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "corrupt stream.json: stream not loaded");
            None
        }
    }
}

/// Whether this is a stream directory renamed by [`bury`].
fn is_tombstone(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.rsplit_once(TOMBSTONE_MARK)
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Renames a stream's directory to a free tombstone name beside it (an atomic rename
/// within the store's root), and returns that name.
fn bury(stream: &str, dir: &Path) -> Result<PathBuf, Error> {
    let base = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tombstone_of = |n: u32| dir.with_file_name(format!("{base}{TOMBSTONE_MARK}{n}"));
    let mut n = 0;
    while n < MAX_NAME_TRIES && fs::symlink_metadata(tombstone_of(n)).is_ok() {
        n += 1;
    }
    let tombstone = tombstone_of(n);
    if let Err(source) = fs::rename(dir, &tombstone) {
        return Err(Error::DeleteFailed {
            stream: stream.to_owned(),
            dir: dir.to_owned(),
            tombstone,
            source,
        });
    }
    // Make the rename durable; it is done whatever this says.
    if let Some(Err(e)) = dir.parent().map(|root| fs::File::open(root).and_then(|f| f.sync_all())) {
        tracing::warn!(dir = %tombstone.display(), error = %e, "could not sync the store after a delete");
    }
    Ok(tombstone)
}

fn number_of(counter: u128) -> FragmentNumber {
    let text = format!("{NUMBER_PREFIX}{counter:0COUNTER_DIGITS$}");
    text.parse().unwrap_or_else(|_| unreachable!("48 digits are a fragment number"))
}

fn counter_of(number: &FragmentNumber) -> u128 {
    number.as_str().strip_prefix(NUMBER_PREFIX).and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// A stream's directory, named by the server (never by the client's input).
fn create_stream_dir(root: &Path, info: &StreamInfo) -> Result<PathBuf, Error> {
    let mut n = 0u32;
    let dir = loop {
        let candidate = root.join(format!("{}-{n}", info.created_ms));
        match fs::create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < MAX_NAME_TRIES => n += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let json = serde_json::to_vec(info).map_err(|e| Error::Store(e.to_string()))?;
    write_atomically(&dir, "stream.json", &[&json])?;
    Ok(dir)
}

/// Writes a file whole or not at all: a temporary file, fsync'd, renamed, then the
/// directory fsync'd.
fn write_atomically(dir: &Path, name: &str, parts: &[&[u8]]) -> Result<(), Error> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = fs::File::create(&tmp)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// On disk: magic, producer ms, server ms, duration ms, head length, cluster length (all
/// little-endian 8 bytes), head, cluster, then an FNV-1a checksum of everything before it.
/// A Cluster in two parts is written whole (it reads back as one).
fn write_fragment(dir: &Path, f: &StoredFragment) -> Result<(), Error> {
    let mut header = Vec::with_capacity(48);
    header.extend_from_slice(FRAGMENT_MAGIC);
    header.extend_from_slice(&f.producer_ms.to_le_bytes());
    header.extend_from_slice(&f.server_ms.to_le_bytes());
    header.extend_from_slice(&f.duration_ms.to_le_bytes());
    header.extend_from_slice(&(f.head.len() as u64).to_le_bytes());
    header.extend_from_slice(&((f.cluster_start.len() + f.cluster.len()) as u64).to_le_bytes());
    let sum = fnv1a(&[&header, &f.head, &f.cluster_start, &f.cluster]);
    write_atomically(
        dir,
        &format!("{}.{FRAGMENT_EXT}", f.number),
        &[&header, &f.head, &f.cluster_start, &f.cluster, &sum.to_le_bytes()],
    )
}

fn read_fragment(path: &Path, number: FragmentNumber) -> Result<StoredFragment, Error> {
    let bytes = Bytes::from(fs::read(path)?);
    let bad = |what: &str| Error::Store(format!("{}: {what}", path.display()));
    if bytes.len() < 56 || &bytes[..8] != FRAGMENT_MAGIC {
        return Err(bad("not a fragment file"));
    }
    let field = |i: usize| u64::from_le_bytes(bytes[8 + 8 * i..16 + 8 * i].try_into().unwrap_or_default());
    let (head_len, cluster_len) = (field(3), field(4));
    let body_end = 48u64
        .checked_add(head_len)
        .and_then(|n| n.checked_add(cluster_len))
        .ok_or_else(|| bad("bad lengths"))?;
    if body_end.checked_add(8) != Some(bytes.len() as u64) {
        return Err(bad("lengths do not match the file size"));
    }
    let body_end = body_end as usize;
    let stored = u64::from_le_bytes(bytes[body_end..].try_into().unwrap_or_default());
    if fnv1a(&[&bytes[..body_end]]) != stored {
        return Err(bad("checksum mismatch"));
    }
    let head_end = 48 + head_len as usize;
    Ok(StoredFragment {
        number,
        producer_ms: field(0) as i64,
        server_ms: field(1) as i64,
        duration_ms: field(2),
        head: bytes.slice(48..head_end),
        cluster_start: Bytes::new(),
        cluster: bytes.slice(head_end..body_end),
    })
}

/// A well-mixed 64-bit value from `x` (SplitMix64), for digits that look random.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for &b in *part {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_48_digits_and_round_trip_their_counter() {
        let n = number_of(17_000_000_000_000 * 100_000_000_000_000_000_000 + 5);
        assert_eq!(n.as_str().len(), 48);
        assert_eq!(counter_of(&n), 17_000_000_000_000 * 100_000_000_000_000_000_000 + 5);
    }

    #[test]
    fn stream_names_are_checked() {
        assert!(valid_stream_name("cam-1_a.b"));
        assert!(!valid_stream_name(""));
        assert!(!valid_stream_name("a/b"));
        assert!(!valid_stream_name(&"a".repeat(257)));
    }

    #[test]
    fn a_corrupt_fragment_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = StoredFragment {
            number: number_of(42),
            producer_ms: 1,
            server_ms: 2,
            duration_ms: 3,
            head: Bytes::from_static(b"head"),
            // A Cluster in two parts (a re-stamped replay) reads back whole.
            cluster_start: Bytes::from_static(b"clu"),
            cluster: Bytes::from_static(b"ster"),
        };
        write_fragment(dir.path(), &f).unwrap();
        let path = dir.path().join(format!("{}.frag", f.number));
        let back = read_fragment(&path, f.number.clone()).unwrap();
        assert_eq!((&back.head[..], &back.cluster[..], back.duration_ms), (&b"head"[..], &b"cluster"[..], 3));
        assert!(back.cluster_start.is_empty());
        let mut bytes = fs::read(&path).unwrap();
        bytes[50] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(read_fragment(&path, f.number.clone()).is_err());
        bytes.truncate(30);
        fs::write(&path, &bytes).unwrap();
        assert!(read_fragment(&path, f.number).is_err());
    }
}
