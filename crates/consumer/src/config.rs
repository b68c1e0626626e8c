//! What to consume and how: [`Source`], [`StartSelector`], [`TimeRange`], [`Config`] and
//! [`RetryPolicy`]. Plain data with parsers for the CLI's spellings; no I/O here.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesisvideomedia::primitives::{DateTime, DateTimeFormat};
use kvs_mkv::{FragmentNumber, Limits};
use tokio::io::AsyncRead;

use crate::Error;

/// Where the bytes come from.
#[non_exhaustive]
pub enum Source {
    /// A live read: GetDataEndpoint, then GetMedia, resumed with continuation tokens.
    Live {
        /// Stream name, or ARN when it starts with `arn:`.
        stream: String,
        /// Where to start.
        start: StartSelector,
    },
    /// An archived read: ListFragments over a range, then GetMediaForFragmentList.
    Archive {
        /// Stream name, or ARN when it starts with `arn:`.
        stream: String,
        /// The time range of the fragments.
        range: TimeRange,
    },
    /// Any byte source (a file, stdin, a socket) read to its end, without resume: a
    /// fragment cut by the end of the input is delivered with `is_complete() == false`.
    Reader(Box<dyn AsyncRead + Send + Unpin>),
}

impl Source {
    /// A live read of `stream` from `start`.
    pub fn live(stream: impl Into<String>, start: StartSelector) -> Self {
        Source::Live { stream: stream.into(), start }
    }

    /// An archived read of `stream` over `range`.
    pub fn archive(stream: impl Into<String>, range: TimeRange) -> Self {
        Source::Archive { stream: stream.into(), range }
    }

    /// Any async reader.
    pub fn reader(reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        Source::Reader(Box::new(reader))
    }

    /// A file, opened when the read starts.
    pub fn file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let file = std::fs::File::open(path)?;
        Ok(Source::reader(tokio::fs::File::from_std(file)))
    }

    /// Whether fragments cut by a dropped connection come again after a resume.
    pub(crate) fn resumable(&self) -> bool {
        !matches!(self, Source::Reader(_))
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Live { stream, start } => {
                f.debug_struct("Live").field("stream", stream).field("start", start).finish()
            }
            Source::Archive { stream, range } => {
                f.debug_struct("Archive").field("stream", stream).field("range", range).finish()
            }
            Source::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// Where a live read starts (GetMedia's `StartSelector`).
///
/// Parsed from the CLI's spelling:
/// ```
/// use kvs_consumer::StartSelector;
/// assert_eq!("now".parse::<StartSelector>().unwrap(), StartSelector::Now);
/// assert!(matches!("after:91343852333181432392682062607743920146159169392".parse(),
///                  Ok(StartSelector::AfterFragment(_))));
/// assert!(matches!("server:2024-05-01T10:00:00Z".parse(), Ok(StartSelector::ServerTimestamp(_))));
/// assert!("after:12x".parse::<StartSelector>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartSelector {
    /// The next fragment to arrive (`NOW`).
    Now,
    /// The oldest fragment kept (`EARLIEST`).
    Earliest,
    /// The fragment after this one (`FRAGMENT_NUMBER` with `AfterFragmentNumber`).
    AfterFragment(FragmentNumber),
    /// The first fragment at or after this server time (`SERVER_TIMESTAMP`).
    ServerTimestamp(SystemTime),
    /// The first fragment at or after this producer time (`PRODUCER_TIMESTAMP`).
    ProducerTimestamp(SystemTime),
    /// Resume after a fragment whose continuation token is this (`CONTINUATION_TOKEN`).
    ContinuationToken(String),
}

impl FromStr for StartSelector {
    type Err = Error;

    /// `now`, `earliest`, `after:FRAGMENT`, `server:RFC3339`, `producer:RFC3339`, `token:TOKEN`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("start selector {s:?}: {why}"));
        match s.split_once(':') {
            None if s.eq_ignore_ascii_case("now") => Ok(StartSelector::Now),
            None if s.eq_ignore_ascii_case("earliest") => Ok(StartSelector::Earliest),
            Some(("after", n)) => {
                Ok(StartSelector::AfterFragment(n.parse().map_err(|e| bad(&format!("{e}")))?))
            }
            Some(("server", t)) => Ok(StartSelector::ServerTimestamp(parse_rfc3339(t)?)),
            Some(("producer", t)) => Ok(StartSelector::ProducerTimestamp(parse_rfc3339(t)?)),
            Some(("token", t)) if is_token(t) => Ok(StartSelector::ContinuationToken(t.to_owned())),
            Some(("token", _)) => Err(bad("a token is 1 to 128 letters, digits, '_' or '-'")),
            _ => Err(bad("expected now, earliest, after:N, server:T, producer:T or token:T")),
        }
    }
}

