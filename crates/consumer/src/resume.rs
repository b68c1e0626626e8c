//! [`Tracker`]: the sans-IO heart of exactly-once delivery. It owns the splitter of the
//! current response, decides for each fragment whether it is delivered, a duplicate, or cut
//! by a dropped connection, and says where the next request must start.
//!
//! It does no I/O and knows no clock: the driver feeds it response bodies and asks it for
//! the next [`StartSelector`]; the tests below drive it through a simulated link that cuts
//! responses at random offsets.

use std::collections::VecDeque;

use bytes::Bytes;
use kvs_mkv::{AwsError, Event, Fragment, FragmentNumber, FragmentSplitter, Limits};
use tracing::{debug, warn};

use crate::StartSelector;

/// What the tracker lets through, in stream order.
#[derive(Debug)]
pub(crate) enum Output {
    /// A fragment to hand to the user.
    Fragment(Fragment),
    /// An in-band KVS error.
    InBand(AwsError),
}

/// Exactly-once bookkeeping across the responses of one read.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// Whether cut fragments come again after a resume (network sources), or must be
    /// delivered as they are (local readers).
    resumable: bool,
    /// Live GetMedia: every fragment ends with a continuation token, so one that ends a
    /// response without it was cut between its Cluster and its trailing tags.
    live: bool,
    limits: Limits,
    splitter: FragmentSplitter,
    last: Option<FragmentNumber>,
    token: Option<String>,
    /// Archive: the last fragment number the current request asked for. A body that ends
    /// cleanly with another fragment (without trailing tags to prove it whole) was cut.
    expect_last: Option<FragmentNumber>,
    /// Fragments delivered so far, and their bytes: their index and offset in the
    /// logical stream that spans responses.
    delivered: u64,
    delivered_bytes: u64,
    /// Fragments dropped because they were already delivered.
    pub(crate) duplicates: u64,
    /// Fragments dropped because a connection cut them (they come again).
    pub(crate) cut: u64,
    /// Bytes skipped as garbage.
    pub(crate) skipped_bytes: u64,
}

impl Tracker {
    /// A tracker for a source that can resume (`resumable`), live or archived (`live`).
    pub(crate) fn new(resumable: bool, live: bool, limits: Limits) -> Self {
        Self {
            resumable,
            live,
            limits,
            splitter: FragmentSplitter::with_limits(limits),
            last: None,
            token: None,
            expect_last: None,
            delivered: 0,
            delivered_bytes: 0,
            duplicates: 0,
            cut: 0,
            skipped_bytes: 0,
        }
    }

    /// Starts reading a new response body; `expect_last` is the last fragment an archive
    /// request asked for.
    pub(crate) fn begin_response(&mut self, expect_last: Option<FragmentNumber>) {
        self.splitter = FragmentSplitter::with_limits(self.limits);
        self.expect_last = expect_last;
    }

    /// Feeds a chunk of the current body; what may be delivered is appended to `out`.
    pub(crate) fn feed(&mut self, chunk: Bytes, out: &mut VecDeque<Output>) {
        self.splitter.feed(chunk);
        self.drain(None, out);
    }

    /// The current body ended, `clean`ly or with an error. With a resumable source, a
    /// fragment cut short is dropped: the next request starts at it again.
    pub(crate) fn end_response(&mut self, clean: bool, out: &mut VecDeque<Output>) {
        self.splitter.finish();
        self.drain(Some(clean), out);
    }

    /// Treats `number` as delivered already: a read that starts after a fragment never
    /// delivers it, whether the server starts after it or at it.
    pub(crate) fn start_after(&mut self, number: FragmentNumber) {
        self.last = Some(number);
    }

    /// Bytes of the current body held while waiting for the rest of a fragment.
    pub(crate) fn buffered(&self) -> usize {
        self.splitter.buffered()
    }

    /// The last fragment number let through.
    pub(crate) fn last(&self) -> Option<&FragmentNumber> {
        self.last.as_ref()
    }

    /// Where the next GetMedia starts: after the last fragment delivered (by its
    /// continuation token, or its number when it had no usable token), or at `initial`
    /// when nothing was delivered yet.
    pub(crate) fn next_selector(&self, initial: &StartSelector) -> StartSelector {
        match (&self.token, &self.last) {
            (Some(token), _) => StartSelector::ContinuationToken(token.clone()),
            (None, Some(last)) => StartSelector::AfterFragment(last.clone()),
            (None, None) => initial.clone(),
        }
    }

