//! [`FragmentSplitter`]: the push state machine that cuts a GetMedia byte stream into
//! fragments.
//!
//! It walks element headers only: a known-size Cluster is stepped over without looking at
//! its blocks, so each byte is looked at a bounded number of times whatever the chunking.
//! Only `Tags` elements are read in full, because the trailing continuation-token tag is
//! what tells that a fragment is complete.
//!
//! A fragment is one Cluster and the elements around it. A GetMedia response gives each
//! fragment its own EBML header and Segment; a merged KVS file (the parser library's
//! OutputSegmentMerger) and a plain Matroska file (ffmpeg, OBS, GStreamer) hold many
//! Clusters in one Segment. There the fragments after the first get a copy of the
//! Segment's header (EBML header, Segment start, Info, Tracks) in front of their own bytes,
//! so that every fragment reads, decodes and plays on its own. The splitter holds one
//! fragment at a time, so memory stays bounded by one Cluster whatever the Segment's size.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::buffer::Buffer;
use crate::element::{Header, HeaderRead, read_header};
use crate::fragment::Fragment;
use crate::schema::{self, ElementType};
use crate::tags::{AwsError, KvsTags, SimpleTag, names, parse_tags_element};
use crate::{Error, ids};

/// Limits that keep hostile input from costing memory. Every one is checked before any
/// buffering, and breaking one is a [`Skipped`] event with its own [`Error`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest declared size of an element that is read or kept whole: Tags, the EBML
    /// header, Info and Tracks (copied into every fragment of their Segment), and every
    /// element that is not a master (default 64 MiB; KVS fragments are at most 50 MB).
    ///
    /// Other masters (Segment, Cluster, BlockGroup, Cues...) are never held to it: only
    /// stepped over, they are bounded by `max_fragment_size`.
    pub max_element_size: u64,
    /// Largest fragment buffered (default 128 MiB). A master whose declared size would take
    /// its fragment past it is refused on its header; a fragment that grows past it without
    /// ending (unknown sizes) is cut there and delivered incomplete.
    pub max_fragment_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_element_size: 64 << 20, max_fragment_size: 128 << 20 }
    }
}

impl Limits {
    /// Sets [`max_element_size`](Self::max_element_size).
    pub fn with_max_element_size(mut self, bytes: u64) -> Self {
        self.max_element_size = bytes;
        self
    }

    /// Sets [`max_fragment_size`](Self::max_fragment_size).
    pub fn with_max_fragment_size(mut self, bytes: u64) -> Self {
        self.max_fragment_size = bytes;
        self
    }
}

/// Bytes that were passed over because they could not be part of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Stream offset of the first byte skipped.
    pub offset: u64,
    /// Number of bytes skipped, up to the next EBML header or the end of input.
    pub len: u64,
    /// Why: [`Error::Garbage`] for bytes that were never a fragment, or what broke the
    /// fragment that was being read.
    pub reason: Error,
}

/// What the splitter hands out, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A fragment, delivered as soon as its last byte was parsed.
    Fragment(Fragment),
    /// Bytes that were not a fragment.
    Skipped(Skipped),
    /// A fragment that carried an AWS error code instead of media.
    AwsError(AwsError),
}

/// Where the cursor is in the fragment being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for an EBML header.
    Between,
    /// After the EBML header, before the Segment.
    Top,
    /// Among the Segment's children; `end` is the Segment's end when its size is known.
    Segment { end: Option<usize> },
    /// Inside an unknown-size child of the Segment (a Cluster, in practice).
    Unknown { id: u32, segment_end: Option<usize> },
}