/// Continuation tokens as KVS documents them: `^[a-zA-Z0-9_\.\-]+$`, at most 128 chars.
fn is_token(t: &str) -> bool {
    !t.is_empty() && t.len() <= 128 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Parses an RFC 3339 date-time (`2024-05-01T10:00:00Z`, `...+02:00`, fractions allowed).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = kvs_consumer::parse_rfc3339("1970-01-01T00:01:00.5Z").unwrap();
/// assert_eq!(t, UNIX_EPOCH + Duration::from_millis(60_500));
/// ```
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, Error> {
    let bad = |why: String| Error::Config(format!("time {text:?} is not RFC 3339: {why}"));
    // The SDK's parser takes `Z` only: apply a `+HH:MM` / `-HH:MM` offset ourselves.
    let (utc, offset_secs) = match split_offset(text) {
        Some((local, offset)) => (format!("{local}Z"), offset),
        None => (text.to_owned(), 0),
    };
    let dt = DateTime::from_str(&utc, DateTimeFormat::DateTime).map_err(|e| bad(e.to_string()))?;
    let dt = DateTime::from_secs_and_nanos(dt.secs() - offset_secs, dt.subsec_nanos());
    SystemTime::try_from(dt).map_err(|e| bad(e.to_string()))
}

/// `("2024-05-01T10:00:00", 7200)` for `2024-05-01T10:00:00+02:00`.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let at = text.len().checked_sub(6)?;
    let (local, offset) = (text.get(..at)?, text.get(at..)?.as_bytes());
    let sign = match offset[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = [offset[1], offset[2], offset[4], offset[5]];
    if offset[3] != b':' || !digits.iter().all(u8::is_ascii_digit) || !local.contains('T') {
        return None;
    }
    let n = |i: usize| i64::from(digits[i] - b'0');
    Some((local, sign * ((n(0) * 10 + n(1)) * 3600 + (n(2) * 10 + n(3)) * 60)))
}

/// Which timestamp [`TimeRange`] selects on (ListFragments' `FragmentSelectorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TimestampKind {
    /// The time KVS received the fragment.
    #[default]
    Server,
    /// The time the producer stamped on the fragment.
    Producer,
}

/// A time range of archived fragments, `from` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start of the range.
    pub from: SystemTime,
    /// End of the range.
    pub to: SystemTime,
    /// Server or producer timestamps.
    pub kind: TimestampKind,
}

impl TimeRange {
    /// A range of server timestamps.
    pub fn server(from: SystemTime, to: SystemTime) -> Self {
        Self { from, to, kind: TimestampKind::Server }
    }
}

/// Static credentials, for tests and local servers. The secret never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Exponential backoff with full jitter, for failures in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Delay ceiling after the first failure (default 200 ms).
    pub base_delay: Duration,
    /// Largest delay (default 10 s).
    pub max_delay: Duration,
    /// Failures in a row after which the stream ends with
    /// [`Error::RetriesExhausted`] (default 10). A response that delivered a fragment
    /// resets the count.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(10), max_attempts: 10 }
    }
}

impl RetryPolicy {
    /// A policy with these delays and attempts.
    pub fn new(base_delay: Duration, max_delay: Duration, max_attempts: u32) -> Self {
        Self { base_delay, max_delay, max_attempts }
    }

