//! What a checkpoint is ([`Checkpoint`]) and where checkpoints live ([`CheckpointStore`]).
//!
//! A checkpoint is written per stream, only after the handler returned for the fragment it
//! names. It also records what was handed out and not yet known to be handled
//! (`in_flight`, `horizon_ms`), so that after a crash the fragments that may be seen a
//! second time are flagged `redelivered` (see `tracker`). Stores do I/O; deciding when to
//! write is the tracker's job.

use std::future::Future;

use kvs_mkv::FragmentNumber;

use crate::Error;

/// The last fragment of a stream whose handler returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Its fragment number.
    pub fragment_number: FragmentNumber,
    /// Its continuation token (a GetMedia `CONTINUATION_TOKEN` resume starts right after it).
    pub continuation_token: String,
    /// Its producer timestamp, ms since the epoch.
    pub producer_timestamp_ms: Option<i64>,
    /// Its server timestamp, ms since the epoch.
    pub server_timestamp_ms: Option<i64>,
}

/// Where a stream's reading stands, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last handled fragment; reading resumes right after it.
    pub handled: Option<Handled>,
    /// A fragment handed to the handler before this was written and not known to be
    /// handled: if it comes again it is flagged `redelivered` (policy: every fragment).
    pub in_flight: Option<FragmentNumber>,
    /// Fragments after `handled` with a server timestamp at or before this (ms since the
    /// epoch) may have been handed out already: if they come again they are flagged
    /// `redelivered` (policy: every N seconds).
    pub horizon_ms: Option<i64>,
}

impl Checkpoint {
    /// Whether a fragment delivered after a restart from this checkpoint may have been
    /// handed out before (and so is flagged `redelivered`).
    pub fn may_have_delivered(&self, number: &FragmentNumber, server_timestamp_ms: Option<i64>) -> bool {
        if let Some(handled) = &self.handled
            && number <= &handled.fragment_number
        {
            // The consumer never delivers these: it resumes after `handled`.
            return false;
        }
        self.in_flight.as_ref().is_some_and(|pending| number <= pending)
            || matches!((self.horizon_ms, server_timestamp_ms), (Some(h), Some(t)) if t <= h)
    }
}

/// Per-stream checkpoints, durable across restarts.
///
/// Implementations: [`SqliteStore`](crate::SqliteStore) (one machine, the default) and the
/// DynamoDB lease table (many machines; there a save is also a lease renewal, and fails with
/// [`Error::LeaseLost`] once another worker owns the stream).
pub trait CheckpointStore: Send + Sync + 'static {
    /// The checkpoint of `stream`, if one was ever saved.
    fn load(&self, stream: &str) -> impl Future<Output = Result<Option<Checkpoint>, Error>> + Send;

    /// Saves the checkpoint of `stream`, replacing the last one.
    fn save(&self, stream: &str, checkpoint: &Checkpoint) -> impl Future<Output = Result<(), Error>> + Send;
}
