//! [`FleetConfig`]: which streams a fleet reads and how (plain data), and the two helpers
//! every front end (`kvs fleet`, the Python `Fleet`) fills it in with, so that they agree:
//! [`default_worker_id`] and [`positive_seconds`].

use std::time::Duration;

use kvs_consumer::StartSelector;

use crate::{CheckpointPolicy, Error};

/// The largest duration setting [`positive_seconds`] accepts: 1,000,000 s (11.5 days),
/// far above any interval a fleet uses and far below what overflows a `Duration`.
pub const MAX_SETTING_SECONDS: f64 = 1e6;

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

/// The name of a worker that was given none: `host-pid`, unique per process and readable
/// in a lease table (`worker-pid` where the host has no name).
pub fn default_worker_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().trim().to_owned();
    let host = if host.is_empty() { "worker".to_owned() } else { host };
    format!("{host}-{}", std::process::id())
}

/// A duration setting given in seconds, checked: finite, more than 0 and at most
/// [`MAX_SETTING_SECONDS`]. `name` is the setting as the caller spells it (`--failover`,
/// `failover`), for the error.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(kvs_fleet::positive_seconds("failover", 2.5).unwrap(), Duration::from_millis(2500));
/// assert!(kvs_fleet::positive_seconds("failover", 0.0).is_err());
/// ```
pub fn positive_seconds(name: &str, value: f64) -> Result<Duration, Error> {
    if !value.is_finite() || value <= 0.0 || value > MAX_SETTING_SECONDS {
        return Err(Error::Config(format!("{name} must be a positive number of seconds, not {value}")));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_positive_finite_and_bounded() {
        assert_eq!(positive_seconds("x", 0.001).unwrap(), Duration::from_millis(1));
        assert_eq!(positive_seconds("x", MAX_SETTING_SECONDS).unwrap(), Duration::from_secs(1_000_000));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_SETTING_SECONDS * 2.0] {
            let error = positive_seconds("--failover", bad).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("fleet configuration: --failover must be a positive number of seconds, not {bad}")
            );
        }
    }

    #[test]
    fn the_default_worker_id_is_host_and_process() {
        let id = default_worker_id();
        let (host, pid) = id.rsplit_once('-').unwrap();
        assert!(!host.is_empty());
        assert_eq!(pid, std::process::id().to_string());
    }
}