/// Splits the bytes of a GetMedia / GetMediaForFragmentList response into fragments.
///
/// Call order: [`feed`](Self::feed) each chunk as it arrives, then drain
/// [`poll`](Self::poll) until it returns `None`; after the last chunk call
/// [`finish`](Self::finish) and drain `poll` once more. No I/O, no threads, no clock.
///
/// A fragment comes out the moment it is known to be complete: after its trailing Tags
/// element that holds `AWS_KINESISVIDEO_CONTINUATION_TOKEN`, at the end of a known-size
/// Segment, when the next EBML header begins, when the next Cluster of its Segment begins,
/// or at `finish`. A fragment cut short comes out with [`Fragment::is_complete`] false,
/// never dropped and never merged with the next.
///
/// A Segment that holds several Clusters (a merged KVS file, a plain Matroska file) gives
/// one fragment per Cluster; a Tags element with a second `AWS_KINESISVIDEO_FRAGMENT_NUMBER`
/// also starts a new one. The first is the input as received; the later ones begin with a
/// copy of the Segment's header ([`Fragment::shared_header_len`]). Fragments of a plain
/// file have no KVS tags, so no fragment number.
///
/// ```
/// use bytes::Bytes;
/// use kvs_mkv::{Event, FragmentSplitter};
///
/// let stream = kvs_mkv::testing::stream_of(3);
/// let mut splitter = FragmentSplitter::new();
/// let mut numbers = Vec::new();
/// for chunk in stream.chunks(1000) {
///     splitter.feed(Bytes::copy_from_slice(chunk));
///     while let Some(event) = splitter.poll() {
///         if let Event::Fragment(f) = event {
///             numbers.push(f.kvs().fragment_number.clone().unwrap());
///         }
///     }
/// }
/// splitter.finish();
/// assert!(splitter.poll().is_none());
/// assert_eq!(numbers.len(), 3);
/// ```
#[derive(Debug)]
pub struct FragmentSplitter {
    limits: Limits,
    /// Input not yet handed out; `buf[0]` is at stream offset `base`. While a fragment is
    /// open it starts at `buf[0]`.
    buf: Buffer,
    base: u64,
    /// Cursor into `buf`; beyond `buf.len()` while stepping over an element not yet received.
    pos: usize,
    state: State,
    /// SimpleTags of the open fragment.
    tags: Vec<SimpleTag>,
    /// Whether the open fragment has reached its Segment.
    in_segment: bool,
    /// Garbage being skipped: its offset, length so far, and the reason.
    skipping: Option<Skipped>,
    /// Whether the open fragment has reached a Cluster: the next one starts a new fragment.
    has_cluster: bool,
    /// Where the first fragment of the open Segment holds the parts of its header.
    header_parts: HeaderParts,
    /// The open fragment continues a Segment that earlier fragments began: the header they
    /// share, put in front of its bytes.
    shared: Option<Bytes>,
    /// Each Segment is one fragment, however many Clusters it holds
    /// ([`Fragment::from_bytes`]: the caller says the bytes are one fragment).
    whole_segments: bool,
    /// The open fragment follows a continuation token and has shown no Segment element
    /// yet, only padding: it may be garbage between GetMedia fragments, and is dropped as
    /// such unless a Segment element comes.
    tentative: bool,
    events: VecDeque<Event>,
    finished: bool,
    next_index: u64,
    capacity_hint: usize,
}

