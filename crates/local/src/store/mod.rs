//! The store: streams by name, each with its log of fragments and in-band errors, live
//! notification of readers, and (when asked) the directory that makes them survive a
//! restart. [`Store`] and [`Stream`] tie together the concepts of the submodules:
//! - `log`: a stream's entries in order, where a reader stands, retention;
//! - `numbering`: the 48-digit fragment numbers and server timestamps;
//! - `disk`: the directory format, atomic writes, tombstones and recovery;
//! - `limits`: AWS's per-stream call limits and the planned refusals of [`Faults`].
//!
//! Two helpers live here because the store is what they guard first: [`valid_stream_name`]
//! is the rule on the store's keys (replay checks its names up front with it), and
//! [`lock`] takes the store's mutexes, most of the crate's. `lock` ignores poisoning, which
//! is sound only for critical sections of a few assignments (a panic cannot leave one
//! half done): every user of it, here or elsewhere in the crate, keeps to that.
//!
//! Not here: HTTP (handlers in `api` read from the store), cutting media into fragments
//! (ingestion: PutMedia, files, the camera, replay append to it), and the wall clock
//! (`clock`, re-exported as `now_ms` for the callers that take it with the store).

mod disk;
mod limits;
mod log;
mod numbering;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kvs_mkv::FragmentNumber;
use tokio::sync::watch;

use self::limits::Limits;
pub(crate) use self::limits::{ConnectionSlot, DataApi, Refusal};
use self::log::Log;
pub(crate) use self::log::{Entry, Next, StoredFragment};
use self::numbering::Numbering;
use crate::api::errors::InBandErrorId;
pub(crate) use crate::clock::now_ms;
use crate::faults::{Faults, RefuseWith};
use crate::ingest::NewFragment;
use crate::metrics::StreamMetrics;
use crate::{Config, Error};

/// Locks a mutex, going on with the data if a holder panicked (the data stays consistent:
/// every critical section under it is a few assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether KVS would accept this stream name.
pub(crate) fn valid_stream_name(name: &str) -> bool {
    (1..=256).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Identity of a stream, as DescribeStream reports it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StreamInfo {
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
    pub version: String,
}

/// One stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub info: StreamInfo,
    log: Mutex<Log>,
    end: watch::Sender<u64>,
    faults: Mutex<Faults>,
    limits: Mutex<Limits>,
    /// Held while a fragment is numbered, written and published, so that concurrent
    /// producers on one stream publish their fragments in number order.
    appending: Mutex<()>,
    deleted: AtomicBool,
    dir: Option<PathBuf>,
    metrics: StreamMetrics,
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
        lock(&self.log).next(seq)
    }

    /// Sequence number of the oldest entry kept.
    pub fn earliest_seq(&self) -> u64 {
        lock(&self.log).earliest_seq()
    }

    /// Sequence number the next entry will get: the live edge.
    pub fn live_seq(&self) -> u64 {
        lock(&self.log).live_seq()
    }

    /// The first fragment whose number is `>= number` (`inclusive`) or `> number`;
    /// in-band errors before it are skipped. The live edge if there is none.
    pub fn seq_from_number(&self, number: &FragmentNumber, inclusive: bool) -> u64 {
        lock(&self.log).seq_from_number(number, inclusive)
    }

    /// The first fragment that holds or follows the time `ms` (producer or server clock).
    pub fn seq_from_time(&self, ms: i64, producer: bool) -> u64 {
        lock(&self.log).seq_from_time(ms, producer)
    }

    /// Every fragment kept, oldest first.
    pub fn fragments(&self) -> Vec<Arc<StoredFragment>> {
        lock(&self.log).fragments()
    }

    /// The fragment with this number, if kept.
    pub fn find(&self, number: &FragmentNumber) -> Option<Arc<StoredFragment>> {
        lock(&self.log).find(number)
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
        kind.take(&mut lock(&self.faults))
    }

    /// Admits a call under the per-stream rate and connection limits of its API.
    pub fn admit(
        self: &Arc<Self>,
        api: DataApi,
        tps: u32,
        connections: u32,
    ) -> Result<ConnectionSlot, RefuseWith> {
        lock(&self.limits).admit(api, Instant::now(), tps, connections)?;
        if api == DataApi::GetMedia {
            self.metrics.readers.increment(1.0);
        }
        Ok(ConnectionSlot::new(self.clone(), api))
    }

    /// Appends an entry to the log and wakes the readers.
    fn push(&self, entry: Entry, bytes: u64) {
        let end = lock(&self.log).push(entry, bytes);
        self.end.send_replace(end);
    }
}

