//! What the crate knows of a stream: [`FragmentInfo`], the description of one fragment
//! the server maps its store into, and [`UnixMillis`], the one unit of time.
//!
//! It does not read fragments or media: the server lists them, this crate chooses among
//! them.

use std::cmp::Ordering;

/// Milliseconds since the Unix epoch: fragment timestamps and the clock the caller
/// passes in (this crate never reads the time itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// `self + ms`, saturating.
    pub fn plus(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// `self - ms`, saturating at the epoch.
    pub fn minus(self, ms: u64) -> Self {
        Self(self.0.saturating_sub(ms))
    }
}

/// Which of a fragment's two timestamps a session selects and shows by
/// (`FragmentSelectorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampSource {
    /// `PRODUCER_TIMESTAMP`: the time the producer stamped.
    Producer,
    /// `SERVER_TIMESTAMP`: the time the server received the fragment (AWS's default).
    Server,
}

impl TimestampSource {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Producer => "PRODUCER_TIMESTAMP",
            Self::Server => "SERVER_TIMESTAMP",
        }
    }
}

/// One fragment of a stream, as the server describes it to a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// The KVS fragment number (decimal digits, up to 48 of them).
    pub fragment_number: String,
    /// Producer start timestamp.
    pub producer: UnixMillis,
    /// Server (ingest) timestamp.
    pub server: UnixMillis,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

impl FragmentInfo {
    /// The timestamp `source` selects.
    pub fn timestamp(&self, source: TimestampSource) -> UnixMillis {
        match source {
            TimestampSource::Producer => self.producer,
            TimestampSource::Server => self.server,
        }
    }
}

/// Orders fragment numbers as numbers: they are decimal strings of varying length, so
/// `"10" > "9"` must hold where string order says otherwise.
pub(crate) fn cmp_fragment_numbers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_numbers_compare_as_numbers() {
        assert_eq!(cmp_fragment_numbers("10", "9"), Ordering::Greater);
        assert_eq!(cmp_fragment_numbers("0009", "9"), Ordering::Equal);
        assert_eq!(
            cmp_fragment_numbers(
                "91343852333181432392682062607743920146236843326",
                "91343852333181432392682062607743920146236843327"
            ),
            Ordering::Less
        );
    }
}
