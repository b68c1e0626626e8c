//! [`RateLimit`]: a token bucket of bytes, with no clock of its own (the caller passes the
//! time), that paces a response body under AWS's per-connection media rate (25 MB/s).

use std::time::{Duration, Instant};

/// Paces a writer at `rate` bytes per second, letting a burst of up to one second's worth
/// through at once. Call [`take`](Self::take) before each write and wait what it says: at
/// 1000 B/s, 1000 bytes at once pass, 500 more wait 500 ms.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    rate: f64,
    burst: f64,
    /// Bytes that may go now; negative when writes are ahead of the rate.
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket at `now`. A rate of 0 is taken as 1 byte per second.
    pub(crate) fn new(rate: u64, now: Instant) -> Self {
        let rate = rate.max(1) as f64;
        Self { rate, burst: rate, tokens: rate, last: now }
    }

    /// Counts `bytes` written at `now`; returns how long to wait before writing them to
    /// stay under the rate (zero within the burst).
    pub(crate) fn take(&mut self, bytes: u64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - bytes as f64;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / self.rate) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Rounds to the millisecond: the arithmetic is in floating point.
    fn round(d: Duration) -> Duration {
        ms((d.as_secs_f64() * 1000.0).round() as u64)
    }

    #[test]
    fn a_burst_passes_then_writes_wait_their_share() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(1000, t0);
        assert_eq!(limit.take(1000, t0), Duration::ZERO);
        assert_eq!(round(limit.take(500, t0)), ms(500));
        // Having waited those 500 ms, the next 250 bytes wait 250 ms more.
        assert_eq!(round(limit.take(250, t0 + ms(500))), ms(250));
    }

    #[test]
    fn bytes_over_a_window_never_pass_the_rate_plus_one_burst() {
        // A writer that always waits what it is told sends, over 10 s, at most the rate
        // times 10 s plus the first burst.
        let t0 = Instant::now();
        let mut limit = RateLimit::new(25_000, t0);
        let mut now = t0;
        let mut sent = 0u64;
        while now < t0 + Duration::from_secs(10) {
            now += limit.take(4096, now);
            sent += 4096;
        }
        assert!(sent <= 25_000 * 10 + 25_000 + 4096, "{sent}");
        assert!(sent >= 25_000 * 10, "{sent}");
    }

    #[test]
    fn an_idle_bucket_refills_only_to_its_burst() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(1000, t0);
        assert_eq!(limit.take(1000, t0 + Duration::from_secs(60)), Duration::ZERO);
        assert_eq!(round(limit.take(1000, t0 + Duration::from_secs(60))), ms(1000));
    }

    #[test]
    fn time_going_back_is_ignored() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut limit = RateLimit::new(1000, t0);
        assert_eq!(limit.take(1000, t0 - Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(round(limit.take(100, t0)), ms(100));
    }
}
