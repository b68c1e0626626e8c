//! What a fleet hands the application: [`Event`]s, among them [`Delivery`]s (a stream's
//! fragment, with the acknowledgement that makes checkpoints safe).
//!
//! A delivery is handled when it is dropped: the stream's next fragment is handed out
//! only then, and the checkpoint names it only then. Keep it for as long as the fragment
//! is being worked on.

use std::fmt;
use std::sync::Arc;

use kvs_mkv::Fragment;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::lease::LeaseEvent;

/// One thing that happened in a fleet.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A fragment of one of the fleet's streams.
    Fragment(Delivery),
    /// A lease changed hands (fleets on DynamoDB only).
    Lease(LeaseEvent),
    /// A stream's read failed; that stream backs off and starts again alone (in-band KVS
    /// errors do not even stop it).
    Error {
        /// The stream.
        stream: String,
        /// What happened.
        error: kvs_consumer::Error,
    },
}

/// A fragment of one stream, handed to the application. Dropping it marks it handled.
pub struct Delivery {
    pub(crate) stream: Arc<str>,
    pub(crate) fragment: Fragment,
    pub(crate) redelivered: bool,
    /// Set when the application took it from the fleet: a delivery dropped before that
    /// (at shutdown) was never handled.
    pub(crate) received: bool,
    pub(crate) done: Option<oneshot::Sender<Outcome>>,
    pub(crate) _budget: OwnedSemaphorePermit,
}

impl Delivery {
    /// The stream it comes from.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The fragment.
    pub fn fragment(&self) -> &Fragment {
        &self.fragment
    }

    /// Whether a worker may have handed this fragment out before (after a crash or a
    /// lease taken from a dead worker): handle it idempotently.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Gives the fragment back unhandled (its handler failed): it is not checkpointed,
    /// and it comes again at once, flagged [`redelivered`](Self::redelivered), as do the
    /// stream's later fragments after it. Dropping a delivery instead marks it handled.
    pub fn abandon(mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(Outcome::Abandoned);
        }
    }

    pub(crate) fn mark_received(&mut self) {
        self.received = true;
    }
}

/// How a delivery ended, as its stream task learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The application dropped it: handled.
    Handled,
    /// The application gave it back with [`Delivery::abandon`].
    Abandoned,
    /// It was dropped before the application took it (at shutdown).
    NotReceived,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("stream", &self.stream)
            .field("fragment_number", &self.fragment.kvs().fragment_number)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            // The stream task may be gone (its lease lost): nothing to tell then.
            let _ = done.send(if self.received { Outcome::Handled } else { Outcome::NotReceived });
        }
    }
}
