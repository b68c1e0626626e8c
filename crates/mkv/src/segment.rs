//! [`SegmentReader`]: a push reader of a producer's MKV stream (a PutMedia body) that hands
//! out the EBML header, the Segment start and each whole child of the Segment.
//!
//! The fragment splitter groups elements into fragments; this reader is for the other side
//! of KVS, which must turn each Cluster a producer sends into a fragment of its own.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::buffer::Buffer;
use crate::element::{HeaderRead, read_header};
use crate::schema::{self, ElementType};
use crate::splitter::Limits;
use crate::{Error, ids};

/// A whole element, header included, as it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawElement {
    /// Element id.
    pub id: u32,
    /// Stream offset of the header.
    pub offset: u64,
    /// Bytes taken by the header.
    pub header_len: usize,
    /// Header and data; for an unknown-size element, everything up to where it ended.
    pub bytes: Bytes,
    /// The header declared an unknown size.
    pub unknown_size: bool,
}

impl RawElement {
    /// The element's data, without its header.
    pub fn data(&self) -> Bytes {
        self.bytes.slice(self.header_len..)
    }
}

/// What [`SegmentReader::poll`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentItem {
    /// A whole EBML header element (a stream may hold several, one per restart).
    EbmlHeader(RawElement),
    /// A Segment begins (its header only).
    SegmentStart(RawElement),
    /// A whole child of the Segment: SeekHead, Info, Tracks, Tags, Cluster, ...
    Child(RawElement),
}

/// Reads a producer stream element by element. Call order as for
/// [`FragmentSplitter`](crate::FragmentSplitter): `feed`, drain `poll`, `finish`, drain.
///
/// ```
/// use kvs_mkv::{SegmentItem, SegmentReader, ids};
/// let mut reader = SegmentReader::new();
/// reader.feed(kvs_mkv::testing::stream_of(2));
/// reader.finish();
/// let mut clusters = 0;
/// while let Some(item) = reader.poll() {
///     if let SegmentItem::Child(e) = item.unwrap() {
///         clusters += usize::from(e.id == ids::CLUSTER);
///     }
/// }
/// assert_eq!(clusters, 2);
/// ```
#[derive(Debug)]
pub struct SegmentReader {
    limits: Limits,
    buf: Buffer,
    base: u64,
    /// Inside an unknown-size child: its id and how far its children have been stepped.
    open: Option<(u32, usize, usize)>,
    items: VecDeque<Result<SegmentItem, Error>>,
    finished: bool,
    failed: bool,
}

impl Default for SegmentReader {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentReader {
    /// A reader with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A reader with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            buf: Buffer::new(),
            base: 0,
            open: None,
            items: VecDeque::new(),
            finished: false,
            failed: false,
        }
    }

    /// Adds the next chunk of input.
    pub fn feed(&mut self, chunk: Bytes) {
        if self.finished || self.failed || chunk.is_empty() {
            return;
        }
        self.buf.push(chunk, 1 << 20);
        self.run();
    }

    /// Marks the end of input. An element cut short is an `Err(Truncated)`.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.run();
        if let Some((id, header_len, _)) = self.open.take()
            && self.buf.len() > header_len
        {
            let len = self.buf.len();
            self.emit_child(id, header_len, len, true);
        }
        if !self.failed && self.buf.len() > 0 {
            let offset = self.base;
            let id = match read_header(self.buf.as_slice()) {
                HeaderRead::Done(h) => h.id,
                _ => 0,
            };
            self.items.push_back(Err(Error::Truncated { id, offset }));
        }
    }

    /// The next item; after an `Err` the reader stops.
    pub fn poll(&mut self) -> Option<Result<SegmentItem, Error>> {
        self.items.pop_front()
    }

    fn fail(&mut self, error: Error) {
        self.failed = true;
        self.items.push_back(Err(error));
    }

    fn run(&mut self) {
        while !self.failed {
            if let Some((id, header_len, pos)) = self.open {
                match self.step_unknown(id, header_len, pos) {
                    Some(true) => continue,
                    _ => return,
                }
            }
            let data = self.buf.as_slice();
            let offset = self.base;
            let header = match read_header(data) {
                HeaderRead::Done(h) => h,
                HeaderRead::Partial => return,
                HeaderRead::Invalid => return self.fail(Error::InvalidVint { offset }),
            };
            // The Segment is never held whole (only its children are): a file's declared
            // size may be any.
            if header.id != ids::SEGMENT && header.size.is_some_and(|s| s > self.limits.max_element_size) {
                let (size, limit) = (header.size.unwrap_or(0), self.limits.max_element_size);
                return self.fail(Error::ElementTooLarge { id: header.id, offset, size, limit });
            }
            match (header.id, header.size) {
                (ids::SEGMENT, _) => {
                    let raw = self.take_raw(header.id, header.len, header.len, header.size.is_none());
                    self.items.push_back(Ok(SegmentItem::SegmentStart(raw)));
                }
                (_, Some(size)) => {
                    let total = header.len + size as usize;
                    if data.len() < total {
                        return;
                    }
                    let raw = self.take_raw(header.id, header.len, total, false);
                    let item = if header.id == ids::EBML {
                        SegmentItem::EbmlHeader(raw)
                    } else {
                        SegmentItem::Child(raw)
                    };
                    self.items.push_back(Ok(item));
                }
                (id, None) if schema::kind_of(id) == ElementType::Master => {
                    self.open = Some((id, header.len, header.len))
                }
                (id, None) => {
                    return self.fail(Error::Malformed {
                        id,
                        offset,
                        reason: "unknown size on a non-master element",
                    });
                }
            }
        }
    }

    /// Steps through the children of an open unknown-size element. `Some(true)` when it
    /// ended and was handed out, `None` when more input is needed.
    fn step_unknown(&mut self, id: u32, header_len: usize, mut pos: usize) -> Option<bool> {
        loop {
            let data = self.buf.as_slice();
            if pos > self.limits.max_element_size as usize {
                let offset = self.base;
                self.fail(Error::ElementTooLarge {
                    id,
                    offset,
                    size: pos as u64,
                    limit: self.limits.max_element_size,
                });
                return None;
            }
            let child = match read_header(data.get(pos..).unwrap_or_default()) {
                HeaderRead::Done(h) => h,
                HeaderRead::Partial => {
                    self.open = Some((id, header_len, pos));
                    return None;
                }
                HeaderRead::Invalid => {
                    self.fail(Error::InvalidVint { offset: self.base + pos as u64 });
                    return None;
                }
            };
            if !schema::fits_inside(child.id, id) {
                self.open = None;
                self.emit_child(id, header_len, pos, true);
                return Some(true);
            }
            pos += child.len + child.size.unwrap_or(0) as usize;
        }
    }

    fn emit_child(&mut self, id: u32, header_len: usize, len: usize, unknown_size: bool) {
        let len = len.min(self.buf.len());
        let raw = self.take_raw(id, header_len, len, unknown_size);
        self.items.push_back(Ok(SegmentItem::Child(raw)));
    }

    fn take_raw(&mut self, id: u32, header_len: usize, len: usize, unknown_size: bool) -> RawElement {
        let offset = self.base;
        let bytes = self.buf.take(len);
        self.base += len as u64;
        RawElement { id, offset, header_len, bytes, unknown_size }
    }
}