    /// `end` is `Some(clean)` when the body has ended.
    fn drain(&mut self, end: Option<bool>, out: &mut VecDeque<Output>) {
        while let Some(event) = self.splitter.poll() {
            match event {
                Event::Fragment(f) => self.judge(f, end, out),
                Event::AwsError(e) => out.push_back(Output::InBand(e)),
                Event::Skipped(s) => {
                    if self.resumable && end.is_some() {
                        // The body ended inside a fragment's EBML header: cut before its
                        // Segment began.
                        self.cut += 1;
                    }
                    self.skipped_bytes += s.len;
                    warn!(offset = s.offset, len = s.len, reason = %s.reason, "skipped bytes that are not a fragment");
                }
                _ => {}
            }
        }
    }

    fn judge(&mut self, f: Fragment, end: Option<bool>, out: &mut VecDeque<Output>) {
        // Mid-body, the next EBML header proved the fragment whole. At the end of the body,
        // only its trailing token does, or (archive, clean end) being the last one asked for.
        let was_cut = match end {
            None => false,
            Some(clean) => {
                let tokened = f.kvs().continuation_token.is_some();
                let last_asked = !self.live
                    && clean
                    && self.expect_last.as_ref().is_none_or(|e| f.kvs().fragment_number.as_ref() == Some(e));
                !f.is_complete() || !(tokened || last_asked)
            }
        };
        if self.resumable && was_cut {
            self.cut += 1;
            debug!(number = ?f.kvs().fragment_number, bytes = f.bytes().len(), "fragment cut by the connection; it comes again");
            return;
        }
        let number = f.kvs().fragment_number.clone();
        if let (true, Some(n), Some(last)) = (self.resumable, &number, &self.last)
            && n <= last
        {
            self.duplicates += 1;
            debug!(%n, "dropped a fragment already delivered");
            return;
        }
        if let Some(n) = number {
            // A fragment without a token keeps the previous one: resuming from it sends this
            // fragment again, and it is dropped as a duplicate.
            if let Some(token) = f.kvs().continuation_token.as_deref().filter(|t| is_usable_token(t)) {
                self.token = Some(token.to_owned());
            }
            self.last = Some(n);
        }
        let f = f.renumbered(self.delivered, self.delivered_bytes);
        self.delivered += 1;
        self.delivered_bytes += f.bytes().len() as u64;
        out.push_back(Output::Fragment(f));
    }
}

