//! [`Config`]: how the server listens, stores, limits and authenticates. Owns no state.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How a [`LocalKvs`](crate::LocalKvs) behaves. Every limit defaults to the value AWS uses.
///
/// ```
/// use std::time::Duration;
/// let config = kvs_local::Config { idle_timeout: Duration::from_millis(500), ..Default::default() };
/// assert_eq!(config.addr.to_string(), "127.0.0.1:0");
/// assert_eq!(config.get_media_tps, 5);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (default `127.0.0.1:0`: loopback, an ephemeral port).
    pub addr: SocketAddr,
    /// Directory store: every stream and fragment survives a restart. `None` (default):
    /// memory only.
    pub data_dir: Option<PathBuf>,
    /// A GetMedia response at the live edge ends its body after this long with nothing
    /// new to send (default 5 s), as AWS does.
    pub idle_timeout: Duration,
    /// A GetMedia response ends after this long whatever happens (AWS: about 45 minutes).
    pub max_get_media_duration: Duration,
    /// When set, every request must carry a valid SigV4 signature by these credentials.
    /// When `None` (default), any request is accepted (the server is on loopback).
    pub credentials: Option<Credentials>,
    /// Region named in ARNs and checked in signatures (default `us-east-1`).
    pub region: String,
    /// GetMedia calls accepted per second per stream (AWS: 5); more are refused with
    /// `ClientLimitExceededException`.
    pub get_media_tps: u32,
    /// Concurrent GetMedia connections per stream (AWS: 3); more are refused with
    /// `ConnectionLimitExceededException`.
    pub get_media_connections: u32,
    /// Bytes of media kept per stream before the oldest fragments are dropped
    /// (default 1 GiB).
    pub retention_bytes: u64,
    /// Age after which fragments are dropped (default 24 h).
    pub retention_age: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            idle_timeout: Duration::from_secs(5),
            max_get_media_duration: Duration::from_secs(45 * 60),
            credentials: None,
            region: "us-east-1".into(),
            get_media_tps: 5,
            get_media_connections: 3,
            retention_bytes: 1 << 30,
            retention_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// An access key the server verifies signatures against. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id (`AKIA...`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl Credentials {
    /// Credentials from a key id and a secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self { access_key_id: access_key_id.into(), secret_access_key: secret_access_key.into() }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}