    /// The delay before retry number `failures` (1 for the first): uniform in
    /// `[ceiling / 2, ceiling]` with `ceiling = min(max_delay, base_delay * 2^(failures-1))`.
    pub fn delay(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        let ceiling = self.base_delay.saturating_mul(1 << shift).min(self.max_delay);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// How to consume: where AWS is, how to retry, how much to buffer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// AWS region; `None` takes the default chain (`AWS_REGION`, profile...).
    pub region: Option<String>,
    /// Endpoint of the control plane (a local server's URL); `None` takes
    /// `AWS_ENDPOINT_URL` or the AWS endpoint for the region.
    pub endpoint_url: Option<String>,
    /// Credentials; `None` takes the default credential chain.
    pub credentials: Option<StaticCredentials>,
    /// PEM certificates trusted besides the platform's roots, e.g. the certificate of a
    /// `kvs serve --tls` (see [`tls::ca_pem_from`](crate::tls::ca_pem_from)). Checked when
    /// the client is made.
    pub ca_pem: Option<Vec<u8>>,
    /// Fragments held between the network and the handler (default 4). A slow handler
    /// slows the reader: memory stays bounded by this many fragments, plus one waiting to
    /// enter the queue and one being handed over (and the one being parsed).
    pub queue_capacity: usize,
    /// Live reads only: stop at the live edge (when a GetMedia response ends by itself)
    /// instead of following the stream for ever.
    pub until_caught_up: bool,
    /// Backoff for throttling, 5xx and dropped connections.
    pub retry: RetryPolicy,
    /// Least time between two GetMedia calls (default 200 ms: the 5 TPS limit per stream).
    pub min_request_interval: Duration,
    /// A response that sends nothing for this long is dropped and asked for again
    /// (default 60 s). Live, this is not a failure: the producer may be paused.
    pub read_timeout: Duration,
    /// Fragments per GetMediaForFragmentList call (1 to 1000, default 1000).
    pub archive_batch_size: usize,
    /// ListFragments page size (1 to 1000, default 1000).
    pub list_page_size: usize,
    /// Parser limits.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            credentials: None,
            ca_pem: None,
            queue_capacity: 4,
            until_caught_up: false,
            retry: RetryPolicy::default(),
            min_request_interval: Duration::from_millis(200),
            read_timeout: Duration::from_secs(60),
            archive_batch_size: 1000,
            list_page_size: 1000,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Checks the values that would otherwise fail late.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let in_range = |n: usize| (1..=1000).contains(&n);
        if self.queue_capacity == 0 {
            return Err(Error::Config("queue_capacity must be at least 1".into()));
        }
        if !in_range(self.archive_batch_size) || !in_range(self.list_page_size) {
            return Err(Error::Config("archive_batch_size and list_page_size must be 1 to 1000".into()));
        }
        if self.read_timeout.is_zero() {
            return Err(Error::Config("read_timeout must be more than zero".into()));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::Config("retry.max_attempts must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    macro_rules! selector {
        ($($text:expr => $want:expr),* $(,)?) => {$(
            assert_eq!($text.parse::<StartSelector>().unwrap(), $want, "{}", $text);
        )*};
    }

    #[test]
    fn start_selectors_parse() {
        let n: FragmentNumber = "91343852333181432392682062607743920146159169392".parse().unwrap();
        selector! {
            "now" => StartSelector::Now,
            "EARLIEST" => StartSelector::Earliest,
            "after:91343852333181432392682062607743920146159169392" => StartSelector::AfterFragment(n),
            "server:1970-01-01T00:00:10Z" => StartSelector::ServerTimestamp(UNIX_EPOCH + Duration::from_secs(10)),
            "producer:1970-01-01T01:00:10+01:00" => StartSelector::ProducerTimestamp(UNIX_EPOCH + Duration::from_secs(10)),
            "producer:1970-01-01T00:00:10.250-00:30" => StartSelector::ProducerTimestamp(UNIX_EPOCH + Duration::from_millis(1_810_250)),
            "token:abc_1.2-3" => StartSelector::ContinuationToken("abc_1.2-3".into()),
        }
        for bad in [
            "",
            "later",
            "after:",
            "after:1a",
            "server:yesterday",
            "server:1970-01-01T00:00:10+1:00",
            "token:",
            "token:a b",
            "token:a/b",
        ] {
            assert!(bad.parse::<StartSelector>().is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(1), 5);
        for failures in 1..30 {
            let ceiling =
                Duration::from_millis(100 * (1u64 << (failures - 1).min(20))).min(Duration::from_secs(1));
            let d = p.delay(failures);
            assert!(d >= ceiling / 2 && d <= ceiling, "{failures}: {d:?}");
        }
    }

    #[test]
    fn config_is_validated() {
        assert!(Config::default().validate().is_ok());
        assert!(Config { archive_batch_size: 1001, ..Config::default() }.validate().is_err());
        assert!(Config { queue_capacity: 0, ..Config::default() }.validate().is_err());
        assert!(Config { read_timeout: Duration::ZERO, ..Config::default() }.validate().is_err());
    }
}
