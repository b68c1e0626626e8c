//! [`Config`]: where to put and how (AWS settings, fragment duration, tags, buffer,
//! retries), and [`parse_tags`] for the CLI's `K=V,...`. Plain data; no I/O here.

use std::time::{Duration, SystemTime};

use kvs_consumer::{RetryPolicy, StaticCredentials};

use crate::Error;

/// Tags per fragment KVS accepts (more is error 4009).
pub const MAX_TAGS: usize = 10;

/// How to put. `Default`: 2 s fragments, a 64 MiB buffer with back-pressure, the AWS
/// settings from the default chains.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// AWS region; `None` takes the default chain (`AWS_REGION`, profile...).
    pub region: Option<String>,
    /// Control-plane endpoint (a local server's URL); `None` takes `AWS_ENDPOINT_URL` or
    /// AWS.
    pub endpoint_url: Option<String>,
    /// Credentials; `None` takes the default chain.
    pub credentials: Option<StaticCredentials>,
    /// Create the stream first if it does not exist.
    pub create: bool,
    /// A live source: when the buffer is full, drop the oldest fragment (with a warning)
    /// rather than stop reading the input.
    pub realtime: bool,
    /// Target fragment duration (default 2 s; at most 10 s).
    pub fragment_duration: Duration,
    /// SimpleTags written on every fragment (at most [`MAX_TAGS`]).
    pub tags: Vec<(String, String)>,
    /// Bytes of fragments held until KVS persists them (default 64 MiB).
    pub buffer_bytes: usize,
    /// Backoff of reconnections; `max_attempts` failures in a row end the put.
    pub retry: RetryPolicy,
    /// PEM certificates trusted besides the platform's (a local server's CA).
    pub ca_pem: Option<Vec<u8>>,
    /// Least time between two fragments sent (default 200 ms: KVS takes 5 fragments a
    /// second per stream).
    pub min_fragment_interval: Duration,
    /// A connection with fragments in flight and no acknowledgement for this long is
    /// dropped and the fragments resent (default 30 s).
    pub ack_timeout: Duration,
    /// Wall-clock time of the input's first frame, for inputs whose timecodes start near
    /// 0 (default: when the put starts).
    pub producer_start: Option<SystemTime>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            credentials: None,
            create: false,
            realtime: false,
            fragment_duration: Duration::from_secs(2),
            tags: Vec::new(),
            buffer_bytes: 64 << 20,
            retry: RetryPolicy::default(),
            ca_pem: None,
            min_fragment_interval: Duration::from_millis(200),
            ack_timeout: Duration::from_secs(30),
            producer_start: None,
        }
    }
}

impl Config {
    /// Checks the values that would otherwise fail late.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.fragment_duration.is_zero() || self.fragment_duration > Duration::from_secs(10) {
            return Err(Error::Config("the fragment duration must be more than 0 and at most 10 s".into()));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(Error::Config(format!("at most {MAX_TAGS} tags per fragment")));
        }
        if self.retry.max_attempts == 0 || self.ack_timeout.is_zero() {
            return Err(Error::Config("retry.max_attempts and ack_timeout must be more than 0".into()));
        }
        Ok(())
    }
}

/// Parses `K=V,K2=V2` into tags: names 1 to 128 characters and not KVS's own
/// (`AWS_KINESISVIDEO_...`), values at most 256, at most [`MAX_TAGS`].
///
/// ```
/// let tags = kvs_producer::parse_tags("camera=door,site=paris").unwrap();
/// assert_eq!(tags[1], ("site".to_owned(), "paris".to_owned()));
/// assert!(kvs_producer::parse_tags("novalue").is_err());
/// ```
pub fn parse_tags(text: &str) -> Result<Vec<(String, String)>, Error> {
    let mut tags = Vec::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(Error::Config(format!("tag {pair:?} is not NAME=VALUE")));
        };
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.starts_with("AWS_KINESISVIDEO_") {
            return Err(Error::Config(format!(
                "tag name {name:?}: 1 to 128 characters, not AWS_KINESISVIDEO_*"
            )));
        }
        if value.chars().count() > 256 {
            return Err(Error::Config(format!("tag {name}: the value is over 256 characters")));
        }
        tags.push((name.to_owned(), value.to_owned()));
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::Config(format!("at most {MAX_TAGS} tags per fragment")));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_settings_are_checked() {
        assert_eq!(parse_tags("").unwrap(), []);
        assert_eq!(parse_tags("a=,b=c=d").unwrap(), [("a".into(), "".into()), ("b".into(), "c=d".into())]);
        for bad in ["=x", "AWS_KINESISVIDEO_X=1", &"k=v,".repeat(11), &format!("k={}", "v".repeat(257))] {
            assert!(parse_tags(bad).is_err(), "{bad}");
        }
        assert!(Config::default().validate().is_ok());
        let long = Config { fragment_duration: Duration::from_secs(11), ..Config::default() };
        assert!(long.validate().is_err());
    }
}