/// A token we are willing to send back: the documented alphabet, at most 128 chars.
fn is_usable_token(t: &str) -> bool {
    !t.is_empty() && t.len() <= 128 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use kvs_mkv::testing;

    use super::*;

    /// A simulated GetMedia service over a fixed stream: it answers a selector with the
    /// fragments after it, and its link cuts each response at a chosen byte.
    struct Link {
        fragments: Vec<Bytes>,
        numbers: Vec<FragmentNumber>,
        /// Re-send the token's own fragment first, as a careless server might.
        resend_last: bool,
    }

    impl Link {
        fn new(n: u64, resend_last: bool) -> Self {
            let fragments: Vec<Bytes> = (0..n).map(|i| testing::fragment(i, 3, 40)).collect();
            let numbers = (0..n).map(|i| testing::fragment_number(i).parse().unwrap()).collect();
            Self { fragments, numbers, resend_last }
        }

        fn respond(&self, selector: &StartSelector) -> Bytes {
            let first = match selector {
                StartSelector::Earliest => 0,
                StartSelector::ContinuationToken(t) => {
                    let n: FragmentNumber = t.parse().unwrap();
                    let at = self.numbers.iter().position(|x| *x == n).unwrap();
                    if self.resend_last { at } else { at + 1 }
                }
                other => panic!("unexpected selector {other:?}"),
            };
            Bytes::from(self.fragments[first..].concat())
        }
    }

    /// Runs a read to its end over `link`, cutting each response at `cut(response)` and
    /// feeding it in chunks of `chunk(i)` bytes. Returns the delivered fragments' bytes.
    fn run(
        link: &Link,
        mut cut: impl FnMut(usize, usize) -> usize,
        mut chunk: impl FnMut() -> usize,
    ) -> Vec<Bytes> {
        let mut tracker = Tracker::new(true, true, Limits::default());
        let mut delivered = Vec::new();
        let mut out = VecDeque::new();
        for response in 0.. {
            assert!(response < 10_000, "no progress");
            let selector = tracker.next_selector(&StartSelector::Earliest);
            let body = link.respond(&selector);
            if body.is_empty() || (link.resend_last && body.len() == link.fragments.last().unwrap().len()) {
                break;
            }
            let end = cut(response, body.len()).min(body.len());
            tracker.begin_response(None);
            let mut at = 0;
            while at < end {
                let n = chunk().clamp(1, end - at);
                tracker.feed(body.slice(at..at + n), &mut out);
                at += n;
            }
            tracker.end_response(true, &mut out);
            for o in out.drain(..) {
                match o {
                    Output::Fragment(f) => {
                        // Numbered across responses, as one stream.
                        assert_eq!(f.index(), delivered.len() as u64);
                        assert_eq!(f.offset(), delivered.iter().map(|b: &Bytes| b.len() as u64).sum::<u64>());
                        delivered.push(f.bytes().clone());
                    }
                    Output::InBand(e) => panic!("{e}"),
                }
            }
        }
        delivered
    }

    #[test]
    fn random_cuts_deliver_every_fragment_once_in_order() {
        for seed in 0..20 {
            for resend_last in [false, true] {
                let link = Link::new(60, resend_last);
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut cut_rng = rng.fork();
                let delivered = run(
                    &link,
                    |_, len| if cut_rng.u8(..) < 40 { len } else { cut_rng.usize(0..=len) },
                    || rng.usize(1..3000),
                );
                assert_eq!(delivered, link.fragments, "seed {seed}, resend_last {resend_last}");
            }
        }
    }

    #[test]
    fn cut_between_cluster_and_trailing_tags_is_resumed() {
        let link = Link::new(5, false);
        // End the first response just before fragment 2's trailing Tags element: every
        // element of it is whole, but it must not be delivered without its tags.
        let trailing_tags_at =
            link.fragments[2].windows(4).rposition(|w| w == [0x12, 0x54, 0xC3, 0x67]).unwrap();
        let first_cut = link.fragments[0].len() + link.fragments[1].len() + trailing_tags_at;
        let mut cuts = vec![first_cut].into_iter();
        let delivered = run(&link, |_, len| cuts.next().unwrap_or(len), || 7);
        assert_eq!(delivered, link.fragments);
    }

    #[test]
    fn archive_bodies_that_end_early_were_cut() {
        // Archive layout: no trailing tags, so a fragment ends where the next begins.
        let untagged = |i: u64| {
            let f = testing::fragment(i, 2, 20);
            let at = f.windows(4).rposition(|w| w == [0x12, 0x54, 0xC3, 0x67]).unwrap();
            f.slice(..at)
        };
        let body = Bytes::from([untagged(0), untagged(1), untagged(2)].concat());
        let asked: FragmentNumber = testing::fragment_number(2).parse().unwrap();
        let mut tracker = Tracker::new(true, false, Limits::default());
        let mut out = VecDeque::new();
        // Ends cleanly after fragment 1's Cluster: fragment 1 looks whole but was not the
        // last asked for, so it is dropped and asked for again.
        tracker.begin_response(Some(asked.clone()));
        tracker.feed(body.slice(..untagged(0).len() + untagged(1).len()), &mut out);
        tracker.end_response(true, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(tracker.cut, 1);
        out.clear();
        tracker.begin_response(Some(asked));
        tracker.feed(body.slice(untagged(0).len()..), &mut out);
        tracker.end_response(true, &mut out);
        let numbers: Vec<String> = out
            .drain(..)
            .map(|o| match o {
                Output::Fragment(f) => f.kvs().fragment_number.clone().unwrap().to_string(),
                Output::InBand(e) => panic!("{e}"),
            })
            .collect();
        assert_eq!(numbers, [testing::fragment_number(1), testing::fragment_number(2)]);
    }

    #[test]
    fn reader_sources_keep_cut_fragments_and_duplicates() {
        let mut tracker = Tracker::new(false, false, Limits::default());
        let mut out = VecDeque::new();
        let f0 = testing::fragment(0, 3, 40);
        let cut = f0.slice(..f0.len() - 10);
        tracker.feed(f0.clone(), &mut out);
        tracker.feed(cut, &mut out);
        tracker.end_response(true, &mut out);
        let got: Vec<(bool, usize)> = out
            .drain(..)
            .map(|o| match o {
                Output::Fragment(f) => (f.is_complete(), f.bytes().len()),
                Output::InBand(e) => panic!("{e}"),
            })
            .collect();
        assert_eq!(got, vec![(true, f0.len()), (false, f0.len() - 10)]);
    }

    #[test]
    fn next_selector_prefers_the_token() {
        let mut tracker = Tracker::new(true, true, Limits::default());
        assert_eq!(tracker.next_selector(&StartSelector::Now), StartSelector::Now);
        let mut out = VecDeque::new();
        tracker.feed(testing::fragment(3, 1, 8), &mut out);
        assert_eq!(
            tracker.next_selector(&StartSelector::Now),
            StartSelector::ContinuationToken(testing::fragment_number(3))
        );
        assert_eq!(tracker.last().unwrap().as_str(), testing::fragment_number(3));
    }
}
