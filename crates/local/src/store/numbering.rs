//! Fragment numbers: 48 decimal digits like AWS's, a fixed prefix followed by a 38-digit
//! counter shared by every stream of a store, strictly increasing, never consecutive,
//! and never behind the clock (the counter's high digits are the server time in ms).
//!
//! Not here: which fragment gets a number and when (the store appends under its
//! per-stream lock), and where numbers are written (the fragment file names of `disk`).

use kvs_mkv::FragmentNumber;

/// Fragment numbers are this prefix followed by a 38-digit counter: 48 digits, like AWS's.
const NUMBER_PREFIX: &str = "9134385233";
const COUNTER_DIGITS: usize = 38;

/// Counter units per millisecond of server time: the counter is the time in ms followed
/// by 20 digits.
const PER_MS: u128 = 100_000_000_000_000_000_000;

/// The next fragment number and server timestamp of a store.
#[derive(Debug, Default)]
pub(super) struct Numbering {
    /// The last counter given.
    counter: u128,
    /// The last server timestamp given, in ms: timestamps never go back with the clock.
    last_ms: i64,
}

impl Numbering {
    /// Numbering that goes on after the highest counter and server timestamp found in a
    /// recovered store.
    pub(super) fn after(counter: u128, last_ms: i64) -> Self {
        Self { counter, last_ms }
    }

    /// The number and server timestamp of a fragment appended at `now_ms`.
    pub(super) fn next(&mut self, now_ms: i64) -> (FragmentNumber, i64) {
        let server_ms = now_ms.max(self.last_ms);
        // Strictly increasing, never consecutive: a jump of 1,000 to 1,999 at least,
        // and never behind the clock.
        let step = 1000 + (self.counter % 997);
        let jitter = u128::from(splitmix64(self.counter as u64 ^ server_ms as u64)) % (PER_MS / 10);
        let next = (self.counter + step).max(server_ms as u128 * PER_MS + jitter);
        (self.counter, self.last_ms) = (next, server_ms);
        (number_of(next), server_ms)
    }
}

/// The fragment number of a counter.
pub(super) fn number_of(counter: u128) -> FragmentNumber {
    let text = format!("{NUMBER_PREFIX}{counter:0COUNTER_DIGITS$}");
    text.parse().unwrap_or_else(|_| unreachable!("48 digits are a fragment number"))
}

/// The counter of a fragment number (0 for a number this store did not give).
pub(super) fn counter_of(number: &FragmentNumber) -> u128 {
    number.as_str().strip_prefix(NUMBER_PREFIX).and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// A well-mixed 64-bit value from `x` (SplitMix64), for digits that look random.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_48_digits_and_round_trip_their_counter() {
        let n = number_of(17_000_000_000_000 * PER_MS + 5);
        assert_eq!(n.as_str().len(), 48);
        assert_eq!(counter_of(&n), 17_000_000_000_000 * 100_000_000_000_000_000_000 + 5);
    }

    #[test]
    fn numbers_follow_the_clock_and_never_go_back_with_it() {
        let mut numbering = Numbering::after(5, 100);
        // A clock behind the last timestamp given: the timestamp stays, the number jumps
        // to that millisecond.
        let (first, ms) = numbering.next(50);
        let first = counter_of(&first);
        assert_eq!((ms, first / PER_MS), (100, 100));
        // Within the same millisecond: at least a step of 1,000 plus the counter modulo 997.
        let (second, ms) = numbering.next(100);
        let second = counter_of(&second);
        assert_eq!((ms, second / PER_MS), (100, 100));
        assert!(second >= first + 1000 + first % 997, "{second} after {first}");
    }
}
