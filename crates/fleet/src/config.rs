//! [`FleetConfig`]: which streams a fleet reads and how. Plain data; no I/O.

use std::time::Duration;

use kvs_consumer::StartSelector;

use crate::CheckpointPolicy;

/// Which streams a fleet reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamSelection {
    /// These streams (those that do not exist are retried at every discovery).
    Names(Vec<String>),
    /// Every ACTIVE stream whose name starts with this (ListStreams).
    Prefix(String),
    /// Every ACTIVE stream of the account and region, or of the endpoint (ListStreams).
    All,
}

/// How a fleet reads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FleetConfig {
    /// Which streams.
    pub streams: StreamSelection,
    /// How each stream is read (region, endpoint, credentials, retries, queue depth). One
    /// SDK configuration and one HTTP connection pool, loaded from it, serve every stream.
    pub consumer: kvs_consumer::Config,
    /// Where a stream with no checkpoint starts (default `NOW`).
    pub initial: StartSelector,
    /// When checkpoints are written.
    pub checkpoint: CheckpointPolicy,
    /// How often ListStreams is asked again for new and deleted streams (default 60 s).
    pub discovery_interval: Duration,
    /// Bytes of fragments handed to the application and not yet handled, over all
    /// streams (default 256 MiB). Each stream also holds up to
    /// `consumer.queue_capacity + 2` fragments of its own while it waits.
    pub max_handed_out_bytes: u64,
    /// A stream whose read ends with an error starts again after a backoff that grows from
    /// this (default 1 s) ...
    pub restart_delay: Duration,
    /// ... up to this (default 60 s); the other streams never wait for it.
    pub max_restart_delay: Duration,
    /// This worker's name: its `leaseOwner` in a lease table, and a label of its metrics
    /// (default `local`; give each worker of a fleet on DynamoDB its own).
    pub worker_id: String,
}

impl FleetConfig {
    /// Reads `streams` with the defaults.
    pub fn new(streams: StreamSelection) -> Self {
        let mut consumer = kvs_consumer::Config::default();
        consumer.queue_capacity = 2;
        Self {
            streams,
            consumer,
            initial: StartSelector::Now,
            checkpoint: CheckpointPolicy::EveryFragment,
            discovery_interval: Duration::from_secs(60),
            max_handed_out_bytes: 256 << 20,
            restart_delay: Duration::from_secs(1),
            max_restart_delay: Duration::from_secs(60),
            worker_id: "local".into(),
        }
    }
}