/// All streams, and the fragment numbering they share.
#[derive(Debug)]
pub(crate) struct Store {
    streams: Mutex<HashMap<String, Arc<Stream>>>,
    numbering: Mutex<Numbering>,
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
            numbering: Mutex::default(),
            dir: config.data_dir.as_ref().map(|d| d.join("streams")),
            region: config.region.clone(),
            retention_bytes: config.retention_bytes,
            retention_age: config.retention_age,
        };
        if let Some(dir) = &store.dir {
            disk::create_root(dir)?;
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
            Some(root) => Some(disk::create_stream_dir(root, &info)?),
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
            let tombstone = stream.dir.as_deref().map(|dir| disk::bury(name, dir)).transpose()?;
            streams.remove(name);
            stream.deleted.store(true, Ordering::Release);
            tombstone
        };
        drop(streams);
        let deleted = InBandErrorId::StreamWriteError;
        stream.push(Entry::Error { code: deleted.name().into(), id: deleted.id().to_string() }, 0);
        if let Some(tombstone) = tombstone {
            disk::remove_tombstone(name, &tombstone);
        }
        Ok(stream)
    }

    /// Numbers, timestamps, persists and publishes a new fragment.
    pub fn append(&self, stream: &Stream, new: NewFragment) -> Result<Arc<StoredFragment>, Error> {
        let _appending = lock(&stream.appending);
        let (number, server_ms) = lock(&self.numbering).next(now_ms());
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
            disk::write_fragment(dir, &fragment)?;
        }
        stream.push(Entry::Fragment(fragment.clone()), fragment.size());
        stream.metrics.fragments.increment(1);
        stream.metrics.bytes.increment(fragment.size());
        let dropped = lock(&stream.log).apply_retention(self.retention_bytes, self.retention_age, server_ms);
        for old in dropped {
            if let Some(dir) = &stream.dir {
                disk::remove_fragment(dir, &old.number);
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
    fn recover(&self, root: &std::path::Path) -> Result<(), Error> {
        let mut found: Vec<(StreamInfo, PathBuf)> = Vec::new();
        for dir in disk::stream_dirs(root)? {
            let Some(info) = disk::read_stream_info(&dir) else { continue };
            if let Some((_, first)) = found.iter().find(|(other, _)| other.name == info.name) {
                return Err(Error::DuplicateStream { name: info.name, first: first.clone(), second: dir });
            }
            found.push((info, dir));
        }
        let mut max_counter = 0u128;
        let mut last_server = 0i64;
        for (info, dir) in found {
            let stream = Stream::new(info, Some(dir.clone()));
            for f in disk::read_fragments(&dir)? {
                max_counter = max_counter.max(numbering::counter_of(&f.number));
                last_server = last_server.max(f.server_ms);
                let size = f.size();
                stream.push(Entry::Fragment(Arc::new(f)), size);
            }
            lock(&self.streams).insert(stream.info.name.clone(), Arc::new(stream));
        }
        *lock(&self.numbering) = Numbering::after(max_counter, last_server);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_checked() {
        assert!(valid_stream_name("cam-1_a.b"));
        assert!(!valid_stream_name(""));
        assert!(!valid_stream_name("a/b"));
        assert!(!valid_stream_name(&"a".repeat(257)));
    }
}
