//! [`Config`]: how the server listens, stores, limits and authenticates. Owns no state.
//!
//! The limits fall in three groups: those of AWS (calls per second and connections per
//! stream, GetMedia's send rate, PutMedia's idle rules), which default to AWS's values;
//! those that keep one hostile client from taking the server down (header and idle
//! timeouts, the connection cap, the bytes PutMedia holds per connection), which AWS does
//! not publish and which default to values that no well-behaved client reaches; and
//! retention.

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
    /// Serve HTTPS (`https://` endpoint) with a self-signed certificate for `127.0.0.1`
    /// and `localhost`, made at start; clients trust its PEM, from
    /// [`LocalKvs::certificate_pem`](crate::LocalKvs::certificate_pem). With
    /// [`data_dir`](Self::data_dir), the certificate and its key are kept there
    /// (`cert.pem`, `key.pem`) and the next start serves the same one, so that clients
    /// trusting it go on across a restart. Default: plain HTTP.
    pub tls: bool,
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
    /// GetMedia calls accepted per second per stream (AWS: 5), and as many
    /// GetMediaForFragmentList calls, counted apart; more are refused with
    /// `ClientLimitExceededException`.
    pub get_media_tps: u32,
    /// Concurrent GetMedia connections per stream (AWS: 3), and as many
    /// GetMediaForFragmentList ones, counted apart; more are refused with
    /// `ConnectionLimitExceededException`.
    pub get_media_connections: u32,
    /// PutMedia calls accepted per second per stream (AWS: 5).
    pub put_media_tps: u32,
    /// Bytes per second one GetMedia or GetMediaForFragmentList response sends at most
    /// (AWS: 25 MB/s); `None`: as fast as the client reads.
    pub get_media_rate: Option<u64>,
    /// Bytes a PutMedia connection may hold before they make a fragment: the producer's
    /// header elements, Tags waiting for their Cluster, the part of the Cluster received,
    /// and a signed body read whole before it is checked (default 64 MiB, room for one
    /// 50 MB fragment). Past it the upload gets an ERROR acknowledgement (4001 while a
    /// Cluster is being received, else 4009) and ends.
    pub put_media_buffer: usize,
    /// A PutMedia connection that receives nothing for this long gets an IDLE
    /// acknowledgement, and another each time as long again passes (default 3 s; AWS sends
    /// them "periodically").
    pub put_media_idle_ack: Duration,
    /// A PutMedia connection that receives nothing for this long is ended (AWS: 30 s).
    pub put_media_idle_timeout: Duration,
    /// Time a connection has to send the headers of its next request, counted from when
    /// it opens or its last response ended (default 30 s, hyper's). This also closes
    /// kept-alive connections left idle that long, and connections that trickle their
    /// headers in (slowloris).
    pub header_read_timeout: Duration,
    /// A connection that moves no byte either way for this long is closed, mid-request or
    /// not (default 60 s): a client that stops reading a response or sending a body. Never
    /// less than twice [`idle_timeout`](Self::idle_timeout), so that a GetMedia response
    /// waiting at the live edge is not cut; keep it above
    /// [`put_media_idle_ack`](Self::put_media_idle_ack), whose IDLE acknowledgements keep
    /// a quiet PutMedia moving.
    pub connection_idle_timeout: Duration,
    /// Connections served at once (default 10,000). Past it, new connections wait in the
    /// listener's backlog until one closes; the timeouts above make sure one does.
    pub max_connections: usize,
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
            tls: false,
            idle_timeout: Duration::from_secs(5),
            max_get_media_duration: Duration::from_secs(45 * 60),
            credentials: None,
            region: "us-east-1".into(),
            get_media_tps: 5,
            get_media_connections: 3,
            put_media_tps: 5,
            get_media_rate: Some(25_000_000),
            put_media_buffer: 64 << 20,
            put_media_idle_ack: Duration::from_secs(3),
            put_media_idle_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            connection_idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
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