impl Default for FragmentSplitter {
    fn default() -> Self {
        Self::new()
    }
}

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// The Segment start a shared header carries: its size is unknown, since its fragment is
/// only a part of the original Segment.
const SEGMENT_OF_UNKNOWN_SIZE: [u8; 12] =
    [0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Most padding (Void, CRC-32) accepted between a continuation token and the next element of
/// the same Segment. OutputSegmentMerger writes a 3-byte Void there; anything longer is taken
/// for garbage before the next EBML header, as between GetMedia fragments.
const MAX_PADDING_AFTER_TOKEN: usize = 64;

/// Ranges, in the first fragment of a Segment, of what later fragments copy.
#[derive(Debug, Clone, Default)]
struct HeaderParts {
    ebml: Option<std::ops::Range<usize>>,
    info: Option<std::ops::Range<usize>>,
    tracks: Option<std::ops::Range<usize>>,
}

impl FragmentSplitter {
    /// A splitter with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A splitter with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            buf: Buffer::new(),
            base: 0,
            pos: 0,
            state: State::Between,
            tags: Vec::new(),
            in_segment: false,
            skipping: None,
            has_cluster: false,
            header_parts: HeaderParts::default(),
            shared: None,
            whole_segments: false,
            tentative: false,
            events: VecDeque::new(),
            finished: false,
            next_index: 0,
            capacity_hint: 64 << 10,
        }
    }

    /// A splitter that cuts only where Segments end: what [`Fragment::from_bytes`] uses.
    pub(crate) fn whole_segments() -> Self {
        Self { whole_segments: true, ..Self::new() }
    }

    /// Adds the next chunk of input. Any size works, from one byte to the whole stream; a
    /// chunk given whole is never copied.
    pub fn feed(&mut self, chunk: Bytes) {
        if self.finished || chunk.is_empty() {
            return;
        }
        self.buf.push(chunk, self.capacity_hint);
        // Still short of the element the cursor steps over: nothing to look at. Small chunks
        // cost one copy each and no more.
        if self.pos > self.buf.len() {
            return;
        }
        self.run();
    }

    /// Marks the end of input: the last fragment is delivered, complete or not.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.run();
        if self.tentative {
            self.abandon();
            self.run();
        }
        if self.state != State::Between {
            if self.in_segment {
                let whole = self.pos == self.buf.len();
                self.close_fragment(self.buf.len(), whole);
            } else {
                // Cut before its Segment began: nothing of a fragment to deliver.
                let offset = self.base;
                self.state = State::Between;
                self.skipping =
                    Some(Skipped { offset, len: 0, reason: Error::Truncated { id: ids::EBML, offset } });
            }
        }
        let rest = self.buf.len();
        if rest > 0 {
            self.skip_bytes(rest);
        }
        self.flush_skipped();
    }

    /// The next event, or `None` until more input is fed.
    pub fn poll(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes held while waiting for the rest of a fragment.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Offset in the stream up to which input has been consumed into events.
    pub fn consumed(&self) -> u64 {
        self.base
    }

    fn run(&mut self) {
        loop {
            let progressed = match self.state {
                State::Between => self.find_fragment_start(),
                _ => self.step(),
            };
            if !progressed {
                return;
            }
        }
    }

    /// Skips to the next EBML header. Returns whether a fragment started.
    fn find_fragment_start(&mut self) -> bool {
        let data = self.buf.as_slice();
        let found = memfind(data, &EBML_MAGIC);
        let garbage = match found {
            Some(i) => i,
            // Keep a tail that could be the start of a header split across chunks.
            None if self.finished => data.len(),
            None => data.len().saturating_sub(EBML_MAGIC.len() - 1),
        };
        if garbage > 0 {
            self.skip_bytes(garbage);
        }
        if found.is_none() {
            return false;
        }
        self.flush_skipped();
        self.state = State::Top;
        self.pos = 0;
        self.in_segment = false;
        self.tags.clear();
        true
    }

    /// Reads the next element header of the open fragment and acts on it. Returns false when
    /// more input is needed.
    fn step(&mut self) -> bool {
        if self.pos > self.buf.len() || (self.pos == self.buf.len() && !self.finished) {
            return false;
        }
        if let State::Segment { end: Some(end) } | State::Unknown { segment_end: Some(end), .. } = self.state
            && self.pos >= end
        {
            self.end_fragment();
            return true;
        }
        if self.pos == self.buf.len() {
            return false;
        }
        if self.pos as u64 > self.limits.max_fragment_size {
            let offset = self.base;
            self.corrupt(Error::FragmentTooLarge { offset, limit: self.limits.max_fragment_size });
            return true;
        }
        let offset = self.base + self.pos as u64;
        let header = match read_header(&self.buf.as_slice()[self.pos..]) {
            HeaderRead::Done(h) => h,
            HeaderRead::Partial => return false,
            HeaderRead::Invalid if self.tentative => {
                self.abandon();
                return true;
            }
            HeaderRead::Invalid => {
                self.corrupt(Error::InvalidVint { offset });
                return true;
            }
        };
        if let Some(size) = header.size
            && size > self.limits.max_element_size
            && held_whole(header.id)
            && !self.tentative
        {
            let limit = self.limits.max_element_size;
            self.corrupt(Error::ElementTooLarge { id: header.id, offset, size, limit });
            return true;
        }
        match self.state {
            State::Between => unreachable!("step runs inside a fragment"),
            State::Top => self.step_top(header, offset),
            State::Segment { end } => self.step_segment(header, offset, end),
            State::Unknown { id, segment_end } => {
                if schema::fits_inside(header.id, id) {
                    self.step_over(header, offset)
                } else {
                    self.state = State::Segment { end: segment_end };
                    true
                }
            }
        }
    }

    fn step_top(&mut self, header: Header, offset: u64) -> bool {
        match header.id {
            ids::EBML if self.pos > 0 => {
                self.close_fragment(self.pos, self.in_segment);
                true
            }
            ids::SEGMENT => {
                self.pos += header.len;
                self.in_segment = true;
                let end =
                    header.size.map(|s| self.pos.saturating_add(usize::try_from(s).unwrap_or(usize::MAX)));
                self.state = State::Segment { end };
                true
            }
            ids::EBML if self.pos == 0 => {
                self.header_parts.ebml = header.size.map(|s| 0..header.len + s as usize);
                self.step_over(header, offset)
            }
            _ => self.step_over(header, offset),
        }
    }

    fn step_segment(&mut self, header: Header, offset: u64, end: Option<usize>) -> bool {
        if matches!(header.id, ids::EBML | ids::SEGMENT) {
            self.end_fragment();
            return true;
        }
        if self.tentative {
            let padding = matches!(header.id, ids::VOID | ids::CRC32)
                && header.size.is_some_and(|s| s <= MAX_PADDING_AFTER_TOKEN as u64)
                && self.pos + header.len + header.size.unwrap_or(0) as usize <= MAX_PADDING_AFTER_TOKEN;
            if padding {
                return self.step_over(header, offset);
            }
            if !is_segment_element(header.id) {
                self.abandon();
                return true;
            }
            // A real element of the same Segment: what came since the token is a fragment.
            self.tentative = false;
            return true;
        }
        match header.id {
            ids::TAGS => self.read_tags(header, offset),
            ids::CLUSTER if self.has_cluster && !self.whole_segments => {
                self.cut_fragment(self.pos, false);
                true
            }
            ids::INFO | ids::TRACKS if self.shared.is_none() && !self.has_cluster => {
                if let Some(size) = header.size {
                    let range = Some(self.pos..self.pos + header.len + size as usize);
                    let part = if header.id == ids::INFO {
                        &mut self.header_parts.info
                    } else {
                        &mut self.header_parts.tracks
                    };
                    if part.is_none() {
                        *part = range;
                    }
                }
                self.step_over(header, offset)
            }
            _ if header.size.is_none() && schema::kind_of(header.id) == ElementType::Master => {
                self.has_cluster |= header.id == ids::CLUSTER;
                self.pos += header.len;
                self.state = State::Unknown { id: header.id, segment_end: end };
                true
            }
            _ => {
                self.has_cluster |= header.id == ids::CLUSTER;
                self.step_over(header, offset)
            }
        }
    }

    /// Moves the cursor past a known-size element without reading its data; refuses one that
    /// would take the fragment past its limit before any byte of it is buffered.
    fn step_over(&mut self, header: Header, offset: u64) -> bool {
        match header.size {
            Some(size) => {
                let end = (self.pos + header.len) as u64 + size;
                if end > self.limits.max_fragment_size {
                    let offset = self.base;
                    self.corrupt(Error::FragmentTooLarge { offset, limit: self.limits.max_fragment_size });
                    return true;
                }
                self.pos = end as usize;
                true
            }
            // Unknown sizes nest only as masters; anything else cannot be stepped over.
            None if schema::kind_of(header.id) == ElementType::Master => {
                self.pos += header.len;
                true
            }
            None => {
                self.corrupt(Error::Malformed {
                    id: header.id,
                    offset,
                    reason: "unknown size on a non-master element",
                });
                true
            }
        }
    }

    /// Reads a whole Tags element; closes the fragment when it carries the continuation token
    /// or an AWS error.
    fn read_tags(&mut self, header: Header, offset: u64) -> bool {
        let Some(size) = header.size else {
            self.corrupt(Error::Malformed { id: header.id, offset, reason: "Tags with unknown size" });
            return true;
        };
        let end = self.pos + header.len + size as usize;
        if end > self.buf.len() {
            if self.finished {
                // Cut short: leave the cursor past the end so the fragment closes incomplete.
                self.pos = end;
            }
            return false;
        }
        // A cheap clone of the shared bytes would need them frozen; tags are small, so copy.
        let element = Bytes::copy_from_slice(&self.buf.as_slice()[self.pos..end]);
        let first_new = self.tags.len();
        if let Err(error) = parse_tags_element(&element, header.len..element.len(), offset, &mut self.tags) {
            self.tags.truncate(first_new);
            self.corrupt(error);
            return true;
        }
        let (old_tags, new_tags) = self.tags.split_at(first_new);
        let number = |tags: &[SimpleTag]| tags.iter().any(|t| t.name == names::FRAGMENT_NUMBER);
        if number(old_tags) && number(new_tags) && !self.whole_segments {
            // A second fragment number: these Tags begin the next fragment of the Segment.
            self.tags.truncate(first_new);
            self.cut_fragment(self.pos, false);
            return true;
        }
        self.pos = end;
        if new_tags.iter().any(|t| matches!(t.name.as_str(), names::ERROR_CODE | names::EXCEPTION_ERROR_CODE))
        {
            // An error "fragment" ends the response.
            self.close_fragment(end, true);
        } else if new_tags.iter().any(|t| t.name == names::CONTINUATION_TOKEN) && !self.whole_segments {
            // The token ends a fragment; a merged file goes on with the next in the Segment.
            self.cut_fragment(end, true);
        }
        true
    }

    /// The open fragment broke at `pos`: deliver what came before (incomplete) and skip from
    /// there to the next EBML header.
    fn corrupt(&mut self, reason: Error) {
        let at = self.pos.min(self.buf.len());
        self.close_fragment(at, false);
        self.flush_skipped();
        self.skipping = Some(Skipped { offset: self.base, len: 0, reason });
        // Step past the bad byte so that a broken EBML header is not found again.
        if self.buf.len() > 0 {
            self.skip_bytes(1);
        }
    }

    /// Ends the open fragment where its Segment ends: delivered, or dropped as garbage if it
    /// was only padding after a continuation token.
    fn end_fragment(&mut self) {
        if self.tentative {
            self.abandon();
        } else {
            self.close_fragment(self.pos, true);
        }
    }

    /// Hands out `buf[..end]` as the open fragment (or as an AWS error) and returns to
    /// looking for the next one.
    fn close_fragment(&mut self, end: usize, complete: bool) {
        self.deliver(end, complete, self.shared.is_some());
        self.reset();
    }

    /// Hands out `buf[..end]` as a complete fragment and goes on reading its Segment: what
    /// follows is the next fragment, with a copy of the Segment's header in front.
    /// `tentative`: nothing says yet that the Segment goes on (see [`Self::tentative`]).
    fn cut_fragment(&mut self, end: usize, tentative: bool) {
        let segment_end = match self.state {
            State::Segment { end } | State::Unknown { segment_end: end, .. } => end,
            State::Between | State::Top => None,
        };
        let header = if self.shared.is_none() { Some(self.shared_header()) } else { None };
        self.deliver(end, true, true);
        if let Some(header) = header {
            self.shared = Some(header);
        }
        self.state = State::Segment { end: segment_end.map(|e| e.saturating_sub(end)) };
        self.pos = 0;
        self.has_cluster = false;
        self.tentative = tentative;
    }

    /// The open fragment since its continuation token was no fragment: its bytes are
    /// garbage, skipped with what follows up to the next EBML header.
    fn abandon(&mut self) {
        self.tags.clear();
        self.reset();
    }

    /// Back to looking for an EBML header.
    fn reset(&mut self) {
        self.state = State::Between;
        self.pos = 0;
        self.has_cluster = false;
        self.header_parts = HeaderParts::default();
        self.shared = None;
        self.tentative = false;
    }

    /// The header later fragments of the open Segment share, from its first fragment (the
    /// open one): EBML header, Segment start, Info and Tracks.
    fn shared_header(&self) -> Bytes {
        let data = self.buf.as_slice();
        let part = |range: &Option<std::ops::Range<usize>>| {
            range.as_ref().and_then(|r| data.get(r.clone())).unwrap_or_default()
        };
        let parts = &self.header_parts;
        let mut out = BytesMut::new();
        out.extend_from_slice(part(&parts.ebml));
        out.extend_from_slice(&SEGMENT_OF_UNKNOWN_SIZE);
        out.extend_from_slice(part(&parts.info));
        out.extend_from_slice(part(&parts.tracks));
        out.freeze()
    }

    /// Hands out `buf[..end]` (after the shared header, if any) as a fragment, or as an AWS
    /// error. `cut`: the fragment is a part of a longer Segment.
    fn deliver(&mut self, end: usize, complete: bool, cut: bool) {
        self.flush_skipped();
        let offset = self.base;
        let tags = std::mem::take(&mut self.tags);
        if end == 0 {
            return;
        }
        let own = self.buf.take(end);
        self.base += end as u64;
        // Size the next buffer for the largest recent fragment, so that one that spans
        // chunks is copied once instead of regrown.
        self.capacity_hint = (end + end / 4 + (64 << 10)).max(self.capacity_hint - self.capacity_hint / 8);
        if let Some(error) = AwsError::from_tags(offset, &tags) {
            self.events.push_back(Event::AwsError(error));
            return;
        }
        let (bytes, shared_header_len) = match &self.shared {
            Some(header) => {
                let mut bytes = BytesMut::with_capacity(header.len() + own.len());
                bytes.extend_from_slice(header);
                bytes.extend_from_slice(&own);
                (bytes.freeze(), header.len())
            }
            None => (own, 0),
        };
        let kvs = KvsTags::from_tags(&tags);
        let index = self.next_index;
        self.next_index += 1;
        self.events.push_back(Event::Fragment(Fragment {
            bytes,
            offset,
            index,
            complete,
            shared_header_len,
            cut,
            tags,
            kvs,
        }));
    }

    /// Drops `n` bytes at the front as garbage, merging with the run being skipped.
    fn skip_bytes(&mut self, n: usize) {
        let offset = self.base;
        self.buf.take(n);
        self.base += n as u64;
        let skipping = self.skipping.get_or_insert(Skipped {
            offset,
            len: 0,
            reason: Error::Garbage { offset, len: 0 },
        });
        skipping.len += n as u64;
        if let Error::Garbage { len, .. } = &mut skipping.reason {
            *len = skipping.len;
        }
    }

    fn flush_skipped(&mut self) {
        if let Some(skipped) = self.skipping.take()
            && skipped.len > 0
        {
            self.events.push_back(Event::Skipped(skipped));
        }
    }
}

