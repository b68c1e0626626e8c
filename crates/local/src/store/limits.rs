//! The per-stream limits AWS puts on its data-plane calls: calls per second and open
//! connections, counted apart for each [`DataApi`], and the planned refusals of
//! [`Faults`] a call consumes ([`Refusal`]).
//!
//! Not here: the numbers (the [`Config`](crate::Config) the handlers pass), the answer
//! a refused call gets (the handlers, from [`RefuseWith`]), and the limits of the whole
//! server (connections and bytes per second, in `server` and the handlers).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Stream, lock};
use crate::faults::{Faults, RefuseWith};

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

impl Refusal {
    /// Consumes one planned refusal of this kind from `faults`, if any is left.
    pub(super) fn take(self, faults: &mut Faults) -> Option<RefuseWith> {
        let slot = match self {
            Refusal::MediaRead => &mut faults.refuse_next,
            Refusal::PutMedia => &mut faults.refuse_next_put_media,
            Refusal::Control => &mut faults.refuse_next_control,
        };
        let (count, with) = (*slot)?;
        *slot = (count > 1).then_some((count - 1, with));
        (count > 0).then_some(with)
    }
}

/// The calls of one stream, per [`DataApi`].
#[derive(Debug, Default)]
pub(super) struct Limits([CallLimits; 3]);

/// The calls of one API on one stream.
#[derive(Debug, Default)]
struct CallLimits {
    /// When the calls of the last second were admitted.
    recent: VecDeque<Instant>,
    /// Connections open.
    active: u32,
}

impl Limits {
    /// Admits a call of `api` at `now` if fewer than `tps` were admitted in the second
    /// before and fewer than `connections` are open; it then counts as open until
    /// [`release`](Self::release).
    pub(super) fn admit(
        &mut self,
        api: DataApi,
        now: Instant,
        tps: u32,
        connections: u32,
    ) -> Result<(), RefuseWith> {
        let limits = &mut self.0[api.index()];
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
        Ok(())
    }

    /// A connection of `api` admitted before has closed.
    pub(super) fn release(&mut self, api: DataApi) {
        let limits = &mut self.0[api.index()];
        limits.active = limits.active.saturating_sub(1);
    }
}

/// Holds one connection slot of a [`DataApi`] until dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot(Arc<Stream>, DataApi);

impl ConnectionSlot {
    /// The slot of a call [`Limits::admit`] admitted.
    pub(super) fn new(stream: Arc<Stream>, api: DataApi) -> Self {
        Self(stream, api)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        lock(&self.0.limits).release(self.1);
        if self.1 == DataApi::GetMedia {
            self.0.metrics.readers.decrement(1.0);
        }
    }
}
