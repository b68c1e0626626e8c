//! Integration tests of kvs-consumer: one binary, one module per area.

// Helpers: a local KVS server on loopback and a consumer configured for it.
mod util;

// Live GetMedia over real HTTP: selectors, exactly-once across cuts, throttling, errors.
mod live;

// Archive: ListFragments (unsorted pages) + GetMediaForFragmentList in batches.
mod archive;

// The three ways in (stream, iterator, thread with callbacks), back-pressure, stop.
mod delivery;

// Local byte sources: the real AWS captures in kvs-samples.
mod reader;