/// Whether the element is read or kept whole, and so held to `Limits::max_element_size`:
/// masters other than these are only stepped over.
fn held_whole(id: u32) -> bool {
    matches!(id, ids::TAGS | ids::INFO | ids::TRACKS | ids::EBML)
        || schema::kind_of(id) != ElementType::Master
}

/// Whether the element is a child of the Segment (Cluster, Tags, Cues...): after a
/// continuation token, one of these says the Segment goes on.
fn is_segment_element(id: u32) -> bool {
    schema::spec(id).is_some_and(|s| s.parent == Some(ids::SEGMENT))
}

/// Position of `needle` in `haystack`, scanning for its first byte.
fn memfind(haystack: &[u8], needle: &[u8; 4]) -> Option<usize> {
    let mut from = 0;
    while from + needle.len() <= haystack.len() {
        let i = from + haystack[from..=haystack.len() - needle.len()].iter().position(|&b| b == needle[0])?;
        if haystack[i..i + needle.len()] == needle[..] {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfind_finds_split_needles() {
        assert_eq!(memfind(b"xx\x1a\x45\xdf\xa3", &EBML_MAGIC), Some(2));
        assert_eq!(memfind(b"\x1a\x1a\x45\xdf\xa3", &EBML_MAGIC), Some(1));
        assert_eq!(memfind(b"\x1a\x45\xdf", &EBML_MAGIC), None);
        assert_eq!(memfind(b"", &EBML_MAGIC), None);
    }
}
