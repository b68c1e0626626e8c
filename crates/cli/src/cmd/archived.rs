//! What `kvs images`, `kvs clip --stream` and `kvs play` share: where the service is
//! ([`ServiceArgs`], the same flags as `kvs consume`), their time ranges (RFC 3339 or Unix
//! seconds, through `kvs_consumer::archived::parse_time`), `--every`'s durations, and the
//! runtime their calls run on.
//!
//! The calls themselves are `kvs_consumer::archived`'s.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use kvs_consumer::archived::{Archive, parse_time};
use kvs_consumer::{Config, TimeRange, TimestampKind};

/// Where the service is and how to trust it.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// AWS region (default: AWS_REGION, then the profile).
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint URL of the control plane, e.g. a `kvs serve` address (default:
    /// AWS_ENDPOINT_URL, then AWS).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Trust the certificates of this PEM file besides the system's (default:
    /// AWS_CA_BUNDLE, then SSL_CERT_FILE).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

impl ServiceArgs {
    /// The consumer configuration these flags give.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::default();
        config.region = self.region.clone();
        config.endpoint_url = self.endpoint.clone();
        config.ca_pem = kvs_consumer::tls::ca_pem_from(self.ca_file.as_deref())?;
        Ok(config)
    }

    /// The archived-media calls of `stream`.
    pub async fn archive(&self, stream: &str) -> anyhow::Result<Archive> {
        Ok(Archive::new(stream, &self.config()?).await?)
    }
}

/// A time argument: RFC 3339 or seconds since the Unix epoch.
pub fn time(flag: &str, text: &str) -> anyhow::Result<std::time::SystemTime> {
    parse_time(text).with_context(|| format!("{flag} {text:?}: expected RFC 3339 or Unix seconds"))
}

/// `--from` and `--to`, checked, in server or producer time.
pub fn range(from: &str, to: &str, producer_time: bool) -> anyhow::Result<TimeRange> {
    let (from, to) = (time("--from", from)?, time("--to", to)?);
    if to < from {
        bail!("--to is before --from");
    }
    let mut range = TimeRange::server(from, to);
    if producer_time {
        range.kind = TimestampKind::Producer;
    }
    Ok(range)
}

/// A duration: `500ms`, `1s`, `1.5s`, `2m`, or bare seconds (`0.5`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let bad = || format!("{text:?} is not a duration such as 500ms, 1s or 2m");
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 || number.starts_with(['+', '-']) || number.contains(['e', 'E']) {
        return Err(bad());
    }
    Duration::try_from_secs_f64(value * scale).map_err(|_| bad())
}

/// The runtime the calls run on: one thread is plenty for request/response calls.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["", "s", "-1s", "1h", "nan", "inf", "1e3", "+1"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        let r = range("10", "1970-01-01T00:00:20Z", true).unwrap();
        assert_eq!(
            (r.from, r.to, r.kind),
            (
                UNIX_EPOCH + Duration::from_secs(10),
                UNIX_EPOCH + Duration::from_secs(20),
                TimestampKind::Producer
            )
        );
        assert!(range("20", "10", false).is_err());
        let error = range("soon", "10", false).unwrap_err();
        assert!(
            format!("{error:#}").starts_with("--from \"soon\": expected RFC 3339 or Unix seconds"),
            "{error:#}"
        );
    }
}
