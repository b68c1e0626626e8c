//! The splitter's input buffer: zero-copy while the input arrives as one chunk, one copy
//! (memcpy) when a fragment spans chunks.

use bytes::{Bytes, BytesMut};

/// Unconsumed input. `Shared` holds a chunk as given; it turns `Owned` only when a second
/// chunk must be appended to a remainder.
#[derive(Debug)]
pub(crate) enum Buffer {
    Shared(Bytes),
    Owned(BytesMut),
}

impl Buffer {
    pub(crate) fn new() -> Self {
        Self::Shared(Bytes::new())
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Shared(b) => b,
            Self::Owned(b) => b,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Appends a chunk. `capacity_hint` is the expected size of the fragment being built,
    /// so that a spanning fragment is copied once rather than regrown.
    #[inline]
    pub(crate) fn push(&mut self, chunk: Bytes, capacity_hint: usize) {
        // The common case with small chunks: room left in the buffer being filled.
        if let Self::Owned(owned) = self
            && owned.capacity() - owned.len() >= chunk.len()
            && !owned.is_empty()
        {
            owned.extend_from_slice(&chunk);
            return;
        }
        self.push_slow(chunk, capacity_hint);
    }

    fn push_slow(&mut self, chunk: Bytes, capacity_hint: usize) {
        if self.len() == 0 {
            *self = Self::Shared(chunk);
            return;
        }
        if let Self::Shared(shared) = self {
            let mut owned = BytesMut::with_capacity(capacity_hint.max(shared.len() + chunk.len()));
            owned.extend_from_slice(shared);
            *self = Self::Owned(owned);
        }
        if let Self::Owned(owned) = self {
            if owned.capacity() - owned.len() < chunk.len() {
                owned.reserve(chunk.len().max(capacity_hint.saturating_sub(owned.len())));
            }
            owned.extend_from_slice(&chunk);
        }
    }

    /// Removes and returns the first `n` bytes without copying them.
    pub(crate) fn take(&mut self, n: usize) -> Bytes {
        match self {
            Self::Shared(b) => b.split_to(n),
            Self::Owned(b) => b.split_to(n).freeze(),
        }
    }
}
